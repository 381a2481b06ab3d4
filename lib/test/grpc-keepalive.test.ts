import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { listen, tcpRelay, type TcpRelay } from './support/tcp-relay.js';

describe('gateway upstreams: keepalive takes a frozen recsvc replica out of the rotation', () => {
  const log = createLogger('test', 'silent');
  const store = new MemoryStore();
  const cache = new MemoryCache();
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-keepalive-')));
  const replicas: RunningRecsvc[] = [];
  const relays: TcpRelay[] = [];
  let upstreams: Upstreams;
  const listGenres = (id: string) => upstreams.call(upstreams.recommendations, upstreams.recommendations.listGenres, {}, id);

  beforeAll(async () => {
    await objects.ensureBucket();
    await seedServingWorld(store);
    const ports: number[] = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      replicas.push(await startRecsvc(loadRecsvcConfig({ RECSVC_HOST: '127.0.0.1', RECSVC_PORT: String(port), RECSVC_METRICS_PORT: '0' }), log, { store, cache, objects }));
      const relay = tcpRelay(port);
      relays.push(relay);
      ports.push(await listen(relay.server));
    }
    // Two replicas behind one target, as `dns:///recsvc:50051` gives with two compose replicas. The deadline is long
    // so that a call held by the frozen replica would end DEADLINE_EXCEEDED well after keepalive has noticed it.
    upstreams = new Upstreams(`ipv4:${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, '127.0.0.1:1', 15_000);
  });
  afterAll(async () => {
    upstreams?.close();
    for (const relay of relays) await relay.close();
    for (const replica of replicas) await replica.shutdown(1_000);
  });

  it('calls in flight to the frozen replica fail over to the other one; none waits for its deadline', async () => {
    // Both connections up (round robin alternates), then one replica freezes with calls on their way to it.
    for (let i = 0; i < 4; i++) expect((await listGenres(`warm-${i}`)).genres.length).toBeGreaterThan(0);
    relays[0].freeze();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => listGenres(`frozen-${i}`).then(() => 'ok', (err: { code?: number; details?: string }) => `failed ${err.code} ${err.details}`)),
    );
    expect(results).toEqual(Array(6).fill('ok'));
    // New calls go to the replica that answers only.
    for (let i = 0; i < 4; i++) expect((await listGenres(`after-${i}`)).genres.length).toBeGreaterThan(0);
  }, 40_000);
});
