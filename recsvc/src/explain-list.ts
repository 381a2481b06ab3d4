import type { Cache } from '../../lib/src/cache/types.js';
import type { Logger } from '../../lib/src/logger.js';
import { explanationKey } from '../../lib/src/recommendation-cache.js';
import type { RecommendationSourceName, Store } from '../../lib/src/store/types.js';
import { explainModelList, topListExplanation, type Explanation } from './explanations.js';
import type { MovieInfoCache } from './movie-info.js';
import type { RecommendedMovie } from './recommender.js';
import type { ServingModel, UserRepresentation } from './serving-model.js';

export type { Explanation } from './explanations.js';

export interface ExplainDeps {
  store: Store;
  movies: MovieInfoCache;
  log: Logger;
  /** Explanations already computed for a served list (absent: computed on every request). */
  explanationCache?: ExplanationCache;
  /**
   * The shared cache (Redis): explanations computed by any replica are kept there beside the list
   * (`explanations:{user}:{model}:{version}`, for `explanationTtlSeconds`), so a cache hit that misses this process's
   * ExplanationCache (another replica computed them, a restart) reads Redis, not MongoDB. Absent: in process only.
   */
  cache?: Cache;
  /** How long explanations are kept in the cache, s (default EXPLANATION_CACHE_TTL_SECONDS). */
  explanationTtlSeconds?: number;
}

/** Default ExplainDeps.explanationTtlSeconds: 10 minutes, as the in-process cache (a title edit shows up by then). */
export const EXPLANATION_CACHE_TTL_SECONDS = 600;

/** The cache value of a list's explanations: `{"f": fingerprint of the items, "e": explanations}`. */
export function encodeExplanations(items: readonly RecommendedMovie[], explanations: readonly Explanation[]): string {
  return JSON.stringify({ f: fingerprint(items), e: explanations });
}

/** The explanations in `value` if they were computed for exactly these items and scores, else undefined. */
export function decodeExplanations(value: string | null, items: readonly RecommendedMovie[]): Explanation[] | undefined {
  if (!value) return undefined;
  try {
    const parsed = JSON.parse(value) as { f?: unknown; e?: unknown };
    if (parsed.f !== fingerprint(items) || !Array.isArray(parsed.e) || parsed.e.length !== items.length) return undefined;
    const ok = parsed.e.every((e: Explanation) => e && typeof e.kind === 'string' && typeof e.text === 'string' && Array.isArray(e.contributions) && Array.isArray(e.genres));
    return ok ? (parsed.e as Explanation[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Explanations of served lists, kept in process (an LRU of at most `maxEntries` lists, each kept at most `ttlMs`),
 * so a cache hit needs neither the user's interactions from MongoDB nor the ALS solve again. An entry is keyed by the
 * list's cache key (user, model type, model version) and holds the served items' ids and scores: it answers only a
 * request that serves exactly those items with exactly those scores. A list recomputed after the user's interactions
 * changed (events and feedback make the cached list stale: lib/src/events/list-stamp.ts) has other scores, so its explanations are computed afresh; a
 * title edited in the catalogue shows up in the explanations within `ttlMs`. Explanations that could not be computed
 * (MongoDB down) are never kept. Each replica keeps its own; behind it, explanations are also kept in the shared cache
 * beside the list (ExplainDeps.cache), so a miss here costs one Redis read, and one interactions read only when no
 * replica has explained that list yet.
 */
export class ExplanationCache {
  private readonly entries = new Map<string, { fingerprint: string; at: number; explanations: Explanation[] }>();

  /** `now` is the clock in milliseconds (injected by tests). */
  constructor(
    readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, items: readonly RecommendedMovie[]): Explanation[] | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.ttlMs || entry.fingerprint !== fingerprint(items)) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used last (Map keeps insertion order): the first entry is the one to evict.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.explanations;
  }

  set(key: string, items: readonly RecommendedMovie[], explanations: Explanation[]): void {
    if (this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { fingerprint: fingerprint(items), at: this.now(), explanations });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** The served items' ids and scores in order (exact: scores as JavaScript prints them). */
function fingerprint(items: readonly RecommendedMovie[]): string {
  let out = '';
  for (const i of items) out += `${i.movie.movieId},${i.score};`;
  return out;
}

export interface ExplainListRequest {
  userId: string;
  model: ServingModel | undefined;
  source: RecommendationSourceName;
  /** Set on the items, in place. */
  items: RecommendedMovie[];
  /** The user's interaction weights when the request already read them (undefined on a cache hit). */
  interactions: Map<string, number> | undefined;
  favoriteGenres: readonly string[];
  /** The list's cache key: explanations are looked up in and kept in deps.explanationCache under it. */
  cacheKey?: string;
  /** The user representation the list was scored with (a cache miss knows it; a cache hit does not). */
  representation?: UserRepresentation;
}

/** How long a cache hit may wait for the interactions an explanation needs before serving without it. */
export const EXPLAIN_READ_BUDGET_MS = 500;
/** After a failed or slow read, cache hits skip the read for this long (MongoDB is probably down). */
export const EXPLAIN_READ_BACKOFF_MS = 10_000;

/** Per recommender (keyed by its deps object): until when cache hits skip the interactions read. */
const backoff = new WeakMap<object, number>();

class ReadTimeout extends Error {}
class BackingOff extends Error {}

function withinBudget<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReadTimeout(`no answer within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined); // a late failure after the timeout is not an unhandled rejection
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Sets `explanation` on each served item, at serve time and for the K served items only. Explanations of the same
 * items and scores are taken from this process's ExplanationCache, then from the shared cache; otherwise a cache hit
 * reads the user's interactions (ALS needs them) within EXPLAIN_READ_BUDGET_MS: a cache hit never waits for MongoDB longer than
 * that, and while reads fail or are slow (for EXPLAIN_READ_BACKOFF_MS after each) the list is served with a short
 * explanation that says it cannot be computed right now (a log line says why).
 */
export async function explainList(deps: ExplainDeps, req: ExplainListRequest): Promise<void> {
  const { items, source, model } = req;
  if (items.length === 0) return;
  if (source === 'genres_top' || source === 'global_top' || !model) {
    const explanation = topListExplanation(source === 'genres_top' ? 'genres_top' : 'global_top', req.favoriteGenres);
    for (const item of items) item.explanation = explanation;
    return;
  }
  const remembered = req.cacheKey ? deps.explanationCache?.get(req.cacheKey, items) ?? (await sharedExplanations(deps, req.cacheKey, items)) : undefined;
  if (remembered) {
    items.forEach((item, i) => (item.explanation = remembered[i]));
    return;
  }
  let explanations: Explanation[];
  try {
    let interactions = req.interactions;
    let favoriteGenres = req.favoriteGenres;
    // A cache hit read nothing from MongoDB: ALS needs the interactions; a user unknown to the model (never cached
    // today, but cheap to handle) needs what fold-in needs.
    const known = model.knowsUser(req.userId);
    if (!interactions && (model.modelType === 'als' || !known)) {
      if ((backoff.get(deps) ?? 0) > Date.now()) throw new BackingOff('interactions reads are backing off after a failure');
      try {
        const [weights, user] = await withinBudget(
          Promise.all([deps.store.userInteractionWeights(req.userId), known ? Promise.resolve(null) : deps.store.getUser(req.userId)]),
          EXPLAIN_READ_BUDGET_MS,
        );
        interactions = weights;
        if (!known) favoriteGenres = user?.favoriteGenres ?? [];
      } catch (err) {
        backoff.set(deps, Date.now() + EXPLAIN_READ_BACKOFF_MS);
        throw err;
      }
    }
    interactions ??= new Map();
    // The representation the list was scored with; on a cache hit, the same rule as the miss: the model's own, else a
    // fold-in (favourite genres), else the user's interactions folded in (ServingModel.refreshUser), as for a user
    // who came by events only. Before, a LightFM user without favourite genres got blank explanations here.
    const user =
      req.representation ??
      model.userRepresentation(req.userId) ??
      model.foldIn(interactions, favoriteGenres) ??
      model.refreshUser(req.userId, interactions, favoriteGenres);
    explanations = await explainModelList({
      model,
      source,
      user,
      interactions,
      items: items.map((i) => i.movie),
      titles: (ids) => deps.movies.get(ids),
    });
    if (req.cacheKey) {
      deps.explanationCache?.set(req.cacheKey, items, explanations);
      // Kept beside the list for the other replicas (and this one after a restart); a cache that cannot be written
      // only costs them one interactions read.
      deps.cache?.set(explanationKey(req.cacheKey), encodeExplanations(items, explanations), deps.explanationTtlSeconds ?? EXPLANATION_CACHE_TTL_SECONDS).catch(() => undefined);
    }
  } catch (err) {
    // One log line per failure, not one per request while backing off.
    if (!(err instanceof BackingOff)) deps.log.warn({ err: String(err), userId: req.userId, modelType: model.modelType }, 'explanations could not be computed');
    explanations = items.map(() => ({
      kind: model.modelType === 'als' ? 'similar_to_history' : 'features',
      text: 'No explanation available right now',
      contributions: [],
      genres: [],
    }));
  }
  items.forEach((item, i) => (item.explanation = explanations[i]));
}

/** Explanations another replica kept in the shared cache for exactly these items (remembered in process as well). */
async function sharedExplanations(deps: ExplainDeps, cacheKey: string, items: readonly RecommendedMovie[]): Promise<Explanation[] | undefined> {
  if (!deps.cache) return undefined;
  let value: string | null;
  try {
    value = await deps.cache.get(explanationKey(cacheKey));
  } catch {
    return undefined; // the cache is down: computed as without it
  }
  const found = decodeExplanations(value, items);
  if (found) deps.explanationCache?.set(cacheKey, items, found);
  return found;
}
