/**
 * ALS in TypeScript: the same math as native/cpp/als.cc (see there), on one thread, yielding to the event loop.
 * Vectors are Float32Array in memory as in C++; arithmetic is double (JS numbers), so results agree with the native
 * backend to float precision, not bit for bit.
 */
import { transposeCsr } from '../../../lib/src/sparse.js';
import type { CoreAlsFitArgs, CoreAlsRecalculateArgs, CsrMatrix, ProgressCallback } from '../types.js';
import { Slicer } from './yield.js';

/** a[aOff..aOff+k) · b[0..k), four accumulators (the JIT does not vectorise; this hides the add latency). */
function dotAt(a: Float64Array, aOff: number, b: Float64Array, k: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 4 <= k; j += 4) {
    s0 += a[aOff + j] * b[j];
    s1 += a[aOff + j + 1] * b[j + 1];
    s2 += a[aOff + j + 2] * b[j + 2];
    s3 += a[aOff + j + 3] * b[j + 3];
  }
  for (; j < k; j++) s0 += a[aOff + j] * b[j];
  return s0 + s1 + (s2 + s3);
}

/** y[0..k) += t * a[aOff..aOff+k) */
function axpyAt(t: number, a: Float64Array, aOff: number, y: Float64Array, k: number): void {
  let j = 0;
  for (; j + 4 <= k; j += 4) {
    y[j] += t * a[aOff + j];
    y[j + 1] += t * a[aOff + j + 1];
    y[j + 2] += t * a[aOff + j + 2];
    y[j + 3] += t * a[aOff + j + 3];
  }
  for (; j < k; j++) y[j] += t * a[aOff + j];
}

/** G = YᵀY (k x k, full, row-major). */
export function gramian(Y: Float32Array, nRows: number, k: number, G: Float64Array): void {
  G.fill(0);
  const y = new Float64Array(k);
  for (let r = 0; r < nRows; r++) {
    const off = r * k;
    for (let a = 0; a < k; a++) y[a] = Y[off + a];
    for (let a = 0; a < k; a++) {
      const ya = y[a];
      if (ya === 0) continue;
      const g = a * k;
      for (let b = a; b < k; b++) G[g + b] += ya * y[b];
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) G[a * k + b] = G[b * k + a];
}

/** In-place Cholesky of the lower triangle of A and solve A x = b (x overwrites b); pivots clamped as in C++. */
export function choleskySolve(A: Float64Array, b: Float64Array, k: number): void {
  for (let j = 0; j < k; j++) {
    const rj = j * k;
    let s = A[rj + j];
    for (let m = 0; m < j; m++) s -= A[rj + m] * A[rj + m];
    const floor = 1e-12 * Math.max(1, Math.abs(A[rj + j]));
    if (!(s > floor)) s = floor;
    const d = Math.sqrt(s);
    A[rj + j] = d;
    for (let i = j + 1; i < k; i++) {
      const ri = i * k;
      let t = A[ri + j];
      for (let m = 0; m < j; m++) t -= A[ri + m] * A[rj + m];
      A[ri + j] = t / d;
    }
  }
  for (let i = 0; i < k; i++) {
    const ri = i * k;
    let t = b[i];
    for (let m = 0; m < i; m++) t -= A[ri + m] * b[m];
    b[i] = t / A[ri + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let t = b[i];
    for (let m = i + 1; m < k; m++) t -= A[m * k + i] * b[m];
    b[i] = t / A[i * k + i];
  }
}

/** Scratch for one solver, allocated once per fit. */
export class Scratch {
  readonly x: Float64Array;
  readonly r: Float64Array;
  readonly p: Float64Array;
  readonly Ap: Float64Array;
  readonly A: Float64Array;
  readonly b: Float64Array;
  readonly y: Float64Array;
  constructor(k: number) {
    this.x = new Float64Array(k);
    this.r = new Float64Array(k);
    this.p = new Float64Array(k);
    this.Ap = new Float64Array(k);
    this.A = new Float64Array(k * k);
    this.b = new Float64Array(k);
    this.y = new Float64Array(k);
  }
}

/** Exact solve of one row (see als.cc solveRowCholesky); G without λ. */
export function solveRowCholesky(
  Y: Float32Array,
  k: number,
  ids: Int32Array,
  weights: Float32Array,
  begin: number,
  end: number,
  lambda: number,
  alpha: number,
  G: Float64Array,
  s: Scratch,
  out: Float32Array,
  outOffset: number,
): void {
  const { A, b, y } = s;
  A.set(G);
  for (let a = 0; a < k; a++) A[a * k + a] += lambda;
  b.fill(0);
  for (let e = begin; e < end; e++) {
    const off = ids[e] * k;
    const w = weights[e];
    const cm1 = alpha * Math.abs(w);
    const coef = w > 0 ? 1 + cm1 : 0;
    for (let a = 0; a < k; a++) y[a] = Y[off + a];
    for (let a = 0; a < k; a++) {
      const sa = cm1 * y[a];
      const ra = a * k;
      for (let c = 0; c <= a; c++) A[ra + c] += sa * y[c];
      b[a] += coef * y[a];
    }
  }
  choleskySolve(A, b, k);
  for (let a = 0; a < k; a++) out[outOffset + a] = b[a];
}

/** CG for one row (implicit's _least_squares_cg); A0 = YᵀY + λI. */
function solveRowCg(
  C: CsrMatrix,
  u: number,
  X: Float32Array,
  Y: Float64Array,
  A0: Float64Array,
  k: number,
  alpha: number,
  cgSteps: number,
  s: Scratch,
): void {
  const { x, r, p, Ap } = s;
  const { indptr, indices, data } = C;
  const rowBegin = indptr[u];
  const rowEnd = indptr[u + 1];
  const xOff = u * k;
  if (rowBegin === rowEnd) {
    X.fill(0, xOff, xOff + k);
    return;
  }
  for (let j = 0; j < k; j++) x[j] = X[xOff + j];
  for (let i = 0; i < k; i++) r[i] = -dotAt(A0, i * k, x, k);
  for (let e = rowBegin; e < rowEnd; e++) {
    const yOff = indices[e] * k;
    const w = data[e];
    const cm1 = alpha * Math.abs(w);
    const coef = w > 0 ? 1 + cm1 : 0;
    axpyAt(coef - cm1 * dotAt(Y, yOff, x, k), Y, yOff, r, k);
  }
  let rsold = 0;
  for (let j = 0; j < k; j++) {
    p[j] = r[j];
    rsold += r[j] * r[j];
  }
  if (rsold >= 1e-20) {
    for (let step = 0; step < cgSteps; step++) {
      for (let i = 0; i < k; i++) Ap[i] = dotAt(A0, i * k, p, k);
      for (let e = rowBegin; e < rowEnd; e++) {
        const yOff = indices[e] * k;
        axpyAt(alpha * Math.abs(data[e]) * dotAt(Y, yOff, p, k), Y, yOff, Ap, k);
      }
      let pAp = 0;
      for (let j = 0; j < k; j++) pAp += p[j] * Ap[j];
      const stepSize = rsold / pAp;
      let rsnew = 0;
      for (let j = 0; j < k; j++) {
        x[j] += stepSize * p[j];
        r[j] -= stepSize * Ap[j];
        rsnew += r[j] * r[j];
      }
      if (rsnew < 1e-20) break;
      const beta = rsnew / rsold;
      for (let j = 0; j < k; j++) p[j] = r[j] + beta * p[j];
      rsold = rsnew;
    }
  }
  for (let j = 0; j < k; j++) X[xOff + j] = x[j];
}

async function solveSide(
  C: CsrMatrix,
  X: Float32Array,
  Y: Float32Array,
  nY: number,
  a: CoreAlsFitArgs,
  s: Scratch,
  slicer: Slicer,
): Promise<void> {
  const k = a.factors;
  const G = new Float64Array(k * k);
  gramian(Y, nY, k, G);
  const A0 = new Float64Array(G);
  for (let i = 0; i < k; i++) A0[i * k + i] += a.regularization;
  // The fixed side as doubles, once per half-step: the kernels then see one array type only.
  const Yd = a.cholesky ? new Float64Array(0) : Float64Array.from(Y);
  for (let u = 0; u < C.nRows; u++) {
    if ((u & 15) === 0 && slicer.due()) await slicer.pause();
    if (!a.cholesky) {
      solveRowCg(C, u, X, Yd, A0, k, a.alpha, a.cgSteps, s);
      continue;
    }
    const rb = C.indptr[u];
    const re = C.indptr[u + 1];
    if (rb === re) {
      X.fill(0, u * k, (u + 1) * k);
      continue;
    }
    solveRowCholesky(Y, k, C.indices, C.data, rb, re, a.regularization, a.alpha, G, s, X, u * k);
  }
}

/** The normalised training loss (als.cc alsLoss). */
export function alsLoss(
  C: CsrMatrix,
  X: Float32Array,
  Y: Float32Array,
  k: number,
  regularization: number,
  alpha: number,
): number {
  const nUsers = C.nRows;
  const nItems = C.nCols;
  const G = new Float64Array(k * k);
  gramian(Y, nItems, k, G);
  const x = new Float64Array(k);
  let loss = 0;
  let conf = 0;
  for (let u = 0; u < nUsers; u++) {
    const xOff = u * k;
    for (let a = 0; a < k; a++) x[a] = X[xOff + a];
    let quad = 0;
    let norm = 0;
    for (let a = 0; a < k; a++) {
      let t = 0;
      const ra = a * k;
      for (let b = 0; b < k; b++) t += G[ra + b] * x[b];
      quad += x[a] * t;
      norm += x[a] * x[a];
    }
    loss += quad + regularization * norm;
    for (let e = C.indptr[u]; e < C.indptr[u + 1]; e++) {
      const yOff = C.indices[e] * k;
      let sc = 0;
      for (let a = 0; a < k; a++) sc += x[a] * Y[yOff + a];
      const w = C.data[e];
      const cm1 = alpha * Math.abs(w);
      const pc = w > 0 ? 1 + cm1 : 0;
      loss += cm1 * sc * sc - 2 * pc * sc + pc;
      conf += cm1;
    }
  }
  let itemNorm = 0;
  for (let i = 0; i < nItems * k; i++) itemNorm += Y[i] * Y[i];
  loss += regularization * itemNorm;
  return loss / (nUsers * nItems + conf);
}

export async function alsFit(a: CoreAlsFitArgs, onIteration: ProgressCallback): Promise<void> {
  const slicer = new Slicer(a.control);
  const ui = a.userItems;
  const iu = transposeCsr(ui);
  const s = new Scratch(a.factors);
  for (let it = 1; it <= a.iterations; it++) {
    slicer.check();
    const start = performance.now();
    await solveSide(ui, a.userFactors, a.itemFactors, ui.nCols, a, s, slicer);
    await solveSide(iu, a.itemFactors, a.userFactors, ui.nRows, a, s, slicer);
    const seconds = (performance.now() - start) / 1000;
    const loss = a.computeLoss
      ? alsLoss(ui, a.userFactors, a.itemFactors, a.factors, a.regularization, a.alpha)
      : Number.NaN;
    onIteration(it, loss, seconds);
    if (slicer.due()) await slicer.pause();
  }
}

export function alsRecalculateUser(a: CoreAlsRecalculateArgs): void {
  const k = a.factors;
  let G = a.gramian;
  if (G === undefined) {
    G = new Float64Array(k * k);
    gramian(a.itemFactors, a.itemFactors.length / k, k, G);
  }
  if (a.itemIds.length === 0) {
    a.out.fill(0);
    return;
  }
  solveRowCholesky(
    a.itemFactors,
    k,
    a.itemIds,
    a.weights,
    0,
    a.itemIds.length,
    a.regularization,
    a.alpha,
    G,
    new Scratch(k),
    a.out,
    0,
  );
}
