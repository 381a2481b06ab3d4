import type { ModelTypeName } from '../../src/domain.js';
import { newVersion } from '../../src/models/artifact.js';
import type { DataFingerprint } from '../../src/models/fingerprint.js';
import { ModelRegistry } from '../../src/models/registry.js';
import type { ObjectStore } from '../../src/objectstore/types.js';
import type { MovieDoc, Store } from '../../src/store/types.js';

/**
 * A tiny, hand-made world for serving tests: three comedies and three horror movies, a comedy fan (u1) and a horror
 * fan (u2) known to the models, plus users the models have not seen.
 */
export const MOVIES: MovieDoc[] = [
  { movieId: 'm1', title: 'Laugh One', year: 2001, genres: ['Comedy'], rating: 8, popularity: 0 },
  { movieId: 'm2', title: 'Laugh Two', year: 2002, genres: ['Comedy'], rating: 7, popularity: 0 },
  { movieId: 'm3', title: 'Laugh Three', year: 2003, genres: ['Comedy'], rating: 6, popularity: 0 },
  { movieId: 'm4', title: 'Scream One', year: 2004, genres: ['Horror'], rating: 8, popularity: 0 },
  { movieId: 'm5', title: 'Scream Two', year: 2005, genres: ['Horror'], rating: 7, popularity: 0 },
  { movieId: 'm6', title: 'Scream Three', year: 2006, genres: ['Horror'], rating: 6, popularity: 0 },
];

export async function seedServingWorld(store: Store, movies: readonly MovieDoc[] = MOVIES): Promise<void> {
  await store.clear();
  await store.insertMany('movies', movies);
  const now = new Date();
  const user = (userId: string, favoriteGenres: string[]) => ({ userId, favoriteGenres, createdAt: now, updatedAt: now });
  await store.insertMany('users', [user('u1', []), user('u2', []), user('u3', []), user('u4', ['Comedy']), user('u5', [])]);
  await store.insertMany('watched_movies', [
    { userId: 'u1', movieId: 'm1', completed: true, watchedAt: now },
    { userId: 'u2', movieId: 'm4', completed: true, watchedAt: now },
    { userId: 'x', movieId: 'm6', completed: true, watchedAt: now },
    { userId: 'y', movieId: 'm6', completed: true, watchedAt: now },
    { userId: 'y', movieId: 'm2', completed: false, watchedAt: now },
  ]);
  // u3 is unknown to the models but liked a horror movie: fold-in applies.
  await store.insertMany('likes', [{ userId: 'u3', movieId: 'm4', rating: 9, likedAt: now }]);
  await store.refreshPopularity();
}

/** Publishes (and activates) a model whose factor 0 is "comedy" and factor 1 "horror". */
export async function publishServingModel(
  objects: ObjectStore,
  modelType: ModelTypeName,
  options: { activate?: boolean; second?: number; flip?: boolean; data?: DataFingerprint; metrics?: Record<string, number>; tuning?: object } = {},
): Promise<string> {
  const registry = new ModelRegistry(objects);
  const version = newVersion(new Date(Date.UTC(2026, 10, 24, 0, 0, options.second ?? 0)));
  const comedy = [1, 0];
  const horror = [0, 1];
  const items = [comedy.map((x) => x * 1.0), comedy.map((x) => x * 0.9), comedy.map((x) => x * 0.8), horror.map((x) => x * 1.0), horror.map((x) => x * 0.9), horror.map((x) => x * 0.8)];
  const users = options.flip ? [horror, comedy] : [comedy, horror];
  const arrays: Record<string, Float32Array> = {
    userVectors: Float32Array.from(users.flat()),
    userBiases: new Float32Array(2),
    itemVectors: Float32Array.from(items.flat()),
    itemBiases: new Float32Array(6),
  };
  const idMaps: Record<string, string[]> = { users: ['u1', 'u2'], items: MOVIES.map((m) => m.movieId) };
  if (modelType === 'lightfm') {
    arrays.genreUserVectors = Float32Array.from([...comedy, ...horror]);
    arrays.genreUserBiases = new Float32Array(2);
    arrays.genreItemVectors = Float32Array.from([...comedy, ...horror]);
    arrays.genreItemBiases = new Float32Array(2);
    idMaps.genres = ['Comedy', 'Horror'];
  }
  await registry.publish(
    {
      modelType,
      version,
      createdAt: new Date().toISOString(),
      params: modelType === 'als' ? { factors: 2, alpha: 10, regularization: 0.05 } : { noComponents: 2 },
      dataStats: { users: 2, items: 6 },
      metrics: options.metrics ?? { ndcgAt10: 0.5 },
      dimensions: { users: 2, items: 6, factors: 2, genres: modelType === 'lightfm' ? 2 : 0 },
      ...(options.data ? { data: options.data } : {}),
      ...(options.tuning ? { tuning: options.tuning } : {}),
    },
    arrays,
    idMaps,
  );
  if (options.activate !== false) await registry.activate(modelType, version);
  return version;
}
