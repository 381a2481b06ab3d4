import { ARTIFACT_ARRAYS } from './layout.js';
import type { ModelManifest, NumericArray } from './artifact.js';

/**
 * Bound on |score| = |u·v + b_u + b_i| above which a model is absurd: a well-fitted ALS or WARP model scores in the
 * units of its confidences (ALS, at most a few tens) or of a ranking margin (WARP, a few units). 1e4 leaves orders
 * of magnitude for legitimate models and catches diverged ones (a learning rate far too high, overflowing factors).
 */
export const MAX_ABS_SCORE = 1e4;

/**
 * Why a model version must never be served, or null when it is sane. Checks, in order: every float array is finite
 * (no NaN or ±Infinity), the manifest's metrics are finite, the largest possible |score| (max ‖user‖ · max ‖item‖ +
 * max |user bias| + max |item bias|, an upper bound by Cauchy-Schwarz) stays within MAX_ABS_SCORE, and the items are
 * not all scored alike (every item vector and bias zero gives one score to every movie: no ranking at all).
 */
export function insanityReason(
  manifest: Pick<ModelManifest, 'metrics' | 'dimensions'>,
  arrays: Readonly<Record<string, NumericArray>>,
): string | null {
  for (const [name, array] of Object.entries(arrays)) {
    if (!(array instanceof Float32Array)) continue;
    for (let i = 0; i < array.length; i++) {
      if (!Number.isFinite(array[i])) return `${name}[${i}] is ${array[i]}: the fit diverged (scores would not be finite)`;
    }
  }
  for (const [name, value] of Object.entries(manifest.metrics ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return `metric ${name} is ${String(value)}, not a finite number`;
  }
  const users = arrays[ARTIFACT_ARRAYS.userVectors];
  const items = arrays[ARTIFACT_ARRAYS.itemVectors];
  if (!(users instanceof Float32Array) || !(items instanceof Float32Array)) return 'the version has no user or item vectors';
  const dim = manifest.dimensions?.factors ?? 0;
  if (!(dim >= 1) || users.length % dim !== 0 || items.length % dim !== 0) {
    return `vectors of ${users.length} and ${items.length} numbers do not fit ${dim} factors`;
  }
  const maxNorm = (v: Float32Array) => {
    let best = 0;
    for (let r = 0; r < v.length; r += dim) {
      let s = 0;
      for (let j = r; j < r + dim; j++) s += v[j] * v[j];
      best = Math.max(best, s);
    }
    return Math.sqrt(best);
  };
  const maxAbs = (v: NumericArray | undefined) => {
    let best = 0;
    if (v) for (let i = 0; i < v.length; i++) best = Math.max(best, Math.abs(v[i]));
    return best;
  };
  const itemNorm = maxNorm(items);
  const itemBias = maxAbs(arrays[ARTIFACT_ARRAYS.itemBiases]);
  const bound = maxNorm(users) * itemNorm + maxAbs(arrays[ARTIFACT_ARRAYS.userBiases]) + itemBias;
  if (!Number.isFinite(bound) || bound > MAX_ABS_SCORE) {
    return `scores reach up to ${bound.toExponential(2)} in absolute value, beyond the sane bound ${MAX_ABS_SCORE}: the fit diverged`;
  }
  if (items.length > 0 && itemNorm === 0 && itemBias === 0) return 'every item vector and bias is zero: every movie would get the same score';
  return null;
}
