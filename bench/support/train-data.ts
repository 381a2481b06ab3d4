/**
 * Data of the training benchmark (bench/train.ts): MovieLens 100k and generated worlds as CSR matrices with genre
 * item features, and the on-disk split format shared with bench/reference/train_reference.py (raw little-endian
 * arrays plus meta.json; see that script's header), which is also how the benchmark hands data to its workers.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENRES } from '../../lib/src/domain.js';
import { createSyntheticWorld, movieIndexOf } from '../../lib/src/data/synthetic.js';
import { bookmarkWeight, likeWeight, watchedWeight } from '../../lib/src/store/popularity.js';
import { cooToCsr, type CsrMatrix } from '../../lib/src/sparse.js';

export interface BenchDataset {
  readonly name: string;
  /** users x items, summed interaction weights. */
  readonly interactions: CsrMatrix;
  /** items x genres, weight 1 per genre flag. */
  readonly itemGenres: CsrMatrix;
  readonly description: Record<string, unknown>;
}

/** Rows of (column, value) lists → CSR (columns sorted, no duplicates expected). */
function csrFromRows(nCols: number, rows: readonly (readonly number[])[]): CsrMatrix {
  const indptr = new Int32Array(rows.length + 1);
  for (let r = 0; r < rows.length; r++) indptr[r + 1] = indptr[r] + rows[r].length;
  const indices = new Int32Array(indptr[rows.length]);
  const data = new Float32Array(indptr[rows.length]);
  for (let r = 0; r < rows.length; r++) {
    const cols = [...rows[r]].sort((a, b) => a - b);
    indices.set(cols, indptr[r]);
    data.fill(1, indptr[r], indptr[r + 1]);
  }
  return { nRows: rows.length, nCols, indptr, indices, data };
}

/**
 * MovieLens 100k: each rating is a like (weight stars × 2 / 10) plus a completed watched record (1.0), so a pair
 * weighs 1 + stars / 5 (1.2 to 2.0), as the import-movielens CLI and the trainer would make it. Genres: the 18
 * flags after 'unknown' (GENRES order). Users and items are the file's ids minus 1.
 */
export function loadMovieLens100k(dir: string): BenchDataset {
  const ratings = readFileSync(join(dir, 'u.data'), 'latin1').trimEnd().split('\n');
  const n = ratings.length;
  const rows = new Int32Array(n);
  const cols = new Int32Array(n);
  const data = new Float32Array(n);
  let nUsers = 0;
  let nItems = 0;
  for (let i = 0; i < n; i++) {
    const [user, item, stars] = ratings[i].split('\t').map(Number);
    if (!(user >= 1 && item >= 1 && stars >= 1 && stars <= 5)) throw new Error(`u.data line ${i + 1}: ${ratings[i]}`);
    rows[i] = user - 1;
    cols[i] = item - 1;
    data[i] = 1 + stars / 5;
    nUsers = Math.max(nUsers, user);
    nItems = Math.max(nItems, item);
  }
  const movieLines = readFileSync(join(dir, 'u.item'), 'latin1').trimEnd().split('\n');
  const genreRows: number[][] = Array.from({ length: nItems }, () => []);
  for (const line of movieLines) {
    const fields = line.split('|');
    const item = Number(fields[0]) - 1;
    const flags = fields.slice(-(GENRES.length + 1)).slice(1); // drop 'unknown'
    if (item < 0 || item >= nItems) continue; // a movie nobody rated would be outside the matrix
    flags.forEach((f, g) => f === '1' && genreRows[item].push(g));
  }
  const interactions = cooToCsr({ nRows: nUsers, nCols: nItems, rows, cols, data });
  return {
    name: 'ml100k',
    interactions,
    itemGenres: csrFromRows(GENRES.length, genreRows),
    description: {
      source: dir,
      weighting: 'per rating: like (stars*2/10) + completed watched (1.0) = 1 + stars/5',
      users: nUsers,
      items: nItems,
      ratings: n,
    },
  };
}

export interface SyntheticSize {
  readonly name: string;
  readonly users: number;
  readonly movies: number;
  readonly interactions: number;
}

/**
 * A generated world (lib/src/data/synthetic.ts) read straight from its per-user generator, with the trainer's
 * weights summed per (user, movie): watched to the end 1.0 / partly 0.5, like rating/10, bookmark 0.3. Every
 * watched record is a distinct pair, so nnz = interactions.
 */
export function syntheticDataset(size: SyntheticSize, seed: number): BenchDataset {
  const world = createSyntheticWorld({ seed, users: size.users, movies: size.movies, interactions: size.interactions, now: 0 });
  const nnz = size.interactions;
  const indptr = new Int32Array(size.users + 1);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  const weight = new Float64Array(size.movies);
  const seen = new Int32Array(size.movies).fill(-1);
  let at = 0;
  let likes = 0;
  let bookmarks = 0;
  for (let u = 0; u < size.users; u++) {
    const { watched, likes: liked, bookmarks: marked } = world.userInteractions(u);
    const start = at;
    for (const w of watched) {
      const m = movieIndexOf(w.movieId);
      if (seen[m] !== u) {
        seen[m] = u;
        weight[m] = 0;
        indices[at++] = m;
      }
      weight[m] += watchedWeight(w);
    }
    for (const l of liked) weight[movieIndexOf(l.movieId)] += likeWeight(l);
    for (const b of marked) weight[movieIndexOf(b.movieId)] += bookmarkWeight(b);
    likes += liked.length;
    bookmarks += marked.length;
    indices.subarray(start, at).sort();
    for (let j = start; j < at; j++) data[j] = weight[indices[j]];
    indptr[u + 1] = at;
  }
  if (at !== nnz) throw new Error(`expected ${nnz} distinct pairs, got ${at}`);
  const genreRows: number[][] = [];
  for (let m = 0; m < size.movies; m++) genreRows.push(world.movieGenres(m).map((g) => GENRES.indexOf(g)));
  return {
    name: size.name,
    interactions: { nRows: size.users, nCols: size.movies, indptr, indices, data },
    itemGenres: csrFromRows(GENRES.length, genreRows),
    description: {
      source: 'lib/src/data/synthetic.ts',
      seed,
      users: size.users,
      movies: size.movies,
      watched: size.interactions,
      likes,
      bookmarks,
      weighting: 'watched 1.0 (completed) / 0.5 (partly) + like rating/10 + bookmark 0.3, summed per pair',
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The split format of bench/reference/train_reference.py

const EMPTY: CsrMatrix = { nRows: 0, nCols: 0, indptr: new Int32Array(1), indices: new Int32Array(0), data: new Float32Array(0) };

function writeArray(path: string, a: Int32Array | Float32Array): void {
  // Typed arrays are little-endian on every platform Node supports here (x86-64, arm64).
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function readArray<T extends Int32Array | Float32Array>(path: string, make: (b: ArrayBuffer) => T): T {
  const bytes = readFileSync(path);
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

export interface SplitOnDisk {
  readonly train: CsrMatrix;
  /** Empty rows (nnz 0) when there is no test set. */
  readonly test: CsrMatrix;
  readonly itemFeatures: CsrMatrix;
  readonly meta: Record<string, unknown>;
}

/** Writes train/test/item features in the format of train_reference.py. */
export function writeSplit(dir: string, split: { train: CsrMatrix; test?: CsrMatrix; itemFeatures: CsrMatrix }, extra: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const { train, itemFeatures } = split;
  const test = split.test ?? { ...EMPTY, nRows: train.nRows, nCols: train.nCols, indptr: new Int32Array(train.nRows + 1) };
  const meta = {
    format: 'recsys-split',
    version: 1,
    n_users: train.nRows,
    n_items: train.nCols,
    n_genres: itemFeatures.nCols,
    train_nnz: train.indices.length,
    test_nnz: test.indices.length,
    item_features_nnz: itemFeatures.indices.length,
    ...extra,
  };
  for (const [prefix, m] of [['train', train], ['test', test], ['item_features', itemFeatures]] as const) {
    writeArray(join(dir, `${prefix}_indptr.i32`), m.indptr);
    writeArray(join(dir, `${prefix}_indices.i32`), m.indices);
    writeArray(join(dir, `${prefix}_data.f32`), m.data);
  }
  writeFileSync(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

export function readSplit(dir: string): SplitOnDisk {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, number>;
  const csr = (prefix: string, nRows: number, nCols: number): CsrMatrix => ({
    nRows,
    nCols,
    indptr: readArray(join(dir, `${prefix}_indptr.i32`), (b) => new Int32Array(b)),
    indices: readArray(join(dir, `${prefix}_indices.i32`), (b) => new Int32Array(b)),
    data: readArray(join(dir, `${prefix}_data.f32`), (b) => new Float32Array(b)),
  });
  return {
    train: csr('train', meta.n_users, meta.n_items),
    test: csr('test', meta.n_users, meta.n_items),
    itemFeatures: csr('item_features', meta.n_items, meta.n_genres),
    meta,
  };
}
