/**
 * Scoring and partial selection in TypeScript, as native/cpp/topk.cc: a k-sized heap keeps the best entries
 * (score descending, then id ascending); NaN scores (excluded items) are never returned.
 */
import type { CoreBatchTopKArgs } from '../types.js';
import { Slicer } from './yield.js';

/** scores[i] = items[i]·u + biases[i] + userBias, as float32. */
export function scoreAll(
  u: Float32Array,
  uOff: number,
  items: Float32Array,
  nItems: number,
  dim: number,
  biases: Float32Array | undefined,
  userBias: number,
  scores: Float32Array,
): void {
  for (let i = 0; i < nItems; i++) {
    const off = i * dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j + 4 <= dim; j += 4) {
      s0 += items[off + j] * u[uOff + j];
      s1 += items[off + j + 1] * u[uOff + j + 1];
      s2 += items[off + j + 2] * u[uOff + j + 2];
      s3 += items[off + j + 3] * u[uOff + j + 3];
    }
    for (; j < dim; j++) s0 += items[off + j] * u[uOff + j];
    scores[i] = s0 + s1 + (s2 + s3);
  }
  if (biases !== undefined) for (let i = 0; i < nItems; i++) scores[i] += biases[i];
  if (userBias !== 0) for (let i = 0; i < nItems; i++) scores[i] += userBias;
}

export function cosineAll(items: Float32Array, nItems: number, dim: number, query: number, scores: Float32Array): void {
  const qOff = query * dim;
  let qq = 0;
  for (let j = 0; j < dim; j++) qq += items[qOff + j] * items[qOff + j];
  const qNorm = Math.sqrt(qq);
  for (let i = 0; i < nItems; i++) {
    const off = i * dim;
    let vv = 0;
    let vq = 0;
    for (let j = 0; j < dim; j++) {
      const v = items[off + j];
      vv += v * v;
      vq += v * items[qOff + j];
    }
    const norm = Math.sqrt(vv);
    scores[i] = norm > 0 && qNorm > 0 ? vq / (norm * qNorm) : Number.NaN;
  }
  scores[query] = Number.NaN;
}

/** Heap of (score, id) pairs; the root is the worst kept entry. */
class Heap {
  readonly scores: Float64Array;
  readonly ids: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.scores = new Float64Array(capacity);
    this.ids = new Int32Array(capacity);
  }

  /** a ranks after b (worse). */
  private worse(a: number, b: number): boolean {
    const sa = this.scores[a];
    const sb = this.scores[b];
    return sa < sb || (sa === sb && this.ids[a] > this.ids[b]);
  }

  private swap(a: number, b: number): void {
    const s = this.scores[a];
    this.scores[a] = this.scores[b];
    this.scores[b] = s;
    const i = this.ids[a];
    this.ids[a] = this.ids[b];
    this.ids[b] = i;
  }

  push(score: number, id: number): void {
    let at = this.size++;
    this.scores[at] = score;
    this.ids[at] = id;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.worse(at, parent)) break;
      this.swap(at, parent);
      at = parent;
    }
  }

  /** Replaces the root (the worst) and restores the heap. */
  replaceRoot(score: number, id: number): void {
    this.scores[0] = score;
    this.ids[0] = id;
    let at = 0;
    for (;;) {
      const l = 2 * at + 1;
      if (l >= this.size) break;
      const r = l + 1;
      const child = r < this.size && this.worse(r, l) ? r : l;
      if (!this.worse(child, at)) break;
      this.swap(child, at);
      at = child;
    }
  }
}

/** Writes the best min(k, #non-NaN) entries, best first, at outIds/outScores[offset..]; returns how many. */
export function selectTopK(
  scores: Float32Array,
  n: number,
  k: number,
  outIds: Int32Array,
  outScores: Float32Array,
  offset: number,
): number {
  const heap = new Heap(k);
  let i = 0;
  for (; i < n && heap.size < k; i++) {
    const s = scores[i];
    if (s === s) heap.push(s, i);
  }
  for (; i < n; i++) {
    const s = scores[i];
    const root = heap.scores[0];
    if (!(s >= root)) continue;
    if (s === root && i > heap.ids[0]) continue;
    heap.replaceRoot(s, i);
  }
  const size = heap.size;
  const order = Array.from({ length: size }, (_, j) => j);
  order.sort((a, b) => heap.scores[b] - heap.scores[a] || heap.ids[a] - heap.ids[b]);
  for (let j = 0; j < size; j++) {
    outIds[offset + j] = heap.ids[order[j]];
    outScores[offset + j] = heap.scores[order[j]];
  }
  return size;
}

export async function batchTopK(a: CoreBatchTopKArgs): Promise<void> {
  const { dim, k } = a;
  const nItems = a.itemVectors.length / dim;
  const nOut = a.users !== undefined ? a.users.length : a.userVectors.length / dim;
  const scores = new Float32Array(nItems);
  const slicer = new Slicer(new Int32Array(1));
  for (let row = 0; row < nOut; row++) {
    if ((row & 7) === 0 && slicer.due()) await slicer.pause();
    const user = a.users !== undefined ? a.users[row] : row;
    scoreAll(
      a.userVectors,
      user * dim,
      a.itemVectors,
      nItems,
      dim,
      a.itemBiases,
      a.userBiases !== undefined ? a.userBiases[user] : 0,
      scores,
    );
    if (a.exclude !== undefined) {
      const { indptr, indices } = a.exclude;
      for (let e = indptr[user]; e < indptr[user + 1]; e++) scores[indices[e]] = Number.NaN;
    }
    const got = selectTopK(scores, nItems, k, a.outIds, a.outScores, row * k);
    for (let j = got; j < k; j++) {
      a.outIds[row * k + j] = -1;
      a.outScores[row * k + j] = Number.NEGATIVE_INFINITY;
    }
  }
}
