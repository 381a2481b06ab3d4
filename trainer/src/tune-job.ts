import type { ModelTypeName } from '../../lib/src/domain.js';
import { DomainError } from '../../lib/src/errors.js';
import { evaluateTopK, randomHoldoutSplit, type Split } from '../../lib/src/evaluation.js';
import type { Logger } from '../../lib/src/logger.js';
import type { CsrMatrix } from '../../lib/src/sparse.js';
import { ALS_RULES, WARP_RULES } from './hyper-params.js';
import { initialSettings, type ModelSettings } from './model-settings.js';
import { EVAL_K, metricsOf, type TrainingDeps } from './train-job.js';
import { csrToCoo, type TrainingData } from './training-data.js';
import { tune, type SearchSpace, type TuneResult } from './tuning.js';

export interface Vectors {
  userVectors: Float32Array;
  itemVectors: Float32Array;
  userBiases?: Float32Array;
  itemBiases?: Float32Array;
  dim: number;
}

/** The hyper-parameter names of a model type (the keys its manifests' params share with the settings). */
export function paramNames(modelType: ModelTypeName): string[] {
  return Object.keys(modelType === 'als' ? ALS_RULES : WARP_RULES);
}

/** Fits a model on `matrix` and returns the vectors that score it (ALS factors, WARP representations). */
export async function fitVectors(
  deps: Pick<TrainingDeps, 'core' | 'config'>,
  data: TrainingData,
  modelType: ModelTypeName,
  matrix: CsrMatrix,
  params: Record<string, number>,
  signal: AbortSignal,
): Promise<Vectors> {
  const { core, config } = deps;
  if (modelType === 'als') {
    const fit = await core.fitAls(matrix, { ...params, solver: 'cg', threads: config.TRAIN_THREADS, signal });
    return { userVectors: fit.state.userFactors, itemVectors: fit.state.itemFactors, dim: params.factors };
  }
  const fit = await core.fitWarp(matrix, { userFeatures: data.userGenres, itemFeatures: data.itemGenres }, { ...params, threads: config.TRAIN_THREADS, signal });
  const users = core.warpUserRepresentations(fit.state, data.userGenres);
  const items = core.warpItemRepresentations(fit.state, data.itemGenres);
  return { userVectors: users.vectors, userBiases: users.biases, itemVectors: items.vectors, itemBiases: items.biases, dim: params.noComponents };
}

/**
 * Ranks every user (training items excluded) and scores the top EVAL_K against `split.test`: the run's metrics,
 * always named @EVAL_K. With fewer than EVAL_K movies the lists are shorter (padded with empty slots), which the
 * metric definitions count as misses (lib/src/evaluation.ts), so ndcgAt10 exists for every catalogue size.
 */
export async function scoreVectors(deps: Pick<TrainingDeps, 'core' | 'config'>, split: Split, k: number, vectors: Vectors): Promise<Record<string, number>> {
  const kRanked = Math.max(1, Math.min(k, split.train.nCols));
  const top = await deps.core.batchTopK({ ...vectors, exclude: split.train, k: kRanked, threads: deps.config.TRAIN_THREADS });
  let ids = top.ids;
  if (kRanked < EVAL_K) {
    ids = new Int32Array(split.train.nRows * EVAL_K).fill(-1);
    for (let u = 0; u < split.train.nRows; u++) ids.set(top.ids.subarray(u * kRanked, (u + 1) * kRanked), u * EVAL_K);
  }
  return metricsOf(evaluateTopK({ train: split.train, test: split.test, k: EVAL_K, topK: ids }));
}

export interface RunPlan {
  settings: ModelSettings;
  /** Every hyper-parameter: the stored values with this run's overrides. */
  values: Record<string, number>;
  /** The searched parameters: the stored ranges minus those this run overrides (an override is fixed). */
  space: SearchSpace;
  /** Where the search starts: the values, with the active version's chosen values for the searched parameters. */
  start: Record<string, number>;
  startedFrom: string;
}

/**
 * The settings of this run: stored (or the environment's), this run's StartTraining overrides fixed, and the search
 * warm-started from the parameters the active version chose (when it was tuned, and its values are in range).
 */
export async function planRun(deps: TrainingDeps, modelType: ModelTypeName, overrides: Record<string, number>): Promise<RunPlan> {
  const settings = deps.settings ? (await deps.settings.get(modelType)).settings : initialSettings(deps.config, modelType);
  const values = { ...settings.values, ...overrides };
  const space: SearchSpace = {};
  for (const [name, range] of Object.entries(settings.search)) if (!(name in overrides)) space[name] = range;
  const start = { ...values };
  let startedFrom = 'configured';
  try {
    const version = await deps.registry.activeVersion(modelType);
    if (version) {
      const manifest = (await deps.registry.manifest(modelType, version)) as { params: Record<string, number>; tuning?: unknown };
      if (manifest.tuning) {
        let used = 0;
        for (const [name, range] of Object.entries(space)) {
          const v = manifest.params[name];
          if (typeof v === 'number' && Number.isFinite(v) && v >= range.min && v <= range.max) {
            start[name] = v;
            used++;
          }
        }
        if (used > 0) startedFrom = `active:${version}`;
      }
    }
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    deps.log.warn({ modelType, err: (err as Error).message }, 'active version unreadable: tuning starts from the configured values');
  }
  return { settings, values, space, start, startedFrom };
}

/**
 * Chooses the run's hyper-parameters: a validation split carved from the holdout's TRAIN part (each user's
 * `validationFraction`, seed EVAL_SEED + 1; the holdout's test part is never seen), then the pattern search of
 * tuning.ts scored by the promotion metric on it. Without tuning (disabled, or nothing to search) the plan's values.
 */
export async function tuneModel(
  deps: TrainingDeps,
  signal: AbortSignal,
  data: TrainingData,
  split: Split,
  modelType: ModelTypeName,
  plan: RunPlan,
  log: Logger,
): Promise<TuneResult> {
  const { config } = deps;
  const budget = plan.settings.tuning;
  const clock = deps.clock ?? (() => performance.now());
  const enabled = budget.enabled && Object.keys(plan.space).length > 0 && split.train.indices.length > 0;
  let validation: Split | undefined;
  if (enabled) validation = randomHoldoutSplit(csrToCoo(split.train), { testFraction: budget.validationFraction, seed: config.EVAL_SEED + 1 });
  const k = Math.min(EVAL_K, data.items.length);
  const result = await tune({
    start: plan.start,
    space: plan.space,
    budget: { ...budget, enabled },
    metric: config.PROMOTION_METRIC,
    startedFrom: plan.startedFrom,
    clock,
    evaluate: async (params) => {
      signal.throwIfAborted();
      const vectors = await fitVectors(deps, data, modelType, validation!.train, params, signal);
      return (await scoreVectors(deps, validation!, k, vectors))[config.PROMOTION_METRIC];
    },
    onTrial: (trial, index) => log.debug({ modelType, index, ...trial }, 'tuning trial'),
  });
  const chosen = Object.fromEntries(Object.keys(plan.space).map((n) => [n, result.params[n]]));
  log.info({ modelType, chosen, trials: result.trace.trials.length, stoppedBy: result.trace.stoppedBy, startedFrom: plan.startedFrom }, 'hyper-parameters chosen');
  return result;
}
