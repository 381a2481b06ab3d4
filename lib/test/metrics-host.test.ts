import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { createLogger } from '../src/logger.js';
import { DirectoryObjectStore } from '../src/objectstore/directory-object-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { loadRecsvcConfig } from '../../recsvc/src/config.js';
import { startRecsvc } from '../../recsvc/src/server.js';
import { loadTrainerConfig } from '../../trainer/src/config.js';
import { startTrainerApi } from '../../trainer/src/server.js';
import { startWorkerProcess } from '../../trainer/src/worker-process.js';
import { loadConsumerConfig } from '../../recsvc/src/consumer/config.js';
import { createMetricsRegistry, startMetricsServer } from '../src/metrics.js';

// 127.0.0.2 is a loopback address distinct from 127.0.0.1: a listener bound to it is not reachable on 127.0.0.1,
// which shows that METRICS_HOST (and not the gRPC host or a hard-coded one) is what the listener binds.
const METRICS_HOST = '127.0.0.2';

/**
 * True when our /metrics answers at host:port. Another test's listener may hold the same port number on the other
 * address (bind to port 0 picks per address) and never answer: a bounded wait counts that as not reachable.
 */
async function reachable(host: string, port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return res.ok && (await res.text()).includes('process_cpu_user_seconds_total');
  } catch {
    return false;
  }
}

describe('every service binds its /metrics listener to METRICS_HOST', () => {
  const log = createLogger('test', 'silent');
  const deps = () => ({ store: new MemoryStore(), cache: new MemoryCache(), objects: new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-metrics-'))) });
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers) await close();
  });

  it('recsvc', async () => {
    const recsvc = await startRecsvc(loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0', METRICS_HOST }), log, deps());
    closers.push(() => recsvc.shutdown(1_000));
    expect(await reachable(METRICS_HOST, recsvc.metricsPort)).toBe(true);
    expect(await reachable('127.0.0.1', recsvc.metricsPort)).toBe(false);
  });

  it('the trainer API', async () => {
    const trainer = await startTrainerApi(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', METRICS_HOST, TRAIN_CRON: 'off', REFRESH_CRON: 'off' }), log, deps());
    closers.push(() => trainer.shutdown(1_000));
    expect(await reachable(METRICS_HOST, trainer.metricsPort)).toBe(true);
    expect(await reachable('127.0.0.1', trainer.metricsPort)).toBe(false);
  });

  it('the trainer worker', async () => {
    const worker = await startWorkerProcess(loadTrainerConfig({ TRAINER_METRICS_PORT: '0', METRICS_HOST, TRAIN_CRON: 'off', REFRESH_CRON: 'off' }), log, deps());
    closers.push(() => worker.close());
    expect(await reachable(METRICS_HOST, worker.metricsPort)).toBe(true);
    expect(await reachable('127.0.0.1', worker.metricsPort)).toBe(false);
  });

  it('the events consumer (METRICS_HOST, and GET /health answering 200 or 503 from its health)', async () => {
    const config = loadConsumerConfig({ KAFKA_BROKERS: '127.0.0.1:9092', METRICS_HOST });
    expect(config.METRICS_HOST).toBe(METRICS_HOST);
    expect(loadConsumerConfig({ KAFKA_BROKERS: '127.0.0.1:9092' }).METRICS_HOST).toBe('127.0.0.1');
    let state: { healthy: boolean; reason?: string } = { healthy: false, reason: 'not in the consumer group' };
    const server = await startMetricsServer(createMetricsRegistry('events-consumer'), config.METRICS_HOST, 0, () => state);
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    expect(await reachable(METRICS_HOST, server.port)).toBe(true);
    expect(await reachable('127.0.0.1', server.port)).toBe(false);
    const health = await fetch(`http://${METRICS_HOST}:${server.port}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual(state);
    state = { healthy: true };
    expect((await fetch(`http://${METRICS_HOST}:${server.port}/health`)).status).toBe(200);
  });

  it('defaults to 127.0.0.1 and refuses a value that is not an address, in every service config', () => {
    expect(loadRecsvcConfig({}).METRICS_HOST).toBe('127.0.0.1');
    expect(loadTrainerConfig({}).METRICS_HOST).toBe('127.0.0.1');
    expect(loadTrainerConfig({ METRICS_HOST: '0.0.0.0' }).METRICS_HOST).toBe('0.0.0.0');
    expect(loadTrainerConfig({ METRICS_HOST: 'trainer-worker' }).METRICS_HOST).toBe('trainer-worker');
    expect(() => loadRecsvcConfig({ METRICS_HOST: 'http://0.0.0.0' })).toThrow(/METRICS_HOST: must be an IP address/);
    expect(() => loadTrainerConfig({ METRICS_HOST: '0.0.0.0:9465' })).toThrow(/METRICS_HOST: must be an IP address/);
  });
});
