import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../../lib/src/cache/memory-cache.js';
import { UnavailableError } from '../../lib/src/errors.js';
import { checkHealth } from '../../lib/src/grpc/client.js';
import { createLogger } from '../../lib/src/logger.js';
import { DirectoryObjectStore } from '../../lib/src/objectstore/directory-object-store.js';
import { isDependencyNotReady, untilReady } from '../../lib/src/startup-retry.js';
import { Upstreams } from '../../gateway/src/upstreams.js';
import { describeWithServers, realStorageEnv } from '../../lib/test/support/servers.js';
import { freePort } from '../../lib/test/support/processes.js';
import { listen, tcpRelay, type TcpRelay } from '../../lib/test/support/tcp-relay.js';
import { loadRecsvcConfig } from '../src/config.js';
import { startRecsvc, type RunningRecsvc } from '../src/server.js';

describe('untilReady: start-up steps wait for a dependency that is not there yet', () => {
  it('retries dependency errors with a backoff and a warning each, and throws other errors at once', async () => {
    const warnings: unknown[] = [];
    const log = { warn: (fields: unknown) => warnings.push(fields), info: () => undefined } as never;
    let calls = 0;
    const value = await untilReady('MongoDB', async () => {
      calls++;
      if (calls < 3) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      return 'connected';
    }, log, { initialMs: 1, maxMs: 2 });
    expect(value).toBe('connected');
    expect(calls).toBe(3);
    expect(warnings).toMatchObject([{ what: 'MongoDB', attempt: 1, retryInMs: 1 }, { what: 'MongoDB', attempt: 2, retryInMs: 2 }]);
    await expect(untilReady('MongoDB', () => Promise.reject(new Error('Authentication failed')), log, { initialMs: 1, maxMs: 2 })).rejects.toThrow(/Authentication failed/);
    expect(isDependencyNotReady(new UnavailableError('x'))).toBe(true);
    expect(isDependencyNotReady(Object.assign(new Error('Server selection timed out after 500 ms'), { name: 'MongoServerSelectionError' }))).toBe(true);
    expect(isDependencyNotReady(new TypeError('x is undefined'))).toBe(false);
  });
});

describeWithServers(['MONGO_URL'], 'recsvc waits for a MongoDB that is not up yet (NOT_SERVING meanwhile) instead of exiting', () => {
  const env = realStorageEnv();
  const target = new URL(env.MONGO_URL!);
  let relay: TcpRelay | undefined;
  let recsvc: RunningRecsvc | undefined;
  let upstreams: Upstreams | undefined;
  afterAll(async () => {
    upstreams?.close();
    await recsvc?.shutdown(1_000);
    await relay?.close();
    const client = new MongoClient(env.MONGO_URL!);
    await client.db(env.MONGO_DB).dropDatabase().catch(() => undefined);
    await client.close();
  });

  it('listens at once with health NOT_SERVING and calls UNAVAILABLE, then serves once MongoDB comes up', async () => {
    // MongoDB's address: a relay to the real server that closes every connection until it is up.
    relay = tcpRelay(Number(target.port), target.hostname);
    relay.down();
    const mongoPort = await listen(relay.server);
    const recsvcPort = await freePort();
    const config = loadRecsvcConfig({
      ...env,
      MONGO_URL: `mongodb://127.0.0.1:${mongoPort}/?directConnection=true`,
      MONGO_TIMEOUT_MS: '500',
      RECSVC_HOST: '127.0.0.1',
      RECSVC_PORT: String(recsvcPort),
      RECSVC_METRICS_PORT: '0',
      LOG_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'recsys-startup-spool-')),
    });
    const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-startup-')));
    await objects.ensureBucket();
    const warnings: unknown[] = [];
    const log = createLogger('test', 'silent');
    const spy = Object.assign(Object.create(log), { warn: (fields: unknown, msg?: string) => warnings.push({ fields, msg }), child: () => spy }) as typeof log;
    const starting = startRecsvc(config, spy, { cache: new MemoryCache(), objects, startupRetry: { initialMs: 100, maxMs: 400 } });
    let started: RunningRecsvc | undefined;
    void starting.then((r) => (started = r), () => undefined);

    // Listening, not serving: the health check says so and a call answers UNAVAILABLE (the gateway's 503), not a refusal.
    await expect.poll(() => warnings.length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    expect(started).toBeUndefined();
    expect(await checkHealth(`127.0.0.1:${recsvcPort}`, 2_000)).toBe(false);
    upstreams = new Upstreams(`127.0.0.1:${recsvcPort}`, '127.0.0.1:1', 5_000);
    const err = await upstreams.call(upstreams.recommendations, upstreams.recommendations.listGenres, {}, 'startup-test').then(() => undefined, (e: { code?: number; details?: string }) => e);
    expect(err).toMatchObject({ code: status.UNAVAILABLE, details: expect.stringMatching(/starting/) });
    expect(warnings[0]).toMatchObject({ fields: { what: 'MongoDB', attempt: 1 }, msg: expect.stringMatching(/not ready; retrying/) });

    // MongoDB comes up: recsvc finishes starting by itself and serves.
    relay.up();
    recsvc = await starting;
    expect(await checkHealth(`127.0.0.1:${recsvcPort}`, 2_000)).toBe(true);
    const genres = await upstreams.call(upstreams.recommendations, upstreams.recommendations.listGenres, {}, 'startup-test');
    expect(Array.isArray(genres.genres)).toBe(true);
  }, 90_000);
});
