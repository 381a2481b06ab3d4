import { describe, expect, it } from 'vitest';
import { GENRES } from '../../lib/src/domain.js';
import { InvalidArgumentError } from '../../lib/src/errors.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import type { MovieDoc } from '../../lib/src/store/types.js';
import { GenreCatalog } from '../src/genre-catalog.js';

const movie = (movieId: string, genres: string[]): MovieDoc => ({ movieId, title: movieId, year: 2000, genres, rating: 7, popularity: 0 });

/** A store that counts distinctGenres calls. */
function countingStore() {
  const store = new MemoryStore();
  let reads = 0;
  const original = store.distinctGenres.bind(store);
  store.distinctGenres = async () => {
    reads++;
    return original();
  };
  return { store, reads: () => reads };
}

describe('GenreCatalog: the known genres come from the data', () => {
  it('offers the 18 MovieLens 100k genres while the catalogue has none', async () => {
    const catalog = new GenreCatalog(new MemoryStore());
    expect(await catalog.listGenres()).toEqual([...GENRES]);
    expect(await catalog.setFavoriteGenres('u1', ['Western'])).toEqual({ userId: 'u1', genres: ['Western'], created: true });
  });

  it('lists the genres of the movies, sorted, and validates choices against them', async () => {
    const store = new MemoryStore();
    await store.insertMany('movies', [movie('m1', ['Sci-Fi', 'IMAX']), movie('m2', ['Children', 'Comedy']), movie('m3', [])]);
    const catalog = new GenreCatalog(store);
    expect(await catalog.listGenres()).toEqual(['Children', 'Comedy', 'IMAX', 'Sci-Fi']);
    expect(await catalog.setFavoriteGenres('u1', ['IMAX', 'Children'])).toMatchObject({ genres: ['IMAX', 'Children'] });
    expect((await store.getUser('u1'))?.favoriteGenres).toEqual(['IMAX', 'Children']);
    // "Children's" is the 100k spelling; this catalogue says "Children".
    await expect(catalog.setFavoriteGenres('u1', ["Children's"])).rejects.toThrow(
      new InvalidArgumentError("unknown genre 'Children's'; known genres: Children, Comedy, IMAX, Sci-Fi"),
    );
    await expect(catalog.setFavoriteGenres('u1', ['Comedy', 'Comedy'])).rejects.toThrow("duplicate genre 'Comedy'");
    await expect(catalog.setFavoriteGenres('u1', [])).rejects.toThrow('at least 1 genre');
    await expect(catalog.setFavoriteGenres('u1', ['Comedy', 'IMAX', 'Sci-Fi', 'Children'])).rejects.toThrow('at most 3 genres');
    expect((await store.getUser('u1'))?.favoriteGenres).toEqual(['IMAX', 'Children']);
  });

  it('caches the list and refreshes it after refreshMs; an unknown genre re-reads a cache older than recheckMs', async () => {
    const { store, reads } = countingStore();
    await store.insertMany('movies', [movie('m1', ['Drama'])]);
    let now = 1_000_000;
    const catalog = new GenreCatalog(store, { refreshMs: 60_000, recheckMs: 1_000, now: () => now });
    expect(await catalog.listGenres()).toEqual(['Drama']);
    expect(reads()).toBe(1);

    await store.insertMany('movies', [movie('m2', ['Film-Noir'])]);
    now += 500;
    expect(await catalog.listGenres()).toEqual(['Drama']); // cached
    // Unknown, but the cache is only 0.5 s old: no re-read, rejected.
    await expect(catalog.setFavoriteGenres('u1', ['Film-Noir'])).rejects.toThrow("unknown genre 'Film-Noir'");
    expect(reads()).toBe(1);
    now += 600;
    // 1.1 s old: re-read once, accepted.
    expect(await catalog.setFavoriteGenres('u1', ['Film-Noir'])).toMatchObject({ genres: ['Film-Noir'] });
    expect(reads()).toBe(2);
    await expect(catalog.setFavoriteGenres('u1', ['Telenovela'])).rejects.toThrow("unknown genre 'Telenovela'; known genres: Drama, Film-Noir");
    expect(reads()).toBe(2);

    await store.insertMany('movies', [movie('m3', ['Western'])]);
    now += 59_999;
    expect(await catalog.listGenres()).toEqual(['Drama', 'Film-Noir']);
    now += 1;
    expect(await catalog.listGenres()).toEqual(['Drama', 'Film-Noir', 'Western']);
    expect(reads()).toBe(3);
  });

  it('names at most 40 known genres in the error of a large catalogue', async () => {
    const store = new MemoryStore();
    const many = Array.from({ length: 45 }, (_, i) => `G${String(i).padStart(2, '0')}`);
    await store.insertMany('movies', [movie('m1', many)]);
    const err = (await new GenreCatalog(store).setFavoriteGenres('u1', ['Nope']).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(`unknown genre 'Nope'; known genres: ${many.slice(0, 40).join(', ')} and 5 more (GET /genres lists them)`);
  });

  it('shares one store read between concurrent callers', async () => {
    const { store, reads } = countingStore();
    await store.insertMany('movies', [movie('m1', ['Drama'])]);
    const catalog = new GenreCatalog(store);
    const lists = await Promise.all([catalog.listGenres(), catalog.listGenres(), catalog.listGenres()]);
    expect(lists).toEqual([['Drama'], ['Drama'], ['Drama']]);
    expect(reads()).toBe(1);
  });
});
