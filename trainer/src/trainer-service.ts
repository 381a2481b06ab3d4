import { assertId, MODEL_TYPES, type ModelTypeName } from '../../lib/src/domain.js';
import { InvalidArgumentError, NotFoundError } from '../../lib/src/errors.js';
import type { ModelManifest } from '../../lib/src/models/artifact.js';
import { MODEL_ACTIVATED_CHANNEL, type ModelActivatedMessage } from '../../lib/src/models/registry.js';
import { checkOverrides, ALS_RULES, WARP_RULES, type AlsHyperParams, type WarpHyperParams } from './hyper-params.js';
import { mergeSettings, type StoredSettings } from './model-settings.js';
import type { JobQueue, JobRecord, JobState } from './queue/types.js';
import type { ParamRange, TuningBudget, TuningTrace } from './tuning.js';
import { JOB_NAMES, type TrainerRuntime } from './runtime.js';
import { asRunProgress, modelTypesOf, type ModelOutcomeJson, type TrainJobData } from './train-job.js';

export interface TrainingRunView {
  runId: string;
  modelTypes: ModelTypeName[];
  state: JobState;
  progress: number;
  stage: string;
  createdAt: Date;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  timings: Record<string, number>;
  dataStats: Record<string, number>;
  outcomes: ModelOutcomeJson[];
  error: string;
  attempts: number;
}

/** Any job the API started (a training run or a refresh), as GetJob returns it. */
export interface JobView {
  jobId: string;
  name: string;
  state: JobState;
  progress: number;
  createdAt: Date;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  error: string;
  attempts: number;
  /** The numbers of the result (or of the progress while it runs), flattened with dotted keys. */
  stats: Record<string, number>;
}

/** Every finite number in a JSON value, keyed by its dotted path ("models.als.users"). */
export function numericLeaves(value: unknown, prefix = '', into: Record<string, number> = {}): Record<string, number> {
  if (typeof value === 'number' && Number.isFinite(value)) into[prefix] = value;
  else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) numericLeaves(child, prefix ? `${prefix}.${key}` : key, into);
  }
  return into;
}

function jobView(job: JobRecord): JobView {
  const source = job.result ?? job.progress;
  const fraction = (source as { fraction?: unknown }).fraction;
  const { fraction: _fraction, ...stats } = numericLeaves(source);
  return {
    jobId: job.id,
    name: job.name,
    state: job.state,
    progress: job.state === 'completed' ? 1 : typeof fraction === 'number' ? fraction : 0,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.state === 'completed' || job.state === 'failed' ? job.finishedAt : undefined,
    error: job.failedReason ?? '',
    attempts: job.attempts,
    stats,
  };
}

export interface ModelVersionView {
  modelType: ModelTypeName;
  version: string;
  createdAt: Date;
  params: Record<string, number>;
  dataStats: Record<string, number>;
  metrics: Record<string, number>;
  active: boolean;
  /** How params were chosen (absent for versions trained without tuning). */
  tuning?: TuningTrace;
}

export interface ModelConfigChange {
  values?: Record<string, number>;
  search?: Record<string, Partial<ParamRange>>;
  stopSearching?: string[];
  tuning?: Partial<TuningBudget>;
  reset?: boolean;
}

export interface StartTrainingInput {
  /** Empty means both models. */
  modelTypes: readonly ModelTypeName[];
  als?: Partial<Record<keyof AlsHyperParams, number>>;
  warp?: Partial<Record<keyof WarpHyperParams, number>>;
}

/** Job ids are UUIDs for API runs and `repeat:...` for scheduled ones. */
const RUN_ID_PATTERN = /^[A-Za-z0-9:_.-]{1,200}$/;

export function trainingDeduplicationId(modelTypes: readonly ModelTypeName[]): string {
  return `train:${modelTypesOf({ modelTypes: [...modelTypes] }).join('+')}`;
}

function runView(job: JobRecord): TrainingRunView {
  const progress = asRunProgress(job.result ?? job.progress);
  return {
    runId: job.id,
    modelTypes: modelTypesOf(job.data),
    state: job.state,
    // The API promises a fraction in [0, 1] (the REST schema says so); the job's own counter has overshot.
    progress: job.state === 'completed' ? 1 : Math.min(1, Math.max(0, progress.fraction)),
    stage: job.state === 'queued' ? (job.attempts === 0 ? 'queued' : 'retry_pending') : progress.stage,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.state === 'completed' || job.state === 'failed' ? job.finishedAt : undefined,
    timings: progress.timings,
    dataStats: progress.dataStats,
    outcomes: progress.outcomes,
    error: job.failedReason ?? '',
    attempts: job.attempts,
  };
}

function versionView(manifest: ModelManifest, active: string | null): ModelVersionView {
  return {
    modelType: manifest.modelType,
    version: manifest.version,
    createdAt: new Date(manifest.createdAt),
    params: manifest.params,
    dataStats: manifest.dataStats,
    metrics: manifest.metrics,
    active: manifest.version === active,
    ...(manifest.tuning ? { tuning: manifest.tuning as TuningTrace } : {}),
  };
}

/**
 * The Trainer API's operations, transport-free: runs are train_model jobs (their id is the run id; their progress
 * and result hold the run state), models are the registry's versions.
 */
export class TrainerService {
  constructor(readonly runtime: TrainerRuntime) {}

  private get training(): JobQueue {
    return this.runtime.training;
  }

  /** Queues a run; while a run for the same models is queued or active, returns that one (atomic deduplication). */
  async startTraining(input: StartTrainingInput): Promise<{ run: TrainingRunView; existing: boolean }> {
    const modelTypes = [...new Set(input.modelTypes)];
    const als = checkOverrides<AlsHyperParams>('als_params', ALS_RULES, input.als);
    const warp = checkOverrides<WarpHyperParams>('warp_params', WARP_RULES, input.warp);
    const data: TrainJobData = { modelTypes, als, warp, trigger: 'api' };
    const { job, existing } = await this.training.add(JOB_NAMES.train, { ...data }, { deduplicationId: trainingDeduplicationId(modelTypes) });
    this.runtime.log.info({ runId: job.id, existing, modelTypes: modelTypesOf(data) }, existing ? 'training run already queued or active' : 'training run queued');
    return { run: runView(job), existing };
  }

  async getTrainingRun(runId: string): Promise<TrainingRunView> {
    if (!runId) throw new InvalidArgumentError('run_id is required');
    if (!RUN_ID_PATTERN.test(runId)) throw new InvalidArgumentError('run_id is not a valid run id');
    const job = await this.training.get(runId);
    if (!job || job.name !== JOB_NAMES.train) throw new NotFoundError(`training run '${runId}' not found (unknown, or older than the retention)`);
    return runView(job);
  }

  /** Any job the API started: a training run (train_model) or a refresh, by the id StartTraining or RefreshRecommendations returned. */
  async getJob(jobId: string): Promise<JobView> {
    if (!jobId) throw new InvalidArgumentError('job_id is required');
    if (!RUN_ID_PATTERN.test(jobId)) throw new InvalidArgumentError('job_id is not a valid job id');
    const job = (await this.training.get(jobId)) ?? (await this.runtime.refresh.get(jobId));
    if (!job) throw new NotFoundError(`job '${jobId}' not found (unknown, or older than the retention)`);
    return jobView(job);
  }

  /** Every stored version, newest first per model type, with the active flag. */
  async listModels(modelType?: ModelTypeName): Promise<ModelVersionView[]> {
    const views: ModelVersionView[] = [];
    for (const type of modelType ? [modelType] : MODEL_TYPES) {
      const [manifests, active] = await Promise.all([this.runtime.registry.list(type), this.runtime.registry.activeVersion(type)]);
      views.push(...manifests.map((m) => versionView(m, active)));
    }
    return views;
  }

  /**
   * Points ACTIVE at a stored version (roll forward or back) after verifying every file's checksum, announces it
   * on MODEL_ACTIVATED_CHANNEL and, with REFRESH_AFTER_PROMOTION, queues a refill of that model's cached lists.
   */
  async activateModel(modelType: ModelTypeName, version: string): Promise<ModelVersionView> {
    if (!version) throw new InvalidArgumentError('version is required');
    const { registry, cache, config, log } = this.runtime;
    const manifest = await registry.activate(modelType, version);
    const message: ModelActivatedMessage = { modelType, version };
    await cache.publish(MODEL_ACTIVATED_CHANNEL, JSON.stringify(message));
    log.info({ modelType, version }, 'model version activated');
    if (config.REFRESH_AFTER_PROMOTION) await this.refreshModels([modelType]);
    return versionView(manifest, version);
  }

  /** The stored training settings of a model type (the environment's values until first changed). */
  async getModelConfig(modelType: ModelTypeName): Promise<StoredSettings> {
    return this.runtime.settings.get(modelType);
  }

  /**
   * Changes a model type's settings (see mergeSettings for the rules; InvalidArgumentError names the allowed range),
   * or resets them to the environment's values. Every later run uses them, the scheduled ones included.
   */
  async updateModelConfig(modelType: ModelTypeName, change: ModelConfigChange): Promise<StoredSettings> {
    const { settings, log } = this.runtime;
    if (change.reset) {
      log.info({ modelType }, 'model settings reset to the environment values');
      return settings.reset(modelType);
    }
    const current = await settings.get(modelType);
    const search: Record<string, Partial<ParamRange> | null> = { ...(change.search ?? {}) };
    for (const name of change.stopSearching ?? []) search[name] = null;
    const merged = mergeSettings(modelType, current.settings, { values: change.values, search, tuning: change.tuning });
    const stored = await settings.put(modelType, merged);
    log.info({ modelType, settings: merged }, 'model settings changed');
    return stored;
  }

  /**
   * Queues update_all_recommendations for some model types only (the refill after a promotion): every user's list
   * of each type's active version. The same refill still queued or running (same types, same versions) is returned.
   */
  async refreshModels(modelTypes: readonly ModelTypeName[]): Promise<{ jobId: string; existing: boolean }> {
    const types = MODEL_TYPES.filter((t) => modelTypes.includes(t));
    const versions = await Promise.all(types.map((t) => this.runtime.registry.activeVersion(t)));
    const { job, existing } = await this.runtime.refresh.add(
      JOB_NAMES.refreshAll,
      { modelTypes: types },
      { deduplicationId: `refresh-models:${types.map((t, i) => `${t}@${versions[i] ?? '-'}`).join(':')}` },
    );
    return { jobId: job.id, existing };
  }

  /**
   * Queues update_recommendations for one user, or update_all_recommendations. A refresh of the same target
   * against the same active versions that is still queued or running is returned instead of a second one.
   */
  async refreshRecommendations(userId?: string): Promise<{ jobId: string; existing: boolean }> {
    const { registry } = this.runtime;
    if (userId) {
      assertId(userId, 'user_id');
      const { job, existing } = await this.runtime.refresh.add(JOB_NAMES.refreshUser, { userId }, { deduplicationId: `refresh-user:${userId}` });
      return { jobId: job.id, existing };
    }
    const versions = await Promise.all(MODEL_TYPES.map((t) => registry.activeVersion(t)));
    const { job, existing } = await this.runtime.refresh.add(
      JOB_NAMES.refreshAll,
      {},
      { deduplicationId: `refresh-all:${versions.map((v) => v ?? '-').join(':')}` },
    );
    return { jobId: job.id, existing };
  }
}
