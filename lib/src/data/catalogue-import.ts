import { extname } from 'node:path';
import { ID_PATTERN } from '../domain.js';
import { InvalidArgumentError } from '../errors.js';
import type { Store } from '../store/types.js';
import {
  CatalogueBuilder,
  INTERACTION_TYPES,
  type ImportProgress,
  type ImportSummary,
  type InteractionType,
  type SourceInteraction,
  type SourceMovie,
} from './catalogue-builder.js';
import { validateBatchSize } from './generate.js';
import { imdbTitleId } from './movielens.js';
import { mustBeFile, readCsv, readLines, resolveEncoding, type TextEncodingOption } from './text-files.js';

/**
 * Imports a catalogue of one's own: a movies file and an interactions file, each CSV (a header line naming the
 * columns, RFC 4180 quoting) or JSONL (one JSON object per line), chosen by the file extension (.csv, .jsonl/.ndjson)
 * or `format`. The format is documented in lib/src/data/README.md ("Your own catalogue").
 *
 * movies: `id`, `title`, `year`?, `genres` ('|'-separated in CSV; an array or a '|'-separated string in JSONL),
 *         `imdb_id`?, `tmdb_id`?
 * interactions: `user_id`, `movie_id`, `type` (watched | rated | liked | bookmarked), `value`, `timestamp`
 *
 * All lines of both files are checked before the store is touched; the errors (up to MAX_REPORTED_ERRORS, each
 * "file line N: what is wrong") are reported together as one InvalidArgumentError, and nothing is written.
 */
export interface ImportCatalogueOptions {
  reset?: boolean;
  batchSize?: number;
  /** 'csv' or 'jsonl'; default from each file's extension. */
  format?: CatalogueFormat;
  encoding?: TextEncodingOption;
  hygiene?: boolean;
  onProgress?: (progress: ImportProgress) => void;
  progressEvery?: number;
}

export type CatalogueFormat = 'csv' | 'jsonl';
export const MAX_REPORTED_ERRORS = 20;

export const MOVIE_FIELDS = ['id', 'title', 'year', 'genres', 'imdb_id', 'tmdb_id'] as const;
export const INTERACTION_FIELDS = ['user_id', 'movie_id', 'type', 'value', 'timestamp'] as const;
const REQUIRED_MOVIE_FIELDS = ['id', 'title'] as const;
const REQUIRED_INTERACTION_FIELDS = ['user_id', 'movie_id', 'type', 'timestamp'] as const;

export function catalogueFormatOf(path: string, format?: CatalogueFormat): CatalogueFormat {
  if (format) return format;
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new InvalidArgumentError(`${path}: cannot tell the format from the extension '${ext}': name it .csv, .jsonl or .ndjson, or give the format (csv or jsonl)`);
}

type Row = Record<string, unknown>;

/** The records of a CSV or JSONL file as objects keyed by column name, checked against the allowed fields. */
async function* readRows(
  path: string,
  label: string,
  format: CatalogueFormat,
  encoding: 'utf8' | 'latin1',
  allowed: readonly string[],
  required: readonly string[],
  errors: ErrorList,
): AsyncGenerator<{ row: Row; lineNo: number }> {
  if (format === 'csv') {
    let header: string[] | undefined;
    for await (const { fields, lineNo } of readCsv(path, encoding, label)) {
      if (!header) {
        header = fields.map((f) => f.trim());
        const unknown = header.filter((h) => !allowed.includes(h));
        const missing = required.filter((r) => !header!.includes(r));
        if (unknown.length || missing.length) {
          throw new InvalidArgumentError(
            `${label} line ${lineNo}: the header must name the columns ${required.join(', ')} (optional: ${allowed.filter((a) => !required.includes(a)).join(', ')})` +
              (missing.length ? `; missing ${missing.join(', ')}` : '') +
              (unknown.length ? `; unknown ${unknown.map((u) => `'${u.slice(0, 32)}'`).join(', ')}` : ''),
          );
        }
        continue;
      }
      const row: Row = {};
      header.forEach((h, i) => {
        if (fields[i].trim() !== '') row[h] = fields[i].trim();
      });
      yield { row, lineNo };
    }
    if (!header) throw new InvalidArgumentError(`${label} is empty: expected a header line naming the columns ${required.join(', ')}`);
    return;
  }
  for await (const { line, lineNo } of readLines(path, encoding)) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      errors.add(`${label} line ${lineNo}: not valid JSON (${(err as Error).message.slice(0, 100)})`);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      errors.add(`${label} line ${lineNo}: expected a JSON object with the fields ${allowed.join(', ')}`);
      continue;
    }
    const row = value as Row;
    const unknown = Object.keys(row).filter((k) => !allowed.includes(k));
    if (unknown.length) {
      errors.add(`${label} line ${lineNo}: unknown field ${unknown.map((u) => `'${u.slice(0, 32)}'`).join(', ')}; allowed: ${allowed.join(', ')}`);
      continue;
    }
    for (const k of Object.keys(row)) if (row[k] === null || row[k] === '') delete row[k];
    yield { row, lineNo };
  }
}

class ErrorList {
  readonly messages: string[] = [];
  count = 0;
  add(message: string): void {
    this.count++;
    if (this.messages.length < MAX_REPORTED_ERRORS) this.messages.push(message);
  }
  throwIfAny(): void {
    if (this.count === 0) return;
    const more = this.count > this.messages.length ? `\n... and ${this.count - this.messages.length} more` : '';
    const lineOf = (m: string) => Number(/ line (\d+):/.exec(m)?.[1] ?? 0);
    this.messages.sort((a, b) => lineOf(a) - lineOf(b));
    throw new InvalidArgumentError(`${this.count} invalid line${this.count === 1 ? '' : 's'}, nothing imported:\n${this.messages.join('\n')}${more}`);
  }
}

function requireFields(row: Row, required: readonly string[], where: string): void {
  const missing = required.filter((r) => row[r] === undefined);
  if (missing.length) throw new InvalidArgumentError(`${where}: missing ${missing.join(', ')}`);
}

function idField(value: unknown, field: string, where: string): string {
  const s = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof s !== 'string' || !ID_PATTERN.test(s)) {
    throw new InvalidArgumentError(`${where}: ${field} must be 1 to 64 characters of letters, digits, '_' or '-', got ${show(value)}`);
  }
  return s;
}

function numberField(value: unknown, field: string, where: string): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${where}: ${field} must be a number, got ${show(value)}`);
  return n;
}

function show(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 40) ?? String(value);
}

/** One movies-file row → a movie (throws InvalidArgumentError naming the line and field). */
export function parseMovieRow(row: Row, where: string): SourceMovie {
  requireFields(row, REQUIRED_MOVIE_FIELDS, where);
  const movieId = idField(row.id, 'id', where);
  if (typeof row.title !== 'string' || row.title.trim() === '' || row.title.length > 500) {
    throw new InvalidArgumentError(`${where}: title must be a text of 1 to 500 characters, got ${show(row.title)}`);
  }
  let year = 0;
  if (row.year !== undefined) {
    year = numberField(row.year, 'year', where);
    if (!Number.isInteger(year) || year < 1870 || year > 2200) throw new InvalidArgumentError(`${where}: year must be a whole year from 1870 to 2200 (or empty), got ${show(row.year)}`);
  }
  let genres: string[] = [];
  if (row.genres !== undefined) {
    const list = Array.isArray(row.genres) ? row.genres : typeof row.genres === 'string' ? row.genres.split('|') : null;
    if (!list || list.some((g) => typeof g !== 'string' || g.trim() === '' || g.trim().length > 64)) {
      throw new InvalidArgumentError(`${where}: genres must be names of 1 to 64 characters, '|'-separated (CSV) or an array of strings (JSONL), got ${show(row.genres)}`);
    }
    genres = [...new Set((list as string[]).map((g) => g.trim()))];
  }
  const movie: SourceMovie = { movieId, title: row.title.trim(), year, genres };
  if (row.imdb_id !== undefined) {
    const imdb = String(row.imdb_id).trim();
    if (!/^(tt)?\d{1,10}$/.test(imdb)) throw new InvalidArgumentError(`${where}: imdb_id must be "tt" and digits (e.g. tt0114709) or digits, got ${show(row.imdb_id)}`);
    movie.imdbId = imdbTitleId(imdb);
  }
  if (row.tmdb_id !== undefined) {
    const tmdb = String(row.tmdb_id).trim();
    if (!/^\d{1,10}$/.test(tmdb)) throw new InvalidArgumentError(`${where}: tmdb_id must be digits, got ${show(row.tmdb_id)}`);
    movie.tmdbId = tmdb;
  }
  return movie;
}

/**
 * An interaction timestamp: whole unix seconds, or ISO 8601 with a date and, when it has a time, a zone
 * ("2024-05-01", "2024-05-01T20:15:00Z", "2024-05-01T22:15:00+02:00"). Returns milliseconds since the epoch.
 */
export function parseTimestamp(value: unknown, where: string): number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d{1,12}$/.test(value.trim()))) {
    const seconds = Number(value);
    if (Number.isSafeInteger(seconds) && seconds >= 0) return seconds * 1000;
  } else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.test(value.trim())) {
    const ms = Date.parse(value.trim());
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidArgumentError(
    `${where}: timestamp must be unix seconds or ISO 8601 with a zone (e.g. 2024-05-01T20:15:00Z), got ${show(value)}`,
  );
}

/** One interactions-file row → an interaction (throws InvalidArgumentError naming the line and field). */
export function parseInteractionRow(row: Row, lineNo: number, where: string): SourceInteraction {
  requireFields(row, REQUIRED_INTERACTION_FIELDS, where);
  const userId = idField(row.user_id, 'user_id', where);
  const movieId = idField(row.movie_id, 'movie_id', where);
  const type = row.type as InteractionType;
  if (typeof row.type !== 'string' || !INTERACTION_TYPES.includes(type)) {
    throw new InvalidArgumentError(`${where}: type must be one of ${INTERACTION_TYPES.join(', ')}, got ${show(row.type)}`);
  }
  const at = parseTimestamp(row.timestamp, where);
  let value: number;
  switch (type) {
    case 'watched':
      value = row.value === undefined ? 1 : numberField(row.value, 'value', where);
      if (!(value > 0 && value <= 1)) throw new InvalidArgumentError(`${where}: value of a watched interaction is the share watched, above 0 up to 1 (1 = to the end), got ${show(row.value)}`);
      break;
    case 'rated':
      if (row.value === undefined) throw new InvalidArgumentError(`${where}: value of a rated interaction is required: the rating, 1 to 10`);
      value = numberField(row.value, 'value', where);
      if (!(value >= 1 && value <= 10)) throw new InvalidArgumentError(`${where}: value of a rated interaction is the rating, 1 to 10, got ${show(row.value)}`);
      break;
    case 'liked':
      value = row.value === undefined ? 10 : numberField(row.value, 'value', where);
      if (!(value >= 1 && value <= 10)) throw new InvalidArgumentError(`${where}: value of a liked interaction is a rating 1 to 10 (empty = 10), got ${show(row.value)}`);
      break;
    case 'bookmarked':
      if (row.value !== undefined) throw new InvalidArgumentError(`${where}: a bookmarked interaction takes no value, got ${show(row.value)}`);
      value = 0;
      break;
  }
  return { lineNo, userId, movieId, type, value, at };
}

export async function importCatalogue(
  store: Store,
  files: { movies: string; interactions?: string },
  options: ImportCatalogueOptions = {},
): Promise<ImportSummary> {
  const batchSize = validateBatchSize(options.batchSize);
  const encodingOption = options.encoding ?? 'auto';
  const builder = new CatalogueBuilder({ hygiene: options.hygiene });
  const errors = new ErrorList();

  const moviesLabel = files.movies;
  await mustBeFile(files.movies, 'give the movies file of the catalogue');
  const moviesFormat = catalogueFormatOf(files.movies, options.format);
  const moviesEncoding = await resolveEncoding(files.movies, encodingOption, moviesLabel);
  for await (const { row, lineNo } of readRows(files.movies, moviesLabel, moviesFormat, moviesEncoding, MOVIE_FIELDS, REQUIRED_MOVIE_FIELDS, errors)) {
    const where = `${moviesLabel} line ${lineNo}`;
    try {
      builder.addMovie(parseMovieRow(row, where), where);
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      errors.add(err.message);
    }
  }
  if (builder.movieCount === 0 && errors.count === 0) throw new InvalidArgumentError(`${moviesLabel} holds no movies`);
  errors.throwIfAny();

  let interactions: () => AsyncIterable<SourceInteraction[]> = async function* () {};
  const every = options.progressEvery ?? 100_000;
  if (files.interactions) {
    const path = files.interactions;
    await mustBeFile(path, 'give the interactions file of the catalogue');
    const format = catalogueFormatOf(path, options.format);
    const encoding = await resolveEncoding(path, encodingOption, path);
    interactions = async function* () {
      let batch: SourceInteraction[] = [];
      for await (const { row, lineNo } of readRows(path, path, format, encoding, INTERACTION_FIELDS, REQUIRED_INTERACTION_FIELDS, errors)) {
        try {
          batch.push(parseInteractionRow(row, lineNo, `${path} line ${lineNo}`));
        } catch (err) {
          if (!(err instanceof InvalidArgumentError)) throw err;
          errors.add(err.message);
        }
        if (batch.length === 1000) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    };
    await builder.check(interactions(), path, options.onProgress, every, (m) => errors.add(m));
    errors.throwIfAny();
  } else {
    await builder.check(interactions(), 'interactions', options.onProgress, every);
  }
  await builder.prepare(store, options.reset ?? false);
  return builder.write(store, interactions(), batchSize, options.onProgress, every);
}
