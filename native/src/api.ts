/**
 * The public API over a Core: validation, defaults, deterministic initialisation, identity features, output
 * allocation, cancellation and callbacks. Identical for both backends, so they differ only in the Core.
 */
import type {
  AlsFitResult,
  AlsFoldInParams,
  AlsModelState,
  AlsParams,
  Backend,
  BatchTopKQuery,
  Core,
  CsrMatrix,
  EpochCallback,
  IterationCallback,
  ModelsApi,
  ProgressCallback,
  Representation,
  Representations,
  SimilarItemsQuery,
  TopKQuery,
  TopKResult,
  WarpFeatures,
  WarpFitResult,
  WarpModelState,
  WarpParams,
} from './types.js';
import { Rng, STREAM_INIT } from './ts/rng.js';
import * as V from './validate.js';

export const ALS_DEFAULTS = {
  factors: 64,
  regularization: 20,
  alpha: 1,
  iterations: 15,
  cgSteps: 3,
  solver: 'cg',
  seed: 0,
  threads: 0,
  computeLoss: false,
} as const;

export const WARP_DEFAULTS = {
  noComponents: 64,
  epochs: 15,
  learningRate: 0.05,
  maxSampled: 10,
  itemAlpha: 0,
  userAlpha: 0,
  seed: 0,
  threads: 0,
} as const;

const ALS_KEYS = [...Object.keys(ALS_DEFAULTS), 'signal'];
const WARP_KEYS = [...Object.keys(WARP_DEFAULTS), 'signal'];
const FOLD_IN_KEYS = [...ALS_KEYS, 'gramian'];
const MAX_VECTOR = 1 << 20;

interface AlsConfig {
  factors: number;
  regularization: number;
  alpha: number;
  iterations: number;
  cgSteps: number;
  cholesky: boolean;
  seed: number;
  threads: number;
  computeLoss: boolean;
  signal: AbortSignal | undefined;
}

function alsConfig(params: unknown): AlsConfig {
  const p = V.params(params, ALS_KEYS, 'ALS');
  const d = ALS_DEFAULTS;
  const solver = p.solver ?? d.solver;
  if (solver !== 'cg' && solver !== 'cholesky') throw new TypeError("solver must be 'cg' or 'cholesky'");
  return {
    factors: V.integer(p.factors ?? d.factors, 'factors', 1, V.MAX_FACTORS),
    regularization: V.finiteAtLeast(p.regularization ?? d.regularization, 'regularization', 0, false),
    alpha: V.finiteAtLeast(p.alpha ?? d.alpha, 'alpha', 0, false),
    iterations: V.integer(p.iterations ?? d.iterations, 'iterations', 0, V.MAX_ITERATIONS),
    cgSteps: V.integer(p.cgSteps ?? d.cgSteps, 'cgSteps', 1, V.MAX_FACTORS),
    cholesky: solver === 'cholesky',
    seed: V.integer(p.seed ?? d.seed, 'seed', 0, V.MAX_SEED),
    threads: V.integer(p.threads ?? d.threads, 'threads', 0, V.MAX_THREADS),
    computeLoss: V.boolean(p.computeLoss ?? d.computeLoss, 'computeLoss'),
    signal: V.signal(p.signal),
  };
}

interface WarpConfig {
  noComponents: number;
  epochs: number;
  learningRate: number;
  maxSampled: number;
  itemAlpha: number;
  userAlpha: number;
  seed: number;
  threads: number;
  signal: AbortSignal | undefined;
}

function warpConfig(params: unknown): WarpConfig {
  const p = V.params(params, WARP_KEYS, 'WARP');
  const d = WARP_DEFAULTS;
  return {
    noComponents: V.integer(p.noComponents ?? d.noComponents, 'noComponents', 1, V.MAX_FACTORS),
    epochs: V.integer(p.epochs ?? d.epochs, 'epochs', 0, V.MAX_ITERATIONS),
    learningRate: V.finiteAtLeast(p.learningRate ?? d.learningRate, 'learningRate', 0, true),
    maxSampled: V.integer(p.maxSampled ?? d.maxSampled, 'maxSampled', 1, V.MAX_SAMPLED),
    itemAlpha: V.finiteAtLeast(p.itemAlpha ?? d.itemAlpha, 'itemAlpha', 0, false),
    userAlpha: V.finiteAtLeast(p.userAlpha ?? d.userAlpha, 'userAlpha', 0, false),
    seed: V.integer(p.seed ?? d.seed, 'seed', 0, V.MAX_SEED),
    threads: V.integer(p.threads ?? d.threads, 'threads', 0, V.MAX_THREADS),
    signal: V.signal(p.signal),
  };
}

/**
 * Runs a fit with a control word (set on abort, or when a progress callback throws) and maps the outcome: the
 * callback's error, else signal.reason when aborted, else the core's error.
 */
async function runFit(
  signal: AbortSignal | undefined,
  start: (control: Int32Array, report: ProgressCallback) => Promise<void>,
  onProgress: ProgressCallback,
): Promise<void> {
  signal?.throwIfAborted();
  const control = new Int32Array(1);
  let callbackError: { error: unknown } | undefined;
  const onAbort = (): void => {
    control[0] = 1;
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await start(control, (index, loss, seconds) => {
      if (callbackError !== undefined) return;
      try {
        onProgress(index, loss, seconds);
      } catch (error) {
        callbackError = { error };
        control[0] = 1;
      }
    });
  } catch (error) {
    if (callbackError !== undefined) throw callbackError.error;
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (callbackError !== undefined) throw callbackError.error;
}

/** Fills arrays, in order, from the init stream: uniform [0, 1) * scale + shift. */
function initUniform(seed: number, scale: number, shift: number, ...arrays: Float32Array[]): void {
  const rng = new Rng(seed, STREAM_INIT);
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) a[i] = (rng.uniform() + shift) * scale;
  }
}

/** n rows: [identity column i (weight 1), then n + the columns of extra's row i]. */
export function withIdentity(extra: CsrMatrix | undefined, n: number, nExtra: number): CsrMatrix {
  const extraNnz = extra === undefined ? 0 : extra.indices.length;
  const indptr = new Int32Array(n + 1);
  const indices = new Int32Array(n + extraNnz);
  const data = new Float32Array(n + extraNnz);
  let at = 0;
  for (let r = 0; r < n; r++) {
    indices[at] = r;
    data[at] = 1;
    at++;
    if (extra !== undefined) {
      for (let i = extra.indptr[r]; i < extra.indptr[r + 1]; i++) {
        indices[at] = n + extra.indices[i];
        data[at] = extra.data[i];
        at++;
      }
    }
    indptr[r + 1] = at;
  }
  return { nRows: n, nCols: n + nExtra, indptr, indices, data };
}

function alsState(v: unknown): AlsModelState & { nItems: number; nUsers: number } {
  const o = V.object(v, 'state');
  const factors = V.integer(o.factors, 'state.factors', 1, V.MAX_FACTORS);
  const userFactors = V.float32(o.userFactors, 'state.userFactors');
  const itemFactors = V.float32(o.itemFactors, 'state.itemFactors');
  if (userFactors.length % factors !== 0) {
    throw new RangeError(`state.userFactors.length must be a multiple of ${factors}`);
  }
  if (itemFactors.length % factors !== 0) {
    throw new RangeError(`state.itemFactors.length must be a multiple of ${factors}`);
  }
  return {
    factors,
    userFactors,
    itemFactors,
    nUsers: userFactors.length / factors,
    nItems: itemFactors.length / factors,
  };
}

function warpState(v: unknown): WarpModelState {
  const o = V.object(v, 'state');
  const dim = V.integer(o.noComponents, 'state.noComponents', 1, V.MAX_FACTORS);
  const nUsers = V.integer(o.nUsers, 'state.nUsers', 0, 2147483646);
  const nItems = V.integer(o.nItems, 'state.nItems', 0, 2147483646);
  const nUserFeatures = V.integer(o.nUserFeatures, 'state.nUserFeatures', 0, 2147483646);
  const nItemFeatures = V.integer(o.nItemFeatures, 'state.nItemFeatures', 0, 2147483646);
  const userEmbeddings = V.float32(o.userEmbeddings, 'state.userEmbeddings');
  const userBiases = V.float32(o.userBiases, 'state.userBiases');
  const itemEmbeddings = V.float32(o.itemEmbeddings, 'state.itemEmbeddings');
  const itemBiases = V.float32(o.itemBiases, 'state.itemBiases');
  V.expectLength(userEmbeddings.length, (nUsers + nUserFeatures) * dim, 'state.userEmbeddings');
  V.expectLength(userBiases.length, nUsers + nUserFeatures, 'state.userBiases');
  V.expectLength(itemEmbeddings.length, (nItems + nItemFeatures) * dim, 'state.itemEmbeddings');
  V.expectLength(itemBiases.length, nItems + nItemFeatures, 'state.itemBiases');
  return {
    noComponents: dim,
    nUsers,
    nItems,
    nUserFeatures,
    nItemFeatures,
    userEmbeddings,
    userBiases,
    itemEmbeddings,
    itemBiases,
  };
}

/** Σ over features of weight * [embedding, bias], accumulated in float32 in feature order (as in training). */
function accumulate(
  emb: Float32Array,
  bias: Float32Array,
  dim: number,
  feature: number,
  weight: number,
  out: Float32Array,
  outOffset: number,
): number {
  const off = feature * dim;
  for (let j = 0; j < dim; j++) out[outOffset + j] += weight * emb[off + j];
  return weight * bias[feature];
}

function representations(
  n: number,
  nExtra: number,
  emb: Float32Array,
  bias: Float32Array,
  dim: number,
  extra: CsrMatrix | undefined,
): Representations {
  const vectors = new Float32Array(n * dim);
  const biases = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    biases[r] = accumulate(emb, bias, dim, r, 1, vectors, r * dim);
    if (extra === undefined) continue;
    for (let i = extra.indptr[r]; i < extra.indptr[r + 1]; i++) {
      biases[r] += accumulate(emb, bias, dim, n + extra.indices[i], extra.data[i], vectors, r * dim);
    }
  }
  return { vectors, biases };
}

function featureList(
  state: WarpModelState,
  side: 'user' | 'item',
  identity: number | null,
  ids: unknown,
  weights: unknown,
  name: string,
): Representation {
  const dim = state.noComponents;
  const n = side === 'user' ? state.nUsers : state.nItems;
  const nExtra = side === 'user' ? state.nUserFeatures : state.nItemFeatures;
  const emb = side === 'user' ? state.userEmbeddings : state.itemEmbeddings;
  const bias = side === 'user' ? state.userBiases : state.itemBiases;
  const featureIds = ids === undefined || ids === null ? new Int32Array(0) : V.int32(ids, name);
  V.idsInRange(featureIds, nExtra, name);
  let w: Float32Array | undefined;
  if (weights !== undefined && weights !== null) {
    w = V.float32(weights, 'weights');
    V.expectLength(w.length, featureIds.length, 'weights');
    V.finiteValues(w, 'weights');
  }
  const vector = new Float32Array(dim);
  let b = 0;
  if (identity !== null) b += accumulate(emb, bias, dim, identity, 1, vector, 0);
  for (let i = 0; i < featureIds.length; i++) {
    b = Math.fround(b + accumulate(emb, bias, dim, n + featureIds[i], w === undefined ? 1 : w[i], vector, 0));
  }
  return { vector, bias: Math.fround(b) };
}

export function createApi(core: Core, backend: Backend): ModelsApi {
  async function fitAls(
    userItems: CsrMatrix,
    params?: AlsParams,
    onIteration?: IterationCallback,
  ): Promise<AlsFitResult> {
    const m = V.csr(userItems, 'userItems', { finiteData: true });
    const c = alsConfig(params);
    const cb = V.optionalFunction<IterationCallback>(onIteration, 'onIteration');
    const state: AlsModelState = {
      factors: c.factors,
      userFactors: new Float32Array(m.nRows * c.factors),
      itemFactors: new Float32Array(m.nCols * c.factors),
    };
    // As implicit: uniform [0, 0.01), users then items.
    initUniform(c.seed, 0.01, 0, state.userFactors, state.itemFactors);
    const losses: number[] = [];
    const secondsPerIteration: number[] = [];
    await runFit(
      c.signal,
      (control, report) =>
        core.alsFit(
          {
            userItems: m,
            factors: c.factors,
            regularization: c.regularization,
            alpha: c.alpha,
            iterations: c.iterations,
            cgSteps: c.cgSteps,
            cholesky: c.cholesky,
            threads: c.threads,
            computeLoss: c.computeLoss,
            userFactors: state.userFactors,
            itemFactors: state.itemFactors,
            control,
          },
          report,
        ),
      (iteration, loss, seconds) => {
        secondsPerIteration.push(seconds);
        if (c.computeLoss) losses.push(loss);
        cb?.(iteration, c.computeLoss ? loss : undefined);
      },
    );
    return { state, losses, secondsPerIteration };
  }

  function alsItemGramian(state: AlsModelState, threads?: number): Float64Array {
    const s = alsState(state);
    const t = V.integer(threads ?? 0, 'threads', 0, V.MAX_THREADS);
    const out = new Float64Array(s.factors * s.factors);
    core.alsGramian(s.itemFactors, s.factors, t, out);
    return out;
  }

  function alsRecalculateUser(
    state: AlsModelState,
    itemIds: Int32Array,
    weights: Float32Array,
    params?: AlsFoldInParams,
  ): Float32Array {
    const s = alsState(state);
    const ids = V.int32(itemIds, 'itemIds');
    const w = V.float32(weights, 'weights');
    V.expectLength(w.length, ids.length, 'weights');
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= s.nItems) {
        throw new RangeError(`itemIds[${i}] = ${ids[i]} is out of range [0, ${s.nItems})`);
      }
      if (!Number.isFinite(w[i])) throw new RangeError(`weights[${i}] is not finite`);
    }
    const p = V.params(params, FOLD_IN_KEYS, 'ALS fold-in');
    const regularization = V.finiteAtLeast(
      p.regularization ?? ALS_DEFAULTS.regularization,
      'regularization',
      0,
      false,
    );
    const alpha = V.finiteAtLeast(p.alpha ?? ALS_DEFAULTS.alpha, 'alpha', 0, false);
    let gramian: Float64Array | undefined;
    if (p.gramian !== undefined && p.gramian !== null) {
      gramian = V.float64(p.gramian, 'gramian');
      V.expectLength(gramian.length, s.factors * s.factors, 'gramian');
    }
    const out = new Float32Array(s.factors);
    core.alsRecalculateUser({
      itemFactors: s.itemFactors,
      factors: s.factors,
      itemIds: ids,
      weights: w,
      regularization,
      alpha,
      gramian,
      out,
    });
    return out;
  }

  async function fitWarp(
    interactions: CsrMatrix,
    features?: WarpFeatures,
    params?: WarpParams,
    onEpoch?: EpochCallback,
  ): Promise<WarpFitResult> {
    const X = V.csr(interactions, 'interactions', { sortedRows: true, finiteData: true });
    const f = features === undefined || features === null ? {} : V.object(features, 'features');
    for (const key of Object.keys(f)) {
      if (key !== 'userFeatures' && key !== 'itemFeatures') throw new TypeError(`unknown features key: ${key}`);
    }
    let itemF: CsrMatrix | undefined;
    let userF: CsrMatrix | undefined;
    if (f.itemFeatures !== undefined && f.itemFeatures !== null) {
      itemF = V.csr(f.itemFeatures, 'features.itemFeatures', { finiteData: true });
      if (itemF.nRows !== X.nCols) throw new RangeError(`features.itemFeatures.nRows must be ${X.nCols}`);
    }
    if (f.userFeatures !== undefined && f.userFeatures !== null) {
      userF = V.csr(f.userFeatures, 'features.userFeatures', { finiteData: true });
      if (userF.nRows !== X.nRows) throw new RangeError(`features.userFeatures.nRows must be ${X.nRows}`);
    }
    const c = warpConfig(params);
    const cb = V.optionalFunction<EpochCallback>(onEpoch, 'onEpoch');
    const dim = c.noComponents;
    const nItemFeatures = itemF?.nCols ?? 0;
    const nUserFeatures = userF?.nCols ?? 0;
    const state: WarpModelState = {
      noComponents: dim,
      nUsers: X.nRows,
      nItems: X.nCols,
      nUserFeatures,
      nItemFeatures,
      userEmbeddings: new Float32Array((X.nRows + nUserFeatures) * dim),
      userBiases: new Float32Array(X.nRows + nUserFeatures),
      itemEmbeddings: new Float32Array((X.nCols + nItemFeatures) * dim),
      itemBiases: new Float32Array(X.nCols + nItemFeatures),
    };
    // As lightfm: (uniform [0, 1) - 0.5) / dim, items then users; biases 0.
    initUniform(c.seed, 1 / dim, -0.5, state.itemEmbeddings, state.userEmbeddings);
    const secondsPerEpoch: number[] = [];
    await runFit(
      c.signal,
      (control, report) =>
        core.warpFit(
          {
            interactions: X,
            itemFeatures: withIdentity(itemF, X.nCols, nItemFeatures),
            userFeatures: withIdentity(userF, X.nRows, nUserFeatures),
            noComponents: dim,
            learningRate: c.learningRate,
            maxSampled: c.maxSampled,
            itemAlpha: c.itemAlpha,
            userAlpha: c.userAlpha,
            epochs: c.epochs,
            seed: c.seed,
            threads: c.threads,
            itemEmbeddings: state.itemEmbeddings,
            itemBiases: state.itemBiases,
            userEmbeddings: state.userEmbeddings,
            userBiases: state.userBiases,
            control,
          },
          report,
        ),
      (epoch, _loss, seconds) => {
        secondsPerEpoch.push(seconds);
        cb?.(epoch);
      },
    );
    return { state, secondsPerEpoch };
  }

  function warpItemRepresentations(state: WarpModelState, itemFeatures?: CsrMatrix): Representations {
    const s = warpState(state);
    let extra: CsrMatrix | undefined;
    if (itemFeatures !== undefined && itemFeatures !== null) {
      extra = V.csr(itemFeatures, 'itemFeatures');
      if (extra.nRows !== s.nItems) throw new RangeError(`itemFeatures.nRows must be ${s.nItems}`);
      if (extra.nCols !== s.nItemFeatures) throw new RangeError(`itemFeatures.nCols must be ${s.nItemFeatures}`);
    }
    return representations(s.nItems, s.nItemFeatures, s.itemEmbeddings, s.itemBiases, s.noComponents, extra);
  }

  function warpUserRepresentations(state: WarpModelState, userFeatures?: CsrMatrix): Representations {
    const s = warpState(state);
    let extra: CsrMatrix | undefined;
    if (userFeatures !== undefined && userFeatures !== null) {
      extra = V.csr(userFeatures, 'userFeatures');
      if (extra.nRows !== s.nUsers) throw new RangeError(`userFeatures.nRows must be ${s.nUsers}`);
      if (extra.nCols !== s.nUserFeatures) throw new RangeError(`userFeatures.nCols must be ${s.nUserFeatures}`);
    }
    return representations(s.nUsers, s.nUserFeatures, s.userEmbeddings, s.userBiases, s.noComponents, extra);
  }

  function warpUserRepresentation(
    state: WarpModelState,
    userIndex: number | null,
    userFeatureIds?: Int32Array,
    weights?: Float32Array,
  ): Representation {
    const s = warpState(state);
    const identity = userIndex === null ? null : V.integer(userIndex, 'userIndex', 0, s.nUsers - 1);
    return featureList(s, 'user', identity, userFeatureIds, weights, 'userFeatureIds');
  }

  function warpNewItemRepresentation(
    state: WarpModelState,
    itemFeatureIds: Int32Array,
    weights?: Float32Array,
  ): Representation {
    const s = warpState(state);
    return featureList(s, 'item', null, V.int32(itemFeatureIds, 'itemFeatureIds'), weights, 'itemFeatureIds');
  }

  function topK(query: TopKQuery): TopKResult {
    const q = V.object(query, 'query');
    const userVector = V.float32(q.userVector, 'userVector');
    if (userVector.length === 0) throw new RangeError('userVector must not be empty');
    const itemVectors = V.float32(q.itemVectors, 'itemVectors');
    const nItems = V.matrixRows(itemVectors, userVector.length, 'itemVectors');
    const itemBiases = V.optionalFloat32(q.itemBiases, 'itemBiases', nItems);
    const userBias = q.userBias === undefined ? 0 : V.finite(q.userBias, 'userBias');
    const exclude = V.optionalInt32(q.exclude, 'exclude');
    if (exclude !== undefined) V.idsInRange(exclude, nItems, 'exclude');
    const k = V.integer(q.k, 'k', 1, nItems);
    const ids = new Int32Array(k);
    const scores = new Float32Array(k);
    const n = core.topK(userVector, itemVectors, itemBiases, userBias, exclude, k, ids, scores);
    return n === k ? { ids, scores } : { ids: ids.slice(0, n), scores: scores.slice(0, n) };
  }

  function similarItems(query: SimilarItemsQuery): TopKResult {
    const q = V.object(query, 'query');
    const dim = V.integer(q.dim, 'dim', 1, MAX_VECTOR);
    const itemVectors = V.float32(q.itemVectors, 'itemVectors');
    const nItems = V.matrixRows(itemVectors, dim, 'itemVectors');
    const itemId = V.integer(q.itemId, 'itemId', 0, nItems - 1);
    const k = V.integer(q.k, 'k', 1, nItems);
    const exclude = V.optionalInt32(q.exclude, 'exclude');
    if (exclude !== undefined) V.idsInRange(exclude, nItems, 'exclude');
    const ids = new Int32Array(k);
    const scores = new Float32Array(k);
    const n = core.similarItems(itemVectors, dim, itemId, k, exclude, ids, scores);
    return n === k ? { ids, scores } : { ids: ids.slice(0, n), scores: scores.slice(0, n) };
  }

  async function batchTopK(query: BatchTopKQuery): Promise<TopKResult> {
    const q = V.object(query, 'query');
    let dim: number;
    if (q.dim !== undefined) {
      dim = V.integer(q.dim, 'dim', 1, MAX_VECTOR);
    } else {
      // Inferred from whichever argument tells a row count.
      const userVectors = V.float32(q.userVectors, 'userVectors');
      const itemVectors = V.float32(q.itemVectors, 'itemVectors');
      let inferred: number | undefined;
      if (q.itemBiases instanceof Float32Array) inferred = itemVectors.length / q.itemBiases.length;
      else if (q.userBiases instanceof Float32Array) inferred = userVectors.length / q.userBiases.length;
      else if (typeof q.exclude === 'object' && q.exclude !== null) {
        const rows = (q.exclude as Partial<CsrMatrix>).nRows;
        if (typeof rows === 'number') inferred = userVectors.length / rows;
      }
      if (inferred === undefined) throw new TypeError('dim must be a number');
      if (!Number.isInteger(inferred) || inferred < 1) throw new RangeError('dim cannot be inferred: pass dim');
      dim = inferred;
    }
    const userVectors = V.float32(q.userVectors, 'userVectors');
    const nUsers = V.matrixRows(userVectors, dim, 'userVectors');
    const itemVectors = V.float32(q.itemVectors, 'itemVectors');
    const nItems = V.matrixRows(itemVectors, dim, 'itemVectors');
    const itemBiases = V.optionalFloat32(q.itemBiases, 'itemBiases', nItems);
    const userBiases = V.optionalFloat32(q.userBiases, 'userBiases', nUsers);
    let exclude: CsrMatrix | undefined;
    if (q.exclude !== undefined && q.exclude !== null) {
      exclude = V.csr(q.exclude, 'exclude');
      if (exclude.nRows !== nUsers) throw new RangeError(`exclude.nRows must be ${nUsers}`);
      if (exclude.nCols !== nItems) throw new RangeError(`exclude.nCols must be ${nItems}`);
    }
    const users = V.optionalInt32(q.users, 'users');
    if (users !== undefined) V.idsInRange(users, nUsers, 'users');
    const k = V.integer(q.k, 'k', 1, nItems);
    const threads = V.integer(q.threads ?? 0, 'threads', 0, V.MAX_THREADS);
    const nOut = users?.length ?? nUsers;
    const outIds = new Int32Array(nOut * k);
    const outScores = new Float32Array(nOut * k);
    await core.batchTopK({
      userVectors,
      itemVectors,
      dim,
      itemBiases,
      userBiases,
      exclude,
      users,
      k,
      threads,
      outIds,
      outScores,
    });
    return { ids: outIds, scores: outScores };
  }

  return {
    backend,
    fitAls,
    alsItemGramian,
    alsRecalculateUser,
    fitWarp,
    warpItemRepresentations,
    warpUserRepresentations,
    warpUserRepresentation,
    warpNewItemRepresentation,
    topK,
    batchTopK,
    similarItems,
  };
}
