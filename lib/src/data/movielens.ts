import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GENRES, MAX_FAVORITE_GENRES, isKnownGenre, type Genre } from '../domain.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type { LikeDoc, MovieDoc, Store, UserDoc, WatchedDoc } from '../store/types.js';
import { prepareStore, validateBatchSize } from './generate.js';

/**
 * Imports the MovieLens 100k files (https://grouplens.org/datasets/movielens/100k/) into the store:
 *
 * - `u.item` (latin1, `id|title|release date|video release date|IMDb url|19 genre flags`) → movie `m{id}`. The year
 *   comes from the "(1995)" at the end of the title (removed from the title), else from the release date, else 0.
 *   Genres are the flagged ones of u.genre's order, without 'unknown'. rating = mean of the movie's ratings × 2
 *   (1-10 scale; 0 for a movie nobody rated).
 * - `u.data` (`user\titem\trating 1-5\tunix seconds`) → per rating a like (rating × 2, at that time) and a watched
 *   record (completed, at that time). Users `u{id}` are those who rated something; createdAt is their first rating.
 * - Favourite genres of a user: the (up to) 3 genres with the most movies the user rated 4 or 5 stars; ties go to
 *   the genre with more of the user's ratings, then to catalogue (GENRES) order. A user with no 4-5 star rating
 *   gets the genres they rated most.
 *
 * Both files are streamed line by line. A first pass over u.data checks every line and gathers the per-movie and
 * per-user totals (all that stays in memory); only then is the store touched (reset or checked empty), so a broken
 * file changes nothing. A second pass writes the ratings in batches. Ends with refreshPopularity().
 */
export interface ImportMovieLensOptions {
  /** Delete every collection first. Without it the store must be empty. */
  reset?: boolean;
  /** Ratings per bulk write. Default 5000. */
  batchSize?: number;
  /** Called after each batch: the fraction of the ratings written so far (0-1). */
  onProgress?: (progress: ImportMovieLensProgress) => void;
}

export interface ImportMovieLensProgress {
  phase: 'checking' | 'ratings' | 'popularity';
  fraction: number;
  ratings: number;
}

export interface ImportMovieLensSummary {
  users: number;
  movies: number;
  likes: number;
  watched: number;
  popularityUpdated: number;
}

/** u.genre order: index 0 is 'unknown', 1-18 are GENRES. */
export const MOVIELENS_GENRES = ['unknown', ...GENRES] as const;

interface MovieRow {
  movieId: string;
  title: string;
  year: number;
  genres: number[]; // indices into GENRES
  ratingSum: number;
  ratingCount: number;
}

interface UserTotals {
  firstAt: number;
  liked: Int32Array; // per genre: movies rated 4-5
  rated: Int32Array; // per genre: movies rated at all
}

export async function importMovieLens(
  store: Store,
  dir: string,
  options: ImportMovieLensOptions = {},
): Promise<ImportMovieLensSummary> {
  const batchSize = validateBatchSize(options.batchSize);
  const itemPath = join(dir, 'u.item');
  const dataPath = join(dir, 'u.data');
  await mustExist(itemPath);
  await mustExist(dataPath);

  // Parse all of u.item before touching the store, so a broken file changes nothing.
  options.onProgress?.({ phase: 'checking', fraction: 0, ratings: 0 });
  const movies = new Map<number, MovieRow>();
  await forEachLine(itemPath, 'latin1', (line, lineNo) => {
    const row = parseItem(line, `u.item line ${lineNo}`);
    if (movies.has(row.id)) throw new InvalidArgumentError(`u.item line ${lineNo}: duplicate movie id ${row.id}`);
    movies.set(row.id, row.movie);
  });
  if (movies.size === 0) throw new InvalidArgumentError(`${itemPath} holds no movies`);

  // Pass 1: check every rating and gather the per-movie and per-user totals, still without touching the store.
  const users = new Map<number, UserTotals>();
  let ratings = 0;
  await forEachLine(dataPath, 'latin1', (line, lineNo) => {
    const r = parseRating(line, `u.data line ${lineNo}`, movies);
    r.movie.ratingSum += r.stars;
    r.movie.ratingCount++;
    let totals = users.get(r.userNo);
    if (!totals) {
      totals = { firstAt: r.seconds, liked: new Int32Array(GENRES.length), rated: new Int32Array(GENRES.length) };
      users.set(r.userNo, totals);
    }
    totals.firstAt = Math.min(totals.firstAt, r.seconds);
    for (const g of r.movie.genres) {
      totals.rated[g]++;
      if (r.stars >= 4) totals.liked[g]++;
    }
    ratings++;
  });

  await prepareStore(store, options.reset ?? false);

  // Pass 2: stream the ratings into the store in batches.
  let likes: LikeDoc[] = [];
  let watched: WatchedDoc[] = [];
  let written = 0;
  const flush = async () => {
    await store.insertMany('watched_movies', watched);
    await store.insertMany('likes', likes);
    written += watched.length;
    watched = [];
    likes = [];
    options.onProgress?.({ phase: 'ratings', fraction: ratings ? written / ratings : 1, ratings: written });
  };
  let lineNo = 0;
  for await (const line of createInterface({ input: createReadStream(dataPath, { encoding: 'latin1' }), crlfDelay: Infinity })) {
    lineNo++;
    if (line.trim() === '') continue;
    const r = parseRating(line, `u.data line ${lineNo}`, movies);
    const at = new Date(r.seconds * 1000);
    const userId = `u${r.userNo}`;
    likes.push({ userId, movieId: r.movie.movieId, rating: r.stars * 2, likedAt: at });
    watched.push({ userId, movieId: r.movie.movieId, completed: true, watchedAt: at });
    if (watched.length === batchSize) await flush();
  }
  await flush();

  const movieDocs: MovieDoc[] = [...movies.values()].map((m) => ({
    movieId: m.movieId,
    title: m.title,
    year: m.year,
    genres: m.genres.map((g) => GENRES[g]),
    rating: m.ratingCount ? Math.round((m.ratingSum / m.ratingCount) * 2 * 1000) / 1000 : 0,
    popularity: 0,
  }));
  for (let i = 0; i < movieDocs.length; i += batchSize) await store.insertMany('movies', movieDocs.slice(i, i + batchSize));

  const userDocs: UserDoc[] = [...users.entries()]
    .sort(([a], [b]) => a - b)
    .map(([userNo, totals]) => {
      const at = new Date(totals.firstAt * 1000);
      return { userId: `u${userNo}`, favoriteGenres: favoriteGenres(totals), createdAt: at, updatedAt: at };
    });
  for (let i = 0; i < userDocs.length; i += batchSize) await store.insertMany('users', userDocs.slice(i, i + batchSize));

  options.onProgress?.({ phase: 'popularity', fraction: 1, ratings });
  const popularityUpdated = await store.refreshPopularity();
  return { users: userDocs.length, movies: movieDocs.length, likes: ratings, watched: ratings, popularityUpdated };
}

/** Top 3 genres by movies rated 4-5, then by movies rated, then GENRES order; genres the user never rated are left out. */
function favoriteGenres(totals: UserTotals): Genre[] {
  return GENRES.map((_, g) => g)
    .filter((g) => totals.rated[g] > 0)
    .sort((a, b) => totals.liked[b] - totals.liked[a] || totals.rated[b] - totals.rated[a] || a - b)
    .slice(0, MAX_FAVORITE_GENRES)
    .map((g) => GENRES[g]);
}

function parseRating(line: string, where: string, movies: Map<number, MovieRow>) {
  const fields = line.split('\t');
  if (fields.length !== 4) throw new InvalidArgumentError(`${where}: expected 4 tab-separated fields, got ${fields.length}`);
  const userNo = positiveInt(fields[0], `${where}: user id`);
  const itemNo = positiveInt(fields[1], `${where}: item id`);
  const stars = positiveInt(fields[2], `${where}: rating`);
  const seconds = positiveInt(fields[3], `${where}: timestamp`);
  if (stars > 5) throw new InvalidArgumentError(`${where}: rating must be 1 to 5, got ${stars}`);
  const movie = movies.get(itemNo);
  if (!movie) throw new InvalidArgumentError(`${where}: item ${itemNo} is not in u.item`);
  return { userNo, movie, stars, seconds };
}

function parseItem(line: string, where: string): { id: number; movie: MovieRow } {
  const fields = line.split('|');
  if (fields.length !== 5 + MOVIELENS_GENRES.length) {
    throw new InvalidArgumentError(`${where}: expected ${5 + MOVIELENS_GENRES.length} '|'-separated fields, got ${fields.length}`);
  }
  const id = positiveInt(fields[0], `${where}: movie id`);
  const genres: number[] = [];
  MOVIELENS_GENRES.forEach((name, i) => {
    const flag = fields[5 + i];
    if (flag !== '0' && flag !== '1') throw new InvalidArgumentError(`${where}: genre flag '${name}' must be 0 or 1`);
    if (flag === '1' && isKnownGenre(name)) genres.push(GENRES.indexOf(name));
  });
  const { title, year } = titleAndYear(fields[1].trim(), fields[2].trim());
  return { id, movie: { movieId: `m${id}`, title, year, genres, ratingSum: 0, ratingCount: 0 } };
}

/** "Toy Story (1995)" → { title: "Toy Story", year: 1995 }; without a year in the title, the release date's year. */
export function titleAndYear(rawTitle: string, releaseDate: string): { title: string; year: number } {
  const match = /^(.*\S)\s*\((\d{4})\)$/.exec(rawTitle);
  if (match) return { title: match[1], year: Number(match[2]) };
  const dateYear = /(\d{4})$/.exec(releaseDate);
  return { title: rawTitle || 'unknown', year: dateYear ? Number(dateYear[1]) : 0 };
}

function positiveInt(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`${what} must be a positive integer, got '${text.slice(0, 32)}'`);
  }
  return Number(text);
}

async function mustExist(path: string) {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new InvalidArgumentError(`${path} is not a file`);
    return info;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new NotFoundError(`${path} not found: point the importer at the folder of the MovieLens 100k files`);
    }
    throw err;
  }
}

async function forEachLine(path: string, encoding: BufferEncoding, fn: (line: string, lineNo: number) => void): Promise<void> {
  const reader = createInterface({ input: createReadStream(path, { encoding }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of reader) {
    lineNo++;
    if (line.trim() !== '') fn(line, lineNo);
  }
}
