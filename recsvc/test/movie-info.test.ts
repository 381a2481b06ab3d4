import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { MovieInfoCache } from '../src/movie-info.js';

const movie = (movieId: string, title: string) => ({ movieId, title, year: 2000, genres: ['Drama'], rating: 7, popularity: 0 });

describe('MovieInfoCache', () => {
  it('serves known movies without the store and refreshes them in the background after the TTL', async () => {
    const store = new MemoryStore();
    await store.insertMany('movies', [movie('m1', 'Old title'), movie('m2', 'Gone soon')]);
    let now = 1_000_000;
    const cache = new MovieInfoCache(store, 50, () => now);
    expect([...(await cache.get(['m1', 'm2', 'm9'])).keys()]).toEqual(['m1', 'm2']);
    await store.clear();
    await store.insertMany('movies', [movie('m1', 'New title')]);
    // Up to the TTL: served from memory.
    now += 50;
    expect((await cache.get(['m1'])).get('m1')?.title).toBe('Old title');
    now += 1;
    // The expiry starts a background reload; this request is still answered from memory.
    expect((await cache.get(['m1', 'm2'])).get('m1')?.title).toBe('Old title');
    await expect.poll(async () => (await cache.get(['m1'])).get('m1')?.title).toBe('New title');
    expect((await cache.get(['m2'])).has('m2')).toBe(false);
  });
});
