import { InvalidArgumentError } from './errors.js';

/**
 * The 18 genres of MovieLens 100k: the synthetic data's genres and the list an empty catalogue offers. The genres a
 * catalogue knows come from its movies (recsvc/src/genre-catalog.ts).
 */
export const GENRES = [
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
] as const;
export type Genre = (typeof GENRES)[number];
const genreSet: ReadonlySet<string> = new Set(GENRES);

export const MAX_FAVORITE_GENRES = 3;

export const MODEL_TYPES = ['als', 'lightfm'] as const;
export type ModelTypeName = (typeof MODEL_TYPES)[number];

/** User and movie ids: 1 to 64 characters of [A-Za-z0-9_-]. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const ID_PATTERN_SOURCE = '^[A-Za-z0-9_-]{1,64}$';

/**
 * Interaction weights of the models' input (MISSION.md): watched to the end 1.0, watched partly 0.5,
 * a like rating/10 (rating 1-10), a bookmark 0.3; summed per (user, movie).
 */
export const INTERACTION_WEIGHTS = {
  watchedCompleted: 1.0,
  watchedPartly: 0.5,
  likePerRatingPoint: 0.1,
  bookmark: 0.3,
} as const;

export function assertId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !ID_PATTERN.test(value)) {
    throw new InvalidArgumentError(`${field} must be 1 to 64 characters of letters, digits, '_' or '-'`);
  }
  return value;
}

export function isKnownGenre(value: string): value is Genre {
  return genreSet.has(value);
}

/**
 * Checks a favourite-genre choice: 1 to 3 distinct genres out of `known` (the catalogue's genres, see
 * recsvc/src/genre-catalog.ts; GENRES by default). Returns them in the given order.
 */
export function validateFavoriteGenres(genres: readonly unknown[], known: readonly string[] = GENRES): string[] {
  if (genres.length === 0) throw new InvalidArgumentError('genres must hold at least 1 genre');
  if (genres.length > MAX_FAVORITE_GENRES) {
    throw new InvalidArgumentError(`genres must hold at most ${MAX_FAVORITE_GENRES} genres, got ${genres.length}`);
  }
  const seen = new Set<string>();
  for (const genre of genres) {
    if (typeof genre !== 'string') throw new InvalidArgumentError('genres must be strings');
    if (!known.includes(genre)) {
      const list = known.length > 40 ? `${known.slice(0, 40).join(', ')} and ${known.length - 40} more (GET /genres lists them)` : known.join(', ');
      throw new InvalidArgumentError(`unknown genre '${genre.slice(0, 64)}'; known genres: ${known.length ? list : 'none yet (the catalogue holds no movies with genres)'}`);
    }
    if (seen.has(genre)) throw new InvalidArgumentError(`duplicate genre '${genre}'`);
    seen.add(genre);
  }
  return genres as string[];
}

/** An integer limit in [min, max], with a default for 0/undefined. */
export function boundedInt(value: number | undefined, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === 0) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** The names of the jobs the Trainer runs (the `name` of a `recsys.v1.Job`; the REST `GET /jobs/{id}` enum). */
export const JOB_NAMES = {
  train: 'train_model',
  refreshAll: 'update_all_recommendations',
  refreshUser: 'update_recommendations',
} as const;
