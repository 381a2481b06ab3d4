import type { ModelTypeName } from '../../lib/src/domain.js';
import { DomainError } from '../../lib/src/errors.js';
import type { DataFingerprint } from '../../lib/src/models/fingerprint.js';
import type { ModelRegistry } from '../../lib/src/models/registry.js';
import type { Split } from '../../lib/src/evaluation.js';
import type { Logger } from '../../lib/src/logger.js';
import type { PromotionMetric } from './config.js';
import { EVAL_K, type TrainedModel, type TrainingDeps } from './train-job.js';
import type { TrainingData } from './training-data.js';
import { fitVectors, paramNames, scoreVectors } from './tune-job.js';

export interface PromotionDecision {
  readonly promote: boolean;
  readonly reason: string;
}

export interface GateInput {
  readonly metric: PromotionMetric;
  /** Absolute: the candidate may be worse than the active version by at most this much. */
  readonly margin: number;
  readonly candidate: Readonly<Record<string, number>>;
  /** The active version and its metrics, or null when there is none. */
  readonly active: { version: string; metrics: Readonly<Record<string, number>> } | null;
}

const fmt = (x: number | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(4) : String(x ?? 'none'));

/**
 * The promotion gate: a new version becomes active unless its offline metric is worse than the active version's by
 * more than the margin (candidate < active − margin). Both metrics come from the same, current holdout
 * (rescoreActive re-scores the active version's parameters on it).
 */
export function decidePromotion({ metric, margin, candidate, active }: GateInput): PromotionDecision {
  const value = candidate[metric];
  if (active === null) return { promote: true, reason: `no active version yet; ${metric} ${fmt(value)}` };
  const previous = active.metrics[metric];
  if (typeof previous !== 'number' || !Number.isFinite(previous)) {
    return { promote: true, reason: `active version ${active.version} has no ${metric} to compare with; ${metric} ${fmt(value)}` };
  }
  if (!(typeof value === 'number' && Number.isFinite(value))) {
    return { promote: false, reason: `the new version has no ${metric}; kept as a candidate, ${active.version} stays active` };
  }
  if (value >= previous - margin) {
    return {
      promote: true,
      reason: `${metric} ${fmt(value)} vs active ${active.version} ${fmt(previous)} on the same holdout: within the margin ${margin} or better`,
    };
  }
  return {
    promote: false,
    reason:
      `${metric} ${fmt(value)} is worse than active ${active.version} (${fmt(previous)} on the same holdout) by ${fmt(previous - value)}, ` +
      `more than the margin ${margin}: stored as a candidate, ${active.version} stays active`,
  };
}

/**
 * Reads the active version's metrics (and data fingerprint: a version trained on another catalogue is replaced
 * without comparing metrics) for the gate; an unreadable active version counts as none.
 */
export async function activeMetrics(
  registry: ModelRegistry,
  modelType: ModelTypeName,
): Promise<(NonNullable<GateInput['active']> & { data?: DataFingerprint }) | null | { version: string; unreadable: string }> {
  const version = await registry.activeVersion(modelType);
  if (version === null) return null;
  try {
    const manifest = await registry.manifest(modelType, version);
    return { version, metrics: manifest.metrics, data: manifest.data };
  } catch (err) {
    if (err instanceof DomainError) return { version, unreadable: err.message };
    throw err;
  }
}

/** The active version as the gate sees it: re-scored on this run's holdout, unreadable, or none. */
export type ActiveOnHoldout = (NonNullable<GateInput['active']> & { data?: DataFingerprint }) | null | { version: string; unreadable: string };

/**
 * The fair half of the gate: the active version scored on the SAME, current holdout as the candidate. Its stored
 * artifact cannot be scored there (it was refitted on all data of its day, which may include today's test
 * interactions, and it lacks today's users), so its hyper-parameters are fitted on this run's holdout train part
 * and scored on its test part, exactly as the candidate was. When they equal the candidate's, the candidate's
 * metrics are reused (same fit). The stored metrics of the active version are never compared with.
 */
export async function rescoreActive(
  deps: TrainingDeps,
  signal: AbortSignal,
  data: TrainingData,
  split: Split,
  modelType: ModelTypeName,
  candidate: Pick<TrainedModel, 'params' | 'metrics'>,
  log: Logger,
): Promise<ActiveOnHoldout> {
  const found = await activeMetrics(deps.registry, modelType);
  if (found === null || 'unreadable' in found) return found;
  const manifest = await deps.registry.manifest(modelType, found.version);
  const names = paramNames(modelType);
  const params: Record<string, number> = {};
  for (const name of names) {
    const value = manifest.params[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) return { version: found.version, metrics: {}, data: found.data };
    params[name] = value;
  }
  if (names.every((n) => params[n] === candidate.params[n])) return { version: found.version, metrics: { ...candidate.metrics }, data: found.data };
  try {
    const vectors = await fitVectors(deps, data, modelType, split.train, params, signal);
    const metrics = await scoreVectors(deps, split, Math.min(EVAL_K, data.items.length), vectors);
    log.info({ modelType, version: found.version, [deps.config.PROMOTION_METRIC]: metrics[deps.config.PROMOTION_METRIC] }, 'active version re-scored on the current holdout');
    return { version: found.version, metrics, data: found.data };
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') throw err;
    // Its parameters no longer fit today's data (e.g. more factors than the core allows): nothing to compare with.
    return { version: found.version, metrics: {}, data: found.data };
  }
}
