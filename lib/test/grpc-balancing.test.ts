import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { createLogger } from '../src/logger.js';
import { DirectoryObjectStore } from '../src/objectstore/directory-object-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { loadGatewayConfig } from '../../gateway/src/config.js';
import { Upstreams } from '../../gateway/src/upstreams.js';
import { loadRecsvcConfig } from '../../recsvc/src/config.js';
import { startRecsvc, type RunningRecsvc } from '../../recsvc/src/server.js';
import { seedServingWorld } from './support/fixtures.js';

/** ListGenres calls a recsvc replica has answered, read from its own /metrics. */
async function listGenresCalls(replica: RunningRecsvc): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('grpc_server_handling_seconds_count') && /ListGenres/i.test(l) && /code="OK"/.test(l));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}

describe('gateway upstreams: round robin over several recsvc replicas behind one target', () => {
  const log = createLogger('test', 'silent');
  const store = new MemoryStore();
  const cache = new MemoryCache();
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-rr-')));
  const replicas: RunningRecsvc[] = [];
  let upstreams: Upstreams;

  const listGenres = () => upstreams.call(upstreams.recommendations, upstreams.recommendations.listGenres, {}, 'rr-test');

  beforeAll(async () => {
    await objects.ensureBucket();
    await seedServingWorld(store);
    for (let i = 0; i < 3; i++) {
      const config = loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0', GRPC_MAX_CONNECTION_AGE_SECONDS: '0' });
      replicas.push(await startRecsvc(config, log, { store, cache, objects }));
    }
    // What the gateway does with RECSVC_ADDRESS: a multi-address target (as DNS returns for a scaled service).
    const config = loadGatewayConfig({ RECSVC_ADDRESS: `ipv4:${replicas.map((r) => `127.0.0.1:${r.port}`).join(',')}`, TRAINER_ADDRESS: '127.0.0.1:1' });
    upstreams = new Upstreams(config.RECSVC_ADDRESS, config.TRAINER_ADDRESS, 5_000);
  });

  afterAll(async () => {
    upstreams?.close();
    await Promise.all(replicas.map((r) => r.shutdown(1_000)));
  });

  it('spreads calls over every replica', async () => {
    // Until every replica has answered once (all three connections ready), then exactly round robin.
    for (let i = 0; i < 200 && (await Promise.all(replicas.map(listGenresCalls))).some((n) => n === 0); i++) await listGenres();
    const before = await Promise.all(replicas.map(listGenresCalls));
    for (let i = 0; i < 30; i++) await listGenres();
    const after = await Promise.all(replicas.map(listGenresCalls));
    const served = after.map((n, i) => n - before[i]!);
    expect(served.reduce((a, b) => a + b, 0)).toBe(30);
    // Round robin over three ready connections: every replica answers its share.
    for (const n of served) expect(n).toBe(10);
  });

  it('keeps serving when a replica shuts down, and when one dies abruptly with calls in flight', async () => {
    await replicas[0]!.shutdown(1_000);
    for (let i = 0; i < 10; i++) expect((await listGenres()).genres.length).toBeGreaterThan(0);
    // Kill the second replica's server without draining while calls are in flight: UNAVAILABLE calls are retried on the last one.
    const inFlight = Array.from({ length: 20 }, () => listGenres());
    replicas[1]!.server.forceShutdown();
    const results = await Promise.allSettled(inFlight);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    for (let i = 0; i < 10; i++) expect((await listGenres()).genres.length).toBeGreaterThan(0);
    expect(await listGenresCalls(replicas[2]!)).toBeGreaterThanOrEqual(10);
  });

  it('refuses a target that is not a gRPC address, naming the accepted forms', () => {
    expect(() => loadGatewayConfig({ RECSVC_ADDRESS: 'http://recsvc:50051' })).toThrow(/RECSVC_ADDRESS: must be host:port, dns:\/\/\/host:port/);
    for (const ok of ['recsvc:50051', 'dns:///recsvc:50051', 'ipv4:10.0.0.1:50051,10.0.0.2:50051', 'dns:///[::1]:50051', 'unix:/tmp/s.sock']) {
      expect(loadGatewayConfig({ RECSVC_ADDRESS: ok }).RECSVC_ADDRESS).toBe(ok);
    }
  });
});
