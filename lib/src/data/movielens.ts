import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GENRES } from '../domain.js';
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type { Store } from '../store/types.js';
import { CatalogueBuilder, type ImportProgress, type ImportSummary, type SourceInteraction } from './catalogue-builder.js';
import { validateBatchSize } from './generate.js';
import { fileExists, mustBeFile, readCsv, readLineBatches, readLines, readPlainCsvBatches, resolveEncoding, type TextEncodingOption } from './text-files.js';

/**
 * Imports a MovieLens data set (https://grouplens.org/datasets/movielens/) from a folder, in either layout:
 *
 * **CSV layout** (ml-latest-small, ml-latest, ml-25m, ml-32m): `movies.csv` (`movieId,title,genres`), `ratings.csv`
 * (`userId,movieId,rating,timestamp`), optional `links.csv` (`movieId,imdbId,tmdbId`) and `tags.csv`
 * (`userId,movieId,tag,timestamp`). RFC 4180 CSV (quoted titles with commas and doubled quotes), UTF-8.
 * - movie `m{movieId}`; title and year from "Title (1995)" (a range "(2007-2013)" gives its first year; no year → 0);
 *   genres as the file spells them ("IMAX", "Children", "(no genres listed)" → none);
 * - links.csv: imdbId "114709" → `imdbId` "tt0114709" and `imdbUrl` https://www.imdb.com/title/tt0114709/; `tmdbId`;
 * - tags.csv: `tags` = the movie's 10 most applied tags (lower case), most frequent first;
 * - ratings: half stars 0.5-5 → a like with rating = stars × 2 (1-10) and a completed watched record, at the rating's
 *   time; users `u{userId}`.
 *
 * **100k layout** (ml-100k): `u.item` (`id|title|release date|video release date|IMDb URL|19 genre flags`), `u.data`
 * (`user\titem\tstars 1-5\tunix seconds`), optional `u.genre` (the genre names of the flags). u.item is Latin-1:
 * `encoding: 'auto'` (the default) reads a file as UTF-8 when it is valid UTF-8, else as Latin-1; `'latin1'` or
 * `'utf8'` declare it (utf8 on a Latin-1 file is an error naming the line, never a garbled title). The year comes
 * from the title or else the release date; the 'unknown' genre flag is dropped.
 *
 * Both: a movie's rating = the mean of its ratings on the 1-10 scale (0 when nobody rated it); users get favourite
 * genres from their ratings; catalogue hygiene (duplicates merged into a canonical id, placeholders dropped) as
 * described in catalogue-builder.ts. Everything is validated in a first streamed pass before the store is touched
 * (a bad line is an InvalidArgumentError "ratings.csv line N: ..."); the second pass writes in batches. Memory stays
 * bounded by the number of movies and users, never the ratings.
 */
export interface ImportMovieLensOptions {
  /** Delete every collection first. Without it the store must be empty. */
  reset?: boolean;
  /** Documents per bulk write. Default 5000. */
  batchSize?: number;
  /** Text encoding of the title files (u.item, movies.csv, tags.csv). Default 'auto'. */
  encoding?: TextEncodingOption;
  /** Merge duplicate films and drop placeholders (default true). */
  hygiene?: boolean;
  /** Progress callback: called every `progressEvery` ratings (default 100,000) and at each phase change. */
  onProgress?: (progress: ImportProgress) => void;
  progressEvery?: number;
}

export type MovieLensLayout = '100k' | 'csv';
export type ImportMovieLensSummary = ImportSummary & { layout: MovieLensLayout };

/** u.genre order of the 100k flags: index 0 is 'unknown', 1-18 are GENRES. */
export const MOVIELENS_GENRES = ['unknown', ...GENRES] as const;
export const NO_GENRES_LISTED = '(no genres listed)';
const TOP_TAGS = 10;
const MAX_TAGS_TRACKED = 100;

/** Which layout a folder holds: ratings.csv + movies.csv, or u.data + u.item (NotFoundError when neither). */
export async function detectMovieLensLayout(dir: string): Promise<MovieLensLayout> {
  if (!existsSync(dir)) throw new NotFoundError(`${dir} does not exist: give the folder of a MovieLens download (ml-100k, ml-latest-small, ml-25m, ml-32m)`);
  if ((await fileExists(join(dir, 'ratings.csv'))) || (await fileExists(join(dir, 'movies.csv')))) return 'csv';
  if ((await fileExists(join(dir, 'u.data'))) || (await fileExists(join(dir, 'u.item')))) return '100k';
  throw new NotFoundError(
    `${dir} holds no MovieLens files: expected ratings.csv and movies.csv (ml-latest-small, ml-25m, ml-32m) or u.data and u.item (ml-100k)`,
  );
}

export async function importMovieLens(store: Store, dir: string, options: ImportMovieLensOptions = {}): Promise<ImportMovieLensSummary> {
  const batchSize = validateBatchSize(options.batchSize);
  const layout = await detectMovieLensLayout(dir);
  const builder = new CatalogueBuilder({ hygiene: options.hygiene });
  const encoding = options.encoding ?? 'auto';
  let ratings: () => AsyncIterable<SourceInteraction[]>;
  let ratingsLabel: string;
  if (layout === '100k') {
    ratingsLabel = 'u.data';
    ratings = await read100k(builder, dir, encoding);
  } else {
    ratingsLabel = 'ratings.csv';
    ratings = await readCsvLayout(builder, dir, encoding);
  }
  if (builder.movieCount === 0) throw new InvalidArgumentError(`${dir}: the movie file holds no movies`);
  const every = options.progressEvery ?? 100_000;
  await builder.check(ratings(), ratingsLabel, options.onProgress, every);
  await builder.prepare(store, options.reset ?? false);
  const summary = await builder.write(store, ratings(), batchSize, options.onProgress, every);
  return { layout, ...summary };
}

// ---------------------------------------------------------------------------------------------------------------
// ml-100k
// ---------------------------------------------------------------------------------------------------------------

async function read100k(builder: CatalogueBuilder, dir: string, encodingOption: TextEncodingOption) {
  const itemPath = join(dir, 'u.item');
  const dataPath = join(dir, 'u.data');
  const hint = 'point the importer at the folder of the MovieLens files';
  await mustBeFile(itemPath, hint);
  await mustBeFile(dataPath, hint);
  let flagNames: readonly string[] = MOVIELENS_GENRES;
  const genrePath = join(dir, 'u.genre');
  if (await fileExists(genrePath)) {
    const names: string[] = [];
    for await (const { line, lineNo } of readLines(genrePath, await resolveEncoding(genrePath, encodingOption, 'u.genre'))) {
      const [name, index] = line.split('|');
      if (!name || Number(index) !== names.length) throw new InvalidArgumentError(`u.genre line ${lineNo}: expected 'name|${names.length}'`);
      names.push(name.trim());
    }
    flagNames = names;
  }
  const encoding = await resolveEncoding(itemPath, encodingOption, 'u.item');
  for await (const { line, lineNo } of readLines(itemPath, encoding)) {
    const where = `u.item line ${lineNo}`;
    const fields = line.split('|');
    if (fields.length !== 5 + flagNames.length) {
      throw new InvalidArgumentError(`${where}: expected ${5 + flagNames.length} '|'-separated fields, got ${fields.length}`);
    }
    const id = positiveInt(fields[0], `${where}: movie id`);
    const genres: string[] = [];
    flagNames.forEach((name, i) => {
      const flag = fields[5 + i].trim();
      if (flag !== '0' && flag !== '1') throw new InvalidArgumentError(`${where}: genre flag '${name}' must be 0 or 1, got '${flag.slice(0, 8)}'`);
      if (flag === '1' && name !== 'unknown') genres.push(name);
    });
    const { title, year } = titleAndYear(fields[1].trim(), fields[2].trim());
    builder.addMovie({ movieId: `m${id}`, title, year, genres }, where);
  }
  return async function* (): AsyncIterable<SourceInteraction[]> {
    for await (const { lines, firstLineNo } of readLineBatches(dataPath, 'latin1')) {
      const batch: SourceInteraction[] = [];
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (line.trim() === '') continue;
        const lineNo = firstLineNo + i;
        const fields = line.split('\t');
        if (fields.length !== 4) throw new InvalidArgumentError(`u.data line ${lineNo}: expected 4 tab-separated fields, got ${fields.length}`);
        const userNo = checked(parsePositiveInt(fields[0]), 'u.data', lineNo, 'user id', fields[0], 'a positive integer');
        const itemNo = checked(parsePositiveInt(fields[1]), 'u.data', lineNo, 'item id', fields[1], 'a positive integer');
        const stars = checked(parsePositiveInt(fields[2]), 'u.data', lineNo, 'rating', fields[2], 'a positive integer');
        const seconds = checked(parsePositiveInt(fields[3]), 'u.data', lineNo, 'timestamp', fields[3], 'a positive integer');
        if (stars > 5) throw new InvalidArgumentError(`u.data line ${lineNo}: rating must be 1 to 5, got ${stars}`);
        batch.push({ lineNo, userId: `u${userNo}`, movieId: `m${itemNo}`, type: 'rated', value: stars * 2, at: seconds * 1000, alsoWatched: true });
      }
      if (batch.length) yield batch;
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// CSV layout
// ---------------------------------------------------------------------------------------------------------------

/** Column positions of a CSV header; every required column must be present (an error names the missing ones). */
export function headerColumns<K extends string>(header: readonly string[], required: readonly K[], label: string): Record<K, number> {
  const names = header.map((h) => h.trim());
  const missing = required.filter((k) => !names.includes(k));
  if (missing.length) {
    throw new InvalidArgumentError(`${label} line 1: the header must name the columns ${required.join(', ')}; missing ${missing.join(', ')}`);
  }
  return Object.fromEntries(required.map((k) => [k, names.indexOf(k)])) as Record<K, number>;
}

async function readCsvLayout(builder: CatalogueBuilder, dir: string, encodingOption: TextEncodingOption) {
  const moviesPath = join(dir, 'movies.csv');
  const ratingsPath = join(dir, 'ratings.csv');
  const hint = 'the MovieLens CSV layout needs movies.csv and ratings.csv';
  await mustBeFile(moviesPath, hint);
  await mustBeFile(ratingsPath, hint);

  const moviesEncoding = await resolveEncoding(moviesPath, encodingOption, 'movies.csv');
  let cols: Record<'movieId' | 'title' | 'genres', number> | undefined;
  for await (const { fields, lineNo } of readCsv(moviesPath, moviesEncoding, 'movies.csv')) {
    if (!cols) {
      cols = headerColumns(fields, ['movieId', 'title', 'genres'], 'movies.csv');
      continue;
    }
    const where = `movies.csv line ${lineNo}`;
    const id = positiveInt(fields[cols.movieId], `${where}: movieId`);
    const { title, year } = titleAndYear(fields[cols.title].trim(), '');
    builder.addMovie({ movieId: `m${id}`, title, year, genres: splitGenres(fields[cols.genres], where) }, where);
  }

  const linksPath = join(dir, 'links.csv');
  if (await fileExists(linksPath)) {
    let lc: Record<'movieId' | 'imdbId' | 'tmdbId', number> | undefined;
    for await (const { fields, lineNo } of readCsv(linksPath, 'utf8', 'links.csv')) {
      if (!lc) {
        lc = headerColumns(fields, ['movieId', 'imdbId', 'tmdbId'], 'links.csv');
        continue;
      }
      const where = `links.csv line ${lineNo}`;
      const id = positiveInt(fields[lc.movieId], `${where}: movieId`);
      const imdb = fields[lc.imdbId].trim();
      const tmdb = fields[lc.tmdbId].trim();
      if (imdb !== '' && !/^(tt)?\d{1,10}$/.test(imdb)) throw new InvalidArgumentError(`${where}: imdbId must be digits, got '${imdb.slice(0, 16)}'`);
      if (tmdb !== '' && !/^\d{1,10}$/.test(tmdb)) throw new InvalidArgumentError(`${where}: tmdbId must be digits or empty, got '${tmdb.slice(0, 16)}'`);
      const patch = { imdbId: imdb ? imdbTitleId(imdb) : undefined, tmdbId: tmdb || undefined };
      if (!builder.updateMovie(`m${id}`, patch)) throw new InvalidArgumentError(`${where}: movie ${id} is not in movies.csv`);
    }
  }

  const tagsPath = join(dir, 'tags.csv');
  if (await fileExists(tagsPath)) {
    const counts = new Map<string, Map<string, number>>();
    let tc: Record<'userId' | 'movieId' | 'tag', number> | undefined;
    const tagsEncoding = await resolveEncoding(tagsPath, encodingOption, 'tags.csv');
    for await (const { fields, lineNo } of readCsv(tagsPath, tagsEncoding, 'tags.csv')) {
      if (!tc) {
        tc = headerColumns(fields, ['userId', 'movieId', 'tag'], 'tags.csv');
        continue;
      }
      const where = `tags.csv line ${lineNo}`;
      const id = positiveInt(fields[tc.movieId], `${where}: movieId`);
      const tag = fields[tc.tag].trim().toLowerCase().replace(/\s+/g, ' ').slice(0, 100);
      if (tag === '') continue;
      let perMovie = counts.get(`m${id}`);
      if (!perMovie) counts.set(`m${id}`, (perMovie = new Map()));
      if (perMovie.has(tag) || perMovie.size < MAX_TAGS_TRACKED) perMovie.set(tag, (perMovie.get(tag) ?? 0) + 1);
    }
    for (const [movieId, perMovie] of counts) {
      const tags = [...perMovie].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_TAGS).map(([t]) => t);
      if (!builder.updateMovie(movieId, { tags })) throw new InvalidArgumentError(`tags.csv: movie ${movieId.slice(1)} is not in movies.csv`);
    }
  }

  return async function* (): AsyncIterable<SourceInteraction[]> {
    let rc: Record<'userId' | 'movieId' | 'rating' | 'timestamp', number> | undefined;
    for await (const { rows, lineNos } of readPlainCsvBatches(ratingsPath, 'ratings.csv')) {
      const batch: SourceInteraction[] = [];
      for (let i = 0; i < rows.length; i++) {
        const fields = rows[i];
        if (!rc) {
          rc = headerColumns(fields, ['userId', 'movieId', 'rating', 'timestamp'], 'ratings.csv');
          continue;
        }
        const lineNo = lineNos[i];
        const userNo = checked(parsePositiveInt(fields[rc.userId]), 'ratings.csv', lineNo, 'userId', fields[rc.userId], 'a positive integer');
        const movieNo = checked(parsePositiveInt(fields[rc.movieId]), 'ratings.csv', lineNo, 'movieId', fields[rc.movieId], 'a positive integer');
        const stars = checked(parseHalfStars(fields[rc.rating]), 'ratings.csv', lineNo, 'rating', fields[rc.rating], '0.5 to 5 in half stars');
        const seconds = checked(parseNonNegativeInt(fields[rc.timestamp]), 'ratings.csv', lineNo, 'timestamp', fields[rc.timestamp], 'a non-negative integer');
        batch.push({ lineNo: lineNos[i], userId: `u${userNo}`, movieId: `m${movieNo}`, type: 'rated', value: stars * 2, at: seconds * 1000, alsoWatched: true });
      }
      if (batch.length) yield batch;
    }
  };
}

/** "Action|IMAX" → ['Action', 'IMAX']; "(no genres listed)" or empty → []. */
export function splitGenres(text: string, where: string): string[] {
  const t = text.trim();
  if (t === '' || t === NO_GENRES_LISTED) return [];
  const genres = t.split('|').map((g) => g.trim());
  for (const g of genres) {
    if (g === '' || g.length > 64) throw new InvalidArgumentError(`${where}: genres must be '|'-separated names of 1 to 64 characters, got '${t.slice(0, 80)}'`);
  }
  return [...new Set(genres.filter((g) => g !== NO_GENRES_LISTED))];
}

/** "114709" or "tt0114709" → "tt0114709" (at least 7 digits, as IMDb writes them). */
export function imdbTitleId(text: string): string {
  return `tt${text.replace(/^tt/, '').padStart(7, '0')}`;
}

/**
 * "Toy Story (1995)" → { title: "Toy Story", year: 1995 }; a range "(2007-2013)" gives 2007; without a year in the
 * title, the release date's year (100k), else 0.
 */
export function titleAndYear(rawTitle: string, releaseDate: string): { title: string; year: number } {
  const trimmed = rawTitle.trim();
  const match = /^(.*\S)\s*\((\d{4})(?:\s*[-–]\s*(?:\d{4})?)?\)$/.exec(trimmed);
  if (match) return { title: match[1], year: Number(match[2]) };
  const dateYear = /(\d{4})$/.exec(releaseDate);
  return { title: trimmed || 'unknown', year: dateYear ? Number(dateYear[1]) : 0 };
}

/** Stars 0.5-5 in half steps, or -1. */
function parseHalfStars(text: string | undefined): number {
  const t = (text ?? '').trim();
  const stars = t === '' ? NaN : Number(t);
  return Number.isFinite(stars) && stars >= 0.5 && stars <= 5 && Number.isInteger(stars * 2) ? stars : -1;
}

/** A positive safe integer written in digits, or -1. */
function parsePositiveInt(text: string | undefined): number {
  const n = parseNonNegativeInt(text);
  return n >= 1 ? n : -1;
}

/** A non-negative safe integer written in digits, or -1. */
function parseNonNegativeInt(text: string | undefined): number {
  const t = (text ?? '').trim();
  if (!/^\d+$/.test(t)) return -1;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : -1;
}

/** The parsed value, or an InvalidArgumentError "label line N: field must be ..., got '...'" when it is -1. */
function checked(value: number, label: string, lineNo: number, field: string, text: string | undefined, must: string): number {
  if (value < 0) throw new InvalidArgumentError(`${label} line ${lineNo}: ${field} must be ${must}, got '${(text ?? '').trim().slice(0, 32)}'`);
  return value;
}

function positiveInt(text: string | undefined, what: string): number {
  const n = parsePositiveInt(text);
  if (n < 0) throw new InvalidArgumentError(`${what} must be a positive integer, got '${(text ?? '').trim().slice(0, 32)}'`);
  return n;
}
