import { createCache, createObjectStore, createStore } from '../../lib/src/backends.js';
import { DEFAULT_STARTUP_RETRY, untilReady, type StartupRetryPolicy } from '../../lib/src/startup-retry.js';
import type { Cache } from '../../lib/src/cache/types.js';
import type { Logger } from '../../lib/src/logger.js';
import { ModelRegistry } from '../../lib/src/models/registry.js';
import { ModelSettingsStore } from './model-settings.js';
import type { ObjectStore } from '../../lib/src/objectstore/types.js';
import type { Store } from '../../lib/src/store/types.js';
import type { TrainerConfig } from './config.js';
import { BullMqJobQueue } from './queue/bullmq-queue.js';
import { MemoryJobQueue } from './queue/memory-queue.js';
import type { JobQueue, QueueSettings } from './queue/types.js';

/** Queue of train_model jobs (one at a time per worker process). */
export const TRAINING_QUEUE = 'training';
/** Queue of update_all_recommendations and update_recommendations jobs. */
export const REFRESH_QUEUE = 'refresh';

export { JOB_NAMES } from '../../lib/src/domain.js';

/** Everything the API and the worker share: backends, the model registry and the two queues. */
export interface TrainerRuntime {
  readonly config: TrainerConfig;
  readonly log: Logger;
  readonly store: Store;
  readonly cache: Cache;
  readonly objects: ObjectStore;
  readonly registry: ModelRegistry;
  /** Each model type's stored training settings (values, search ranges, tuning budget). */
  readonly settings: ModelSettingsStore;
  readonly training: JobQueue;
  readonly refresh: JobQueue;
  /** Closes the queues and the backends this runtime created (not injected ones). */
  close(): Promise<void>;
}

/** Injected by tests and the one-process demo; anything missing is created from the configuration. */
export interface RuntimeDeps {
  store?: Store;
  cache?: Cache;
  objects?: ObjectStore;
  training?: JobQueue;
  refresh?: JobQueue;
  /** Backoff while MongoDB, Redis or S3 is not ready at start-up (default DEFAULT_STARTUP_RETRY: 0.5 s doubling to 10 s). */
  startupRetry?: StartupRetryPolicy;
}

export function queueSettings(config: TrainerConfig): QueueSettings {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoffMs: config.JOB_BACKOFF_MS,
    keepFinished: config.JOB_KEEP_FINISHED,
    keepFinishedSeconds: config.JOB_KEEP_FINISHED_SECONDS,
    lockDurationMs: config.JOB_LOCK_MS,
    stalledIntervalMs: config.JOB_STALLED_INTERVAL_MS,
    maxStalledCount: config.JOB_MAX_STALLED_COUNT,
  };
}

/** BullMQ on Redis when REDIS_URL is set; otherwise the in-process queue (API and worker in one process). */
export function createQueue(config: TrainerConfig, name: string): JobQueue {
  const settings = queueSettings(config);
  return config.REDIS_URL
    ? new BullMqJobQueue(name, { ...settings, redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX })
    : new MemoryJobQueue(name, settings);
}

export async function createTrainerRuntime(config: TrainerConfig, log: Logger, deps: RuntimeDeps = {}): Promise<TrainerRuntime> {
  const owned: (() => Promise<void>)[] = [];
  // A dependency that is not up yet (compose starting everything at once, a restart of MongoDB) is waited for, with
  // a warning per attempt, instead of exiting (lib/src/startup-retry.ts); a wrong configuration still stops the process.
  const ready = <T>(what: string, step: () => Promise<T>) => untilReady(what, step, log, deps.startupRetry ?? DEFAULT_STARTUP_RETRY);
  const store = deps.store ?? (await ready('MongoDB', () => createStore(config, log)));
  if (!deps.store) owned.push(() => store.close());
  const cache = deps.cache ?? (await ready('Redis', () => createCache(config, log)));
  if (!deps.cache) owned.push(() => cache.close());
  const objects = deps.objects ?? (await ready('the model store (S3)', () => createObjectStore(config, log)));
  const training = deps.training ?? createQueue(config, TRAINING_QUEUE);
  if (!deps.training) owned.unshift(() => training.close());
  const refresh = deps.refresh ?? createQueue(config, REFRESH_QUEUE);
  if (!deps.refresh) owned.unshift(() => refresh.close());
  if (!config.REDIS_URL && !deps.training) log.info('job queue: in-process (REDIS_URL not set): jobs run in this process');
  let closing: Promise<void> | undefined;
  return {
    config,
    log,
    store,
    cache,
    objects,
    registry: new ModelRegistry(objects),
    settings: new ModelSettingsStore(objects, config),
    training,
    refresh,
    close() {
      closing ??= (async () => {
        for (const close of owned) {
          try {
            await close();
          } catch (err) {
            log.warn({ err }, 'error while closing a trainer backend');
          }
        }
      })();
      return closing;
    },
  };
}
