import type { Cache } from '../../lib/src/cache/types.js';
import { assertId, MODEL_TYPES, type ModelTypeName } from '../../lib/src/domain.js';
import { DomainError } from '../../lib/src/errors.js';
import type { Logger } from '../../lib/src/logger.js';
import { ARTIFACT_ARRAYS as A, ARTIFACT_ID_MAPS as M } from '../../lib/src/models/layout.js';
import { CorruptModelError, type ModelRegistry } from '../../lib/src/models/registry.js';
import { CACHED_LIST_LENGTH, writeRecommendations, type CachedRecommendation } from '../../lib/src/recommendation-cache.js';
import { cooToCsr, type CsrMatrix } from '../../lib/src/sparse.js';
import type { Store } from '../../lib/src/store/types.js';
import { CooBuilder } from './coo-builder.js';
import type { TrainerConfig } from './config.js';
import type { ModelCore } from './model-core.js';
import { PermanentJobError, type JobContext, type JsonObject } from './queue/types.js';

/** An active model version, loaded and verified, with its id maps indexed. */
export interface LoadedModel {
  readonly modelType: ModelTypeName;
  readonly version: string;
  readonly dim: number;
  readonly users: readonly string[];
  readonly items: readonly string[];
  readonly userIndex: ReadonlyMap<string, number>;
  readonly itemIndex: ReadonlyMap<string, number>;
  readonly userVectors: Float32Array;
  readonly userBiases: Float32Array;
  readonly itemVectors: Float32Array;
  readonly itemBiases: Float32Array;
}

/** Keeps the last loaded version of each model type, so single-user refreshes do not reload the artifact. */
export class ActiveModels {
  private readonly loaded = new Map<ModelTypeName, LoadedModel>();

  constructor(private readonly registry: ModelRegistry) {}

  /** The active version of the model type, or null when none is active. Throws CorruptModelError if unreadable. */
  async get(modelType: ModelTypeName): Promise<LoadedModel | null> {
    const version = await this.registry.activeVersion(modelType);
    if (version === null) return null;
    const cached = this.loaded.get(modelType);
    if (cached?.version === version) return cached;
    const { manifest, arrays, idMaps } = await this.registry.load(modelType, version);
    const users = idMaps[M.users];
    const items = idMaps[M.items];
    const dim = manifest.dimensions.factors;
    const f32 = (name: string, length: number): Float32Array => {
      const array = arrays[name];
      if (!(array instanceof Float32Array) || array.length !== length) {
        throw new CorruptModelError(`${modelType} ${version}: ${name} is missing or has the wrong size`);
      }
      return array;
    };
    if (!users || !items || !(dim > 0)) throw new CorruptModelError(`${modelType} ${version}: id maps or dimensions missing`);
    const model: LoadedModel = {
      modelType,
      version,
      dim,
      users,
      items,
      userIndex: new Map(users.map((id, i) => [id, i])),
      itemIndex: new Map(items.map((id, i) => [id, i])),
      userVectors: f32(A.userVectors, users.length * dim),
      userBiases: f32(A.userBiases, users.length),
      itemVectors: f32(A.itemVectors, items.length * dim),
      itemBiases: f32(A.itemBiases, items.length),
    };
    this.loaded.set(modelType, model);
    return model;
  }
}

export interface RefreshDeps {
  readonly store: Store;
  readonly cache: Cache;
  readonly core: ModelCore;
  readonly models: ActiveModels;
  readonly config: TrainerConfig;
  readonly log: Logger;
}

export interface ModelRefreshStats {
  version: string;
  users: number;
  seconds: number;
  usersPerSecond: number;
}

/** Active versions to refresh; an unreadable version is skipped with a log line (the others still refresh). */
async function activeModels(
  deps: RefreshDeps,
  log: Logger,
  modelTypes: readonly ModelTypeName[] = MODEL_TYPES,
): Promise<{ loaded: LoadedModel[]; skipped: Record<string, string> }> {
  const loaded: LoadedModel[] = [];
  const skipped: Record<string, string> = {};
  for (const modelType of modelTypes) {
    try {
      const model = await deps.models.get(modelType);
      if (model) loaded.push(model);
      else skipped[modelType] = 'no active version';
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      skipped[modelType] = err.message;
      log.error({ err, modelType }, 'active model version unreadable: its recommendations are not refreshed');
    }
  }
  return { loaded, skipped };
}

/**
 * What each user must not be recommended, per model (rows and columns in the model's indices): everything the user
 * has watched, liked or bookmarked by now (also what came after the model was trained) and every disliked movie.
 */
async function readExclusions(deps: RefreshDeps, models: readonly LoadedModel[], signal: AbortSignal): Promise<CsrMatrix[]> {
  const builders = models.map(() => new CooBuilder(1 << 16));
  const push = (userId: string, movieId: string) => {
    models.forEach((model, m) => {
      const u = model.userIndex.get(userId);
      const i = model.itemIndex.get(movieId);
      if (u !== undefined && i !== undefined) builders[m].push(u, i, 1);
    });
  };
  const batchSize = deps.config.SCAN_BATCH_SIZE;
  // The four collections are read concurrently (the order of the entries does not matter: the CSR sorts them).
  const scan = async (collection: 'watched_movies' | 'likes' | 'bookmarks' | 'feedback') => {
    for await (const batch of deps.store.scan(collection, batchSize)) {
      for (const doc of batch) if (collection !== 'feedback' || (doc as { liked?: boolean }).liked === false) push(doc.userId, doc.movieId);
      signal.throwIfAborted();
    }
  };
  await Promise.all([scan('watched_movies'), scan('likes'), scan('bookmarks'), scan('feedback')]);
  return models.map((model, m) => cooToCsr(builders[m].toCoo(model.users.length, model.items.length)));
}

function listOf(model: LoadedModel, ids: Int32Array, scores: Float32Array, from: number, k: number): CachedRecommendation[] {
  const items: CachedRecommendation[] = [];
  for (let j = from; j < from + k; j++) {
    if (ids[j] < 0) break;
    items.push({ movieId: model.items[ids[j]], score: scores[j] });
  }
  return items;
}

/** Users whose vector is all zeros (ALS gives those to users left without interactions) get no list. */
function hasSignal(model: LoadedModel, u: number): boolean {
  const { dim, userVectors } = model;
  for (let d = u * dim; d < (u + 1) * dim; d++) if (userVectors[d] !== 0) return true;
  return false;
}

/** The job's `modelTypes` (all when absent or empty: the nightly refresh); unknown names fail the job for good. */
function refreshedTypes(data: JsonObject): ModelTypeName[] {
  const requested = data.modelTypes === undefined ? [] : data.modelTypes;
  if (!Array.isArray(requested) || requested.some((t) => !(MODEL_TYPES as readonly unknown[]).includes(t))) {
    throw new PermanentJobError(`modelTypes must be a list of ${MODEL_TYPES.join(', ')}; got ${JSON.stringify(requested)}`);
  }
  return requested.length === 0 ? [...MODEL_TYPES] : MODEL_TYPES.filter((t) => requested.includes(t));
}

/**
 * update_all_recommendations: for the active version of each model (or of the job's `modelTypes` only), the top CACHED_LIST_LENGTH of every user the
 * model knows (batch top-K of the models library, in chunks), written to recommendations:{user}:{model}:{version}
 * with the TTL, each chunk in one pipelined round trip while the next chunk is ranked.
 */
export async function runRefreshAll(deps: RefreshDeps, context: JobContext): Promise<JsonObject> {
  const log = deps.log.child({ jobId: context.id });
  const { loaded, skipped } = await activeModels(deps, log, refreshedTypes(context.data));
  const stats: Record<string, ModelRefreshStats> = {};
  if (loaded.length === 0) {
    log.info({ skipped }, 'no active model: nothing to refresh');
    return { models: stats, skipped };
  }
  const tRead = performance.now();
  const exclusions = await readExclusions(deps, loaded, context.signal);
  const readSeconds = (performance.now() - tRead) / 1000;
  const totalUsers = loaded.reduce((n, m) => n + m.users.length, 0);
  let doneUsers = 0;
  for (const [m, model] of loaded.entries()) {
    const t0 = performance.now();
    const k = Math.min(CACHED_LIST_LENGTH, model.items.length);
    const chunk = deps.config.REFRESH_CHUNK_USERS;
    let written = 0;
    let pendingWrite: Promise<void> = Promise.resolve();
    for (let start = 0; start < model.users.length; start += chunk) {
      context.signal.throwIfAborted();
      const candidates: number[] = [];
      for (let u = start; u < Math.min(start + chunk, model.users.length); u++) if (hasSignal(model, u)) candidates.push(u);
      if (candidates.length > 0) {
        const users = Int32Array.from(candidates);
        const { ids, scores } = await deps.core.batchTopK({
          userVectors: model.userVectors,
          userBiases: model.userBiases,
          itemVectors: model.itemVectors,
          itemBiases: model.itemBiases,
          dim: model.dim,
          exclude: exclusions[m],
          users,
          k,
          threads: deps.config.TRAIN_THREADS,
        });
        const lists = candidates.map((u, r) => ({ userId: model.users[u], items: listOf(model, ids, scores, r * k, k) }));
        await pendingWrite;
        pendingWrite = writeRecommendations(deps.cache, model.modelType, model.version, lists, deps.config.RECOMMENDATION_TTL_SECONDS);
        written += lists.length;
      }
      doneUsers += Math.min(chunk, model.users.length - start);
      await context.updateProgress({ fraction: doneUsers / totalUsers, modelType: model.modelType, usersWritten: written });
    }
    await pendingWrite;
    const seconds = (performance.now() - t0) / 1000;
    stats[model.modelType] = { version: model.version, users: written, seconds, usersPerSecond: seconds > 0 ? written / seconds : written };
    log.info({ modelType: model.modelType, ...stats[model.modelType] }, 'recommendations refreshed');
  }
  return { models: { ...stats }, skipped, readSeconds };
}

/** update_recommendations: the same for one user, with exclusions read for that user only. */
export async function runRefreshUser(deps: RefreshDeps, context: JobContext): Promise<JsonObject> {
  let userId: string;
  try {
    userId = assertId(context.data.userId, 'userId');
  } catch (err) {
    throw new PermanentJobError((err as Error).message);
  }
  const log = deps.log.child({ jobId: context.id, userId });
  const { loaded, skipped } = await activeModels(deps, log);
  const [interacted, disliked] = await Promise.all([deps.store.userInteractionWeights(userId), deps.store.dislikedMovieIds(userId)]);
  const excluded = [...interacted.keys(), ...disliked];
  const written: Record<string, { version: string; items: number }> = {};
  for (const model of loaded) {
    const u = model.userIndex.get(userId);
    if (u === undefined || !hasSignal(model, u)) {
      skipped[model.modelType] = 'user not in the model (served by fold-in or cold start)';
      continue;
    }
    const exclude = new Set<number>();
    for (const movieId of excluded) {
      const i = model.itemIndex.get(movieId);
      if (i !== undefined) exclude.add(i);
    }
    const available = model.items.length - exclude.size;
    const items: CachedRecommendation[] = [];
    if (available > 0) {
      const k = Math.min(CACHED_LIST_LENGTH, available);
      const { ids, scores } = deps.core.topK({
        userVector: model.userVectors.subarray(u * model.dim, (u + 1) * model.dim),
        userBias: model.userBiases[u],
        itemVectors: model.itemVectors,
        itemBiases: model.itemBiases,
        exclude: Int32Array.from(exclude),
        k,
      });
      items.push(...listOf(model, ids, scores, 0, k));
    }
    await writeRecommendations(deps.cache, model.modelType, model.version, [{ userId, items }], deps.config.RECOMMENDATION_TTL_SECONDS);
    written[model.modelType] = { version: model.version, items: items.length };
  }
  log.info({ written, skipped }, 'user recommendations refreshed');
  return { userId, written, skipped };
}
