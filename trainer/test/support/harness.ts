import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryCache } from '../../../lib/src/cache/memory-cache.js';
import type { Cache } from '../../../lib/src/cache/types.js';
import { generateData } from '../../../lib/src/data/generate.js';
import { createLogger } from '../../../lib/src/logger.js';
import { MODEL_ACTIVATED_CHANNEL, type ModelActivatedMessage } from '../../../lib/src/models/registry.js';
import { DirectoryObjectStore } from '../../../lib/src/objectstore/directory-object-store.js';
import type { ObjectStore } from '../../../lib/src/objectstore/types.js';
import { MemoryStore } from '../../../lib/src/store/memory-store.js';
import type { Store } from '../../../lib/src/store/types.js';
import { connectRealBackends, dropTestDatabase } from '../../../lib/test/support/servers.js';
import { loadTrainerConfig, type TrainerConfig } from '../../src/config.js';
import type { ModelCore } from '../../src/model-core.js';
import { createTrainerRuntime, type TrainerRuntime } from '../../src/runtime.js';
import type { TrainerService, TrainingRunView } from '../../src/trainer-service.js';
import { TrainerService as Service } from '../../src/trainer-service.js';
import { startTrainerWorker, type RunningWorker } from '../../src/worker.js';

export const silentLog = createLogger('trainer-test', 'silent');

/** Tiny models and quick retries: the whole trainer suite stays well under a minute on two cores. */
export const FAST_ENV: Record<string, string> = {
  ALS_FACTORS: '8',
  ALS_ITERATIONS: '3',
  WARP_COMPONENTS: '8',
  WARP_EPOCHS: '3',
  TUNE_MAX_TRIALS: '3',
  TRAIN_THREADS: '1',
  JOB_BACKOFF_MS: '100',
  SCAN_BATCH_SIZE: '500',
  REFRESH_CHUNK_USERS: '16',
  REFRESH_AFTER_PROMOTION: 'false',
  WORKER_SHUTDOWN_GRACE_MS: '2000',
};

/** Storage backends for one test: embedded, or the real servers with a database, bucket and queue prefix of its own. */
export interface Backends {
  readonly kind: 'embedded' | 'real';
  readonly store: Store;
  readonly cache: Cache;
  readonly objects: ObjectStore;
  /** Environment for loadTrainerConfig (REDIS_URL and a unique QUEUE_PREFIX for real servers). */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

export async function embeddedBackends(): Promise<Backends> {
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'trainer-test-')));
  await objects.ensureBucket();
  return { kind: 'embedded', store: new MemoryStore(), cache: new MemoryCache(), objects, env: {}, close: async () => undefined };
}

export async function realBackends(): Promise<Backends> {
  const { env, store, cache, objects } = await connectRealBackends();
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  return {
    kind: 'real',
    store,
    cache,
    objects,
    env: { REDIS_URL: env.REDIS_URL!, QUEUE_PREFIX: prefix },
    async close() {
      // Leave nothing behind: the database's documents, the bucket's objects, the queues' keys.
      await dropTestDatabase(store).catch(() => undefined);
      await store.close();
      await cache.close();
      const keys = await objects.list('');
      const versions = keys.map((k) => /^models\/(\w+)\/([^/]+)\/manifest\.json$/.exec(k)).filter((m) => m !== null);
      await deleteRedisKeys(env.REDIS_URL!, 'recommendations', versions.map(([, type, version]) => `*:${type}:${version}`));
      await objects.remove(keys).catch(() => undefined);
      await deleteRedisKeys(env.REDIS_URL!, prefix);
    },
  };
}

/** Deletes a test's keys: its queues' (under a prefix of its own), or the recommendation lists of its model versions. */
export async function deleteRedisKeys(redisUrl: string, prefix: string, patterns: readonly string[] = ['*']): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    for (const pattern of patterns) {
      const keys = await redis.keys(`${prefix}:${pattern}`);
      if (keys.length) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

/** A small deterministic world: 60 users, 80 movies, about 1500 watched records plus likes and bookmarks. */
export async function fillSmallWorld(store: Store, seed = 7): Promise<void> {
  await generateData(store, { seed, users: 60, movies: 80, interactions: 1500, now: Date.UTC(2026, 0, 1), reset: true });
}

export interface Harness {
  readonly config: TrainerConfig;
  readonly runtime: TrainerRuntime;
  readonly service: TrainerService;
  readonly worker: RunningWorker | undefined;
  /** ModelActivatedMessages received on MODEL_ACTIVATED_CHANNEL since start. */
  readonly activations: ModelActivatedMessage[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  core?: ModelCore;
  objects?: ObjectStore;
  /** Start a worker in this process (default true). */
  worker?: boolean;
}

/** A trainer runtime (queues on Redis for real backends, in-process otherwise), its service and a worker. */
export async function startHarness(backends: Backends, options: HarnessOptions = {}): Promise<Harness> {
  const config = loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', ...FAST_ENV, ...backends.env, ...options.env });
  const runtime = await createTrainerRuntime(config, silentLog, {
    store: backends.store,
    cache: backends.cache,
    objects: options.objects ?? backends.objects,
  });
  const activations: ModelActivatedMessage[] = [];
  const unsubscribe = await backends.cache.subscribe(MODEL_ACTIVATED_CHANNEL, (m) => activations.push(JSON.parse(m) as ModelActivatedMessage));
  const worker = options.worker === false ? undefined : await startTrainerWorker(runtime, { core: options.core });
  return {
    config,
    runtime,
    service: new Service(runtime),
    worker,
    activations,
    async close() {
      await worker?.close();
      await unsubscribe();
      await runtime.close();
    },
  };
}

export async function waitForRun(service: TrainerService, runId: string, timeoutMs = 30_000): Promise<TrainingRunView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await service.getTrainingRun(runId);
    if (run.state === 'completed' || run.state === 'failed') return run;
    if (Date.now() > until) throw new Error(`run ${runId} still ${run.state} (${run.stage}) after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until `check` holds (pub/sub messages arrive asynchronously). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
