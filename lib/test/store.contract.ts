import { afterAll, beforeEach, expect, it } from 'vitest';
import type { MovieDoc, Store } from '../src/store/types.js';

function movie(movieId: string, genres: string[], rating = 8): MovieDoc {
  return { movieId, title: `Movie ${movieId}`, year: 2000, genres, rating, popularity: 0 };
}

/** The one contract every Store implementation passes. */
export function storeContract(makeStore: () => Promise<Store>): void {
  let store: Store;
  beforeEach(async () => {
    store ??= await makeStore();
    await store.clear();
  });
  afterAll(async () => {
    await store?.close();
  });

  it('creates a user with favourite genres, then replaces them', async () => {
    expect(await store.getUser('u1')).toBeNull();
    expect(await store.setFavoriteGenres('u1', ['Comedy', 'Drama'])).toEqual({ created: true });
    expect((await store.getUser('u1'))?.favoriteGenres).toEqual(['Comedy', 'Drama']);
    expect(await store.setFavoriteGenres('u1', ['Horror'])).toEqual({ created: false });
    const user = await store.getUser('u1');
    expect(user?.favoriteGenres).toEqual(['Horror']);
    expect(user?.userId).toBe('u1');
    expect(user?.createdAt).toBeInstanceOf(Date);
    expect(await store.count('users')).toBe(1);
  });

  it('ranks movies by popularity from interactions and rating, by genre, excluding given ids', async () => {
    await store.insertMany('movies', [
      movie('m1', ['Comedy'], 10),
      movie('m2', ['Comedy', 'Drama'], 2),
      movie('m3', ['Horror'], 8),
      movie('m4', ['Drama'], 8),
    ]);
    const at = new Date('2026-01-01T00:00:00Z');
    await store.insertMany('watched_movies', [
      { userId: 'a', movieId: 'm2', completed: true, watchedAt: at },
      { userId: 'b', movieId: 'm2', completed: false, watchedAt: at },
      { userId: 'a', movieId: 'm1', completed: true, watchedAt: at },
      { userId: 'a', movieId: 'm3', completed: true, watchedAt: at },
    ]);
    await store.insertMany('likes', [{ userId: 'c', movieId: 'm3', rating: 10, likedAt: at }]);
    await store.insertMany('bookmarks', [{ userId: 'c', movieId: 'm4', createdAt: at }]);
    expect(await store.refreshPopularity()).toBe(4);
    // m3: (1 + 1.0) * (0.5 + 0.4) = 1.8; m2: 1.5 * 0.6 = 0.9; m1: 1 * 1.0 = 1.0; m4: 0.3 * 0.9 = 0.27
    const all = await store.topMovies({ limit: 10 });
    expect(all.map((m) => m.movieId)).toEqual(['m3', 'm1', 'm2', 'm4']);
    expect(all[0].popularity).toBeCloseTo(1.8, 6);
    const comedyDrama = await store.topMovies({ genres: ['Comedy', 'Drama'], limit: 10, excludeMovieIds: ['m1'] });
    expect(comedyDrama.map((m) => m.movieId)).toEqual(['m2', 'm4']);
    expect((await store.topMovies({ limit: 2 })).length).toBe(2);
    const found = await store.getMovies(['m1', 'nope']);
    expect([...found.keys()]).toEqual(['m1']);
    expect(found.get('m1')).toMatchObject({ title: 'Movie m1', genres: ['Comedy'], rating: 10 });
  });

  it('lists the movies a user interacted with', async () => {
    const at = new Date();
    await store.insertMany('watched_movies', [{ userId: 'a', movieId: 'm1', completed: true, watchedAt: at }]);
    await store.insertMany('likes', [{ userId: 'a', movieId: 'm2', rating: 7, likedAt: at }]);
    await store.insertMany('bookmarks', [
      { userId: 'a', movieId: 'm1', createdAt: at },
      { userId: 'b', movieId: 'm3', createdAt: at },
    ]);
    expect((await store.interactedMovieIds('a')).sort()).toEqual(['m1', 'm2']);
    expect(await store.watchedMovieIds('a')).toEqual(['m1']);
    expect(await store.interactedMovieIds('nobody')).toEqual([]);
  });

  it('skips duplicate users and movies on bulk insert and streams collections in batches', async () => {
    await store.insertMany('movies', [movie('m1', ['Comedy']), movie('m2', ['Drama'])]);
    await store.insertMany('movies', [movie('m1', ['Comedy']), movie('m3', ['War'])]);
    expect(await store.count('movies')).toBe(3);
    const batches: number[] = [];
    const ids: string[] = [];
    for await (const batch of store.scan('movies', 2)) {
      batches.push(batch.length);
      ids.push(...batch.map((m) => m.movieId));
    }
    expect(batches).toEqual([2, 1]);
    expect(ids.sort()).toEqual(['m1', 'm2', 'm3']);
    expect(Object.keys((await store.getMovies(['m1'])).get('m1')!)).not.toContain('_id');
  });

  it('clears every collection', async () => {
    await store.setFavoriteGenres('u1', ['Comedy']);
    await store.insertMany('movies', [movie('m1', ['Comedy'])]);
    await store.clear();
    expect(await store.count('users')).toBe(0);
    expect(await store.count('movies')).toBe(0);
  });
}

