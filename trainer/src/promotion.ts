import type { ModelTypeName } from '../../lib/src/domain.js';
import { DomainError } from '../../lib/src/errors.js';
import type { DataFingerprint } from '../../lib/src/models/fingerprint.js';
import type { ModelRegistry } from '../../lib/src/models/registry.js';
import type { PromotionMetric } from './config.js';

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

const fmt = (x: number) => x.toFixed(4);

/**
 * The promotion gate: a new version becomes active unless its offline metric is worse than the active version's by
 * more than the margin (candidate < active − margin). Metrics come from each version's own holdout evaluation.
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
      reason: `${metric} ${fmt(value)} vs active ${active.version} ${fmt(previous)}: within the margin ${margin} or better`,
    };
  }
  return {
    promote: false,
    reason:
      `${metric} ${fmt(value)} is worse than active ${active.version} (${fmt(previous)}) by ${fmt(previous - value)}, ` +
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
