import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { MovieInfoCache } from '../src/movie-info.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCache } from '../../lib/src/cache/memory-cache.js';
import { Catalogue } from '../../lib/src/catalogue.js';
import { createLogger } from '../../lib/src/logger.js';
import { ModelRegistry } from '../../lib/src/models/registry.js';
import { DirectoryObjectStore } from '../../lib/src/objectstore/directory-object-store.js';
import type { MovieDoc } from '../../lib/src/store/types.js';
import { publishServingModel } from '../../lib/test/support/fixtures.js';
import { ServingModel, type CatalogueOverlay } from '../src/serving-model.js';

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

describe('MovieInfoCache as the catalogue overlay (hidden and created movies)', () => {
  const created = (movieId: string, genres: string[], extra: Partial<MovieDoc> = {}): MovieDoc => ({ ...movie(movieId, movieId), genres, createdAt: new Date('2026-06-01T00:00:00Z'), ...extra });

  it('loads the hidden and created movies, applies announced changes as they arrive, and reloads as the fallback', async () => {
    const store = new MemoryStore();
    const bus = new MemoryCache();
    await store.insertMany('movies', [movie('m1', 'One'), { ...movie('m2', 'Two'), hidden: true }, created('n1', ['Comedy'])]);
    const overlay = new MovieInfoCache(store, 60_000);
    await overlay.startSync(bus, { reloadMs: 3_600_000 });
    try {
      expect([...overlay.hiddenIds()]).toEqual(['m2']);
      expect(overlay.addedMovies().map((m) => m.movieId)).toEqual(['n1']);
      expect(overlay.visible([{ movieId: 'm1' }, { movieId: 'm2' }, { movieId: 'n1' }])).toEqual([{ movieId: 'm1' }, { movieId: 'n1' }]);
      expect(overlay.visible(null)).toBeNull();

      // A change announced by the catalogue (lib/src/catalogue.ts) reaches the overlay without a store read.
      const catalogue = new Catalogue(store, bus, createLogger('test', 'silent'));
      const revision = overlay.revision;
      await catalogue.update('m1', { hidden: true });
      await catalogue.create('n2', { title: 'Fresh', genres: ['Horror'] });
      await expect.poll(() => overlay.isHidden('m1') && overlay.addedMovies().some((m) => m.movieId === 'n2')).toBe(true);
      expect(overlay.revision).toBeGreaterThan(revision);
      expect((await overlay.get(['n2'])).get('n2')?.title).toBe('Fresh');
      await catalogue.update('m2', { hidden: false });
      await expect.poll(() => overlay.isHidden('m2')).toBe(false);

      // A change that never got announced (Redis down) shows up at the next reload.
      await store.updateMovie('m1', { set: { hidden: false } });
      expect(overlay.isHidden('m1')).toBe(true);
      await overlay.reloadCatalogue(new Date(0));
      expect([...overlay.hiddenIds()]).toEqual([]);
      // Only movies created since the given time are cold-start candidates.
      await overlay.reloadCatalogue(new Date('2027-01-01T00:00:00Z'));
      expect(overlay.addedMovies()).toEqual([]);
    } finally {
      await overlay.stopSync();
    }
  });

  it('keeps a change that arrives while a reload reads older state', async () => {
    const store = new MemoryStore();
    await store.insertMany('movies', [movie('m1', 'One')]);
    const overlay = new MovieInfoCache(store, 60_000);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const read = store.hiddenMovieIds.bind(store);
    // The reload reads the hidden ids (none), then the change is announced before the reload finishes.
    store.hiddenMovieIds = async () => {
      const ids = await read();
      await gate;
      return ids;
    };
    const reload = overlay.reloadCatalogue(new Date(0));
    overlay.apply({ ...movie('m1', 'One'), hidden: true });
    release();
    await reload;
    expect(overlay.isHidden('m1')).toBe(true);
  });
});

describe('ServingModel item cold start', () => {
  async function loadModel(modelType: 'als' | 'lightfm'): Promise<ServingModel> {
    const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-cold-')));
    await objects.ensureBucket();
    const version = await publishServingModel(objects, modelType);
    return ServingModel.fromArtifact(await new ModelRegistry(objects).load(modelType, version));
  }
  const overlay = (movies: { movieId: string; genres: string[]; hidden?: boolean }[], hidden: string[] = [], revision = 1): CatalogueOverlay => ({
    revision,
    isHidden: (id) => hidden.includes(id),
    hiddenIds: () => hidden,
    addedMovies: () => movies,
  });

  it('scores a movie the hybrid model has not seen by the sum of its genres\' item embeddings and biases; ALS cannot', async () => {
    const lightfm = await loadModel('lightfm');
    // The fixture: Comedy's item embedding is (1, 0), Horror's (0, 1); items m1-m3 comedy-like, m4-m6 horror-like.
    const comedyFan = { vector: Float32Array.from([1, 0.5]), bias: 0.25 };
    const catalogue = overlay([
      { movieId: 'n1', genres: ['Comedy', 'Horror'] },
      { movieId: 'n2', genres: ['Musical'] }, // no genre the model knows: nothing to score it by
      { movieId: 'm1', genres: ['Comedy'] }, // a trained item keeps its trained representation
      { movieId: 'n3', genres: ['Horror'], hidden: true },
    ], ['m4']);
    const cold = lightfm.coldItems(catalogue)!;
    expect(cold.ids).toEqual(['n1']);
    expect([...cold.vectors]).toEqual([1, 1]);
    const list = lightfm.recommend(comedyFan, ['m2'], 100, catalogue);
    const n1 = list.find((s) => s.movieId === 'n1');
    // (1, 0.5)·(1, 1) + 0.25 + 0 (genre biases 0)
    expect(n1?.score).toBeCloseTo(1.75, 6);
    expect(list[0].movieId).toBe('n1');
    expect(list.map((s) => s.movieId)).not.toContain('m4');
    expect(list.map((s) => s.movieId)).not.toContain('m2');
    expect(list.map((s) => s.movieId).sort()).toEqual(['m1', 'm3', 'm5', 'm6', 'n1']);
    expect(lightfm.recommend(comedyFan, ['n1'], 100, catalogue).map((s) => s.movieId)).not.toContain('n1');
    // Memoised per revision: a new revision is recomputed.
    expect(lightfm.coldItems(catalogue)).toBe(cold);
    expect(lightfm.coldItems(overlay([], [], 2))!.ids).toEqual([]);

    const als = await loadModel('als');
    expect(als.coldItems(catalogue)).toBeUndefined();
    expect(als.recommend({ vector: Float32Array.from([1, 0]), bias: 0 }, [], 100, catalogue).map((s) => s.movieId)).not.toContain('n1');
  });
});
