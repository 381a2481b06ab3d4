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
import { MODEL_TYPES } from '../domain.js';
import { bucketStart, COLLECTION_NAMES, eventDecisionSessionId } from './types.js';
import { bookmarkWeight, byPopularity, likeWeight, popularityScore, watchedWeight } from './popularity.js';

type Rows = { [C in CollectionName]: CollectionDocs[C][] };

/** The unique key of each collection that has one (as the MongoDB unique indexes). */
const uniqueKeys: Partial<{ [C in CollectionName]: (doc: CollectionDocs[C]) => string }> = {
  users: (d) => d.userId,
  movies: (d) => d.movieId,
  recommendation_logs: (d) => d.sessionId,
  feedback: (d) => `${d.sessionId}\u0000${d.movieId}`,
  interaction_events: (d) => d.eventId,
};

/** In-process store: the embedded default for the one-command demo and for unit tests. */
export class MemoryStore implements Store {
  private rows: Rows = emptyRows();
  private unique = emptyUniqueIndexes();

  async init(): Promise<void> {}
  async ping(): Promise<void> {}
  async close(): Promise<void> {}

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
    const genres = query.genres ? new Set(query.genres) : undefined;
    const excluded = new Set(query.excludeMovieIds ?? []);
    return this.rows.movies
      .filter((m) => !m.hidden && !excluded.has(m.movieId) && (!genres || m.genres.some((g) => genres.has(g))))
      .sort(byPopularity)
      .slice(0, query.limit)
      .map((m) => structuredClone(m));
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
    return this.rows.movies.length;
  }


  async userInteractionWeights(userId: string): Promise<Map<string, number>> {
    const weights = new Map<string, number>();
    const add = (movieId: string, w: number) => weights.set(movieId, (weights.get(movieId) ?? 0) + w);
    for (const d of this.rows.watched_movies) if (d.userId === userId) add(d.movieId, watchedWeight(d));
    for (const d of this.rows.likes) if (d.userId === userId) add(d.movieId, likeWeight(d));
    for (const d of this.rows.bookmarks) if (d.userId === userId) add(d.movieId, bookmarkWeight(d));
    for (const [movieId, liked] of this.latestVerdicts(userId)) if (!liked) weights.delete(movieId);
    return weights;
  }

  /** movieId -> liked of the user's latest decision per movie (feedback and event decisions). */
  private latestVerdicts(userId: string): Map<string, boolean> {
    const latest = new Map<string, { at: number; liked: boolean }>();
    for (const f of this.rows.feedback) {
      if (f.userId !== userId) continue;
      const at = new Date(f.updatedAt ?? f.createdAt ?? 0).getTime() || 0;
      const seen = latest.get(f.movieId);
      if (!seen || at >= seen.at) latest.set(f.movieId, { at, liked: f.liked });
    }
    return new Map([...latest].map(([movieId, v]) => [movieId, v.liked]));
  }

  async applyInteractionEvents(events: readonly ValidEvent[], now = new Date()): Promise<AppliedEvents> {
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
      if (e.type === 'bookmark_removed') this.rows.bookmarks = this.rows.bookmarks.filter((b) => b.userId !== userId || b.movieId !== movieId);
      if (e.type === 'liked' || e.type === 'disliked') {
        const sessionId = eventDecisionSessionId(userId);
        const liked = e.type === 'liked';
        const existing = this.lookup('feedback', `${sessionId}\u0000${movieId}`);
        if (!existing) {
          this.add('feedback', { sessionId, userId, movieId, liked, eventId, createdAt: now, updatedAt: occurredAt } as unknown as FeedbackDoc);
        } else if (existing.updatedAt.getTime() <= occurredAt.getTime()) {
          Object.assign(existing, { liked, eventId, updatedAt: occurredAt });
        }
      }
      this.add('interaction_events', { eventId, userId, movieId, type: e.type, occurredAt, appliedAt: now });
      result.applied.push(structuredClone(e));
    }
    return result;
  }

  async lastInteractionEventAt(userId: string): Promise<Date | null> {
    let last: Date | null = null;
    for (const e of this.rows.interaction_events) if (e.userId === userId && (!last || e.appliedAt > last)) last = e.appliedAt;
    return last;
  }

  async watchedMovieIds(userId: string): Promise<string[]> {
    return [...new Set(this.rows.watched_movies.filter((d) => d.userId === userId).map((d) => d.movieId))];
  }

  async dislikedMovieIds(userId: string): Promise<string[]> {
    return [...this.latestVerdicts(userId)].filter(([, liked]) => !liked).map(([movieId]) => movieId);
  }

  async insertRecommendationLogs(docs: readonly RecommendationLogDoc[]): Promise<void> {
    await this.insertMany('recommendation_logs', docs);
  }

  async getRecommendationLog(sessionId: string): Promise<RecommendationLogDoc | null> {
    const log = this.lookup('recommendation_logs', sessionId);
    return log ? structuredClone(log) : null;
  }

  async upsertFeedback(doc: Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>, now = new Date()): Promise<{ created: boolean }> {
    const existing = this.lookup('feedback', `${doc.sessionId}\u0000${doc.movieId}`);
    if (existing) {
      Object.assign(existing, structuredClone(doc), { updatedAt: now });
      return { created: false };
    }
    this.add('feedback', { ...structuredClone(doc), createdAt: now, updatedAt: now });
    return { created: true };
  }

  async experimentTotals(window: ExperimentWindow): Promise<ExperimentArmTotals[]> {
    const inWindow = (at: Date) => (!window.since || at >= window.since) && (!window.until || at < window.until);
    const inPopulation = (arm: string | undefined) => (arm === 'forced') === Boolean(window.forced);
    const sessions = new Map<string, number>();
    for (const log of this.rows.recommendation_logs) {
      if (inWindow(log.createdAt) && inPopulation(log.arm)) sessions.set(log.modelType, (sessions.get(log.modelType) ?? 0) + 1);
    }
    const bySession = new Map<string, { modelType: string; feedback: number; likes: number; likesTopK: number }>();
    for (const f of this.rows.feedback) {
      if (!f.modelType || !inWindow(f.sessionCreatedAt) || !inPopulation(f.arm)) continue;
      const s = bySession.get(f.sessionId) ?? { modelType: f.modelType, feedback: 0, likes: 0, likesTopK: 0 };
      s.feedback++;
      if (f.liked) {
        s.likes++;
        if (f.rank <= window.k) s.likesTopK++;
      }
      bySession.set(f.sessionId, s);
    }
    return MODEL_TYPES.map((modelType) => {
      const totals: ExperimentArmTotals = {
        modelType,
        sessions: sessions.get(modelType) ?? 0,
        sessionsWithFeedback: 0,
        feedbackCount: 0,
        likes: 0,
        precisionSum: 0,
        recallSum: 0,
        sessionsWithLikes: 0,
      };
      for (const s of bySession.values()) {
        if (s.modelType !== modelType) continue;
        totals.sessionsWithFeedback++;
        totals.feedbackCount += s.feedback;
        totals.likes += s.likes;
        totals.precisionSum += s.likesTopK / window.k;
        if (s.likes > 0) {
          totals.sessionsWithLikes++;
          totals.recallSum += s.likesTopK / s.likes;
        }
      }
      return totals;
    });
  }

  async likeRateSeries(window: Omit<ExperimentWindow, 'k' | 'forced'>, bucket: TimeBucketName): Promise<LikeRateBucket[]> {
    const buckets = new Map<string, LikeRateBucket>();
    for (const f of this.rows.feedback) {
      // Decisions from interaction events (no session, no model type) are not A/B feedback (MongoStore groups by
      // modelType, so it leaves them out the same way).
      if (!f.modelType || f.arm === 'forced') continue;
      if ((window.since && f.sessionCreatedAt < window.since) || (window.until && f.sessionCreatedAt >= window.until)) continue;
      const start = bucketStart(f.sessionCreatedAt, bucket);
      const key = `${f.modelType}\u0000${start.getTime()}`;
      const entry = buckets.get(key) ?? { modelType: f.modelType, start, feedbackCount: 0, likes: 0 };
      entry.feedbackCount++;
      if (f.liked) entry.likes++;
      buckets.set(key, entry);
    }
    return [...buckets.values()].sort((a, b) => a.start.getTime() - b.start.getTime() || a.modelType.localeCompare(b.modelType));
  }

  async insertMany<C extends CollectionName>(collection: C, docs: readonly CollectionDocs[C][]): Promise<void> {
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
  }

  private lookup<C extends CollectionName>(collection: C, key: string): CollectionDocs[C] | undefined {
    return this.unique[collection].get(key) as CollectionDocs[C] | undefined;
  }

  async *scan<C extends CollectionName>(collection: C, batchSize = 10_000): AsyncIterable<CollectionDocs[C][]> {
    const rows = this.rows[collection] as CollectionDocs[C][];
    for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize).map((d) => structuredClone(d));
  }

  async count(collection: CollectionName): Promise<number> {
    return this.rows[collection].length;
  }

  async clear(): Promise<void> {
    this.rows = emptyRows();
    this.unique = emptyUniqueIndexes();
  }
}

function emptyUniqueIndexes(): Record<CollectionName, Map<string, unknown>> {
  return Object.fromEntries(COLLECTION_NAMES.map((name) => [name, new Map()])) as Record<CollectionName, Map<string, unknown>>;
}

function emptyRows(): Rows {
  return Object.fromEntries(COLLECTION_NAMES.map((name) => [name, []])) as unknown as Rows;
}
