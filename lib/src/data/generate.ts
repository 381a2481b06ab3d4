import { FailedPreconditionError, InvalidArgumentError } from '../errors.js';
import type { CollectionName, Store } from '../store/types.js';
import { createSyntheticWorld, type SyntheticWorld, type WorldParams } from './synthetic.js';

export interface GenerateOptions extends WorldParams {
  /** Documents per bulk write (watched records per interaction batch). Default 5000. */
  batchSize?: number;
  /** Delete every collection first. Without it the store must be empty. */
  reset?: boolean;
}

export type GeneratePhase = 'users' | 'movies' | 'interactions' | 'popularity';

/**
 * Progress in units of users + movies + watched records (likes and bookmarks ride along with their watched record).
 * `done` counts across phases, so done / total is the overall fraction.
 */
export interface GenerateProgress {
  phase: GeneratePhase;
  done: number;
  total: number;
}

export interface GenerateSummary {
  users: number;
  usersWithFavoriteGenres: number;
  movies: number;
  watched: number;
  completed: number;
  likes: number;
  bookmarks: number;
  /** Movies whose popularity refreshPopularity() recomputed. */
  popularityUpdated: number;
  /** Wall time of each phase, in seconds. */
  seconds: Record<GeneratePhase, number>;
  /** The planted tastes, e.g. for a simulation asking world.wouldLike(u, m, rng). */
  world: SyntheticWorld;
}

export const DEFAULT_BATCH_SIZE = 5000;
export const MAX_BATCH_SIZE = 100_000;

const DATA_COLLECTIONS: readonly CollectionName[] = ['users', 'movies', 'watched_movies', 'likes', 'bookmarks'];

/**
 * With `reset`, clears every collection; otherwise refuses (FailedPreconditionError) to write into a store that
 * already holds users, movies or interactions, so nothing stored is mixed with or lost to generated data.
 */
export async function prepareStore(store: Store, reset: boolean): Promise<void> {
  if (reset) {
    await store.clear();
    return;
  }
  const held: string[] = [];
  for (const name of DATA_COLLECTIONS) {
    const n = await store.count(name);
    if (n > 0) held.push(`${n.toLocaleString('en-US')} ${name}`);
  }
  if (held.length) {
    throw new FailedPreconditionError(
      `the store already holds data (${held.join(', ')}); reset (--reset) deletes every collection first`,
    );
  }
}

export function validateBatchSize(value: number | undefined, name = 'batchSize'): number {
  if (value === undefined) return DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_BATCH_SIZE) {
    throw new InvalidArgumentError(`${name} must be an integer from 1 to ${MAX_BATCH_SIZE.toLocaleString('en-US')}, got ${value}`);
  }
  return value;
}

/**
 * Fills the store with a synthetic world (see synthetic.ts and README.md): users, movies, then the interactions
 * streamed in batches (never all in memory), then refreshPopularity(). `interactions` is the number of watched
 * records; likes and bookmarks are extra.
 */
export async function generateData(
  store: Store,
  options: GenerateOptions,
  onProgress?: (progress: GenerateProgress) => void,
): Promise<GenerateSummary> {
  const batchSize = validateBatchSize(options.batchSize);
  const world = createSyntheticWorld(options);
  const { users, movies, interactions } = world.params;
  await prepareStore(store, options.reset ?? false);

  const total = users + movies + interactions;
  let done = 0;
  const seconds: Record<GeneratePhase, number> = { users: 0, movies: 0, interactions: 0, popularity: 0 };
  const timed = async (phase: GeneratePhase, work: () => Promise<void>) => {
    const start = performance.now();
    onProgress?.({ phase, done, total });
    await work();
    seconds[phase] = (performance.now() - start) / 1000;
  };
  const summary = { users: 0, usersWithFavoriteGenres: 0, movies: 0, watched: 0, completed: 0, likes: 0, bookmarks: 0 };

  await timed('users', async () => {
    for (const batch of world.userBatches(batchSize)) {
      await store.insertMany('users', batch);
      summary.users += batch.length;
      for (const user of batch) if (user.favoriteGenres.length) summary.usersWithFavoriteGenres++;
      done += batch.length;
      onProgress?.({ phase: 'users', done, total });
    }
  });
  await timed('movies', async () => {
    for (const batch of world.movieBatches(batchSize)) {
      await store.insertMany('movies', batch);
      summary.movies += batch.length;
      done += batch.length;
      onProgress?.({ phase: 'movies', done, total });
    }
  });
  await timed('interactions', async () => {
    for (const batch of world.interactionBatches(batchSize)) {
      await store.insertMany('watched_movies', batch.watched);
      await store.insertMany('likes', batch.likes);
      await store.insertMany('bookmarks', batch.bookmarks);
      summary.watched += batch.watched.length;
      for (const w of batch.watched) if (w.completed) summary.completed++;
      summary.likes += batch.likes.length;
      summary.bookmarks += batch.bookmarks.length;
      done += batch.watched.length;
      onProgress?.({ phase: 'interactions', done, total });
    }
  });
  let popularityUpdated = 0;
  await timed('popularity', async () => {
    popularityUpdated = await store.refreshPopularity();
  });
  onProgress?.({ phase: 'popularity', done, total });
  return { ...summary, popularityUpdated, seconds, world };
}
