/**
 * WARP in TypeScript: the same algorithm as native/cpp/warp.cc (see there), with the same RNG streams, on one
 * thread (as the native backend with threads = 1). Representations are kept in Float32Array as in C++.
 */
import type { CoreWarpFitArgs, CsrMatrix, ProgressCallback } from '../types.js';
import { Rng, STREAM_SHUFFLE, STREAM_THREAD0 } from './rng.js';
import { Slicer } from './yield.js';

const MAX_LOSS = 10;
const MIN_SCALE = 1e-6;

interface Side {
  features: CsrMatrix;
  emb: Float32Array;
  bias: Float32Array;
  embAcc: Float32Array;
  biasAcc: Float32Array;
  scale: number;
  alpha: number;
}

function side(features: CsrMatrix, emb: Float32Array, bias: Float32Array, dim: number, alpha: number): Side {
  return {
    features,
    emb,
    bias,
    embAcc: new Float32Array(features.nCols * dim).fill(1),
    biasAcc: new Float32Array(features.nCols).fill(1),
    scale: 1,
    alpha,
  };
}

function representation(s: Side, row: number, dim: number, out: Float32Array): void {
  out.fill(0);
  const { indptr, indices, data } = s.features;
  const emb = s.emb;
  for (let i = indptr[row]; i < indptr[row + 1]; i++) {
    const f = indices[i];
    const w = Math.fround(data[i] * s.scale);
    const off = f * dim;
    for (let j = 0; j < dim; j++) out[j] += w * emb[off + j];
    out[dim] += w * s.bias[f];
  }
}

/** a[aOff..aOff+n) · b[0..n), four accumulators (hides the add latency; the JIT does not vectorise). */
function dotAt(a: Float32Array, aOff: number, b: Float32Array, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += a[aOff + j] * b[j];
    s1 += a[aOff + j + 1] * b[j + 1];
    s2 += a[aOff + j + 2] * b[j + 2];
    s3 += a[aOff + j + 3] * b[j + 3];
  }
  for (; j < n; j++) s0 += a[aOff + j] * b[j];
  return Math.fround(s0 + s1 + (s2 + s3));
}

function predict(user: Float32Array, item: Float32Array, dim: number): number {
  return Math.fround(Math.fround(user[dim] + item[dim]) + dotAt(user, 0, item, dim));
}

/** user bias + Σ_f (w_f * scale) * (user·e_f + b_f), without building the row's representation (warp.cc). */
function scoreRow(s: Side, row: number, dim: number, user: Float32Array): number {
  const { indptr, indices, data } = s.features;
  let score = user[dim];
  for (let i = indptr[row]; i < indptr[row + 1]; i++) {
    const f = indices[i];
    const w = Math.fround(data[i] * s.scale);
    score = Math.fround(score + Math.fround(w * Math.fround(dotAt(s.emb, f * dim, user, dim) + s.bias[f])));
  }
  return score;
}

/** Adagrad step on every feature of `row`; returns the sum of the learning rates used. */
function update(
  s: Side,
  row: number,
  dim: number,
  g: Float32Array,
  gBias: number,
  withBias: boolean,
  lr: number,
): number {
  const invScale = 1 / s.scale;
  const { indptr, indices, data } = s.features;
  const emb = s.emb;
  const acc = s.embAcc;
  let sumRates = 0;
  for (let i = indptr[row]; i < indptr[row + 1]; i++) {
    const f = indices[i];
    const w = data[i];
    const off = f * dim;
    for (let j = 0; j < dim; j++) {
      const gw = g[j] * w;
      const rate = lr / Math.sqrt(acc[off + j]);
      emb[off + j] -= rate * gw * invScale;
      acc[off + j] += gw * gw;
      sumRates += rate;
    }
    if (withBias) {
      const gw = gBias * w;
      const rate = lr / Math.sqrt(s.biasAcc[f]);
      s.bias[f] -= rate * gw * invScale;
      s.biasAcc[f] += gw * gw;
      sumRates += rate;
    }
  }
  return sumRates;
}

function fold(s: Side): void {
  if (s.scale === 1) return;
  const f = Math.fround(s.scale);
  for (let i = 0; i < s.emb.length; i++) s.emb[i] *= f;
  for (let i = 0; i < s.bias.length; i++) s.bias[i] *= f;
  s.scale = 1;
}

function isPositive(m: CsrMatrix, row: number, col: number): boolean {
  let lo = m.indptr[row];
  let hi = m.indptr[row + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (m.indices[mid] < col) lo = mid + 1;
    else hi = mid;
  }
  return lo < m.indptr[row + 1] && m.indices[lo] === col && m.data[lo] > 0;
}

export async function warpFit(a: CoreWarpFitArgs, onEpoch: ProgressCallback): Promise<void> {
  const dim = a.noComponents;
  const X = a.interactions;
  const nItems = X.nCols;
  const items = side(a.itemFeatures, a.itemEmbeddings, a.itemBiases, dim, a.itemAlpha);
  const users = side(a.userFeatures, a.userEmbeddings, a.userBiases, dim, a.userAlpha);
  const regularize = a.itemAlpha > 0 || a.userAlpha > 0;
  const lr = a.learningRate;
  const maxSampled = a.maxSampled;

  const nnz = X.indices.length;
  const exampleUser = new Int32Array(nnz);
  const nPositives = new Int32Array(X.nRows);
  const orderList: number[] = [];
  for (let u = 0; u < X.nRows; u++) {
    for (let e = X.indptr[u]; e < X.indptr[u + 1]; e++) {
      exampleUser[e] = u;
      if (X.data[e] > 0) {
        orderList.push(e);
        nPositives[u]++;
      }
    }
  }
  const order = Int32Array.from(orderList);
  const nExamples = order.length;

  const shuffleRng = new Rng(a.seed, STREAM_SHUFFLE);
  const rng = new Rng(a.seed, STREAM_THREAD0);
  const slicer = new Slicer(a.control);
  const userRep = new Float32Array(dim + 1);
  const posRep = new Float32Array(dim + 1);
  const negRep = new Float32Array(dim + 1);
  const gItem = new Float32Array(dim);
  const gUser = new Float32Array(dim);
  const itf = a.itemFeatures.indptr;
  const uf = a.userFeatures.indptr;

  for (let epoch = 1; epoch <= a.epochs; epoch++) {
    slicer.check();
    const start = performance.now();
    for (let i = nExamples - 1; i > 0; i--) {
      const j = shuffleRng.below(i + 1);
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    for (let i = 0; i < nExamples; i++) {
      if ((i & 255) === 0 && slicer.due()) await slicer.pause();
      const e = order[i];
      const user = exampleUser[e];
      if (nPositives[user] >= nItems) continue;
      const pos = X.indices[e];
      const weight = X.data[e];
      representation(users, user, dim, userRep);
      representation(items, pos, dim, posRep);
      const posPred = predict(userRep, posRep, dim);
      let sampled = 0;
      while (sampled < maxSampled) {
        const neg = rng.below(nItems);
        if (isPositive(X, user, neg)) continue;
        sampled++;
        const negPred = scoreRow(items, neg, dim, userRep);
        if (negPred > Math.fround(posPred - 1)) {
          representation(items, neg, dim, negRep);
          let loss = weight * Math.log(Math.max(1, Math.floor((nItems - 1) / sampled)));
          if (loss > MAX_LOSS) loss = MAX_LOSS;
          const L = Math.fround(loss);
          for (let j = 0; j < dim; j++) {
            gItem[j] = -L * userRep[j];
            gUser[j] = L * (negRep[j] - posRep[j]);
          }
          let rates = update(items, pos, dim, gItem, -L, true, lr);
          for (let j = 0; j < dim; j++) gItem[j] = -gItem[j];
          rates += update(items, neg, dim, gItem, L, true, lr);
          rates += update(users, user, dim, gUser, 0, false, lr);
          if (regularize) {
            const count =
              (dim + 1) * (itf[pos + 1] - itf[pos] + (itf[neg + 1] - itf[neg])) + dim * (uf[user + 1] - uf[user]);
            const avgRate = count > 0 ? rates / count : 0;
            items.scale /= 1 + items.alpha * avgRate;
            users.scale /= 1 + users.alpha * avgRate;
          }
          break;
        }
      }
      if (regularize && (items.scale < MIN_SCALE || users.scale < MIN_SCALE)) {
        fold(items);
        fold(users);
      }
    }
    fold(items);
    fold(users);
    onEpoch(epoch, Number.NaN, (performance.now() - start) / 1000);
  }
}
