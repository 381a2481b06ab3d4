import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryCache } from '../../lib/src/cache/memory-cache.js';
import { createLogger } from '../../lib/src/logger.js';
import { catalogueFingerprint, catalogueMismatch, dataDifference, type DataFingerprint } from '../../lib/src/models/fingerprint.js';
import { ARTIFACT_ID_MAPS } from '../../lib/src/models/layout.js';
import { ModelRegistry } from '../../lib/src/models/registry.js';
import { DirectoryObjectStore } from '../../lib/src/objectstore/directory-object-store.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { MOVIES, publishServingModel, seedServingWorld } from '../../lib/test/support/fixtures.js';
import { ModelHolder } from '../src/model-holder.js';

/**
 * The rule recsvc applies before serving a version (lib/src/models/fingerprint.ts): refused exactly when a movie the
 * version scores is gone from the store or has another title; movies added since and versions without fingerprint
 * are served; a refused version is served once the store holds its catalogue again.
 */
describe('serving only versions trained on the catalogue the store holds', () => {
  let dir: string;
  let store: MemoryStore;
  let objects: DirectoryObjectStore;
  let holder: ModelHolder;
  const ids = MOVIES.map((m) => m.movieId);

  const fingerprintOfStore = async (): Promise<DataFingerprint> => ({
    catalogue: (await catalogueFingerprint(store, ids)).fingerprint,
    movies: await store.count('movies'),
    watched: await store.count('watched_movies'),
    likes: await store.count('likes'),
    bookmarks: await store.count('bookmarks'),
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recsys-fingerprint-'));
    store = new MemoryStore();
    await seedServingWorld(store);
    objects = new DirectoryObjectStore(join(dir, 'objects'));
    await objects.ensureBucket();
    holder = new ModelHolder(new ModelRegistry(objects), new MemoryCache(), createLogger('test', 'silent'), 3_600_000, {}, (artifact) =>
      catalogueMismatch(store, artifact.manifest.data, artifact.idMaps[ARTIFACT_ID_MAPS.items] ?? []),
    );
  });
  afterEach(async () => {
    await holder.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves a version whose catalogue fingerprint matches, also after movies were added', async () => {
    const version = await publishServingModel(objects, 'als', { data: await fingerprintOfStore() });
    await store.insertMany('movies', [{ movieId: 'm7', title: 'New Release', year: 2026, genres: ['Drama'], rating: 7, popularity: 0 }]);
    await holder.start();
    expect(holder.current('als')?.version).toBe(version);
    expect(holder.refusal('als')).toBeUndefined();
  });

  it('refuses a version trained on another catalogue (same ids, other titles), and serves it once the store holds that catalogue', async () => {
    const data = await fingerprintOfStore();
    const version = await publishServingModel(objects, 'als', { data });
    await store.clear();
    await store.insertMany('movies', MOVIES.map((m) => ({ ...m, title: `Another ${m.title}` })));
    await holder.start();
    expect(holder.current('als')).toBeUndefined();
    expect(holder.refusal('als')).toEqual({ version, reason: expect.stringContaining('trained on another catalogue: titles differ') });

    await seedServingWorld(store);
    await holder.checkActive('als');
    expect(holder.current('als')?.version).toBe(version);
    expect(holder.refusal('als')).toBeUndefined();
  });

  it('refuses a version some of whose movies are gone, naming how many', async () => {
    const version = await publishServingModel(objects, 'lightfm', { data: await fingerprintOfStore() });
    await store.clear();
    await store.insertMany('movies', MOVIES.slice(0, 4));
    await holder.start();
    expect(holder.current('lightfm')).toBeUndefined();
    expect(holder.refusal('lightfm')).toEqual({ version, reason: expect.stringContaining('2 of its 6 movies are not in the store') });
  });

  it('keeps the current version when a newly activated one was trained on another catalogue', async () => {
    const good = await publishServingModel(objects, 'als', { data: await fingerprintOfStore(), second: 1 });
    await holder.start();
    const other = await publishServingModel(objects, 'als', { data: { ...(await fingerprintOfStore()), catalogue: 'f'.repeat(64) }, second: 2 });
    await holder.checkActive('als');
    expect(holder.current('als')?.version).toBe(good);
    expect(holder.refusal('als')?.version).toBe(other);
  });

  it('serves a version without fingerprint (made before the field existed)', async () => {
    const version = await publishServingModel(objects, 'als');
    await store.clear();
    await holder.start();
    expect(holder.current('als')?.version).toBe(version);
  });

  it('says how the data differs from what a version was trained on (the demo retrains then)', async () => {
    const data = await fingerprintOfStore();
    expect(await dataDifference(store, data, ids)).toBeNull();
    await store.insertMany('likes', [{ userId: 'u1', movieId: 'm2', rating: 8, likedAt: new Date() }]);
    expect(await dataDifference(store, data, ids)).toBe('the data changed since (likes 1 → 2)');
    expect(await dataDifference(store, undefined, ids)).toMatch(/no data fingerprint/);
    await store.clear();
    expect(await dataDifference(store, data, ids)).toMatch(/trained on another catalogue: 6 of its 6 movies are not in the store/);
  });
});
