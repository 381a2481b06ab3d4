import { randomUUID } from 'node:crypto';
import { assertId, boundedInt, MODEL_TYPES, type ModelTypeName } from '../../lib/src/domain.js';
import { InvalidArgumentError, NotFoundError } from '../../lib/src/errors.js';
import type { Cache } from '../../lib/src/cache/types.js';
import type { Logger } from '../../lib/src/logger.js';
import {
  CACHED_LIST_LENGTH,
  decodeRecommendations,
  encodeRecommendations,
  recommendationKey,
  type CachedRecommendation,
} from '../../lib/src/recommendation-cache.js';
import type { MovieDoc, RecommendationLogDoc, RecommendationSourceName, Store } from '../../lib/src/store/types.js';
import { assignArm, type ExperimentSettings } from './experiment.js';
import type { RecommendationLogWriter } from './log-writer.js';
import type { RecsvcMetrics } from './metrics.js';
import type { ModelHolder } from './model-holder.js';
import type { MovieInfoCache } from './movie-info.js';
import { explainList, type Explanation } from './explain-list.js';
import type { EventIngest } from './event-ingest.js';
import { userHistory } from './seen-rule.js';

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
  events?: Pick<EventIngest, 'recordFeedback'>;
}

const SESSION_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const sessionKey = (sessionId: string) => `session:${sessionId}`;
/** Sessions are kept in the cache for late feedback served by another replica before the log write lands. */
const SESSION_TTL_SECONDS = 24 * 3600;

/**
 * Serves recommendations (cache first, then the model, fold-in for users the model has not seen, then the genre and
 * global top lists) and records feedback. Redis being down never fails a request: the cache is skipped.
 */
export class Recommender {
  private lastCacheWarning = 0;

  constructor(private readonly deps: RecommenderDeps) {}

  async recommend(userIdInput: unknown, forcedModel: ModelTypeName | undefined, kInput: number | undefined): Promise<Recommendations> {
    const { models, metrics } = this.deps;
    const userId = assertId(userIdInput, 'user_id');
    const k = boundedInt(kInput, 'k', 1, MAX_K, DEFAULT_K);
    const modelType = forcedModel ?? assignArm(userId, this.deps.experiment);
    const arm = forcedModel ? 'forced' : modelType;
    const model = models.current(modelType);
    const modelVersion = model?.version ?? NO_MODEL_VERSION;

    let source: RecommendationSourceName | undefined;
    let scored: CachedRecommendation[] = [];
    let topMovies: MovieDoc[] | undefined;
    let interactions: Map<string, number> | undefined;
    let favoriteGenres: string[] = [];
    const cacheKey = model ? recommendationKey(userId, modelType, model.version) : undefined;
    if (cacheKey) {
      const cached = await this.cacheGet(cacheKey);
      // Hidden movies leave cached lists at once (movie-info.ts); a list left shorter than k is a miss.
      const list = cached === null ? null : this.deps.movies.visible(decodeRecommendations(cached));
      metrics.cacheLookups.inc({ result: list && list.length >= k ? 'hit' : 'miss' });
      if (list && list.length >= k) {
        source = 'cache';
        scored = list.slice(0, k);
      }
    }
    if (!source) {
      const [user, history, lastEventAt] = await Promise.all([
        this.deps.store.getUser(userId),
        userHistory(this.deps.store, userId),
        this.deps.store.lastInteractionEventAt(userId),
      ]);
      interactions = history.interactions;
      const excluded = history.seen;
      favoriteGenres = user?.favoriteGenres ?? [];
      if (model) {
        // A user whose interactions changed through events is recomputed from their current interactions
        // (ServingModel.refreshUser); events drop the user's cached lists, so such lists can be cached too.
        const changed = lastEventAt !== null && lastEventAt.getTime() >= model.dataSnapshotAt;
        let representation = changed ? null : model.userRepresentation(userId);
        source = representation ? 'model' : undefined;
        if (!representation) {
          representation = changed ? model.refreshUser(userId, interactions, favoriteGenres) : model.foldIn(interactions, favoriteGenres);
          if (representation) source = 'fold_in';
        }
        if (representation) {
          const full = model.recommend(representation, excluded, CACHED_LIST_LENGTH, this.deps.movies);
          if ((source === 'model' || changed) && cacheKey) void this.cacheSet(cacheKey, encodeRecommendations(full));
          scored = full.slice(0, k);
        }
      }
      if (!source) {
        source = favoriteGenres.length ? 'genres_top' : 'global_top';
        topMovies = await this.deps.store.topMovies({
          genres: favoriteGenres.length ? favoriteGenres : undefined,
          excludeMovieIds: [...excluded],
          limit: k,
        });
        this.deps.movies.remember(topMovies);
        scored = topMovies.map((m) => ({ movieId: m.movieId, score: m.popularity }));
      }
    }

    const info = await this.deps.movies.get(scored.map((s) => s.movieId));
    const items: RecommendedMovie[] = [];
    for (const s of scored) {
      const movie = info.get(s.movieId);
      if (movie) items.push({ movie, score: s.score, rank: items.length + 1 });
    }
    await explainList(this.deps, { userId, model, source, items, interactions, favoriteGenres });
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
    void this.cacheSet(sessionKey(sessionId), JSON.stringify(logDoc), SESSION_TTL_SECONDS);
    metrics.servedList(modelType, source);
    return { sessionId, userId, modelType, modelVersion, source, arm, items };
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
    // The report must never count feedback on a session it does not count (the log buffer flushes every second):
    // a session found only in the buffer or the cache is written to recommendation_logs first (idempotent by
    // session id, so the buffer's own later write is skipped).
    if (!stored) await this.deps.store.insertRecommendationLogs([{ ...session, createdAt: new Date(session.createdAt) }]);
    const { created } = await this.deps.store.upsertFeedback({
      sessionId,
      userId: session.userId,
      movieId,
      liked,
      modelType: session.modelType,
      modelVersion: session.modelVersion,
      rank: item.rank,
      sessionCreatedAt: new Date(session.createdAt),
      arm: session.arm,
    });
    this.deps.metrics.feedback.inc({ model_type: session.modelType, liked: String(liked) });
    await this.deps.events?.recordFeedback(session.userId, sessionId, movieId, liked);
    if (!liked) {
      // The disliked movie must disappear from the user's next list at once: drop the cached lists.
      const keys = MODEL_TYPES.flatMap((type) => {
        const version = this.deps.models.current(type)?.version;
        return version ? [recommendationKey(session.userId, type, version)] : [];
      });
      await this.cacheDel(keys);
    }
    return { sessionId, movieId, liked, created };
  }

  /** `stored`: read from recommendation_logs (MongoDB), as opposed to the log buffer or the cache. */
  private async findSession(sessionId: string): Promise<{ session: RecommendationLogDoc; stored: boolean } | null> {
    const pending = this.deps.logs.pendingSession(sessionId);
    if (pending) return { session: pending, stored: false };
    const cached = await this.cacheGet(sessionKey(sessionId));
    if (cached) {
      try {
        return { session: JSON.parse(cached) as RecommendationLogDoc, stored: false };
      } catch {
        // fall through to MongoDB
      }
    }
    const stored = await this.deps.store.getRecommendationLog(sessionId);
    return stored ? { session: stored, stored: true } : null;
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

  private async cacheDel(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.deps.cache.del(keys);
    } catch (err) {
      // A stale list could be served until its TTL: say so loudly.
      this.cacheFailed('del', err);
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
