/**
 * Offline evaluation: train/test splits, top-k ranking metrics and the popularity baseline.
 *
 * Metric definitions (the same ones are implemented in numpy by bench/reference/train_reference.py and are
 * written out in lib/EVALUATION.md). For one user u with test items T_u (|T_u| >= 1), training items excluded
 * from the ranking, and a top-k list R_u = r_1..r_k (fewer or -1 padded slots count as misses):
 *
 *   hit_i       = 1 if r_i ∈ T_u (an item counts once even if listed twice), else 0
 *   hits        = Σ_{i≤k} hit_i
 *   precision@k = hits / k                                       (always k, even if fewer items were returned)
 *   recall@k    = hits / |T_u|                                   (the plain definition, not capped at k)
 *   nDCG@k      = DCG / IDCG, DCG = Σ_{i≤k} hit_i / log2(i + 1), IDCG = Σ_{i≤min(k,|T_u|)} 1 / log2(i + 1)
 *   AP@k        = (Σ_{i≤k} hit_i · hits_{≤i} / i) / min(k, |T_u|)
 *
 * Each is averaged over the evaluated users (macro average): the users with at least one test item (restricted
 * to `users` when given). MAP@k is the mean of AP@k. coverage = distinct items appearing in any evaluated user's
 * top-k / nItems. With no user evaluated every metric is 0.
 *
 * Note: implicit's `ranking_metrics_at_k` "precision" is Σ_u hits / Σ_u min(k, |T_u|); that is neither P@k nor
 * R@k as defined here, and it is not reported. Its nDCG and MAP are the ones defined here.
 */
import { InvalidArgumentError } from './errors.js';
import { cooToCsr, rowIndices, type CooMatrix, type CsrMatrix } from './sparse.js';

export interface Split {
  readonly train: CsrMatrix;
  readonly test: CsrMatrix;
}

export interface RandomHoldoutOptions {
  /** Fraction of each user's distinct items held out for test, in [0, 1). Default 0.2. */
  readonly testFraction?: number;
  /** Seed of the PRNG; the same seed and input give the same split. */
  readonly seed: number;
  /** Items each user keeps in train at least (when the user has more than this many). Default 1. */
  readonly minTrainPerUser?: number;
}

export interface TimeSplitOptions {
  /** Fraction of each user's distinct items, the latest ones, held out for test, in [0, 1). Default 0.2. */
  readonly testFraction?: number;
  /** Items each user keeps in train at least (when the user has more than this many). Default 1. */
  readonly minTrainPerUser?: number;
}

/** Returns up to k item ids, best first; -1 entries are empty slots. Must not return an id of `exclude`. */
export type Recommend = (user: number, k: number, exclude: Int32Array) => Int32Array | Promise<Int32Array>;

export interface EvaluateRankingOptions {
  readonly train: CsrMatrix;
  readonly test: CsrMatrix;
  readonly k: number;
  /** Called once per evaluated user with that user's (sorted) training items as `exclude`. */
  readonly recommend: Recommend;
  /** Users to evaluate (default all); users without test items are skipped either way. */
  readonly users?: Int32Array;
}

export interface EvaluateTopKOptions {
  readonly train: CsrMatrix;
  readonly test: CsrMatrix;
  readonly k: number;
  /**
   * Precomputed rankings: row u (user id) is topK[u*k .. u*k + k), best first, -1 padded; length train.nRows * k.
   * They must already exclude each user's training items (a training item listed here simply counts as a miss).
   */
  readonly topK: Int32Array;
  readonly users?: Int32Array;
}

export interface RankingMetrics {
  readonly precisionAtK: number;
  readonly recallAtK: number;
  readonly ndcgAtK: number;
  readonly mapAtK: number;
  readonly coverage: number;
  readonly usersEvaluated: number;
  readonly k: number;
}

// ---------------------------------------------------------------------------------------------------------------
// PRNG

/** splitmix32 finaliser: a well-mixed 32-bit hash of a 32-bit input. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Splits

function checkFraction(testFraction: number): void {
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new InvalidArgumentError(`testFraction must be in [0, 1), got ${testFraction}`);
  }
}

function checkMinTrain(minTrainPerUser: number): void {
  if (!Number.isInteger(minTrainPerUser) || minTrainPerUser < 0) {
    throw new InvalidArgumentError(`minTrainPerUser must be a non-negative integer, got ${minTrainPerUser}`);
  }
}

/** How many of a user's n distinct items go to test: round(f·n), leaving at least minTrain in train. */
function testCount(n: number, testFraction: number, minTrainPerUser: number): number {
  return Math.max(0, Math.min(Math.round(testFraction * n), n - minTrainPerUser));
}

/**
 * Splits `csr` row by row: `chooseTest(row, start, end, flags)` sets flags[j - start] = 1 for the entries j of the
 * row that go to test. Rows stay sorted by column.
 */
function splitRows(
  csr: CsrMatrix,
  chooseTest: (row: number, start: number, end: number, flags: Uint8Array) => void,
): Split {
  const { nRows, nCols, indptr, indices, data } = csr;
  const nnz = indices.length;
  const isTest = new Uint8Array(nnz);
  let maxRow = 0;
  for (let r = 0; r < nRows; r++) maxRow = Math.max(maxRow, indptr[r + 1] - indptr[r]);
  const flags = new Uint8Array(maxRow);
  let nTest = 0;
  for (let r = 0; r < nRows; r++) {
    const start = indptr[r];
    const end = indptr[r + 1];
    flags.fill(0, 0, end - start);
    chooseTest(r, start, end, flags);
    for (let j = start; j < end; j++) {
      isTest[j] = flags[j - start];
      nTest += flags[j - start];
    }
  }
  const trainIndptr = new Int32Array(nRows + 1);
  const testIndptr = new Int32Array(nRows + 1);
  const trainIndices = new Int32Array(nnz - nTest);
  const trainData = new Float32Array(nnz - nTest);
  const testIndices = new Int32Array(nTest);
  const testData = new Float32Array(nTest);
  let a = 0;
  let b = 0;
  for (let r = 0; r < nRows; r++) {
    for (let j = indptr[r]; j < indptr[r + 1]; j++) {
      if (isTest[j]) {
        testIndices[b] = indices[j];
        testData[b++] = data[j];
      } else {
        trainIndices[a] = indices[j];
        trainData[a++] = data[j];
      }
    }
    trainIndptr[r + 1] = a;
    testIndptr[r + 1] = b;
  }
  return {
    train: { nRows, nCols, indptr: trainIndptr, indices: trainIndices, data: trainData },
    test: { nRows, nCols, indptr: testIndptr, indices: testIndices, data: testData },
  };
}

/**
 * Per-user random holdout. Duplicate (user, item) pairs are merged first (values summed), then for each user with
 * n distinct items, round(testFraction·n) of them, but never so many that fewer than minTrainPerUser stay in train,
 * are drawn uniformly at random into test. Each user's draw uses its own PRNG stream derived from (seed, user), so
 * the split is deterministic and a user's split does not depend on the other users.
 */
export function randomHoldoutSplit(coo: CooMatrix, options: RandomHoldoutOptions): Split {
  const { testFraction = 0.2, seed, minTrainPerUser = 1 } = options;
  checkFraction(testFraction);
  checkMinTrain(minTrainPerUser);
  if (!Number.isFinite(seed)) throw new InvalidArgumentError(`seed must be a finite number, got ${seed}`);
  const seedHash = mix32(seed >>> 0);
  const csr = cooToCsr(coo);
  let order = new Int32Array(0);
  return splitRows(csr, (row, start, end, flags) => {
    const n = end - start;
    const m = testCount(n, testFraction, minTrainPerUser);
    if (m === 0) return;
    const rand = mulberry32(mix32(seedHash ^ mix32(row)));
    if (order.length < n) order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // Partial Fisher-Yates: the first m positions end up a uniform random m-subset.
    for (let i = 0; i < m; i++) {
      const j = i + Math.floor(rand() * (n - i));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
      flags[order[i]] = 1;
    }
  });
}

/** Position of `col` in the sorted row `row` of `csr`, or -1. */
function findInRow(csr: CsrMatrix, row: number, col: number): number {
  let lo = csr.indptr[row];
  let hi = csr.indptr[row + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = csr.indices[mid];
    if (c === col) return mid;
    if (c < col) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Per-user temporal split. Duplicate (user, item) pairs are merged (values summed) and a pair's time is its
 * earliest timestamp (when the user first met the item). For each user with n distinct items, the latest
 * round(testFraction·n) of them (ties broken by item id, the larger id counting as later), but never so many that
 * fewer than minTrainPerUser stay in train, go to test.
 */
export function timeSplit(coo: CooMatrix, timestamps: Float64Array, options: TimeSplitOptions = {}): Split {
  const { testFraction = 0.2, minTrainPerUser = 1 } = options;
  checkFraction(testFraction);
  checkMinTrain(minTrainPerUser);
  if (timestamps.length !== coo.rows.length) {
    throw new InvalidArgumentError(
      `timestamps has length ${timestamps.length}, expected one per interaction (${coo.rows.length})`,
    );
  }
  const csr = cooToCsr(coo);
  const pairTime = new Float64Array(csr.indices.length).fill(Infinity);
  for (let i = 0; i < timestamps.length; i++) {
    const t = timestamps[i];
    if (Number.isNaN(t)) throw new InvalidArgumentError(`timestamps[${i}] is NaN`);
    const at = findInRow(csr, coo.rows[i], coo.cols[i]);
    if (t < pairTime[at]) pairTime[at] = t;
  }
  const order: number[] = [];
  return splitRows(csr, (_row, start, end, flags) => {
    const n = end - start;
    const m = testCount(n, testFraction, minTrainPerUser);
    if (m === 0) return;
    order.length = 0;
    for (let j = start; j < end; j++) order.push(j);
    // Indices within a row are sorted, so j order breaks timestamp ties by item id.
    order.sort((a, b) => pairTime[a] - pairTime[b] || a - b);
    for (let i = n - m; i < n; i++) flags[order[i] - start] = 1;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

function checkShapes(train: CsrMatrix, test: CsrMatrix, k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`k must be a positive integer, got ${k}`);
  if (train.nRows !== test.nRows || train.nCols !== test.nCols) {
    throw new InvalidArgumentError(
      `train is ${train.nRows}x${train.nCols} but test is ${test.nRows}x${test.nCols}: they must have the same shape`,
    );
  }
}

function checkUsers(users: Int32Array | undefined, nUsers: number): Int32Array {
  if (users === undefined) {
    const all = new Int32Array(nUsers);
    for (let u = 0; u < nUsers; u++) all[u] = u;
    return all;
  }
  for (const u of users) {
    if (u < 0 || u >= nUsers) throw new InvalidArgumentError(`user ${u} out of range [0, ${nUsers})`);
  }
  return users;
}

/** Accumulates the per-user metrics; one instance per evaluation run. */
class RankingAccumulator {
  private readonly testMark: Uint8Array;
  private readonly recommended: Uint8Array;
  /** discount[i] = 1 / log2(i + 2), the gain of rank i (0-based). */
  private readonly discount: Float64Array;
  private nRecommended = 0;
  private users = 0;
  private precision = 0;
  private recall = 0;
  private ndcg = 0;
  private ap = 0;

  constructor(
    private readonly nItems: number,
    private readonly k: number,
  ) {
    this.testMark = new Uint8Array(nItems);
    this.recommended = new Uint8Array(nItems);
    this.discount = new Float64Array(k);
    for (let i = 0; i < k; i++) this.discount[i] = 1 / Math.log2(i + 2);
  }

  /** Adds one user's ranking; `ranked` may be longer than k (the rest is ignored) or shorter. */
  add(user: number, testItems: Int32Array, ranked: ArrayLike<number>): void {
    const { k, nItems, testMark, recommended, discount } = this;
    const nTest = testItems.length;
    for (let i = 0; i < nTest; i++) testMark[testItems[i]] = 1;
    let hits = 0;
    let dcg = 0;
    let apSum = 0;
    const n = Math.min(k, ranked.length);
    for (let i = 0; i < n; i++) {
      const item = ranked[i];
      if (item < 0) continue;
      if (item >= nItems || !Number.isInteger(item)) {
        for (let j = 0; j < nTest; j++) testMark[testItems[j]] = 0;
        throw new InvalidArgumentError(`user ${user}: recommended item ${item} out of range [0, ${nItems})`);
      }
      if (recommended[item] === 0) {
        recommended[item] = 1;
        this.nRecommended++;
      }
      if (testMark[item] === 1) {
        testMark[item] = 2; // count each test item once
        hits++;
        dcg += discount[i];
        apSum += hits / (i + 1);
      }
    }
    for (let i = 0; i < nTest; i++) testMark[testItems[i]] = 0;
    const ideal = Math.min(k, nTest);
    let idcg = 0;
    for (let i = 0; i < ideal; i++) idcg += discount[i];
    this.users++;
    this.precision += hits / k;
    this.recall += hits / nTest;
    this.ndcg += dcg / idcg;
    this.ap += apSum / ideal;
  }

  result(): RankingMetrics {
    const n = this.users;
    const mean = (s: number): number => (n === 0 ? 0 : s / n);
    return {
      precisionAtK: mean(this.precision),
      recallAtK: mean(this.recall),
      ndcgAtK: mean(this.ndcg),
      mapAtK: mean(this.ap),
      coverage: this.nItems === 0 ? 0 : this.nRecommended / this.nItems,
      usersEvaluated: n,
      k: this.k,
    };
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Evaluates `recommend` on the users that have test items: each is asked for its top k with its training items
 * as `exclude`. Calls are made one at a time, in user order. See the module comment for the metric definitions.
 */
export async function evaluateRanking(options: EvaluateRankingOptions): Promise<RankingMetrics> {
  const { train, test, k, recommend } = options;
  checkShapes(train, test, k);
  const users = checkUsers(options.users, train.nRows);
  const acc = new RankingAccumulator(train.nCols, k);
  for (const u of users) {
    const testItems = rowIndices(test, u);
    if (testItems.length === 0) continue;
    const out = recommend(u, k, rowIndices(train, u));
    acc.add(u, testItems, isPromiseLike(out) ? await out : out);
  }
  return acc.result();
}

/** The batch form of evaluateRanking, over precomputed top-k lists (user-major, -1 padded). */
export function evaluateTopK(options: EvaluateTopKOptions): RankingMetrics {
  const { train, test, k, topK } = options;
  checkShapes(train, test, k);
  if (topK.length !== train.nRows * k) {
    throw new InvalidArgumentError(`topK has length ${topK.length}, expected nUsers * k = ${train.nRows * k}`);
  }
  const users = checkUsers(options.users, train.nRows);
  const acc = new RankingAccumulator(train.nCols, k);
  for (const u of users) {
    const testItems = rowIndices(test, u);
    if (testItems.length === 0) continue;
    acc.add(u, testItems, topK.subarray(u * k, u * k + k));
  }
  return acc.result();
}

// ---------------------------------------------------------------------------------------------------------------
// Baseline

/**
 * The popularity baseline: items ranked by how many users interacted with them in `train` (ties: lower item id
 * first), the user's own training items excluded. Items nobody interacted with are never recommended.
 */
export function popularityRecommender(
  train: CsrMatrix,
): (user: number, k: number, exclude: Int32Array) => Int32Array {
  const nItems = train.nCols;
  const counts = new Int32Array(nItems);
  for (let i = 0; i < train.indices.length; i++) counts[train.indices[i]]++;
  const ranked = Int32Array.from(
    Array.from({ length: nItems }, (_, i) => i)
      .filter((i) => counts[i] > 0)
      .sort((a, b) => counts[b] - counts[a] || a - b),
  );
  const excluded = new Uint8Array(nItems);
  return (_user, k, exclude) => {
    for (const i of exclude) if (i >= 0 && i < nItems) excluded[i] = 1;
    const out = new Int32Array(k).fill(-1);
    let n = 0;
    for (let j = 0; j < ranked.length && n < k; j++) {
      if (excluded[ranked[j]] === 0) out[n++] = ranked[j];
    }
    for (const i of exclude) if (i >= 0 && i < nItems) excluded[i] = 0;
    return out;
  };
}
