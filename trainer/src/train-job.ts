import type { Cache } from '../../lib/src/cache/types.js';
import { MODEL_TYPES, type ModelTypeName } from '../../lib/src/domain.js';
import { DomainError } from '../../lib/src/errors.js';
import { evaluateRanking, popularityRecommender, randomHoldoutSplit, timeSplit, type RankingMetrics, type Split } from '../../lib/src/evaluation.js';
import type { Logger } from '../../lib/src/logger.js';
import { newVersion, type NumericArray } from '../../lib/src/models/artifact.js';
import { ARTIFACT_ARRAYS, ARTIFACT_ID_MAPS } from '../../lib/src/models/layout.js';
import { catalogueFingerprint, type DataFingerprint } from '../../lib/src/models/fingerprint.js';
import { MODEL_ACTIVATED_CHANNEL, type ModelActivatedMessage, type ModelRegistry } from '../../lib/src/models/registry.js';
import { insanityReason } from '../../lib/src/models/sanity.js';
import type { CsrMatrix } from '../../lib/src/sparse.js';
import type { Store } from '../../lib/src/store/types.js';
import type { TrainerConfig } from './config.js';
import { ALS_RULES, WARP_RULES, checkOverrides, type AlsHyperParams, type WarpHyperParams } from './hyper-params.js';
import { planRun, scoreVectors, tuneModel } from './tune-job.js';
import type { TuningTrace } from './tuning.js';
import type { ModelSettingsStore } from './model-settings.js';
import type { ModelCore } from './model-core.js';
import { decidePromotion, rescoreActive, type ActiveOnHoldout } from './promotion.js';
import { PermanentJobError, type JobContext, type JsonObject } from './queue/types.js';
import { buildTrainingData, csrToCoo, readTrainingData, type TrainingData } from './training-data.js';

/** The data of a train_model job. */
export interface TrainJobData {
  /** Empty means both. */
  modelTypes: ModelTypeName[];
  /** Requested overrides of the configured hyper-parameters (already checked by the API). */
  als?: Partial<AlsHyperParams>;
  warp?: Partial<WarpHyperParams>;
  trigger?: 'api' | 'schedule';
}

/** The stages a run reports timings for, in order. */
export const STAGES = ['read', 'build', 'tune_als', 'tune_lightfm', 'train_als', 'train_lightfm', 'evaluate', 'upload'] as const;
export type Stage = (typeof STAGES)[number] | 'queued' | 'retry_pending' | 'done';

export interface ModelOutcomeJson {
  modelType: ModelTypeName;
  version: string;
  promoted: boolean;
  reason: string;
  metrics: Record<string, number>;
}

/**
 * The state of a run as stored in the job's progress (while it runs) and result (when done): the run state lives
 * in the BullMQ job itself, so GetTrainingRun is one read and no second store can disagree with the queue.
 */
export interface RunProgress {
  fraction: number;
  stage: Stage;
  /** Seconds per stage, summed over the run's attempts. */
  timings: Record<string, number>;
  dataStats: Record<string, number>;
  /** Models finished so far; a retry skips them. */
  outcomes: ModelOutcomeJson[];
  /** Promoted models whose cache refill has been queued (a retry queues the ones missing). */
  refreshQueued: ModelTypeName[];
}

export const EVAL_K = 10;

export interface TrainingDeps {
  readonly store: Store;
  readonly registry: ModelRegistry;
  /** Stored settings per model type; without it the environment's values are used (initialSettings). */
  readonly settings?: ModelSettingsStore;
  readonly cache: Cache;
  readonly core: ModelCore;
  /** Milliseconds, for the tuning budget; performance.now when not given (tests inject a fake clock). */
  readonly clock?: () => number;
  readonly config: TrainerConfig;
  readonly log: Logger;
  /**
   * Queues update_all_recommendations for these model types' active versions (with REFRESH_AFTER_PROMOTION, right
   * after each promotion, so that their cached lists are refilled while the run goes on with the next model).
   */
  readonly enqueueRefresh?: (modelTypes: ModelTypeName[]) => Promise<void>;
}

export function modelTypesOf(data: { modelTypes?: unknown }): ModelTypeName[] {
  const requested = Array.isArray(data.modelTypes) ? data.modelTypes : [];
  const known = requested.filter((t): t is ModelTypeName => (MODEL_TYPES as readonly string[]).includes(t as string));
  if (known.length !== requested.length) throw new PermanentJobError(`unknown model types in ${JSON.stringify(requested)}`);
  return known.length === 0 ? [...MODEL_TYPES] : MODEL_TYPES.filter((t) => known.includes(t));
}

export function asRunProgress(value: JsonObject | undefined): RunProgress {
  const v = (value ?? {}) as Partial<RunProgress>;
  return {
    fraction: typeof v.fraction === 'number' ? v.fraction : 0,
    stage: typeof v.stage === 'string' ? v.stage : 'queued',
    timings: { ...(v.timings ?? {}) },
    dataStats: { ...(v.dataStats ?? {}) },
    outcomes: Array.isArray(v.outcomes) ? [...v.outcomes] : [],
    refreshQueued: Array.isArray(v.refreshQueued) ? [...v.refreshQueued] : [],
  };
}

/** Persists progress at most every `intervalMs` (fit callbacks come often), always on stage changes. */
class Reporter {
  private lastWrite = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly context: JobContext,
    readonly state: RunProgress,
    private readonly intervalMs = 500,
  ) {}

  get signal(): AbortSignal {
    return this.context.signal;
  }

  update(patch: Partial<RunProgress>, force = false): Promise<void> {
    Object.assign(this.state, patch);
    const now = Date.now();
    if (!force && now - this.lastWrite < this.intervalMs) return this.pending;
    this.lastWrite = now;
    const snapshot = JSON.parse(JSON.stringify(this.state)) as JsonObject;
    this.pending = this.pending.then(() => this.context.updateProgress(snapshot)).catch(() => undefined);
    return this.pending;
  }

  /** Runs `fn` as `stage`, adding its duration to the stage's timing. */
  async timed<T>(stage: (typeof STAGES)[number], fn: () => Promise<T>): Promise<T> {
    this.context.signal.throwIfAborted();
    await this.update({ stage }, true);
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.state.timings[stage] = (this.state.timings[stage] ?? 0) + (performance.now() - t0) / 1000;
    }
  }
}

export const metricsOf = (m: RankingMetrics, prefix = ''): Record<string, number> => {
  const key = (name: string) => (prefix ? `${prefix}${name[0].toUpperCase()}${name.slice(1)}` : name);
  return {
    [key(`ndcgAt${m.k}`)]: m.ndcgAtK,
    [key(`precisionAt${m.k}`)]: m.precisionAtK,
    [key(`recallAt${m.k}`)]: m.recallAtK,
    [key(`mapAt${m.k}`)]: m.mapAtK,
    [key(`coverageAt${m.k}`)]: m.coverage,
    [key('usersEvaluated')]: m.usersEvaluated,
  };
};

export interface TrainedModel {
  arrays: Record<string, NumericArray>;
  idMaps: Record<string, readonly string[]>;
  params: Record<string, number>;
  metrics: Record<string, number>;
  dimensions: Record<string, number>;
  tuning?: TuningTrace;
}

/**
 * The train_model job: read → build → per model (fit on the holdout's train part, evaluate on its test part,
 * refit on all data, upload, gate, activate) → prune. Bad data fails with a PermanentJobError (no retry).
 */
export async function runTrainingJob(deps: TrainingDeps, context: JobContext): Promise<JsonObject> {
  const { config, log: parentLog } = deps;
  const log = parentLog.child({ jobId: context.id, attempt: context.attempt });
  const data = context.data as Partial<TrainJobData>;
  const modelTypes = modelTypesOf(data);
  let overrides: Record<ModelTypeName, Record<string, number>>;
  try {
    overrides = {
      als: checkOverrides<AlsHyperParams>('als_params', ALS_RULES, data.als) as Record<string, number>,
      lightfm: checkOverrides<WarpHyperParams>('warp_params', WARP_RULES, data.warp) as Record<string, number>,
    };
  } catch (err) {
    if (err instanceof DomainError) throw new PermanentJobError(err.message);
    throw err;
  }

  const previous = asRunProgress(context.progress);
  const done = new Set(previous.outcomes.map((o) => o.modelType));
  const todo = modelTypes.filter((t) => !done.has(t));
  const reporter = new Reporter(context, { ...previous, fraction: 0, stage: 'read' });
  const state = reporter.state;
  if (done.size > 0) log.info({ skipped: [...done] }, 'retry: models published by an earlier attempt are kept');
  log.info({ modelTypes: todo, trigger: data.trigger ?? 'api' }, 'training started');

  if (todo.length === 0) {
    // An earlier attempt published every model and failed after (pruning, announcing): only the rest is left.
    return finish(deps, reporter, modelTypes, log);
  }

  // Read and build.
  const readStartedAt = Date.now(); // serving recomputes users whose interaction events came after it
  const raw = await reporter.timed('read', () =>
    readTrainingData(deps.store, {
      batchSize: config.SCAN_BATCH_SIZE,
      signal: context.signal,
      onBatch: (read, collectionsDone) => reporter.update({ fraction: 0.15 * collectionsDone, dataStats: { documentsRead: read } }),
    }),
  );
  const { training, split } = await reporter.timed('build', async () => {
    const training = buildTrainingData(raw, { maxRejectedFraction: config.TRAIN_MAX_REJECTED_FRACTION });
    const coo = csrToCoo(training.interactions);
    const split =
      config.EVAL_SPLIT === 'temporal'
        ? timeSplit(coo, training.pairTimes, { testFraction: config.EVAL_TEST_FRACTION })
        : randomHoldoutSplit(coo, { testFraction: config.EVAL_TEST_FRACTION, seed: config.EVAL_SEED });
    // The genre and global top lists rank by popularity: refresh it from the same interactions, nightly.
    await deps.store.setPopularityFromWeights(itemWeightSums(training));
    return { training, split };
  });
  // What the versions are trained on, stored in their manifests (recsvc and the demo compare it with the store).
  const { counts } = raw;
  const fingerprint: DataFingerprint = {
    catalogue: (await catalogueFingerprint(deps.store, training.items)).fingerprint,
    movies: counts.movies,
    watched: counts.watched,
    likes: counts.likes,
    bookmarks: counts.bookmarks,
  };
  state.dataStats = {
    ...training.stats,
    temporalHoldout: config.EVAL_SPLIT === 'temporal' ? 1 : 0,
    trainInteractions: split.train.indices.length,
    testInteractions: split.test.indices.length,
    dataReadStartedAtMs: readStartedAt,
  };
  log.info({ dataStats: state.dataStats }, 'training data built');
  await reporter.update({ fraction: 0.2 }, true);

  const baseline = await reporter.timed('evaluate', async () =>
    metricsOf(await evaluateRanking({ ...split, k: EVAL_K, recommend: popularityRecommender(split.train) }), 'popularity'),
  );

  const share = 0.8 / Math.max(1, todo.length);
  let promotedAny = false;
  for (const [n, modelType] of todo.entries()) {
    const base = 0.2 + n * share;
    const at = (f: number) => reporter.update({ fraction: base + f * share });
    const plan = await planRun(deps, modelType, overrides[modelType]);
    const tuned = await reporter.timed(modelType === 'als' ? 'tune_als' : 'tune_lightfm', () =>
      tuneModel(deps, reporter.signal, training, split, modelType, plan, log),
    );
    const trained =
      modelType === 'als'
        ? await trainAls(deps, reporter, training, split, tuned.params as unknown as AlsHyperParams, at)
        : await trainWarp(deps, reporter, training, split, tuned.params as unknown as WarpHyperParams, at);
    trained.tuning = tuned.trace;
    Object.assign(trained.metrics, baseline, {
      readSeconds: state.timings.read ?? 0,
      buildSeconds: state.timings.build ?? 0,
      tuneSeconds: state.timings[modelType === 'als' ? 'tune_als' : 'tune_lightfm'] ?? 0,
      tuningTrials: tuned.trace.trials.length,
    });
    const active = await reporter.timed('evaluate', () => rescoreActive(deps, reporter.signal, training, split, modelType, trained, log));
    const outcome = await reporter.timed('upload', () => publish(deps, modelType, trained, state.dataStats, fingerprint, active, log));
    state.outcomes.push(outcome);
    await reporter.update({ fraction: base + share }, true);
    if (outcome.promoted) await queueRefresh(deps, reporter, [modelType], log);
  }

  return finish(deps, reporter, modelTypes, log);
}

/** Queues the refill of the promoted models' cached lists (REFRESH_AFTER_PROMOTION) and records it in the run. */
async function queueRefresh(deps: TrainingDeps, reporter: Reporter, modelTypes: ModelTypeName[], log: Logger): Promise<void> {
  if (modelTypes.length === 0 || !deps.config.REFRESH_AFTER_PROMOTION || !deps.enqueueRefresh) return;
  await deps.enqueueRefresh(modelTypes);
  reporter.state.refreshQueued.push(...modelTypes);
  await reporter.update({}, true);
  log.info({ modelTypes }, 'cache refill queued for the promoted models');
}

/**
 * Prunes old versions (never the active one, and the failed uploads of earlier attempts) and queues the refill of
 * any promoted model whose refill an earlier attempt did not get to queue.
 */
async function finish(deps: TrainingDeps, reporter: Reporter, modelTypes: ModelTypeName[], log: Logger): Promise<JsonObject> {
  const { config } = deps;
  for (const modelType of modelTypes) {
    const removed = await deps.registry.prune(modelType, config.MODEL_KEEP_VERSIONS);
    if (removed.length) log.info({ modelType, removed }, 'pruned old model versions');
  }
  const { state: current } = reporter;
  await queueRefresh(
    deps,
    reporter,
    current.outcomes.filter((o) => o.promoted && !current.refreshQueued.includes(o.modelType)).map((o) => o.modelType),
    log,
  );
  await reporter.update({ fraction: 1, stage: 'done' }, true);
  const { state } = reporter;
  log.info({ outcomes: state.outcomes.map(({ metrics: _m, ...o }) => o), timings: state.timings }, 'training finished');
  return JSON.parse(JSON.stringify(state)) as JsonObject;
}

/** Ranks every user of the holdout model (training items excluded) and scores the top k against the test split. */
export async function evaluateHoldout(
  deps: TrainingDeps,
  reporter: Reporter,
  split: Split,
  k: number,
  vectors: { userVectors: Float32Array; itemVectors: Float32Array; userBiases?: Float32Array; itemBiases?: Float32Array; dim: number },
): Promise<Record<string, number>> {
  return reporter.timed('evaluate', () => scoreVectors(deps, split, k, vectors));
}

async function trainAls(
  deps: TrainingDeps,
  reporter: Reporter,
  data: TrainingData,
  split: Split,
  params: AlsHyperParams,
  at: (fraction: number) => Promise<void>,
): Promise<TrainedModel> {
  const { core, config } = deps;
  const signal = reporter.signal;
  const refit = config.REFIT_ON_ALL_DATA;
  const fitShare = refit ? 0.4 : 0.8;
  const fit = (matrix: CsrMatrix, from: number) =>
    reporter.timed('train_als', () =>
      core.fitAls(matrix, { ...params, solver: 'cg', threads: config.TRAIN_THREADS, signal }, (iteration) => {
        void at(from + fitShare * ((iteration + 1) / params.iterations));
      }),
    );
  const holdout = await fit(split.train, 0);
  const k = Math.min(EVAL_K, data.items.length);
  const metrics = await evaluateHoldout(deps, reporter, split, k, {
    userVectors: holdout.state.userFactors,
    itemVectors: holdout.state.itemFactors,
    dim: params.factors,
  });
  await at(fitShare + 0.05);
  const final = refit ? await fit(data.interactions, fitShare + 0.05) : holdout;
  metrics.trainSeconds = reporter.state.timings.train_als ?? 0;
  return {
    arrays: {
      [ARTIFACT_ARRAYS.userVectors]: final.state.userFactors,
      [ARTIFACT_ARRAYS.userBiases]: new Float32Array(data.users.length),
      [ARTIFACT_ARRAYS.itemVectors]: final.state.itemFactors,
      [ARTIFACT_ARRAYS.itemBiases]: new Float32Array(data.items.length),
    },
    idMaps: { [ARTIFACT_ID_MAPS.users]: data.users, [ARTIFACT_ID_MAPS.items]: data.items },
    params: { ...params, refitOnAllData: refit ? 1 : 0, evalTestFraction: config.EVAL_TEST_FRACTION, evalSeed: config.EVAL_SEED },
    metrics,
    dimensions: { users: data.users.length, items: data.items.length, factors: params.factors, genres: 0 },
  };
}

async function trainWarp(
  deps: TrainingDeps,
  reporter: Reporter,
  data: TrainingData,
  split: Split,
  params: WarpHyperParams,
  at: (fraction: number) => Promise<void>,
): Promise<TrainedModel> {
  const { core, config } = deps;
  const signal = reporter.signal;
  const refit = config.REFIT_ON_ALL_DATA;
  const fitShare = refit ? 0.4 : 0.8;
  const features = { userFeatures: data.userGenres, itemFeatures: data.itemGenres };
  const fit = (matrix: CsrMatrix, from: number) =>
    reporter.timed('train_lightfm', () =>
      core.fitWarp(matrix, features, { ...params, threads: config.TRAIN_THREADS, signal }, (epoch) => {
        void at(from + fitShare * ((epoch + 1) / params.epochs));
      }),
    );
  const represent = (state: Awaited<ReturnType<ModelCore['fitWarp']>>['state']) => ({
    users: core.warpUserRepresentations(state, data.userGenres),
    items: core.warpItemRepresentations(state, data.itemGenres),
  });
  const holdout = await fit(split.train, 0);
  const k = Math.min(EVAL_K, data.items.length);
  const holdoutRepresentations = represent(holdout.state);
  const metrics = await evaluateHoldout(deps, reporter, split, k, {
    userVectors: holdoutRepresentations.users.vectors,
    userBiases: holdoutRepresentations.users.biases,
    itemVectors: holdoutRepresentations.items.vectors,
    itemBiases: holdoutRepresentations.items.biases,
    dim: params.noComponents,
  });
  await at(fitShare + 0.05);
  const final = refit ? await fit(data.interactions, fitShare + 0.05) : holdout;
  metrics.trainSeconds = reporter.state.timings.train_lightfm ?? 0;
  const { users, items } = represent(final.state);
  const { state } = final;
  const d = state.noComponents;
  // Feature rows follow the identity rows: genre g of users is row nUsers + g, of items row nItems + g.
  const genreRows = (embeddings: Float32Array, identityRows: number) =>
    embeddings.slice(identityRows * d, (identityRows + data.genres.length) * d);
  const genreBiases = (biases: Float32Array, identityRows: number) => biases.slice(identityRows, identityRows + data.genres.length);
  return {
    arrays: {
      [ARTIFACT_ARRAYS.userVectors]: users.vectors,
      [ARTIFACT_ARRAYS.userBiases]: users.biases,
      [ARTIFACT_ARRAYS.itemVectors]: items.vectors,
      [ARTIFACT_ARRAYS.itemBiases]: items.biases,
      [ARTIFACT_ARRAYS.genreUserVectors]: genreRows(state.userEmbeddings, state.nUsers),
      [ARTIFACT_ARRAYS.genreUserBiases]: genreBiases(state.userBiases, state.nUsers),
      [ARTIFACT_ARRAYS.genreItemVectors]: genreRows(state.itemEmbeddings, state.nItems),
      [ARTIFACT_ARRAYS.genreItemBiases]: genreBiases(state.itemBiases, state.nItems),
    },
    idMaps: {
      [ARTIFACT_ID_MAPS.users]: data.users,
      [ARTIFACT_ID_MAPS.items]: data.items,
      [ARTIFACT_ID_MAPS.genres]: data.genres,
    },
    params: { ...params, refitOnAllData: refit ? 1 : 0, evalTestFraction: config.EVAL_TEST_FRACTION, evalSeed: config.EVAL_SEED },
    metrics,
    dimensions: { users: data.users.length, items: data.items.length, factors: d, genres: data.genres.length },
  };
}

/** Uploads a version (files, checksums verified, manifest last), then gates, activates and announces it. */
async function publish(
  deps: TrainingDeps,
  modelType: ModelTypeName,
  model: TrainedModel,
  dataStats: Record<string, number>,
  data: DataFingerprint,
  active: ActiveOnHoldout,
  log: Logger,
): Promise<ModelOutcomeJson> {
  const { registry, cache, config } = deps;
  const version = newVersion();
  await registry.publish(
    {
      modelType,
      version,
      createdAt: new Date().toISOString(),
      params: model.params,
      dataStats,
      metrics: model.metrics,
      dimensions: model.dimensions,
      data,
      ...(model.tuning ? { tuning: model.tuning } : {}),
    },
    model.arrays,
    model.idMaps,
  );
  const insane = insanityReason({ metrics: model.metrics, dimensions: model.dimensions }, model.arrays);
  const decision = insane
    ? { promote: false, reason: `not activated: ${insane}` }
    : active !== null && 'unreadable' in active
      ? { promote: true, reason: `active version ${active.version} is unreadable (${active.unreadable}); replacing it` }
      : active !== null && active.data !== undefined && active.data.catalogue !== data.catalogue
        ? { promote: true, reason: `active version ${active.version} was trained on another catalogue (its metrics do not compare); replacing it` }
        : decidePromotion({ metric: config.PROMOTION_METRIC, margin: config.PROMOTION_MARGIN, candidate: model.metrics, active });
  if (decision.promote) {
    await registry.activate(modelType, version);
    const message: ModelActivatedMessage = { modelType, version };
    await cache.publish(MODEL_ACTIVATED_CHANNEL, JSON.stringify(message));
  }
  log.info({ modelType, version, promoted: decision.promote, reason: decision.reason, [config.PROMOTION_METRIC]: model.metrics[config.PROMOTION_METRIC] }, 'model version stored');
  return { modelType, version, promoted: decision.promote, reason: decision.reason, metrics: model.metrics };
}

/** Σ of each movie's interaction weights (the column sums of the user x item matrix). */
export function itemWeightSums(training: TrainingData): Map<string, number> {
  const sums = new Float64Array(training.items.length);
  const { indices, data } = training.interactions;
  for (let i = 0; i < indices.length; i++) sums[indices[i]] += data[i];
  return new Map(training.items.map((id, i) => [id, sums[i]]));
}
