import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDataLoadLock, MongoDataLoadLock, type DataLoadLock } from '../../lib/src/bootstrap-lock.js';
import { TrainerServiceClient } from '../../lib/src/proto.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { MongoStore } from '../../lib/src/store/mongo-store.js';
import type { Store } from '../../lib/src/store/types.js';
import { describeWithServers, realStorageEnv } from '../../lib/test/support/servers.js';
import { startStack, TEST_API_KEY, type TestStack } from '../../lib/test/support/stack.js';
import { sendApiKey } from '../../lib/src/grpc/auth.js';
import { loadBootstrapConfig, main, runBootstrap, type BootstrapConfig, type BootstrapDeps } from '../bootstrap.js';

// Small data and quick hyper-parameters: the test checks the bootstrap's logic, not model quality.
const DEMO = { users: 120, movies: 150, interactions: 3_000, seed: 7 };
const QUICK_TRAINING = {
  ALS_FACTORS: '8',
  ALS_ITERATIONS: '2',
  WARP_COMPONENTS: '8',
  WARP_EPOCHS: '2',
  REFIT_ON_ALL_DATA: 'false',
  REFRESH_AFTER_PROMOTION: 'false',
  TRAIN_THREADS: '1',
};

function configFor(trainerAddress: string, extra: Record<string, string> = {}): BootstrapConfig {
  return loadBootstrapConfig({ MONGO_URL: 'mongodb://unused:1/', MONGO_DB: 'unused', TRAINER_ADDRESS: trainerAddress, BOOTSTRAP_API_KEY: TEST_API_KEY, BOOTSTRAP_POLL_MS: '50', ...extra });
}

/** The bootstrap against one stack's trainer, with a store and a data-load marker of the caller's choice. */
function bootstrapSuite(title: string, open: () => Promise<{ store: Store; lock: () => Promise<DataLoadLock>; cleanup: () => Promise<void> }>) {
  describe(title, () => {
    let stack: TestStack;
    let store: Store;
    let makeLock: () => Promise<DataLoadLock>;
    let cleanup: () => Promise<void>;
    const opened: { lock: DataLoadLock; trainer: TrainerServiceClient }[] = [];
    const lines: string[] = [];

    async function deps(owner: string): Promise<BootstrapDeps> {
      const lock = await makeLock();
      const trainer = new TrainerServiceClient(stack.trainerAddress, grpc.credentials.createInsecure(), { interceptors: [sendApiKey(TEST_API_KEY)] });
      opened.push({ lock, trainer });
      return { store, lock, trainer, owner, demoData: DEMO, say: (line) => lines.push(`${owner}: ${line}`) };
    }

    beforeAll(async () => {
      ({ store, lock: makeLock, cleanup } = await open());
      stack = await startStack(store, { trainerEnv: QUICK_TRAINING });
    });
    afterAll(async () => {
      for (const { lock, trainer } of opened) {
        trainer.close();
        await lock.close();
      }
      await stack?.close();
      await cleanup?.();
    });

    it('two copies started together load the data once, train once, and both end with both models active', async () => {
      const config = configFor(stack.trainerAddress);
      const [a, b] = await Promise.all([runBootstrap(config, await deps('a')), runBootstrap(config, await deps('b'))]);
      expect([a.data, b.data].sort()).toEqual(['loaded', 'waited']);
      expect(await store.count('movies')).toBe(DEMO.movies);
      expect(await store.count('users')).toBe(DEMO.users);
      expect(a.runId).toBeTruthy();
      expect(b.runId).toBe(a.runId); // StartTraining returned the run already queued
      expect(a.active).toEqual(b.active);
      expect(Object.keys(a.active).sort()).toEqual(['als', 'lightfm']);
    }, 300_000); // loading and training on FerretDB (SQLite) under a busy CI machine: minutes, not a timing assertion

    it('a re-run changes nothing: the data is kept and no training starts', async () => {
      const before = await store.count('watched_movies');
      const again = await runBootstrap(configFor(stack.trainerAddress), await deps('c'));
      expect(again.data).toBe('present');
      expect(again.runId).toBeUndefined();
      expect(await store.count('watched_movies')).toBe(before);
      expect(lines.some((l) => l.startsWith('c: both models are active'))).toBe(true);
    });
  });
}

bootstrapSuite('bootstrap on the embedded stack', async () => {
  const lock = new MemoryDataLoadLock(60_000);
  // One marker shared by both copies, as the one MongoDB document is.
  return { store: new MemoryStore(), lock: async () => lock, cleanup: async () => {} };
});

describeWithServers(['MONGO_URL'], 'bootstrap on real MongoDB', () => {
  bootstrapSuite('with the MongoDB marker', async () => {
    const env = realStorageEnv();
    const store = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
    await store.init();
    return {
      store,
      lock: () => MongoDataLoadLock.connect(env.MONGO_URL!, env.MONGO_DB, 60_000),
      cleanup: async () => {
        await store.dropDatabase();
        await store.close();
      },
    };
  });
});

describe('bootstrap failures', () => {
  it('a failed load marks the marker failed; the next run takes over, clears the half-written data and loads', async () => {
    const store = new MemoryStore();
    const lock = new MemoryDataLoadLock(60_000);
    const badDir = mkdtempSync(join(tmpdir(), 'recsys-bootstrap-'));
    writeFileSync(join(badDir, 'u.item'), '1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n');
    writeFileSync(join(badDir, 'u.data'), '1\t1\t5\t874965758\nnot a rating line\n');
    const unreachable = new TrainerServiceClient('127.0.0.1:1', grpc.credentials.createInsecure());
    const deps: BootstrapDeps = { store, lock, trainer: unreachable, owner: 'x', demoData: DEMO, say: () => {} };
    await expect(runBootstrap(configFor('127.0.0.1:1', { BOOTSTRAP_MOVIELENS_DIR: badDir }), deps)).rejects.toThrow(/^loading the data failed: u\.data line 2/);
    expect((await lock.read())?.state).toBe('failed');
    // A half-written earlier load: the taker-over resets the store before loading.
    await store.insertMany('movies', [{ movieId: 'stale', title: 'half', year: 2000, genres: [], rating: 0, popularity: 0 } as never]);
    const takeover = runBootstrap(configFor('127.0.0.1:1', { BOOTSTRAP_TIMEOUT_SECONDS: '1' }), { ...deps, owner: 'y' });
    await expect(takeover).rejects.toThrow(/^the trainer at 127\.0\.0\.1:1 did not answer within BOOTSTRAP_TIMEOUT_SECONDS \(1 s\)/);
    expect(await lock.read()).toMatchObject({ state: 'done', owner: 'y', source: 'demo' });
    expect(await store.count('movies')).toBe(DEMO.movies);
    unreachable.close();
  });

  it('waits for a live load by another copy, and takes over one whose heartbeat went stale', async () => {
    let now = new Date('2026-11-29T00:00:00Z');
    const lock = new MemoryDataLoadLock(60_000, { now: () => now });
    expect(await lock.acquire('a')).toEqual({ outcome: 'acquired', reset: false });
    expect(await lock.acquire('b')).toMatchObject({ outcome: 'held' });
    now = new Date(now.getTime() + 30_000);
    expect(await lock.heartbeat('a')).toBe(true);
    now = new Date(now.getTime() + 59_000);
    expect(await lock.acquire('b')).toMatchObject({ outcome: 'held' });
    now = new Date(now.getTime() + 2_000);
    expect(await lock.acquire('b')).toEqual({ outcome: 'acquired', reset: true });
    expect(await lock.heartbeat('a')).toBe(false); // the old owner lost it
    await lock.complete('b', 'demo');
    expect(await lock.acquire('c')).toMatchObject({ outcome: 'done' });
  });

  it('the command exits 2 naming every missing variable, 1 with a one-line reason', async () => {
    const io = () => {
      const out = { stdout: '', stderr: '' };
      return { out, io: { stdout: { write: (s: string) => (out.stdout += s, true) }, stderr: { write: (s: string) => (out.stderr += s, true) } } as never };
    };
    const missing = io();
    expect(await main({}, missing.io)).toBe(2);
    expect(missing.out.stderr).toMatch(/MONGO_URL.*MONGO_DB.*TRAINER_ADDRESS/s);
    expect(missing.out.stderr).toMatch(/BOOTSTRAP_API_KEY/);
    const unreachable = io();
    expect(await main({ MONGO_URL: 'mongodb://127.0.0.1:1/', MONGO_DB: 'x', TRAINER_ADDRESS: '127.0.0.1:1', BOOTSTRAP_API_KEY: 'k', BOOTSTRAP_TIMEOUT_SECONDS: '1' }, unreachable.io)).toBe(1);
    expect(unreachable.out.stderr.trim().split('\n')).toHaveLength(1);
    expect(unreachable.out.stderr).toMatch(/^bootstrap: /);
  });
});

describeWithServers(['MONGO_URL'], 'bootstrap marker on real MongoDB', () => {
  it('of several copies racing for the marker exactly one acquires it; a stale load is taken over by one', async () => {
    const env = realStorageEnv();
    let now = new Date('2026-11-29T00:00:00Z');
    const clock = { now: () => now };
    const locks = await Promise.all([0, 1, 2, 3].map(() => MongoDataLoadLock.connect(env.MONGO_URL!, env.MONGO_DB, 60_000, clock)));
    try {
      const results = await Promise.all(locks.map((l, i) => l.acquire(`copy${i}`)));
      expect(results.filter((r) => r.outcome === 'acquired')).toHaveLength(1);
      expect(results.filter((r) => r.outcome === 'held')).toHaveLength(3);
      now = new Date(now.getTime() + 61_000);
      const takeovers = await Promise.all(locks.map((l, i) => l.acquire(`late${i}`)));
      expect(takeovers.filter((r) => r.outcome === 'acquired')).toEqual([{ outcome: 'acquired', reset: true }]);
      const winner = takeovers.findIndex((r) => r.outcome === 'acquired');
      await locks[winner]!.complete(`late${winner}`, 'demo');
      expect((await locks[0]!.acquire('again')).outcome).toBe('done');
    } finally {
      const { MongoClient } = await import('mongodb');
      const client = await MongoClient.connect(env.MONGO_URL!);
      await client.db(env.MONGO_DB).dropDatabase();
      await client.close();
      await Promise.all(locks.map((l) => l.close()));
    }
  });
});
