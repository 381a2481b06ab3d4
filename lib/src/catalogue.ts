import type { Cache } from './cache/types.js';
import { assertId } from './domain.js';
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from './errors.js';
import type { Logger } from './logger.js';
import type { ClearableMovieField, MovieChange, MovieDoc, Store } from './store/types.js';

/**
 * The movie catalogue: the one place its rules live (the Trainer's catalogue RPCs call it; the REST schemas mirror
 * MOVIE_LIMITS).
 *
 * - movie_id: 1 to 64 characters of [A-Za-z0-9_-]; title: 1 to 500 characters (trimmed); year: 1870 to 2200, or 0
 *   when unknown; rating: the average rating, 1 to 10, or 0 when unknown (the importer's rules, lib/src/data).
 * - genres: at most 20 distinct names of 1 to 64 characters. The catalogue defines the genres (GET /genres lists
 *   those of its movies), so a name no movie had before is a new genre: users can choose it at once, and the hybrid
 *   model learns an embedding for it at the next training (until then it adds nothing to the movie's score).
 * - imdb_id: "tt" and digits, or digits (stored as tt + at least 7 digits, with imdb_url derived); tmdb_id: digits.
 * - hidden: a hidden movie is kept (interactions, logs and history still name it) but never recommended nor listed
 *   in top lists, at once on every recsvc replica (CATALOGUE_CHANNEL, recsvc/src/movie-info.ts).
 *
 * Every change is announced on CATALOGUE_CHANNEL with the movie as stored; when Redis is down the write still
 * succeeds and the replicas learn it at their next periodic catalogue reload.
 */
export const MOVIE_LIMITS = {
  titleMaxLength: 500,
  yearMin: 1870,
  yearMax: 2200,
  genresMax: 20,
  genreMaxLength: 64,
  ratingMin: 1,
  ratingMax: 10,
  pageSizeMax: 1000,
  pageSizeDefault: 100,
} as const;

/** Redis pub/sub channel of catalogue changes; the message is a CatalogueChangeMessage as JSON. */
export const CATALOGUE_CHANNEL = 'catalogue:changed';

export interface CatalogueChangeMessage {
  /** The movie as stored after the change (dates as ISO strings). */
  movie: MovieDoc;
}

/** A movie as the catalogue API takes it (create) or changes it (update; absent fields are kept). */
export interface MovieInput {
  title?: string;
  year?: number;
  genres?: readonly string[];
  rating?: number;
  /** Empty string: clear (update) / none (create). */
  imdbId?: string;
  tmdbId?: string;
  hidden?: boolean;
}

export interface MoviePage {
  movies: MovieDoc[];
  /** The id to pass as pageToken for the next page; empty on the last page. */
  nextPageToken: string;
}

function checkTitle(value: unknown): string {
  const title = typeof value === 'string' ? value.trim() : '';
  if (!title || title.length > MOVIE_LIMITS.titleMaxLength || /[\u0000-\u001f\u007f]/.test(title)) {
    throw new InvalidArgumentError(`title must be a text of 1 to ${MOVIE_LIMITS.titleMaxLength} characters without control characters`);
  }
  return title;
}

function checkYear(value: unknown): number {
  if (value === 0) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MOVIE_LIMITS.yearMin || value > MOVIE_LIMITS.yearMax) {
    throw new InvalidArgumentError(`year must be a whole year from ${MOVIE_LIMITS.yearMin} to ${MOVIE_LIMITS.yearMax}, or 0 when unknown, got ${String(value)}`);
  }
  return value;
}

function checkRating(value: unknown): number {
  if (value === 0) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < MOVIE_LIMITS.ratingMin || value > MOVIE_LIMITS.ratingMax) {
    throw new InvalidArgumentError(`rating must be a number from ${MOVIE_LIMITS.ratingMin} to ${MOVIE_LIMITS.ratingMax}, or 0 when unknown, got ${String(value)}`);
  }
  return value;
}

/** Distinct, trimmed genre names in the given order. */
export function checkMovieGenres(value: unknown): string[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError('genres must be a list of genre names');
  const genres: string[] = [];
  for (const raw of value) {
    const genre = typeof raw === 'string' ? raw.trim() : '';
    if (!genre || genre.length > MOVIE_LIMITS.genreMaxLength || /[\u0000-\u001f\u007f]/.test(genre)) {
      throw new InvalidArgumentError(`genres must be names of 1 to ${MOVIE_LIMITS.genreMaxLength} characters without control characters`);
    }
    if (!genres.includes(genre)) genres.push(genre);
  }
  if (genres.length > MOVIE_LIMITS.genresMax) throw new InvalidArgumentError(`genres must hold at most ${MOVIE_LIMITS.genresMax} genres, got ${genres.length}`);
  return genres;
}

/** "tt0114709" or "114709" → "tt0114709". */
function checkImdbId(value: string): string {
  const text = value.trim();
  if (!/^(tt)?\d{1,10}$/.test(text)) throw new InvalidArgumentError(`imdb_id must be "tt" and digits (e.g. tt0114709) or digits, got ${JSON.stringify(value.slice(0, 40))}`);
  return `tt${text.replace(/^tt/, '').padStart(7, '0')}`;
}

function checkTmdbId(value: string): string {
  const text = value.trim();
  if (!/^\d{1,10}$/.test(text)) throw new InvalidArgumentError(`tmdb_id must be digits (e.g. 862), got ${JSON.stringify(value.slice(0, 40))}`);
  return text;
}

const imdbUrl = (imdbId: string) => `https://www.imdb.com/title/${imdbId}/`;

/** A new movie from its input (title required); popularity starts at 0. */
export function newMovie(movieIdInput: unknown, input: MovieInput, now: Date): MovieDoc {
  const movieId = assertId(movieIdInput, 'movie_id');
  const doc: MovieDoc = {
    movieId,
    title: checkTitle(input.title),
    year: checkYear(input.year ?? 0),
    genres: checkMovieGenres(input.genres ?? []),
    rating: checkRating(input.rating ?? 0),
    popularity: 0,
    hidden: input.hidden === true,
    createdAt: now,
    updatedAt: now,
  };
  if (input.imdbId) {
    doc.imdbId = checkImdbId(input.imdbId);
    doc.imdbUrl = imdbUrl(doc.imdbId);
  }
  if (input.tmdbId) doc.tmdbId = checkTmdbId(input.tmdbId);
  return doc;
}

/** The store change of an update of `current` (fields absent from the input are kept). */
export function movieChange(current: MovieDoc, input: MovieInput, now: Date): MovieChange {
  const set: MovieChange['set'] = { updatedAt: now };
  const unset: ClearableMovieField[] = [];
  if (input.title !== undefined) {
    set.title = checkTitle(input.title);
    // The fingerprint of trained versions keeps hashing the title they were trained with (lib/src/models/fingerprint.ts).
    if (current.sourceTitle === undefined && set.title !== current.title) set.sourceTitle = current.title;
  }
  if (input.year !== undefined) set.year = checkYear(input.year);
  if (input.genres !== undefined) set.genres = checkMovieGenres(input.genres);
  if (input.rating !== undefined) set.rating = checkRating(input.rating);
  if (input.imdbId !== undefined) {
    if (input.imdbId.trim() === '') unset.push('imdbId', 'imdbUrl');
    else {
      set.imdbId = checkImdbId(input.imdbId);
      set.imdbUrl = imdbUrl(set.imdbId);
    }
  }
  if (input.tmdbId !== undefined) {
    if (input.tmdbId.trim() === '') unset.push('tmdbId');
    else set.tmdbId = checkTmdbId(input.tmdbId);
  }
  if (input.hidden !== undefined) set.hidden = input.hidden;
  return { set, unset };
}

/** Reads a CatalogueChangeMessage; null when it is not one. */
export function parseCatalogueChange(raw: string): MovieDoc | null {
  try {
    const parsed = JSON.parse(raw) as Partial<CatalogueChangeMessage>;
    const movie = parsed.movie as (MovieDoc & { createdAt?: unknown; updatedAt?: unknown }) | undefined;
    if (!movie || typeof movie.movieId !== 'string' || typeof movie.title !== 'string' || !Array.isArray(movie.genres)) return null;
    return {
      ...movie,
      createdAt: typeof movie.createdAt === 'string' ? new Date(movie.createdAt) : undefined,
      updatedAt: typeof movie.updatedAt === 'string' ? new Date(movie.updatedAt) : undefined,
    };
  } catch {
    return null;
  }
}

/** The catalogue operations behind the Trainer's catalogue RPCs. */
export class Catalogue {
  constructor(
    private readonly store: Store,
    private readonly cache: Cache,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** ALREADY_EXISTS when the id is taken. */
  async create(movieId: unknown, input: MovieInput): Promise<MovieDoc> {
    const doc = newMovie(movieId, input, this.now());
    const { created } = await this.store.createMovie(doc);
    if (!created) throw new AlreadyExistsError(`movie '${doc.movieId}' already exists; change it with an update`);
    await this.announce(doc);
    return doc;
  }

  /** NOT_FOUND for an unknown movie. */
  async update(movieIdInput: unknown, input: MovieInput): Promise<MovieDoc> {
    const movieId = assertId(movieIdInput, 'movie_id');
    const current = await this.get(movieId);
    const updated = await this.store.updateMovie(movieId, movieChange(current, input, this.now()));
    if (!updated) throw new NotFoundError(`movie '${movieId}' not found`);
    await this.announce(updated);
    return updated;
  }

  async get(movieIdInput: unknown): Promise<MovieDoc> {
    const movieId = assertId(movieIdInput, 'movie_id');
    const movie = (await this.store.getMovies([movieId])).get(movieId);
    if (!movie) throw new NotFoundError(`movie '${movieId}' not found`);
    return movie;
  }

  /** A page of movies by id; pageToken is the previous page's nextPageToken (a movie id). */
  async list(query: { pageSize?: number; pageToken?: string; hidden?: boolean }): Promise<MoviePage> {
    const size = query.pageSize || MOVIE_LIMITS.pageSizeDefault;
    if (!Number.isInteger(size) || size < 1 || size > MOVIE_LIMITS.pageSizeMax) {
      throw new InvalidArgumentError(`page_size must be an integer from 1 to ${MOVIE_LIMITS.pageSizeMax}`);
    }
    const after = query.pageToken ? assertId(query.pageToken, 'page_token') : undefined;
    const movies = await this.store.listMovies({ hidden: query.hidden, afterMovieId: after, limit: size + 1 });
    const more = movies.length > size;
    const page = movies.slice(0, size);
    return { movies: page, nextPageToken: more ? page[page.length - 1].movieId : '' };
  }

  private async announce(movie: MovieDoc): Promise<void> {
    try {
      await this.cache.publish(CATALOGUE_CHANNEL, JSON.stringify({ movie } satisfies CatalogueChangeMessage));
    } catch (err) {
      this.log.warn({ err: String(err), movieId: movie.movieId }, 'catalogue change not announced (cache unavailable): recsvc replicas learn it at their next catalogue reload');
    }
  }
}
