/** The pure-TypeScript backend: the same Core as the native addon, on the calling thread. */
import type { Core } from '../types.js';
import { alsFit, alsRecalculateUser, gramian } from './als.js';
import { batchTopK, cosineAll, scoreAll, selectTopK } from './topk.js';
import { warpFit } from './warp.js';

let scratch = new Float32Array(0);
function scores(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(n);
  return scratch;
}

export const tsCore: Core = {
  alsFit,
  alsGramian(itemFactors, factors, _threads, out) {
    gramian(itemFactors, itemFactors.length / factors, factors, out);
  },
  alsRecalculateUser,
  warpFit,
  topK(userVector, itemVectors, itemBiases, userBias, exclude, k, outIds, outScores) {
    const dim = userVector.length;
    const nItems = itemVectors.length / dim;
    const s = scores(nItems);
    scoreAll(userVector, 0, itemVectors, nItems, dim, itemBiases, userBias, s);
    if (exclude !== undefined) for (let i = 0; i < exclude.length; i++) s[exclude[i]] = Number.NaN;
    return selectTopK(s, nItems, k, outIds, outScores, 0);
  },
  similarItems(itemVectors, dim, itemId, k, exclude, outIds, outScores) {
    const nItems = itemVectors.length / dim;
    const s = scores(nItems);
    cosineAll(itemVectors, nItems, dim, itemId, s);
    if (exclude !== undefined) for (let i = 0; i < exclude.length; i++) s[exclude[i]] = Number.NaN;
    return selectTopK(s, nItems, k, outIds, outScores, 0);
  },
  batchTopK,
};
