/** Small synthetic data sets with planted structure, and the metrics the tests assert on. */
import { cooToCsr, type CsrMatrix } from '../../lib/src/sparse.js';
import { getBackend, nativeLoadError, type Backend, type ModelsApi } from '../src/index.js';
import { Rng } from '../src/ts/rng.js';

/** The backends to run a suite on. The native one fails (not skips) when missing and RECSYS_REQUIRE_NATIVE=1. */
export interface BackendCase {
  name: Backend;
  /** Set when the suite must be skipped, with the reason. */
  skip?: string;
  /** Set when the backend is required but missing: the suite has one failing test. */
  missing?: string;
}

export const requireNative = process.env.RECSYS_REQUIRE_NATIVE === '1';
export const nativeError = nativeLoadError();

export const backendCases: BackendCase[] = [
  nativeError === undefined
    ? { name: 'native' }
    : requireNative
      ? { name: 'native', missing: nativeError }
      : { name: 'native', skip: `native addon not loaded (${nativeError}); set RECSYS_REQUIRE_NATIVE=1 to fail instead` },
  { name: 'ts' },
];

/** The API of a case, or undefined when the case has no API (skipped or missing). */
export function apiOf(c: BackendCase): ModelsApi | undefined {
  return c.skip === undefined && c.missing === undefined ? getBackend(c.name) : undefined;
}

export function csrFromRows(nCols: number, rows: number[][], weights?: number[][]): CsrMatrix {
  const r: number[] = [];
  const c: number[] = [];
  const d: number[] = [];
  rows.forEach((cols, u) =>
    cols.forEach((col, j) => {
      r.push(u);
      c.push(col);
      d.push(weights?.[u]?.[j] ?? 1);
    }),
  );
  return cooToCsr({
    nRows: rows.length,
    nCols,
    rows: Int32Array.from(r),
    cols: Int32Array.from(c),
    data: Float32Array.from(d),
  });
}

function gaussian(rng: Rng): number {
  // Box-Muller on the shared generator (deterministic across platforms up to Math.log/cos rounding).
  const u = 1 - rng.uniform();
  const v = rng.uniform();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export interface Split {
  train: CsrMatrix;
  /** Held-out items per user. */
  test: number[][];
  nUsers: number;
  nItems: number;
}

/**
 * A planted low-rank preference matrix: user u likes the `perUser` items with the highest u·v among the items
 * (true factors Gaussian, rank `rank`); `holdout` of them per user are held out for testing.
 */
export function plantedLowRank(opts: {
  nUsers: number;
  nItems: number;
  rank: number;
  perUser: number;
  holdout: number;
  seed: number;
}): Split {
  const { nUsers, nItems, rank, perUser, holdout } = opts;
  const rng = new Rng(opts.seed, 1000);
  const U = Array.from({ length: nUsers }, () => Array.from({ length: rank }, () => gaussian(rng)));
  const V = Array.from({ length: nItems }, () => Array.from({ length: rank }, () => gaussian(rng)));
  const train: number[][] = [];
  const test: number[][] = [];
  for (let u = 0; u < nUsers; u++) {
    const scores = V.map((v, i) => [i, v.reduce((s, x, j) => s + x * U[u][j], 0)] as const);
    scores.sort((a, b) => b[1] - a[1]);
    const liked = scores.slice(0, perUser).map(([i]) => i);
    for (let j = liked.length - 1; j > 0; j--) {
      const k = rng.below(j + 1);
      [liked[j], liked[k]] = [liked[k], liked[j]];
    }
    test.push(liked.slice(0, holdout));
    train.push(liked.slice(holdout).sort((a, b) => a - b));
  }
  return { train: csrFromRows(nItems, train), test, nUsers, nItems };
}

export interface GenreData extends Split {
  nGenres: number;
  itemGenre: number[];
  userGenre: number[];
  /** Items never seen in training (cold start), all genres. */
  coldItems: number[];
  itemFeatures: CsrMatrix;
  userFeatures: CsrMatrix;
}

/**
 * Users with a favourite genre interact mostly (90%) with items of that genre; some items are cold (in no
 * interaction). Item features: the item's genre; user features: the user's favourite genre.
 */
export function genreWorld(opts: {
  nUsers: number;
  nItems: number;
  nGenres: number;
  perUser: number;
  holdout: number;
  coldEvery: number;
  seed: number;
}): GenreData {
  const { nUsers, nItems, nGenres, perUser, holdout } = opts;
  const rng = new Rng(opts.seed, 2000);
  const itemGenre = Array.from({ length: nItems }, (_, i) => i % nGenres);
  const userGenre = Array.from({ length: nUsers }, () => rng.below(nGenres));
  const coldItems = Array.from({ length: nItems }, (_, i) => i).filter((i) => i % opts.coldEvery === 0);
  const cold = new Set(coldItems);
  // Within a genre, popularity decays with the item's rank, so there is more to learn than the genre.
  const byGenre = Array.from({ length: nGenres }, (_, g) => itemGenre.flatMap((h, i) => (h === g && !cold.has(i) ? [i] : [])));
  const warm = Array.from({ length: nItems }, (_, i) => i).filter((i) => !cold.has(i));
  const train: number[][] = [];
  const test: number[][] = [];
  for (let u = 0; u < nUsers; u++) {
    const picked = new Set<number>();
    while (picked.size < perUser) {
      if (rng.uniform() < 0.9) {
        const pool = byGenre[userGenre[u]];
        const r = Math.floor(pool.length * rng.uniform() * rng.uniform());
        picked.add(pool[r]);
      } else {
        picked.add(warm[rng.below(warm.length)]);
      }
    }
    const items = [...picked];
    test.push(items.slice(0, holdout));
    train.push(items.slice(holdout).sort((a, b) => a - b));
  }
  const itemFeatures = csrFromRows(
    nGenres,
    itemGenre.map((g) => [g]),
  );
  const userFeatures = csrFromRows(
    nGenres,
    userGenre.map((g) => [g]),
  );
  return {
    train: csrFromRows(nItems, train),
    test,
    nUsers,
    nItems,
    nGenres,
    itemGenre,
    userGenre,
    coldItems,
    itemFeatures,
    userFeatures,
  };
}

/** Mean over users with held-out items of |top-k ∩ held-out| / k, ranking with the training items excluded. */
export async function precisionAtK(
  api: ModelsApi,
  split: Split,
  userVectors: Float32Array,
  itemVectors: Float32Array,
  dim: number,
  k: number,
  itemBiases?: Float32Array,
): Promise<number> {
  const { ids } = await api.batchTopK({ userVectors, itemVectors, dim, itemBiases, exclude: split.train, k });
  let hits = 0;
  let users = 0;
  for (let u = 0; u < split.nUsers; u++) {
    if (split.test[u].length === 0) continue;
    users++;
    const held = new Set(split.test[u]);
    for (let j = 0; j < k; j++) if (held.has(ids[u * k + j])) hits++;
  }
  return hits / (users * k);
}

/** The same metric for the popularity ranking (training counts). */
export function popularityPrecisionAtK(split: Split, k: number): number {
  const counts = new Float32Array(split.nItems);
  for (const i of split.train.indices) counts[i]++;
  let hits = 0;
  let users = 0;
  for (let u = 0; u < split.nUsers; u++) {
    if (split.test[u].length === 0) continue;
    users++;
    const seen = new Set(split.train.indices.subarray(split.train.indptr[u], split.train.indptr[u + 1]));
    const ranked = Array.from({ length: split.nItems }, (_, i) => i)
      .filter((i) => !seen.has(i))
      .sort((a, b) => counts[b] - counts[a] || a - b)
      .slice(0, k);
    const held = new Set(split.test[u]);
    for (const i of ranked) if (held.has(i)) hits++;
  }
  return hits / (users * k);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, n: number): number {
  let s = 0;
  for (let j = 0; j < n; j++) s += a[aOff + j] * b[bOff + j];
  return s;
}
