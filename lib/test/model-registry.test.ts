import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryObjectStore } from '../src/objectstore/directory-object-store.js';
import { S3ObjectStore } from '../src/objectstore/s3-object-store.js';
import type { ObjectStore } from '../src/objectstore/types.js';
import { CorruptModelError, InsaneModelError, ModelRegistry } from '../src/models/registry.js';
import { insanityReason } from '../src/models/sanity.js';
import { newVersion } from '../src/models/artifact.js';
import { NotFoundError } from '../src/errors.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

function base(version: string) {
  return {
    modelType: 'als' as const,
    version,
    createdAt: new Date().toISOString(),
    params: { factors: 2 },
    dataStats: { users: 2, items: 3 },
    metrics: { ndcgAt10: 0.25 },
    dimensions: { users: 2, items: 3, factors: 2 },
  };
}
const arrays = () => ({
  userVectors: new Float32Array([0.1, -0.2, 1e-7, 0.5]),
  itemVectors: new Float32Array([1, 2, 3, 4, 5, 6]),
  edgeValues: new Float32Array([3.4028234e38, -1e-45, 0]),
  itemGenres: new Int32Array([0, -1, 2147483647]),
});
const idMaps = { users: ['u1', 'u2'], items: ['m1', 'm2', 'm3'] };

/** Versions sort by creation time; make them a second apart. */
const versionAt = (second: number) => newVersion(new Date(Date.UTC(2026, 10, 24, 0, 0, second)));

function registryContract(makeObjects: () => Promise<ObjectStore>) {
  let objects: ObjectStore;
  let registry: ModelRegistry;
  beforeEach(async () => {
    objects = await makeObjects();
    await objects.ensureBucket();
    await objects.remove(await objects.list('models/'));
    registry = new ModelRegistry(objects);
  });

  it('publishes, activates and reloads a version bit-exactly', async () => {
    const version = versionAt(1);
    const manifest = await registry.publish(base(version), arrays(), idMaps);
    expect(manifest.files.map((f) => f.name).sort()).toEqual(['edgeValues', 'itemGenres', 'itemVectors', 'items', 'userVectors', 'users']);
    expect(await registry.activeVersion('als')).toBeNull();
    await registry.activate('als', version);
    expect(await registry.activeVersion('als')).toBe(version);
    const loaded = await registry.load('als', version);
    expect(loaded.arrays.userVectors).toEqual(arrays().userVectors);
    expect(loaded.arrays.edgeValues).toEqual(arrays().edgeValues);
    expect(loaded.arrays.itemGenres).toBeInstanceOf(Int32Array);
    expect(Array.from(loaded.arrays.itemGenres)).toEqual([0, -1, 2147483647]);
    expect(loaded.idMaps).toEqual(idMaps);
    expect(loaded.manifest.metrics).toEqual({ ndcgAt10: 0.25 });
  });

  it('refuses a corrupted artifact on load and on activation, keeping the old pointer', async () => {
    const good = versionAt(1);
    const bad = versionAt(2);
    await registry.publish(base(good), arrays(), idMaps);
    await registry.activate('als', good);
    await registry.publish(base(bad), arrays(), idMaps);
    await objects.put(`models/als/${bad}/itemVectors.f32`, Buffer.from(new Float32Array([9, 9, 9, 9, 9, 9]).buffer));
    await expect(registry.load('als', bad)).rejects.toBeInstanceOf(CorruptModelError);
    await expect(registry.activate('als', bad)).rejects.toThrow(/checksum of itemVectors/);
    expect(await registry.activeVersion('als')).toBe(good);
    const incomplete = versionAt(3);
    await registry.publish(base(incomplete), arrays(), idMaps);
    await objects.remove([`models/als/${incomplete}/users.ids.txt`]);
    await expect(registry.load('als', incomplete)).rejects.toThrow(/users is missing/);
  });

  it.each([
    ['a NaN factor', { userVectors: new Float32Array([0.1, NaN, 0, 0.5]) }, /userVectors\[1\] is NaN/],
    ['an infinite factor', { itemVectors: new Float32Array([1, 2, Infinity, 4, 5, 6]) }, /itemVectors\[2\] is Infinity/],
    ['absurd scores', { userVectors: new Float32Array([1e3, 0, 0, 1e3]), itemVectors: new Float32Array([1e3, 0, 0, 1e3, 1, 1]) }, /scores reach up to 1\.00e\+6/],
    ['no item vectors', { itemVectors: new Float32Array(6) }, /every item vector and bias is zero/],
  ])('never activates a version with %s, also not by hand: FAILED_PRECONDITION, old pointer kept', async (_name, patch, reason) => {
    const good = versionAt(1);
    const bad = versionAt(2);
    await registry.publish(base(good), arrays(), idMaps);
    await registry.activate('als', good);
    await registry.publish(base(bad), { ...arrays(), ...patch }, idMaps);
    const err = await registry.activate('als', bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsaneModelError);
    expect((err as InsaneModelError).code).toBe('FAILED_PRECONDITION');
    expect((err as Error).message).toMatch(reason);
    expect(await registry.activeVersion('als')).toBe(good);
  });

  it('rejects non-finite metrics as insane', () => {
    const manifest = { metrics: { ndcgAt10: NaN }, dimensions: { factors: 2 } };
    expect(insanityReason(manifest, arrays())).toMatch(/metric ndcgAt10 is NaN/);
    expect(insanityReason({ ...manifest, metrics: { ndcgAt10: 0.3 } }, arrays())).toBeNull();
  });

  it('never exposes a half-written version, and a failed upload leaves the pointer alone', async () => {
    const good = versionAt(1);
    await registry.publish(base(good), arrays(), idMaps);
    await registry.activate('als', good);
    let puts = 0;
    const failing: ObjectStore = {
      ...objects,
      ensureBucket: () => objects.ensureBucket(),
      get: (k) => objects.get(k),
      list: (p) => objects.list(p),
      remove: (k) => objects.remove(k),
      ping: () => objects.ping(),
      put: async (key, body) => {
        if (++puts === 3) throw new Error('connection reset');
        await objects.put(key, body);
      },
    };
    const broken = versionAt(2);
    await expect(new ModelRegistry(failing).publish(base(broken), arrays(), idMaps)).rejects.toThrow('connection reset');
    expect((await registry.list('als')).map((m) => m.version)).toEqual([good]);
    expect(await registry.activeVersion('als')).toBe(good);
    await expect(registry.activate('als', broken)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists newest first and prunes old versions, never the active one', async () => {
    const versions = [1, 2, 3, 4].map(versionAt);
    for (const v of versions) await registry.publish(base(v), arrays(), idMaps);
    await registry.activate('als', versions[0]);
    // A half-written version older than the newest complete one is garbage.
    const stale = versionAt(0);
    await objects.put(`models/als/${stale}/userVectors.f32`, Buffer.alloc(8));
    expect((await registry.list('als')).map((m) => m.version)).toEqual([...versions].reverse());
    const removed = await registry.prune('als', 2);
    expect(removed).toEqual([stale, versions[1]]);
    expect((await registry.list('als')).map((m) => m.version)).toEqual([versions[3], versions[2], versions[0]]);
    await expect(registry.prune('als', 0)).rejects.toThrow(/keep must be at least 1/);
  });

  it('answers NOT_FOUND and INVALID_ARGUMENT for unknown or malformed versions', async () => {
    await expect(registry.manifest('als', versionAt(9))).rejects.toBeInstanceOf(NotFoundError);
    await expect(registry.manifest('als', '../../etc')).rejects.toThrow(/invalid model version/);
  });
}

describe('ModelRegistry on a local folder', () => {
  let dir: string;
  registryContract(async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'recsys-registry-'));
    return new DirectoryObjectStore(dir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
});

describeWithServers(['S3_ENDPOINT'], 'ModelRegistry on a real S3 server', () => {
  const env = realStorageEnv();
  registryContract(
    async () =>
      new S3ObjectStore({
        endpoint: env.S3_ENDPOINT!,
        accessKey: env.S3_ACCESS_KEY,
        secretKey: env.S3_SECRET_KEY,
        bucket: env.S3_BUCKET,
        region: env.S3_REGION,
      }),
  );
});
