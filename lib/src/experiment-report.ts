import type { ModelTypeName } from './domain.js';
import type { ExperimentArmTotals, LikeRateBucket, Store, TimeBucketName } from './store/types.js';

export const DEFAULT_REPORT_K = 3;
export const MAX_REPORT_K = 100;
export const DEFAULT_REPORT_BUCKET: TimeBucketName = 'day';

/** z for a two-sided 95% interval (and a test at alpha 0.05). */
const Z_95 = 1.959963984540054;
/** z for power 0.8 (the 80th percentile of the standard normal). */
const Z_POWER_80 = 0.8416212335729143;

export interface ArmReport {
  modelType: ModelTypeName;
  sessions: number;
  sessionsWithFeedback: number;
  feedbackCount: number;
  likes: number;
  likeRate: number;
  /** 95% Wilson score interval of the like rate; [0, 1] without feedback. */
  likeRateCi95Low: number;
  likeRateCi95High: number;
  precisionAtK: number;
  recallAtK: number;
}

export interface LikeRateComparison {
  /** Like rate of ALS minus that of the LightFM-style model (0 when not enough data). */
  difference: number;
  ci95Low: number;
  ci95High: number;
  z: number;
  pValue: number;
  /** False when an arm has no feedback: the figures above are then 0 and mean nothing. */
  enoughData: boolean;
  /** For people: why there is not enough data, or what the result means. */
  note: string;
  /** Feedback per arm needed to detect the observed difference (alpha 0.05 two-sided, power 0.8); 0 when undefined. */
  requiredFeedbackPerArm: number;
}

export interface LikeRatePoint {
  start: Date;
  feedbackCount: number;
  likes: number;
  likeRate: number;
}

export interface LikeRateSeries {
  modelType: ModelTypeName;
  points: LikeRatePoint[];
}

export interface ExperimentReport {
  k: number;
  /** The experiment: lists whose model the A/B split chose. */
  arms: ArmReport[];
  comparison: LikeRateComparison;
  /** Lists whose model the caller forced (?model=): reported apart, not part of the experiment. */
  forced: ArmReport[];
  bucket: TimeBucketName;
  series: LikeRateSeries[];
}

export interface ExperimentReportInput {
  k: number;
  /** Totals of the experiment's sessions (never forced ones). */
  experiment: readonly ExperimentArmTotals[];
  /** Totals of the forced sessions. */
  forced: readonly ExperimentArmTotals[];
  bucket: TimeBucketName;
  /** The experiment's feedback per model and bucket. */
  buckets: readonly LikeRateBucket[];
}

/**
 * The A/B result (definitions in the README, "The experiment (A/B) report"):
 * - per arm: Precision@K (mean over sessions with feedback of likes among the first K / K), Recall@K (mean over
 *   sessions with a like of likes among the first K / likes in the session), like rate (likes / feedback) with its
 *   95% Wilson interval;
 * - comparison: two-proportion z-test of the like rates (pooled standard error for z and the p-value, unpooled for
 *   the 95% interval of the difference), or "not enough data" when an arm has no feedback, and the feedback per arm
 *   a test would need to detect the observed difference;
 * - forced sessions apart, and the experiment's like rate per arm over time.
 */
export function buildExperimentReport(input: ExperimentReportInput): ExperimentReport {
  const arms = input.experiment.map(armReport);
  const als = input.experiment.find((t) => t.modelType === 'als');
  const lightfm = input.experiment.find((t) => t.modelType === 'lightfm');
  const comparison = compareProportions(als?.likes ?? 0, als?.feedbackCount ?? 0, lightfm?.likes ?? 0, lightfm?.feedbackCount ?? 0);
  const series = [...new Set(input.experiment.map((t) => t.modelType))].map((modelType) => ({
    modelType,
    points: input.buckets
      .filter((b) => b.modelType === modelType && b.feedbackCount > 0)
      .sort((a, b) => a.start.getTime() - b.start.getTime())
      .map((b) => ({ start: b.start, feedbackCount: b.feedbackCount, likes: b.likes, likeRate: b.likes / b.feedbackCount })),
  }));
  return { k: input.k, arms, comparison, forced: input.forced.map(armReport), bucket: input.bucket, series };
}

/** Reads the totals (experiment and forced apart) and the time series from the store and builds the report. */
export async function experimentReportFromStore(
  store: Store,
  options: { k: number; since?: Date; until?: Date; bucket?: TimeBucketName },
): Promise<ExperimentReport> {
  const { k, since, until } = options;
  const bucket = options.bucket ?? DEFAULT_REPORT_BUCKET;
  const [experiment, forced, buckets] = await Promise.all([
    store.experimentTotals({ k, since, until }),
    store.experimentTotals({ k, since, until, forced: true }),
    store.likeRateSeries({ since, until }, bucket),
  ]);
  return buildExperimentReport({ k, experiment, forced, bucket, buckets });
}

function armReport(t: ExperimentArmTotals): ArmReport {
  const [likeRateCi95Low, likeRateCi95High] = wilsonInterval(t.likes, t.feedbackCount);
  return {
    modelType: t.modelType,
    sessions: t.sessions,
    sessionsWithFeedback: t.sessionsWithFeedback,
    feedbackCount: t.feedbackCount,
    likes: t.likes,
    likeRate: ratio(t.likes, t.feedbackCount),
    likeRateCi95Low,
    likeRateCi95High,
    precisionAtK: ratio(t.precisionSum, t.sessionsWithFeedback),
    recallAtK: ratio(t.recallSum, t.sessionsWithLikes),
  };
}

function ratio(numerator: number, denominator: number): number {
  return denominator > 0 ? numerator / denominator : 0;
}

/** The 95% Wilson score interval of x successes in n trials; [0, 1] when n = 0. */
export function wilsonInterval(x: number, n: number, z = Z_95): [number, number] {
  if (n <= 0) return [0, 1];
  const p = x / n;
  const z2 = z * z;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/**
 * Observations per group a two-sided two-proportion z-test at alpha 0.05 needs to detect p1 against p2 with power
 * 0.8 (the normal-approximation formula without continuity correction, as R's power.prop.test):
 * n = (z_{α/2}·√(2·p̄(1−p̄)) + z_β·√(p1(1−p1) + p2(1−p2)))² / (p1 − p2)², p̄ = (p1 + p2) / 2, rounded up.
 * 0 when p1 = p2 (no difference to detect).
 */
export function requiredSampleSize(p1: number, p2: number, zAlpha = Z_95, zBeta = Z_POWER_80): number {
  const d = p1 - p2;
  if (d === 0 || !Number.isFinite(d)) return 0;
  const mean = (p1 + p2) / 2;
  const n = (zAlpha * Math.sqrt(2 * mean * (1 - mean)) + zBeta * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / (d * d);
  return Math.ceil(n - 1e-9);
}

/**
 * Two-sided two-proportion z-test of x1/n1 (ALS) against x2/n2 (LightFM). With an arm without feedback there is
 * nothing to compare: enoughData false, zeros, and a note that says which arm lacks data.
 */
export function compareProportions(x1: number, n1: number, x2: number, n2: number): LikeRateComparison {
  if (n1 === 0 || n2 === 0) {
    const missing = [n1 === 0 ? 'ALS' : '', n2 === 0 ? 'LightFM' : ''].filter(Boolean).join(' and ');
    return {
      difference: 0,
      ci95Low: 0,
      ci95High: 0,
      z: 0,
      pValue: 1,
      enoughData: false,
      note: `Not enough data: no feedback yet for ${missing}.`,
      requiredFeedbackPerArm: 0,
    };
  }
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const difference = p1 - p2;
  const pooled = (x1 + x2) / (n1 + n2);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = pooledSe > 0 ? difference / pooledSe : 0;
  const pValue = pooledSe > 0 ? 2 * (1 - normalCdf(Math.abs(z))) : 1;
  const se = Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  const requiredFeedbackPerArm = requiredSampleSize(p1, p2);
  const have = Math.min(n1, n2);
  const note =
    difference === 0
      ? 'No difference observed.'
      : pValue < 0.05
        ? `${difference > 0 ? 'ALS' : 'LightFM'} has the higher like rate, significant at 5%.`
        : requiredFeedbackPerArm > have
          ? `Not significant at 5%: detecting a difference this size needs about ${requiredFeedbackPerArm} feedback per arm (the smaller arm has ${have}).`
          : 'Not significant at 5%.';
  return {
    difference,
    ci95Low: difference - Z_95 * se,
    ci95High: difference + Z_95 * se,
    z,
    pValue,
    enoughData: true,
    note,
    requiredFeedbackPerArm,
  };
}

/** Standard normal CDF through erf (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7). */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
