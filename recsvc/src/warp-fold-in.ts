import { Rng } from '../../native/src/ts/rng.js';

/** Settings of the LightFM-style fold-in (defaults: the model's learning rate and max_sampled when it has them). */
export interface WarpFoldInOptions {
  epochs: number;
  learningRate: number;
  maxSampled: number;
  /** L2 pull towards the starting representation, per update. */
  regularization: number;
  seed: number;
}

export const WARP_FOLD_IN_DEFAULTS: WarpFoldInOptions = { epochs: 20, learningRate: 0.05, maxSampled: 30, regularization: 0.01, seed: 1 };

/**
 * Updates one user's LightFM-style representation from their current interactions with every item parameter fixed:
 * the WARP updates of lightfm's fit_partial restricted to the user's own vector (Weston et al. 2011). For each
 * positive item p (in a seeded shuffled order, `epochs` times) negatives j are sampled until one violates the margin
 * (score_j > score_p - 1) after t samples; then u += lr · w_p · ln(floor((n - 1) / t)) · (y_p - y_j), and u is pulled
 * towards the start by `regularization`. Starts from the trained vector (a known user) or the sum of the user's
 * genre-feature embeddings (a new one), so the user features keep their say. Deterministic for a seed.
 *
 * @param start  the representation to start from (length dim); not modified
 * @param positives  item rows (0-based) and their interaction weights (> 0)
 * @param itemVectors  nItems × dim, row-major;  itemBiases  nItems
 */
export function warpFoldIn(
  start: Float32Array,
  positives: readonly { item: number; weight: number }[],
  itemVectors: Float32Array,
  itemBiases: Float32Array,
  options: WarpFoldInOptions = WARP_FOLD_IN_DEFAULTS,
): Float32Array {
  const dim = start.length;
  const nItems = itemBiases.length;
  const user = Float32Array.from(start);
  if (positives.length === 0 || nItems < 2) return user;
  const positive = new Set(positives.map((p) => p.item));
  if (positive.size >= nItems) return user;
  const rng = new Rng(options.seed >>> 0, 7);
  const order = positives.map((_, i) => i);
  const score = (item: number) => {
    let s = itemBiases[item];
    const off = item * dim;
    for (let d = 0; d < dim; d++) s += user[d] * itemVectors[off + d];
    return s;
  };
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const index of order) {
      const { item: p, weight } = positives[index];
      const scoreP = score(p);
      for (let t = 1; t <= options.maxSampled; t++) {
        const n = rng.below(nItems);
        if (positive.has(n)) continue;
        if (score(n) > scoreP - 1) {
          const rankWeight = Math.log(Math.max(1, Math.floor((nItems - 1) / t)));
          const step = options.learningRate * weight * rankWeight;
          const offP = p * dim;
          const offN = n * dim;
          for (let d = 0; d < dim; d++) {
            user[d] += step * (itemVectors[offP + d] - itemVectors[offN + d]) - options.learningRate * options.regularization * (user[d] - start[d]);
          }
          break;
        }
      }
    }
  }
  return user;
}

/** A stable 32-bit seed from a user id (FNV-1a), so a user's fold-in is reproducible. */
export function userSeed(userId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
