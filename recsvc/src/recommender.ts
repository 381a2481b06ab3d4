import { randomUUID } from 'node:crypto';
import { assertId, boundedInt, MODEL_TYPES, type ModelTypeName } from '../../lib/src/domain.js';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '../../lib/src/errors.js';
import type { Cache } from '../../lib/src/cache/types.js';
import { detachedFromCall } from '../../lib/src/call-scope.js';
import type { Logger } from '../../lib/src/logger.js';
import {
  CACHED_LIST_LENGTH,
  decodeRecommendations,
  encodeRecommendations,
  recommendationKey,
  type CachedRecommendation,
} from '../../lib/src/recommendation-cache.js';
import { FALLBACK_ARM, FALLBACK_SOURCES, FORCED_ARM, type FeedbackDoc, type MovieDoc, type RecommendationLogDoc, type RecommendationSourceName, type Store } from '../../lib/src/store/types.js';
import { assignArm, type ExperimentSettings } from './experiment.js';
import type { RecommendationLogWriter } from './log-writer.js';
import type { RecsvcMetrics } from './metrics.js';
import type { ModelHolder } from './model-holder.js';
import type { ServingModel, UserRepresentation } from './serving-model.js';
import type { MovieInfoCache } from './movie-info.js';
import { explainList, ExplanationCache, type Explanation } from './explain-list.js';
import type { EventIngest } from './event-ingest.js';
import { GroupCommit } from '../../lib/src/group-commit.js';
import { userHistory } from './seen-rule.js';
import { currentList, stampKey, stampList, stampTime, stampUsers } from '../../lib/src/events/list-stamp.js';

export const DEFAULT_K = 10;
export const MAX_K = 100;
/** model_version of lists served without a model (the top lists before any model is trained). */
export const NO_MODEL_VERSION = 'none';

export interface RecommendedMovie {
  movie: MovieDoc;
  score: number;
  rank: number;
  /** Why the movie is in the list (recsvc/src/explanations.ts). */
  explanation?: Explanation;
}

export interface Recommendations {
  sessionId: string;
  userId: string;
  modelType: ModelTypeName;
  modelVersion: string;
  source: RecommendationSourceName;
  arm: string;
  items: RecommendedMovie[];
}

export interface FeedbackResult {
  sessionId: string;
  movieId: string;
  liked: boolean;
  created: boolean;
}

export interface RecommenderDeps {
  store: Store;
  cache: Cache;
  models: ModelHolder;
  logs: RecommendationLogWriter;
  movies: MovieInfoCache;
  metrics: RecsvcMetrics;
  log: Logger;
  experiment: ExperimentSettings;
  cacheTtlSeconds: number;
  /** Records feedback likes/dislikes as interaction events (absent: feedback is only stored for the A/B report). */
  events?: Pick<EventIngest, 'recordFeedback' | 'mode'>;
  /** How long the cache keeps a served list's session record for feedback (default DEFAULT_SESSION_TTL_SECONDS). */
  sessionTtlSeconds?: number;
  /** Cache misses computed at once (default DEFAULT_MISS_CONCURRENCY); more wait in a queue. */
  missConcurrency?: number;
  /** Cache misses that may wait for a slot (default DEFAULT_MISS_QUEUE); more are refused with UNAVAILABLE. */
  missQueue?: number;
  /** Explanations of served lists kept in process (default: DEFAULT_EXPLANATION_CACHE_ENTRIES lists, 10 minutes). */
  explanationCache?: ExplanationCache;
}

/**
 * Sessions are kept in the cache so that feedback reaching another replica before the log write lands (the log
 * buffer flushes every LOG_FLUSH_MS, 1 s by default) finds them; later feedback finds the session in
 * recommendation_logs. One hour covers a MongoDB outage of that length; RECSVC SESSION_TTL_SECONDS changes it.
 */
export const DEFAULT_SESSION_TTL_SECONDS = 3600;
export const DEFAULT_MISS_CONCURRENCY = 32;
export const DEFAULT_MISS_QUEUE = 256;
export const DEFAULT_EXPLANATION_CACHE_ENTRIES = 20_000;
export const EXPLANATION_CACHE_TTL_MS = 600_000;

/**
 * The session record kept in the cache (`session:{session_id}`): what feedback and the log write need, as a compact
 * JSON array `[1, user_id, model_type, model_version, arm, source, created_at_ms, "movie,score;movie,score..."]`
 * (ranks are the positions, from 1), about 0.3 KB for 10 items instead of the 0.86 KB of the log document's JSON.
 */
export function encodeSession(doc: RecommendationLogDoc): string {
  let items = '';
  for (const i of doc.items) items += `${items ? ';' : ''}${i.movieId},${i.score}`;
  return JSON.stringify([1, doc.userId, doc.modelType, doc.modelVersion, doc.arm, doc.source, doc.createdAt.getTime(), items]);
}

/** The log document of a session record (encodeSession, or the whole document as JSON as older versions wrote it); null if malformed. */
export function decodeSession(sessionId: string, value: string): RecommendationLogDoc | null {
  try {
    const parsed: unknown = JSON.parse(value);
    if (!Array.isArray(parsed)) {
      const doc = parsed as RecommendationLogDoc | null;
      return doc && typeof doc === 'object' && doc.sessionId === sessionId && Array.isArray(doc.items) ? { ...doc, createdAt: new Date(doc.createdAt) } : null;
    }
    const [format, userId, modelType, modelVersion, arm, source, createdAt, itemText] = parsed as unknown[];
    if (format !== 1 || typeof userId !== 'string' || typeof modelVersion !== 'string' || typeof arm !== 'string') return null;
    if (typeof source !== 'string' || typeof createdAt !== 'number' || typeof itemText !== 'string') return null;
    if (!(MODEL_TYPES as readonly string[]).includes(modelType as string)) return null;
    const items = itemText
      ? itemText.split(';').map((pair, index) => {
          const comma = pair.indexOf(',');
          return { movieId: pair.slice(0, comma), score: Number(pair.slice(comma + 1)), rank: index + 1 };
        })
      : [];
    if (items.some((i) => !i.movieId || Number.isNaN(i.score))) return null;
    return {
      sessionId,
      userId,
      modelType: modelType as ModelTypeName,
      modelVersion,
      arm,
      source: source as RecommendationSourceName,
      items,
      createdAt: new Date(createdAt),
    };
  } catch {
    return null;
  }
}

/** One POST /feedback's writes: its feedback document, and its session's log if recommendation_logs lacks it yet. */
interface FeedbackWrite {
  doc: Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>;
  unstoredLog: RecommendationLogDoc | undefined;
}

/** What a cache miss computed: shared by the concurrent requests of one (user, model, k). */
interface MissResult {
  source: RecommendationSourceName;
  scored: CachedRecommendation[];
  interactions: Map<string, number> | undefined;
  favoriteGenres: string[];
  /** The user representation the list was scored with (absent for the top lists). */
  representation?: UserRepresentation;
}

const SESSION_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sessionKey = (sessionId: string) => `session:${sessionId}`;

/**
 * Serves recommendations (cache first, then the model, fold-in for users the model has not seen, then the genre and
 * global top lists) and records feedback. Redis being down never fails a request: the cache is skipped.
 */
export class Recommender {
  private lastCacheWarning = 0;
  private readonly sessionTtlSeconds: number;
  private readonly explainDeps: RecommenderDeps & { explanationCache: ExplanationCache };
  /** Cache misses being computed, by user, model type and k (single flight: concurrent requests share one). */
  private readonly misses = new Map<string, Promise<MissResult>>();
  private missesRunning = 0;
  private readonly missesWaiting: (() => void)[] = [];
  private readonly missConcurrency: number;
  private readonly missQueue: number;
  private readonly feedbackWrites = new GroupCommit<FeedbackWrite, { created: boolean }>((batch) => this.writeFeedback(batch));

  constructor(private readonly deps: RecommenderDeps) {
    this.sessionTtlSeconds = deps.sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
    this.missConcurrency = deps.missConcurrency ?? DEFAULT_MISS_CONCURRENCY;
    this.missQueue = deps.missQueue ?? DEFAULT_MISS_QUEUE;
    this.explainDeps = {
      ...deps,
      explanationCache: deps.explanationCache ?? new ExplanationCache(DEFAULT_EXPLANATION_CACHE_ENTRIES, EXPLANATION_CACHE_TTL_MS),
    };
  }

  /** Cache misses being computed now and waiting for a slot (for tests and metrics). */
  get missLoad(): { running: number; waiting: number; distinct: number } {
    return { running: this.missesRunning, waiting: this.missesWaiting.length, distinct: this.misses.size };
  }

  async recommend(userIdInput: unknown, forcedModel: ModelTypeName | undefined, kInput: number | undefined): Promise<Recommendations> {
    const { models, metrics } = this.deps;
    const userId = assertId(userIdInput, 'user_id');
    const k = boundedInt(kInput, 'k', 1, MAX_K, DEFAULT_K);
    const modelType = forcedModel ?? assignArm(userId, this.deps.experiment);
    const model = models.current(modelType);
    const modelVersion = model?.version ?? NO_MODEL_VERSION;

    let source: RecommendationSourceName | undefined;
    let scored: CachedRecommendation[] = [];
    let interactions: Map<string, number> | undefined;
    let favoriteGenres: readonly string[] = [];
    let representation: UserRepresentation | undefined;
    const cacheKey = model ? recommendationKey(userId, modelType, model.version) : undefined;
    // The user's interactions stamp (lib/src/events/list-stamp.ts), read with the list in one MGET: a list cached
    // before the user's latest event is a miss; undefined when the cache could not be read (nothing is cached then).
    let stamp: string | null | undefined;
    if (cacheKey) {
      const read = await this.cacheGetMany([cacheKey, stampKey(userId)]);
      stamp = read ? read[1] : undefined;
      const cached = read ? currentList(read[0], read[1]) : null;
      // Only the served items are decoded: k, plus as many as hidden movies could remove. Hidden movies leave
      // cached lists at once (movie-info.ts); a list left shorter than k is a miss.
      const list = cached === null ? null : this.deps.movies.visible(decodeRecommendations(cached, k + this.deps.movies.hiddenCount));
      metrics.cacheLookups.inc({ result: list && list.length >= k ? 'hit' : 'miss' });
      if (list && list.length >= k) {
        source = 'cache';
        scored = list.length > k ? list.slice(0, k) : list;
      }
    }
    if (!source) {
      const miss = await this.computeMiss(userId, modelType, model, cacheKey, stamp, k);
      ({ source, scored, interactions, favoriteGenres, representation } = miss);
    }

    const info = await this.deps.movies.get(scored.map((s) => s.movieId));
    const items: RecommendedMovie[] = [];
    for (const s of scored) {
      const movie = info.get(s.movieId);
      if (movie) items.push({ movie, score: s.score, rank: items.length + 1 });
    }
    await explainList(this.explainDeps, { userId, model, source, items, interactions, favoriteGenres, cacheKey, representation });
    // A popularity list (no model could score the user) is no impression of the arm's model: arm "fallback", which
    // the A/B report counts nowhere (README "The experiment (A/B) report").
    const arm = FALLBACK_SOURCES.has(source) ? FALLBACK_ARM : forcedModel ? FORCED_ARM : modelType;
    const sessionId = randomUUID();
    const logDoc: RecommendationLogDoc = {
      sessionId,
      userId,
      modelType,
      modelVersion,
      arm,
      source,
      items: items.map((i) => ({ movieId: i.movie.movieId, score: i.score, rank: i.rank })),
      createdAt: new Date(),
    };
    this.deps.logs.append(logDoc);
    void this.cacheSet(sessionKey(sessionId), encodeSession(logDoc), this.sessionTtlSeconds);
    metrics.servedList(modelType, source);
    return { sessionId, userId, modelType, modelVersion, source, arm, items };
  }

  /**
   * A cache miss: MongoDB reads and model scoring (or the top lists). Concurrent misses of one (user, model type, k)
   * share one computation (single flight); at most missConcurrency distinct ones run at once, up to missQueue more
   * wait for a slot, and past that the request is refused with UNAVAILABLE (the gateway answers 503 with
   * Retry-After), so a burst of misses cannot pile up unbounded work and memory.
   */
  private computeMiss(
    userId: string,
    modelType: ModelTypeName,
    model: ServingModel | undefined,
    cacheKey: string | undefined,
    stamp: string | null | undefined,
    k: number,
  ): Promise<MissResult> {
    // The stamp is part of the flight: a request that read a newer stamp never joins a computation from older history.
    const flightKey = `${userId}\u0000${modelType}\u0000${model?.version ?? ''}\u0000${k}\u0000${stamp ?? ''}`;
    const running = this.misses.get(flightKey);
    if (running) return running;
    if (this.missesRunning >= this.missConcurrency && this.missesWaiting.length >= this.missQueue) {
      throw new UnavailableError(
        `too many recommendations are being computed at once (${this.missConcurrency} running, ${this.missQueue} waiting): retry shortly`,
      );
    }
    // The computation is shared by every caller that asks meanwhile, so it runs outside the first caller's call
    // scope: that caller cancelling must not fail the others (its store reads are bounded by MONGO_TIMEOUT_MS), and
    // its cache write must not be refused once the call that started it has ended.
    const flight = detachedFromCall(async () => {
      await this.acquireMissSlot();
      try {
        return await this.scoreMiss(userId, model, cacheKey, stamp, k);
      } finally {
        this.releaseMissSlot();
      }
    }).finally(() => this.misses.delete(flightKey));
    this.misses.set(flightKey, flight);
    return flight;
  }

  private acquireMissSlot(): Promise<void> | void {
    if (this.missesRunning < this.missConcurrency) {
      this.missesRunning++;
      return;
    }
    return new Promise<void>((resolve) => this.missesWaiting.push(resolve));
  }

  /** Hands the slot to the next waiting miss, if any (missesRunning stays the same then). */
  private releaseMissSlot(): void {
    const next = this.missesWaiting.shift();
    if (next) next();
    else this.missesRunning--;
  }

  private async scoreMiss(
    userId: string,
    model: ServingModel | undefined,
    cacheKey: string | undefined,
    stamp: string | null | undefined,
    k: number,
  ): Promise<MissResult> {
    let source: RecommendationSourceName | undefined;
    let scored: CachedRecommendation[] = [];
    let scoredWith: UserRepresentation | undefined;
    // The user's latest applied event: the stamp carries its time (no interaction_events read on the event path);
    // without a stamp (no event for 30 days, or Redis lost it) it is read from the store.
    const stampedAt = stamp ? stampTime(stamp) : null;
    const [user, history, lastEventAt] = await Promise.all([
      this.deps.store.getUser(userId),
      userHistory(this.deps.store, userId),
      stampedAt !== null ? new Date(stampedAt) : this.deps.store.lastInteractionEventAt(userId),
    ]);
    const interactions = history.interactions;
    const excluded = history.seen;
    const favoriteGenres = user?.favoriteGenres ?? [];
    if (model) {
      // A user whose interactions changed through events is recomputed from their current interactions
      // (ServingModel.refreshUser); the list is cached under the stamp read before the history, so the next event
      // (which replaces the stamp) makes it a miss, and an event that landed meanwhile already has.
      const changed = lastEventAt !== null && lastEventAt.getTime() >= model.dataSnapshotAt;
      let representation = changed ? null : model.userRepresentation(userId);
      source = representation ? 'model' : undefined;
      if (!representation) {
        representation = changed ? model.refreshUser(userId, interactions, favoriteGenres) : model.foldIn(interactions, favoriteGenres);
        if (representation) source = 'fold_in';
      }
      if (representation) {
        scoredWith = representation;
        const full = model.recommend(representation, excluded, CACHED_LIST_LENGTH, this.deps.movies);
        // Fold-in lists too (users who came after the training run): whatever they are computed from (interactions,
        // favourite genres) replaces the user's stamp when it changes (userChanged).
        if (cacheKey && stamp !== undefined) void this.cacheSet(cacheKey, stampList(stamp, encodeRecommendations(full)));
        scored = full.slice(0, k);
      }
    }
    if (!source) {
      source = favoriteGenres.length ? 'genres_top' : 'global_top';
      const topMovies: MovieDoc[] = await this.deps.store.topMovies({
        genres: favoriteGenres.length ? favoriteGenres : undefined,
        excludeMovieIds: [...excluded],
        limit: k,
      });
      this.deps.movies.remember(topMovies);
      scored = topMovies.map((m) => ({ movieId: m.movieId, score: m.popularity }));
    }
    return { source, scored, interactions, favoriteGenres, representation: scoredWith };
  }

  async submitFeedback(sessionIdInput: unknown, movieIdInput: unknown, liked: boolean): Promise<FeedbackResult> {
    if (typeof sessionIdInput !== 'string' || !SESSION_PATTERN.test(sessionIdInput)) {
      throw new InvalidArgumentError('session_id must be a session id (a UUID) from a recommendation response');
    }
    const sessionId = sessionIdInput;
    const movieId = assertId(movieIdInput, 'movie_id');
    const found = await this.findSession(sessionId);
    if (!found) throw new NotFoundError(`session '${sessionId}' not found`);
    const { session, stored } = found;
    const item = session.items.find((i) => i.movieId === movieId);
    if (!item) throw new InvalidArgumentError(`movie '${movieId}' was not in the list of session '${sessionId}'`);
    const doc: FeedbackWrite['doc'] = {
      sessionId,
      userId: session.userId,
      movieId,
      liked,
      modelType: session.modelType,
      modelVersion: session.modelVersion,
      rank: item.rank,
      sessionCreatedAt: new Date(session.createdAt),
      arm: session.arm,
    };
    const { created } = await this.feedbackWrites.submit({ doc, unstoredLog: stored ? undefined : session });
    this.deps.metrics.feedback.inc({ model_type: session.modelType, liked: String(liked) });
    return { sessionId, movieId, liked, created };
  }

  /**
   * The writes of concurrent POST /feedback requests, as one batch (group commit, lib/src/group-commit.ts): one
   * insertMany per collection instead of one write per request. Every write is idempotent, so a retry after a failure
   * writes nothing twice.
   */
  private async writeFeedback(batch: FeedbackWrite[]): Promise<{ created: boolean }[]> {
    // The report must never count feedback on a session it does not count (the log buffer flushes every second):
    // a session found only in the buffer or the cache is written to recommendation_logs first (idempotent by
    // session id, so the buffer's own later write is skipped).
    const logs = batch.flatMap((w) => (w.unstoredLog ? [{ ...w.unstoredLog, createdAt: new Date(w.unstoredLog.createdAt) }] : []));
    if (logs.length) await this.deps.store.insertRecommendationLogs(logs);
    // The A/B report's documents and the interaction events are written at once.
    const [created] = await Promise.all([
      this.deps.store.upsertFeedbackMany(batch.map((w) => w.doc)),
      this.deps.events?.recordFeedback(batch.map(({ doc }) => ({ userId: doc.userId, sessionId: doc.sessionId, movieId: doc.movieId, liked: doc.liked }))),
    ]);
    // The movies leave the users' next lists at once (a like or a dislike makes them seen), also in Kafka mode before
    // the consumer applies the events: a new stamp makes every cached list of the user, of any version, a miss.
    // Applied directly, the events were stamped with their writes already (EventApplier).
    if (this.deps.events?.mode !== 'direct') await this.restamp(batch.map((w) => w.doc.userId));
    return created;
  }

  /**
   * The user changed otherwise than through an interaction event (their favourite genres): a new interactions stamp
   * makes every cached list of the user a miss, recomputed from their current data. Redis down: the lists cached
   * before stay until their TTL (logged and counted, as for feedback); the write itself has succeeded.
   */
  userChanged(userId: string): Promise<void> {
    return this.restamp([userId]);
  }

  /** New interactions stamps for these users; a cache that cannot be written is logged and counted, not thrown. */
  private async restamp(userIds: string[]): Promise<void> {
    try {
      await stampUsers(this.deps.cache, userIds);
    } catch (err) {
      this.cacheFailed('stamp', err);
    }
  }

  /** `stored`: read from recommendation_logs (MongoDB), as opposed to the log buffer or the cache. */
  private async findSession(sessionId: string): Promise<{ session: RecommendationLogDoc; stored: boolean } | null> {
    const pending = this.deps.logs.pendingSession(sessionId);
    if (pending) return { session: pending, stored: false };
    const cached = await this.cacheGet(sessionKey(sessionId));
    const session = cached ? decodeSession(sessionId, cached) : null;
    // Stored by this replica's log writer: the feedback is the only write (no log insert to skip as a duplicate).
    if (session) return { session, stored: this.deps.logs.wasStored?.(sessionId) ?? false };
    const stored = await this.deps.store.getRecommendationLog(sessionId);
    return stored ? { session: stored, stored: true } : null;
  }

  /** The values of these keys, or undefined when the cache cannot be read (the request goes on without it). */
  private async cacheGetMany(keys: string[]): Promise<(string | null)[] | undefined> {
    try {
      return await this.deps.cache.getMany(keys);
    } catch (err) {
      this.cacheFailed('get', err);
      return undefined;
    }
  }

  private async cacheGet(key: string): Promise<string | null> {
    try {
      return await this.deps.cache.get(key);
    } catch (err) {
      this.cacheFailed('get', err);
      return null;
    }
  }

  private async cacheSet(key: string, value: string, ttlSeconds = this.deps.cacheTtlSeconds): Promise<void> {
    try {
      await this.deps.cache.set(key, value, ttlSeconds);
    } catch (err) {
      this.cacheFailed('set', err);
    }
  }

  private cacheFailed(operation: string, err: unknown): void {
    this.deps.metrics.cacheErrors.inc({ operation });
    const now = Date.now();
    if (now - this.lastCacheWarning > 10_000) {
      this.lastCacheWarning = now;
      this.deps.log.warn({ err: String(err), operation }, 'cache unavailable: serving without it');
    }
  }
}
