import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { createLogger } from '../src/logger.js';
import { DirectoryObjectStore } from '../src/objectstore/directory-object-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { Upstreams } from '../../gateway/src/upstreams.js';
import { loadRecsvcConfig } from '../../recsvc/src/config.js';
import { startRecsvc, type RunningRecsvc } from '../../recsvc/src/server.js';
import { seedServingWorld } from './support/fixtures.js';
import { freePort } from './support/processes.js';

describe('gateway upstreams: a restarted recsvc is used again at once', () => {
  const log = createLogger('test', 'silent');
  const store = new MemoryStore();
  const cache = new MemoryCache();
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-reconnect-')));
  let port: number;
  let recsvc: RunningRecsvc | undefined;
  let upstreams: Upstreams;
  const start = async () => {
    recsvc = await startRecsvc(loadRecsvcConfig({ RECSVC_HOST: '127.0.0.1', RECSVC_PORT: String(port), RECSVC_METRICS_PORT: '0' }), log, { store, cache, objects });
  };
  const listGenres = () => upstreams.call(upstreams.recommendations, upstreams.recommendations.listGenres, {}, 'reconnect-test');

  beforeAll(async () => {
    await objects.ensureBucket();
    await seedServingWorld(store);
    port = await freePort();
    await start();
    // A DNS name, as the gateway is configured in compose (dns:///recsvc:50051).
    upstreams = new Upstreams(`dns:///localhost:${port}`, '127.0.0.1:1', 5_000);
  });
  afterAll(async () => {
    upstreams?.close();
    await recsvc?.shutdown(1_000);
  });

  it('fails fast with UNAVAILABLE while it is down and reconnects within about a second of its restart', async () => {
    expect((await listGenres()).genres.length).toBeGreaterThan(0);
    await recsvc!.shutdown(1_000);
    recsvc = undefined;
    // Down for 5.5 s with calls failing meanwhile: grpc-js's default backoff (1 s, x1.6 ±20%, up to 120 s) would
    // next dial at 7.4-11 s, leaving the restarted server unused for 2-5 s; ours dials at least every 1.2 s.
    for (let i = 0; i < 11; i++) {
      await expect(listGenres()).rejects.toMatchObject({ code: status.UNAVAILABLE });
      await sleep(500);
    }
    await start();
    await expect
      .poll(() => listGenres().then(() => 'ok', (err: { code?: number }) => `failed ${err.code}`), { timeout: 1_500, interval: 50 })
      .toBe('ok');
  });
});
