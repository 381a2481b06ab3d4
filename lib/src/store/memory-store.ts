import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ValidEvent } from '../events/interaction-event.js';
import { LIKE_AS_RATING } from '../events/interaction-event.js';
import type {
  AppliedEvents,
  CollectionDocs,
  CollectionName,
  ExperimentArmTotals,
  ExperimentWindow,
  FeedbackDoc,
  LikeRateBucket,
  ListMoviesQuery,
  TimeBucketName,
  MovieChange,
  MovieDoc,
  RecommendationLogDoc,
  Store,
  TopMoviesQuery,
  UserDoc,
} from './types.js';
import { COLLECTION_NAMES, eventDecisionSessionId } from './types.js';
import { bookmarkWeight, likeWeight, popularityScore, watchedWeight } from './popularity.js';
import { SqliteLogStore } from './sqlite-log-store.js';
import { CatalogueSnapshot } from './catalogue-snapshot.js';

type Rows = { [C in CollectionName]: CollectionDocs[C][] };

/** The unique key of each collection that has one (as the MongoDB unique indexes). */
const uniqueKeys: Partial<{ [C in CollectionName]: (doc: CollectionDocs[C]) => string }> = {
  users: (d) => d.userId,
  movies: (d) => d.movieId,
  interaction_events: (d) => d.eventId,
};

/** Collections whose documents are also indexed by userId (the request path reads one user's documents). */
type UserCollection = 'watched_movies' | 'likes' | 'bookmarks' | 'interaction_events';
const USER_COLLECTIONS: readonly UserCollection[] = ['watched_movies', 'likes', 'bookmarks', 'interaction_events'];
const isUserCollection = (c: CollectionName): c is UserCollection => (USER_COLLECTIONS as readonly string[]).includes(c);
type UserIndexes = { [C in UserCollection]: Map<string, CollectionDocs[C][]> };

/** Collections the embedded store keeps in SQLite instead of the heap (they grow with traffic). */
type LogCollection = 'recommendation_logs' | 'feedback';
const isLogCollection = (c: CollectionName): c is LogCollection => c === 'recommendation_logs' || c === 'feedback';

/** Recommendation logs per SQLite transaction (MemoryStore.insertRecommendationLogs): ~2-3 ms of work each. */
export const LOG_INSERT_CHUNK = 50;

export interface MemoryStoreOptions {
  /**
   * SQLite database file for recommendation_logs and feedback (lib/src/backends.ts: DATA_DIR/store/logs.sqlite), so
   * they survive a restart and never grow the heap. Absent: an in-memory SQLite database (unit tests; nothing on disk).
   */
  logsPath?: string;
}

/**
 * In-process store: the embedded default for the one-command demo and for unit tests. Users, movies, interactions
 * and events live in the heap (they are bounded by the data set); recommendation logs and feedback, which grow with
 * every served list, live in SQLite (lib/src/store/sqlite-log-store.ts), on disk when `logsPath` is given.
 */
export class MemoryStore implements Store {
  private rows: Rows = emptyRows();
  private unique = emptyUniqueIndexes();
  /** The user-keyed collections by userId: a cache miss reads one user's documents, not every user's. */
  private byUser: UserIndexes = emptyUserIndexes();
  /**
   * The catalogue ordered by popularity (lib/src/store/catalogue-snapshot.ts, as MongoStore's), built on the first
   * catalogue read after a movie write: a top list walks it and stops at `limit` instead of sorting every movie.
   */
  private catalogue: CatalogueSnapshot | undefined;
  private readonly logs: SqliteLogStore;

  constructor(options: MemoryStoreOptions = {}) {
    this.logs = new SqliteLogStore(options.logsPath ?? ':memory:');
  }

  async init(): Promise<void> {}
  async ping(): Promise<void> {}
  /** Closes the SQLite database (idempotent); the instance is unusable afterwards. */
  async close(): Promise<void> {
    this.logs.close();
  }

  async getUser(userId: string): Promise<UserDoc | null> {
    const user = this.lookup('users', userId);
    return user ? structuredClone(user) : null;
  }

  async setFavoriteGenres(userId: string, genres: readonly string[], now = new Date()): Promise<{ created: boolean }> {
    const existing = this.lookup('users', userId);
    if (existing) {
      existing.favoriteGenres = [...genres];
      existing.updatedAt = now;
      return { created: false };
    }
    this.add('users', { userId, favoriteGenres: [...genres], createdAt: now, updatedAt: now });
    return { created: true };
  }

  async getMovies(movieIds: readonly string[]): Promise<Map<string, MovieDoc>> {
    const found = new Map<string, MovieDoc>();
    for (const id of movieIds) {
      const movie = this.lookup('movies', id);
      if (movie) found.set(id, structuredClone(movie));
    }
    return found;
  }

  async createMovie(doc: MovieDoc): Promise<{ created: boolean }> {
    if (this.lookup('movies', doc.movieId)) return { created: false };
    this.add('movies', structuredClone(doc));
    return { created: true };
  }

  async updateMovie(movieId: string, change: MovieChange): Promise<MovieDoc | null> {
    const movie = this.lookup('movies', movieId);
    if (!movie) return null;
    Object.assign(movie, structuredClone(change.set));
    for (const field of change.unset ?? []) delete movie[field];
    this.catalogue = undefined;
    return structuredClone(movie);
  }

  async listMovies(query: ListMoviesQuery): Promise<MovieDoc[]> {
    const { hidden, createdSince, afterMovieId } = query;
    return this.rows.movies
      .filter(
        (m) =>
          (hidden === undefined || Boolean(m.hidden) === hidden) &&
          (!createdSince || (m.createdAt !== undefined && m.createdAt >= createdSince)) &&
          (afterMovieId === undefined || m.movieId > afterMovieId),
      )
      .sort((a, b) => (a.movieId < b.movieId ? -1 : a.movieId > b.movieId ? 1 : 0))
      .slice(0, query.limit)
      .map((m) => structuredClone(m));
  }

  async hiddenMovieIds(): Promise<string[]> {
    return this.rows.movies.filter((m) => m.hidden).map((m) => m.movieId);
  }

  async topMovies(query: TopMoviesQuery): Promise<MovieDoc[]> {
    this.catalogue ??= new CatalogueSnapshot(this.rows.movies, { epoch: 'memory', rev: 0 }, 0);
    return this.catalogue.top(query);
  }

  async distinctGenres(): Promise<string[]> {
    return [...new Set(this.rows.movies.flatMap((m) => m.genres))];
  }

  async refreshPopularity(): Promise<number> {
    const weights = new Map<string, number>();
    const add = (movieId: string, w: number) => weights.set(movieId, (weights.get(movieId) ?? 0) + w);
    for (const d of this.rows.watched_movies) add(d.movieId, watchedWeight(d));
    for (const d of this.rows.likes) add(d.movieId, likeWeight(d));
    for (const d of this.rows.bookmarks) add(d.movieId, bookmarkWeight(d));
    return this.setPopularityFromWeights(weights);
  }

  async setPopularityFromWeights(weights: ReadonlyMap<string, number>): Promise<number> {
    for (const movie of this.rows.movies) movie.popularity = popularityScore(weights.get(movie.movieId) ?? 0, movie.rating);
    this.catalogue = undefined;
    return this.rows.movies.length;
  }


  async userInteractionWeights(userId: string): Promise<Map<string, number>> {
    const weights = new Map<string, number>();
    const add = (movieId: string, w: number) => weights.set(movieId, (weights.get(movieId) ?? 0) + w);
    for (const d of this.userRows('watched_movies', userId)) add(d.movieId, watchedWeight(d));
    for (const d of this.userRows('likes', userId)) add(d.movieId, likeWeight(d));
    for (const d of this.userRows('bookmarks', userId)) add(d.movieId, bookmarkWeight(d));
    for (const [movieId, liked] of this.latestVerdicts(userId)) if (!liked) weights.delete(movieId);
    return weights;
  }

  /** movieId -> liked of the user's latest decision per movie (feedback and event decisions). */
  private latestVerdicts(userId: string): Map<string, boolean> {
    const latest = new Map<string, { at: number; liked: boolean }>();
    for (const f of this.logs.userVerdicts(userId)) {
      const seen = latest.get(f.movieId);
      if (!seen || f.at >= seen.at) latest.set(f.movieId, { at: f.at, liked: f.liked });
    }
    return new Map([...latest].map(([movieId, v]) => [movieId, v.liked]));
  }

  async applyInteractionEvents(events: readonly ValidEvent[], now = new Date(), options: { decisionsStored?: boolean } = {}): Promise<AppliedEvents> {
    const result: AppliedEvents = { applied: [], duplicates: [] };
    for (const e of events) {
      if (this.lookup('interaction_events', e.eventId)) {
        result.duplicates.push(e);
        continue;
      }
      const { userId, movieId, eventId, occurredAt } = e;
      if (e.type === 'watched') this.add('watched_movies', { userId, movieId, completed: e.completed === true, watchedAt: occurredAt, eventId });
      if (e.type === 'rated' || e.type === 'liked') {
        this.add('likes', { userId, movieId, rating: e.type === 'liked' ? LIKE_AS_RATING : (e.rating ?? 0), likedAt: occurredAt, eventId });
      }
      if (e.type === 'bookmarked') this.add('bookmarks', { userId, movieId, createdAt: occurredAt, eventId });
      if (e.type === 'bookmark_removed') {
        const removed = (b: { userId: string; movieId: string }) => b.userId === userId && b.movieId === movieId;
        this.rows.bookmarks = this.rows.bookmarks.filter((b) => !removed(b));
        this.byUser.bookmarks.set(userId, this.userRows('bookmarks', userId).filter((b) => !removed(b)));
      }
      if ((e.type === 'liked' || e.type === 'disliked') && !options.decisionsStored) {
        const sessionId = eventDecisionSessionId(userId);
        const liked = e.type === 'liked';
        const existing = this.logs.getFeedback(sessionId, movieId);
        if (!existing) {
          this.logs.putFeedback({ sessionId, userId, movieId, liked, eventId, createdAt: now, updatedAt: occurredAt } as unknown as FeedbackDoc, false);
        } else if (existing.updatedAt.getTime() <= occurredAt.getTime()) {
          this.logs.putFeedback({ ...existing, liked, eventId, updatedAt: occurredAt } as FeedbackDoc, true);
        }
      }
      this.add('interaction_events', { eventId, userId, movieId, type: e.type, occurredAt, appliedAt: now });
      result.applied.push(structuredClone(e));
    }
    return result;
  }

  async lastInteractionEventAt(userId: string): Promise<Date | null> {
    let last: Date | null = null;
    for (const e of this.userRows('interaction_events', userId)) if (!last || e.appliedAt > last) last = e.appliedAt;
    return last;
  }

  async watchedMovieIds(userId: string): Promise<string[]> {
    return [...new Set(this.userRows('watched_movies', userId).map((d) => d.movieId))];
  }

  async dislikedMovieIds(userId: string): Promise<string[]> {
    return [...this.latestVerdicts(userId)].filter(([, liked]) => !liked).map(([movieId]) => movieId);
  }

  async userInteractionHistory(userId: string): Promise<{ interactions: Map<string, number>; disliked: string[] }> {
    const [interactions, disliked] = await Promise.all([this.userInteractionWeights(userId), this.dislikedMovieIds(userId)]);
    return { interactions, disliked };
  }

  /**
   * In transactions of at most LOG_INSERT_CHUNK lists, the event loop let through between them: node:sqlite is
   * synchronous, and the log writer's batch of a second's lists in one transaction (up to LOG_BATCH_SIZE, 500) held
   * the demo's one event loop for ~25 ms, a stall every request in flight waited for. Idempotent by session id, so a
   * batch that fails between chunks is simply written again.
   */
  async insertRecommendationLogs(docs: readonly RecommendationLogDoc[]): Promise<void> {
    for (let start = 0; start < docs.length; start += LOG_INSERT_CHUNK) {
      if (start > 0) await yieldToEventLoop();
      this.logs.insertLogs(docs.slice(start, start + LOG_INSERT_CHUNK));
    }
  }

  async getRecommendationLog(sessionId: string): Promise<RecommendationLogDoc | null> {
    return this.logs.getLog(sessionId);
  }

  async upsertFeedback(doc: Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>, now = new Date()): Promise<{ created: boolean }> {
    const [result] = await this.upsertFeedbackMany([doc], now);
    return result;
  }

  /** One SQLite transaction for the whole batch. */
  async upsertFeedbackMany(docs: readonly Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>[], now = new Date()): Promise<{ created: boolean }[]> {
    const results: { created: boolean }[] = [];
    this.logs.transaction(() => {
      for (const doc of docs) {
        const existing = this.logs.getFeedback(doc.sessionId, doc.movieId);
        results.push({ created: !existing });
        this.logs.putFeedback({ ...(existing ?? {}), ...doc, createdAt: existing?.createdAt ?? now, updatedAt: now }, true);
      }
    });
    return results;
  }

  async experimentTotals(window: ExperimentWindow): Promise<ExperimentArmTotals[]> {
    return this.logs.experimentTotals(window);
  }

  /** Decisions from interaction events (no session, no model type) are not A/B feedback (left out, as in MongoStore). */
  async likeRateSeries(window: Omit<ExperimentWindow, 'k' | 'forced'>, bucket: TimeBucketName): Promise<LikeRateBucket[]> {
    return this.logs.likeRateSeries(window, bucket);
  }

  async insertMany<C extends CollectionName>(collection: C, docs: readonly CollectionDocs[C][]): Promise<void> {
    if (collection === 'recommendation_logs') return this.logs.insertLogs(docs as readonly RecommendationLogDoc[]);
    if (collection === 'feedback') return this.logs.insertFeedback(docs as readonly FeedbackDoc[]);
    for (const doc of docs) {
      const key = uniqueKeys[collection] as ((d: CollectionDocs[C]) => string) | undefined;
      if (key && this.unique[collection].has(key(doc))) continue;
      this.add(collection, structuredClone(doc));
    }
  }

  private add<C extends CollectionName>(collection: C, doc: CollectionDocs[C]): void {
    const key = uniqueKeys[collection] as ((d: CollectionDocs[C]) => string) | undefined;
    if (key) this.unique[collection].set(key(doc), doc);
    (this.rows[collection] as CollectionDocs[C][]).push(doc);
    if (collection === 'movies') this.catalogue = undefined;
    if (isUserCollection(collection)) {
      const userId = (doc as CollectionDocs[UserCollection]).userId;
      const index = this.byUser[collection] as Map<string, CollectionDocs[C][]>;
      const docs = index.get(userId);
      if (docs) docs.push(doc);
      else index.set(userId, [doc]);
    }
  }

  /** One user's documents of a user-keyed collection (the stored objects: callers copy what they hand out). */
  private userRows<C extends UserCollection>(collection: C, userId: string): readonly CollectionDocs[C][] {
    return (this.byUser[collection] as Map<string, CollectionDocs[C][]>).get(userId) ?? [];
  }

  private lookup<C extends CollectionName>(collection: C, key: string): CollectionDocs[C] | undefined {
    return this.unique[collection].get(key) as CollectionDocs[C] | undefined;
  }

  async *scan<C extends CollectionName>(collection: C, batchSize = 10_000): AsyncIterable<CollectionDocs[C][]> {
    if (isLogCollection(collection)) {
      for (const batch of this.logs.scan(collection, batchSize)) yield batch as CollectionDocs[C][];
      return;
    }
    const rows = this.rows[collection] as CollectionDocs[C][];
    for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize).map((d) => structuredClone(d));
  }

  async count(collection: CollectionName): Promise<number> {
    if (isLogCollection(collection)) return this.logs.count(collection);
    return this.rows[collection].length;
  }

  async clear(): Promise<void> {
    this.rows = emptyRows();
    this.unique = emptyUniqueIndexes();
    this.byUser = emptyUserIndexes();
    this.catalogue = undefined;
    this.logs.clear();
  }
}

function emptyUniqueIndexes(): Record<CollectionName, Map<string, unknown>> {
  return Object.fromEntries(COLLECTION_NAMES.map((name) => [name, new Map()])) as Record<CollectionName, Map<string, unknown>>;
}

function emptyUserIndexes(): UserIndexes {
  return Object.fromEntries(USER_COLLECTIONS.map((name) => [name, new Map()])) as unknown as UserIndexes;
}

function emptyRows(): Rows {
  return Object.fromEntries(COLLECTION_NAMES.map((name) => [name, []])) as unknown as Rows;
}
