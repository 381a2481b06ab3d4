import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ObjectStore } from '../src/objectstore/types.js';
import { DirectoryObjectStore } from '../src/objectstore/directory-object-store.js';
import { S3ObjectStore } from '../src/objectstore/s3-object-store.js';
import { NotFoundError } from '../src/errors.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

/** The one contract every ObjectStore implementation passes. */
function objectStoreContract(makeStore: () => Promise<ObjectStore>): void {
  let store: ObjectStore;
  beforeAll(async () => {
    store = await makeStore();
    await store.ensureBucket();
    await store.ensureBucket(); // idempotent
  });

  it('round-trips binary objects bit-exactly', async () => {
    const floats = new Float32Array([1.5, -0.25, Math.PI, Number.MIN_VALUE]);
    const body = Buffer.from(floats.buffer);
    await store.put('models/als/v1/item_factors.f32', body);
    const back = await store.get('models/als/v1/item_factors.f32');
    expect(back.equals(body)).toBe(true);
    expect(Array.from(new Float32Array(back.buffer, back.byteOffset, back.length / 4))).toEqual(Array.from(floats));
  });

  it('overwrites, lists by prefix in order and removes', async () => {
    await store.put('models/als/ACTIVE', Buffer.from('v1'));
    await store.put('models/als/ACTIVE', Buffer.from('v2'));
    expect((await store.get('models/als/ACTIVE')).toString()).toBe('v2');
    await store.put('models/lightfm/v1/manifest.json', Buffer.from('{}'));
    expect(await store.list('models/als/')).toEqual(['models/als/ACTIVE', 'models/als/v1/item_factors.f32']);
    await store.remove(['models/als/ACTIVE', 'models/als/never-existed']);
    expect(await store.list('models/als/')).toEqual(['models/als/v1/item_factors.f32']);
    expect(await store.list('nothing/')).toEqual([]);
  });

  it('throws NotFoundError for a missing key', async () => {
    await expect(store.get('models/none/manifest.json')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
}

describe('DirectoryObjectStore', () => {
  let dir: string;
  objectStoreContract(async () => {
    dir = await mkdtemp(join(tmpdir(), 'recsys-objects-'));
    return new DirectoryObjectStore(join(dir, 'bucket'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  it('refuses keys that escape its folder', async () => {
    const store = new DirectoryObjectStore(join(dir, 'bucket'));
    await expect(store.put('../outside', Buffer.from('x'))).rejects.toThrow(/invalid object key/);
  });
  it('leaves no empty folders behind when removing (as S3 leaves no prefixes)', async () => {
    const store = new DirectoryObjectStore(join(dir, 'pruned'));
    await store.put('models/als/v1/manifest.json', Buffer.from('{}'));
    await store.put('models/als/v1/arrays.bin', Buffer.from('x'));
    await store.put('models/keep.txt', Buffer.from('k'));
    await store.remove(['models/als/v1/manifest.json', 'models/als/v1/arrays.bin']);
    expect(await readdir(join(dir, 'pruned', 'models'))).toEqual(['keep.txt']);
    await store.remove(['models/keep.txt']);
    expect(await readdir(join(dir, 'pruned'))).toEqual([]);
  });
});

describeWithServers(['S3_ENDPOINT'], 'S3ObjectStore (real S3 server)', () => {
  const env = realStorageEnv();
  objectStoreContract(async () =>
    new S3ObjectStore({
      endpoint: env.S3_ENDPOINT!,
      accessKey: env.S3_ACCESS_KEY,
      secretKey: env.S3_SECRET_KEY,
      bucket: env.S3_BUCKET,
      region: env.S3_REGION,
    }),
  );
});
