import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, expect, it } from 'vitest';
import { MemoryCache } from '../../lib/src/cache/memory-cache.js';
import { createLogger } from '../../lib/src/logger.js';
import { DirectoryObjectStore } from '../../lib/src/objectstore/directory-object-store.js';
import { describeWithServers, realStorageEnv } from '../../lib/test/support/servers.js';
import { listen, tcpRelay, type TcpRelay } from '../../lib/test/support/tcp-relay.js';
import { loadTrainerConfig } from '../src/config.js';
import { createTrainerRuntime, type TrainerRuntime } from '../src/runtime.js';

describeWithServers(['MONGO_URL'], 'the trainer waits for a MongoDB that is not up yet instead of exiting', () => {
  const env = realStorageEnv();
  const target = new URL(env.MONGO_URL!);
  let relay: TcpRelay | undefined;
  let runtime: TrainerRuntime | undefined;
  afterAll(async () => {
    await runtime?.close();
    await relay?.close();
    const client = new MongoClient(env.MONGO_URL!);
    await client.db(`${env.MONGO_DB}_startup`).dropDatabase().catch(() => undefined);
    await client.close();
  });

  it('retries with a warning per attempt, then starts once MongoDB comes up', async () => {
    // MongoDB's address: a relay to the real server that closes every connection until it is up.
    relay = tcpRelay(Number(target.port), target.hostname);
    relay.down();
    const mongoPort = await listen(relay.server);
    const config = loadTrainerConfig({
      MONGO_URL: `mongodb://127.0.0.1:${mongoPort}/?directConnection=true`,
      MONGO_DB: `${env.MONGO_DB}_startup`,
      MONGO_TIMEOUT_MS: '500',
      TRAIN_CRON: 'off',
      REFRESH_CRON: 'off',
    });
    const warnings: { fields: unknown; msg?: string }[] = [];
    const log = createLogger('test', 'silent');
    const spy = Object.assign(Object.create(log), { warn: (fields: unknown, msg?: string) => warnings.push({ fields, msg }), child: () => spy }) as typeof log;
    const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-trainer-startup-')));
    const starting = createTrainerRuntime(config, spy, { cache: new MemoryCache(), objects, startupRetry: { initialMs: 100, maxMs: 400 } });
    let started = false;
    void starting.then(() => (started = true), () => undefined);

    await expect.poll(() => warnings.length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    expect(started).toBe(false);
    expect(warnings[0]).toMatchObject({ fields: { what: 'MongoDB', attempt: 1 }, msg: expect.stringMatching(/not ready; retrying/) });

    relay.up();
    runtime = await starting;
    expect(await runtime.store.count('movies')).toBe(0);
  }, 90_000);
});
