import { GENRES } from '../../lib/src/domain.js';
import { cooToCsr, type CooMatrix, type CsrMatrix } from '../../lib/src/sparse.js';
import { bookmarkWeight, likeWeight, watchedWeight } from '../../lib/src/store/popularity.js';
import type { CollectionDocs, Store } from '../../lib/src/store/types.js';
import { CooBuilder, IdIndex } from './coo-builder.js';
import { PermanentJobError } from './queue/types.js';

/** The data cannot be trained on (empty, or too many records that do not map): retrying will not help. */
export class BadTrainingDataError extends PermanentJobError {
  constructor(message: string) {
    super(message);
    this.name = 'BadTrainingDataError';
  }
}

/**
 * The models' input, as read from the store:
 * - users: every user with at least one interaction (row order of every user-indexed matrix);
 * - items: every movie of the catalogue, interacted with or not (a movie nobody has seen yet still gets a WARP
 *   representation from its genres);
 * - interactions: users x items, the summed weights (watched to the end 1.0, partly 0.5, like rating/10,
 *   bookmark 0.3), with every pair whose latest feedback is a dislike removed;
 * - itemGenres / userGenres: the genre features (weight 1, columns in GENRES order) of movies and of users'
 *   favourite genres.
 */
export interface TrainingData {
  readonly users: readonly string[];
  readonly items: readonly string[];
  readonly genres: readonly string[];
  readonly interactions: CsrMatrix;
  readonly itemGenres: CsrMatrix;
  readonly userGenres: CsrMatrix;
  /**
   * When each user first met each movie (ms since the epoch; 0 when unknown), aligned with interactions.indices: the
   * earliest watchedAt / likedAt / bookmark createdAt of the pair. The temporal holdout holds out each user's latest.
   */
  readonly pairTimes: Float64Array;
  readonly stats: Record<string, number>;
}

/** What reading the collections produced, before the matrices are built. */
export interface RawTrainingData {
  readonly users: IdIndex;
  readonly items: IdIndex;
  readonly interactions: CooBuilder;
  readonly itemGenres: CooBuilder;
  readonly userGenres: CooBuilder;
  /** Disliked (user, item) pairs (the latest feedback on the pair is a dislike). */
  readonly dislikes: { users: Int32Array; items: Int32Array };
  /** Time (ms since the epoch, 0 when unknown) of each interaction record, in the order of `interactions`' entries. */
  readonly times: Float64Array;
  /**
   * The genre features' vocabulary (column order of itemGenres/userGenres): the MovieLens 100k genres (GENRES, in
   * their order, so existing catalogues keep their columns) and then every other genre the catalogue's movies or the
   * users' favourite genres name (IMAX, Children, an own catalogue's genres), in order of first appearance.
   */
  readonly genres: readonly string[];
  readonly counts: ReadCounts;
  /** Examples of records that did not map, for the error message. */
  readonly rejectedExamples: string[];
}

interface ReadCounts {
  movies: number;
  watched: number;
  likes: number;
  bookmarks: number;
  unknownMovieRecords: number;
  invalidRecords: number;
  feedback: number;
  userDocs: number;
  usersWithFavoriteGenres: number;
}

export interface ReadOptions {
  readonly batchSize: number;
  readonly signal?: AbortSignal;
  /**
   * Called after every batch with the number of documents read so far and the fraction of the collections done
   * (collections are not counted first: a count is a full scan on FerretDB, 36 s for 1M documents).
   */
  readonly onBatch?: (documentsRead: number, collectionsDone: number) => void | Promise<void>;
}

const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/**
 * Streams movies, watched_movies, likes, bookmarks, feedback and users from the store in batches (cursors, never a
 * whole collection in memory) into coordinate arrays with dense user and item indices.
 */
export async function readTrainingData(store: Store, options: ReadOptions): Promise<RawTrainingData> {
  const { batchSize, signal } = options;
  const items = new IdIndex();
  let users = new IdIndex();
  const itemGenres = new CooBuilder();
  const userGenres = new CooBuilder();
  // The genres come from the data (see RawTrainingData.genres); a non-string or empty genre is ignored.
  const genreIndex = new Map<string, number>(GENRES.map((g, i) => [g, i]));
  const genreColumn = (genre: unknown): number | undefined => {
    if (typeof genre !== 'string' || genre.length === 0) return undefined;
    let g = genreIndex.get(genre);
    if (g === undefined) genreIndex.set(genre, (g = genreIndex.size));
    return g;
  };
  const counts: ReadCounts = {
    movies: 0,
    watched: 0,
    likes: 0,
    bookmarks: 0,
    unknownMovieRecords: 0,
    invalidRecords: 0,
    feedback: 0,
    userDocs: 0,
    usersWithFavoriteGenres: 0,
  };
  /** Up to 3 examples of rejected records per collection (kept apart: the collections are read concurrently). */
  const rejectedBy = new Map<string, string[]>();
  let documents = 0;
  let collection = 0;
  const COLLECTIONS = 6;
  const afterBatch = async (n: number) => {
    documents += n;
    signal?.throwIfAborted();
    await options.onBatch?.(documents, collection / COLLECTIONS);
  };
  const next = () => collection++;

  // Items are numbered in movieId order, not in the order the scan returns them: neither MongoDB nor FerretDB on
  // PostgreSQL keeps a collection's natural order after updates, and the version's items order is what its catalogue
  // fingerprint hashes (two runs on the same catalogue must agree). Only ids and genre columns are kept meanwhile.
  const catalogue = new Map<string, unknown[]>();
  for await (const batch of store.scan('movies', batchSize)) {
    for (const movie of batch) {
      if (!isId(movie.movieId) || catalogue.has(movie.movieId)) continue;
      catalogue.set(movie.movieId, Array.isArray(movie.genres) ? movie.genres : []);
    }
    await afterBatch(batch.length);
  }
  for (const movieId of [...catalogue.keys()].sort()) {
    const item = items.intern(movieId);
    counts.movies++;
    for (const genre of catalogue.get(movieId)!) {
      const g = genreColumn(genre);
      if (g !== undefined) itemGenres.push(item, g, 1);
    }
  }
  catalogue.clear();

  next();
  const interactions = new CooBuilder(1 << 16);
  const reject = (collection: string, doc: { userId?: unknown; movieId?: unknown }, invalid: boolean) => {
    if (invalid) counts.invalidRecords++;
    else counts.unknownMovieRecords++;
    const examples = rejectedBy.get(collection) ?? [];
    rejectedBy.set(collection, examples);
    if (examples.length < 3) {
      examples.push(
        invalid
          ? `an invalid record in ${collection} (userId ${JSON.stringify(doc.userId)}, movieId ${JSON.stringify(doc.movieId)})`
          : `movieId '${String(doc.movieId)}' in ${collection}`,
      );
    }
  };
  /** Adds one record, or counts it as rejected. */
  let times = new Float64Array(1 << 16);
  const add = (collection: string, doc: { userId?: unknown; movieId?: unknown }, weight: number, at: unknown) => {
    if (!isId(doc.userId) || !isId(doc.movieId) || !Number.isFinite(weight) || weight <= 0) return reject(collection, doc, true);
    const item = items.get(doc.movieId);
    if (item === -1) return reject(collection, doc, false);
    const n = interactions.length;
    if (n === times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[n] = at instanceof Date ? at.getTime() || 0 : 0;
    interactions.push(users.intern(doc.userId), item, weight);
  };

  // The three interaction collections are read concurrently (the store's cursors overlap their round trips); users
  // are interned in arrival order, then renumbered by id so the matrix does not depend on that order.
  const scanInteractions = async <C extends 'watched_movies' | 'likes' | 'bookmarks'>(
    collection: C,
    weightOf: (doc: CollectionDocs[C]) => number,
    timeOf: (doc: CollectionDocs[C]) => unknown,
    counted: 'watched' | 'likes' | 'bookmarks',
  ) => {
    for await (const batch of store.scan(collection, batchSize)) {
      for (const doc of batch) add(collection, doc, weightOf(doc), timeOf(doc));
      counts[counted] += batch.length;
      await afterBatch(batch.length);
    }
    next();
  };
  await Promise.all([
    scanInteractions('watched_movies', (doc) => (typeof doc.completed === 'boolean' ? watchedWeight(doc) : NaN), (doc) => doc.watchedAt, 'watched'),
    scanInteractions('likes', (doc) => (typeof doc.rating === 'number' && doc.rating >= 1 && doc.rating <= 10 ? likeWeight(doc) : NaN), (doc) => doc.likedAt, 'likes'),
    scanInteractions('bookmarks', (doc) => bookmarkWeight(doc), (doc) => doc.createdAt, 'bookmarks'),
  ]);
  const sortedUsers = IdIndex.from([...users.ids].sort());
  const renumber = Int32Array.from(users.ids, (id) => sortedUsers.get(id));
  interactions.remapRows(renumber);
  users = sortedUsers;

  // Feedback: the latest verdict per (user, movie) decides; only pairs of known users and movies matter.
  const latest = new Map<number, { at: number; liked: boolean }>();
  const nItems = items.size;
  for await (const batch of store.scan('feedback', batchSize)) {
    for (const doc of batch) {
      counts.feedback++;
      const user = isId(doc.userId) ? users.get(doc.userId) : -1;
      const item = isId(doc.movieId) ? items.get(doc.movieId) : -1;
      if (user === -1 || item === -1 || typeof doc.liked !== 'boolean') continue;
      const at = new Date(doc.updatedAt ?? doc.createdAt ?? 0).getTime() || 0;
      const key = user * nItems + item;
      const seen = latest.get(key);
      if (!seen || at >= seen.at) latest.set(key, { at, liked: doc.liked });
    }
    await afterBatch(batch.length);
  }
  const disliked = [...latest].filter(([, v]) => !v.liked).map(([key]) => key);
  const dislikes = { users: new Int32Array(disliked.length), items: new Int32Array(disliked.length) };
  disliked.forEach((key, i) => {
    dislikes.users[i] = Math.floor(key / nItems);
    dislikes.items[i] = key % nItems;
  });

  next();
  for await (const batch of store.scan('users', batchSize)) {
    for (const doc of batch) {
      counts.userDocs++;
      const user = isId(doc.userId) ? users.get(doc.userId) : -1;
      if (user === -1 || !Array.isArray(doc.favoriteGenres)) continue;
      let any = false;
      for (const genre of doc.favoriteGenres) {
        const g = genreColumn(genre);
        if (g !== undefined) {
          userGenres.push(user, g, 1);
          any = true;
        }
      }
      if (any) counts.usersWithFavoriteGenres++;
    }
    await afterBatch(batch.length);
  }

  const rejectedExamples = ['watched_movies', 'likes', 'bookmarks'].flatMap((c) => rejectedBy.get(c) ?? []).slice(0, 3);
  const genres = [...genreIndex.keys()];
  return { users, items, interactions, itemGenres, userGenres, dislikes, times: times.subarray(0, interactions.length), genres, counts, rejectedExamples };
}

export interface BuildOptions {
  /** Largest share of interaction records that may be rejected (unknown movie, invalid fields) before the run fails. */
  readonly maxRejectedFraction: number;
}

/** Builds the CSR matrices (duplicates summed, disliked pairs removed) and the data statistics; checks the data. */
export function buildTrainingData(raw: RawTrainingData, options: BuildOptions): TrainingData {
  const { counts } = raw;
  const records = counts.watched + counts.likes + counts.bookmarks;
  const rejected = counts.unknownMovieRecords + counts.invalidRecords;
  if (counts.movies === 0) throw new BadTrainingDataError('the movies collection is empty: there is nothing to train on');
  if (records === 0) {
    throw new BadTrainingDataError('no interactions to train on: watched_movies, likes and bookmarks are all empty');
  }
  if (rejected > 0 && (rejected === records || rejected / records > options.maxRejectedFraction)) {
    throw new BadTrainingDataError(
      `${rejected} of ${records} interaction records (${((100 * rejected) / records).toFixed(1)}%) do not map to the data ` +
        `(${counts.unknownMovieRecords} name a movie missing from the movies collection, ${counts.invalidRecords} have invalid fields; ` +
        `e.g. ${raw.rejectedExamples.join(', ')}): more than TRAIN_MAX_REJECTED_FRACTION=${options.maxRejectedFraction} allows`,
    );
  }
  const nUsers = raw.users.size;
  const nItems = raw.items.size;
  const merged = cooToCsr(raw.interactions.toCoo(nUsers, nItems));
  const { matrix: interactions, removed } = removePairs(merged, raw.dislikes.users, raw.dislikes.items);
  const nnz = interactions.indices.length;
  if (nnz === 0) throw new BadTrainingDataError('no interactions left to train on after removing the disliked pairs');

  // The earliest time of each kept pair (binary search of each record's pair in its sorted row).
  const pairTimes = new Float64Array(nnz).fill(Infinity);
  const records_ = raw.interactions.toCoo(nUsers, nItems);
  for (let i = 0; i < records_.rows.length; i++) {
    const r = records_.rows[i];
    const c = records_.cols[i];
    let lo = interactions.indptr[r];
    let hi = interactions.indptr[r + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const col = interactions.indices[mid];
      if (col === c) {
        const t = raw.times[i] ?? 0;
        if (t < pairTimes[mid]) pairTimes[mid] = t;
        break;
      }
      if (col < c) lo = mid + 1;
      else hi = mid - 1;
    }
  }
  for (let j = 0; j < nnz; j++) if (pairTimes[j] === Infinity) pairTimes[j] = 0;

  const itemSeen = new Uint8Array(nItems);
  for (let i = 0; i < nnz; i++) itemSeen[interactions.indices[i]] = 1;
  let usersWithInteractions = 0;
  for (let u = 0; u < nUsers; u++) if (interactions.indptr[u + 1] > interactions.indptr[u]) usersWithInteractions++;
  const itemsWithInteractions = itemSeen.reduce((a, b) => a + b, 0);

  return {
    users: raw.users.ids,
    items: raw.items.ids,
    genres: raw.genres,
    interactions,
    itemGenres: cooToCsr(raw.itemGenres.toCoo(nItems, raw.genres.length)),
    userGenres: cooToCsr(raw.userGenres.toCoo(nUsers, raw.genres.length)),
    pairTimes,
    stats: {
      users: nUsers,
      items: nItems,
      interactions: nnz,
      density: nnz / (nUsers * nItems),
      records,
      watchedRecords: counts.watched,
      likeRecords: counts.likes,
      bookmarkRecords: counts.bookmarks,
      rejectedRecords: rejected,
      unknownMovieRecords: counts.unknownMovieRecords,
      invalidRecords: counts.invalidRecords,
      feedbackRecords: counts.feedback,
      dislikedPairs: raw.dislikes.users.length,
      dislikedPairsRemoved: removed,
      usersWithInteractions,
      usersWithoutInteractionsLeft: nUsers - usersWithInteractions,
      itemsWithInteractions,
      itemsWithoutInteractions: nItems - itemsWithInteractions,
      usersWithFavoriteGenres: counts.usersWithFavoriteGenres,
      genres: raw.genres.length,
    },
  };
}

/** The matrix without the given (row, col) pairs; rows stay sorted. */
export function removePairs(m: CsrMatrix, rows: Int32Array, cols: Int32Array): { matrix: CsrMatrix; removed: number } {
  if (rows.length === 0) return { matrix: m, removed: 0 };
  const drop = new Uint8Array(m.indices.length);
  let removed = 0;
  for (let p = 0; p < rows.length; p++) {
    const r = rows[p];
    let lo = m.indptr[r];
    let hi = m.indptr[r + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = m.indices[mid];
      if (c === cols[p]) {
        if (!drop[mid]) removed++;
        drop[mid] = 1;
        break;
      }
      if (c < cols[p]) lo = mid + 1;
      else hi = mid - 1;
    }
  }
  if (removed === 0) return { matrix: m, removed: 0 };
  const nnz = m.indices.length - removed;
  const indptr = new Int32Array(m.nRows + 1);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  let out = 0;
  for (let r = 0; r < m.nRows; r++) {
    for (let j = m.indptr[r]; j < m.indptr[r + 1]; j++) {
      if (drop[j]) continue;
      indices[out] = m.indices[j];
      data[out++] = m.data[j];
    }
    indptr[r + 1] = out;
  }
  return { matrix: { nRows: m.nRows, nCols: m.nCols, indptr, indices, data }, removed };
}

/** The COO form of a CSR matrix (the evaluation module's splits take COO). */
export function csrToCoo(m: CsrMatrix): CooMatrix {
  const rows = new Int32Array(m.indices.length);
  for (let r = 0; r < m.nRows; r++) rows.fill(r, m.indptr[r], m.indptr[r + 1]);
  return { nRows: m.nRows, nCols: m.nCols, rows, cols: m.indices, data: m.data };
}
