import type { ModelTypeName } from './domain.js';
import type { ExperimentArmTotals } from './store/types.js';

export const DEFAULT_REPORT_K = 3;
export const MAX_REPORT_K = 100;

export interface ArmReport {
  modelType: ModelTypeName;
  sessions: number;
  sessionsWithFeedback: number;
  feedbackCount: number;
  likes: number;
  likeRate: number;
  precisionAtK: number;
  recallAtK: number;
}

export interface LikeRateComparison {
  /** Like rate of ALS minus that of the LightFM-style model. */
  difference: number;
  ci95Low: number;
  ci95High: number;
  z: number;
  pValue: number;
}

export interface ExperimentReport {
  k: number;
  arms: ArmReport[];
  comparison: LikeRateComparison;
}

/**
 * The A/B result from per-model totals (definitions in the README):
 * - precision@K: mean over sessions with feedback of (liked movies among the first K) / K;
 * - recall@K: mean over sessions with at least one like of (liked among the first K) / (liked in the session);
 * - like rate: likes / feedback given;
 * - comparison: two-proportion z-test of the like rates (pooled standard error for z and the p-value,
 *   unpooled for the 95% confidence interval of the difference).
 */
export function buildExperimentReport(totals: readonly ExperimentArmTotals[], k: number): ExperimentReport {
  const arms = totals.map((t) => ({
    modelType: t.modelType,
    sessions: t.sessions,
    sessionsWithFeedback: t.sessionsWithFeedback,
    feedbackCount: t.feedbackCount,
    likes: t.likes,
    likeRate: ratio(t.likes, t.feedbackCount),
    precisionAtK: ratio(t.precisionSum, t.sessionsWithFeedback),
    recallAtK: ratio(t.recallSum, t.sessionsWithLikes),
  }));
  const als = totals.find((t) => t.modelType === 'als');
  const lightfm = totals.find((t) => t.modelType === 'lightfm');
  return { k, arms, comparison: compareProportions(als?.likes ?? 0, als?.feedbackCount ?? 0, lightfm?.likes ?? 0, lightfm?.feedbackCount ?? 0) };
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}

/** Two-sided two-proportion z-test of x1/n1 against x2/n2. With an empty arm: difference 0, p-value 1. */
export function compareProportions(x1: number, n1: number, x2: number, n2: number): LikeRateComparison {
  if (n1 === 0 || n2 === 0) return { difference: 0, ci95Low: 0, ci95High: 0, z: 0, pValue: 1 };
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const difference = p1 - p2;
  const pooled = (x1 + x2) / (n1 + n2);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = pooledSe > 0 ? difference / pooledSe : 0;
  const pValue = pooledSe > 0 ? 2 * (1 - normalCdf(Math.abs(z))) : 1;
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  return { difference, ci95Low: difference - 1.959964 * se, ci95High: difference + 1.959964 * se, z, pValue };
}

/** Standard normal CDF through erf (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
