import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ModelCore } from './model-core.js';
import { loadModelCore } from './model-core.js';
import type { JobWorker, WorkerOptions } from './queue/types.js';
import { ActiveModels, runRefreshAll, runRefreshUser, type RefreshDeps } from './refresh-job.js';
import { JOB_NAMES, type TrainerRuntime } from './runtime.js';
import { TrainerService } from './trainer-service.js';
import { runTrainingJob, type TrainingDeps } from './train-job.js';

export const SCHEDULER_IDS = { train: 'train_model', refreshAll: 'update_all_recommendations' } as const;

/**
 * Registers (or updates) the nightly job schedulers: train_model at TRAIN_CRON and update_all_recommendations at
 * REFRESH_CRON, in SCHEDULE_TZ. Idempotent: every start-up of every worker upserts the same two scheduler ids;
 * a cron of `off` removes its scheduler.
 */
export async function registerSchedulers(runtime: TrainerRuntime): Promise<void> {
  const { config, log } = runtime;
  const schedules = [
    { queue: runtime.training, id: SCHEDULER_IDS.train, cron: config.TRAIN_CRON, jobName: JOB_NAMES.train, data: { modelTypes: [], trigger: 'schedule' } },
    { queue: runtime.refresh, id: SCHEDULER_IDS.refreshAll, cron: config.REFRESH_CRON, jobName: JOB_NAMES.refreshAll, data: {} },
  ];
  for (const { queue, id, cron, jobName, data } of schedules) {
    if (cron === 'off') {
      await queue.removeScheduler(id);
      log.info({ scheduler: id }, 'schedule off: scheduler removed');
    } else {
      await queue.upsertScheduler({ id, cron, tz: config.SCHEDULE_TZ, jobName, data });
      log.info({ scheduler: id, cron, tz: config.SCHEDULE_TZ }, 'scheduler registered');
    }
  }
}

/** The key (under QUEUE_PREFIX) whose absence tells the worker that Redis lost its data. */
export const redisMarkerKey = (queuePrefix: string) => `${queuePrefix}:trainer:marker`;

/**
 * Watches for Redis losing its data (a restart without persistence, FLUSHALL, a failover to an empty replica): the
 * worker writes a marker key at start-up and checks it every REDIS_LOSS_CHECK_MS and whenever its connection is
 * (re)established. When the marker is gone, the job schedulers went with it and so did the cached lists: the first
 * worker to notice (SET NX: one of several) re-registers the schedulers, queues update_all_recommendations and
 * writes the marker again. Nothing to watch without REDIS_URL (the in-process queue and cache live in the process).
 */
export function watchRedisDataLoss(runtime: TrainerRuntime): { stop(): Promise<void> } {
  const { config, log } = runtime;
  if (!config.REDIS_URL) return { stop: async () => undefined };
  const key = redisMarkerKey(config.QUEUE_PREFIX);
  const marker = JSON.stringify({ by: randomUUID(), since: new Date().toISOString() });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  redis.on('error', () => undefined); // reconnects by itself; the next check runs on 'ready'
  let stopped = false;
  let first = true;
  let checking: Promise<void> = Promise.resolve();
  const check = () => {
    checking = checking.then(async () => {
      if (stopped || redis.status !== 'ready') return;
      try {
        const created = (await redis.set(key, marker, 'NX')) === 'OK';
        if (first) {
          first = false; // start-up: registerSchedulers has just run; the marker is (re)written, nothing was lost
          return;
        }
        if (!created) return;
        log.warn({ marker: key }, 'Redis lost its data: re-registering the schedules and queuing a refresh of the cached lists');
        await registerSchedulers(runtime);
        const { jobId } = await new TrainerService(runtime).refreshRecommendations();
        log.info({ jobId }, 'refresh of all recommendations queued after the Redis data loss');
      } catch (err) {
        // Redis went away again mid-recovery: drop the marker so that the next check recovers once more.
        log.warn({ err }, 'Redis data-loss check failed; retried at the next check');
        await redis.del(key).catch(() => undefined);
      }
    });
  };
  redis.on('ready', check);
  const timer = setInterval(check, config.REDIS_LOSS_CHECK_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await checking;
      redis.disconnect();
    },
  };
}

export interface WorkerDeps {
  /** The models library; loaded from native/src when not given. */
  core?: ModelCore;
  /** Milliseconds for the tuning budget (performance.now when not given; tests inject a fake). */
  clock?: () => number;
}

export interface RunningWorker {
  /** Stops taking jobs, finishes the active ones within WORKER_SHUTDOWN_GRACE_MS, then releases them. */
  close(): Promise<void>;
}

/** Starts processing both queues: train_model one at a time, refreshes WORKER_REFRESH_CONCURRENCY at a time. */
export async function startTrainerWorker(runtime: TrainerRuntime, deps: WorkerDeps = {}): Promise<RunningWorker> {
  const { config, log } = runtime;
  const core = deps.core ?? loadModelCore();
  log.info({ backend: core.backend }, 'models library loaded');
  await registerSchedulers(runtime);
  const service = new TrainerService(runtime);
  const training: TrainingDeps = {
    store: runtime.store,
    registry: runtime.registry,
    settings: runtime.settings,
    cache: runtime.cache,
    core,
    clock: deps.clock,
    config,
    log,
    enqueueRefresh: async (modelTypes) => {
      const { jobId } = await service.refreshModels(modelTypes);
      log.info({ jobId, modelTypes }, 'refresh of the promoted models\' recommendations queued');
    },
  };
  const refresh: RefreshDeps = { store: runtime.store, cache: runtime.cache, core, models: new ActiveModels(runtime.registry), config, log };
  const onFailed: WorkerOptions['onFailed'] = (job, error, willRetry) =>
    log[willRetry ? 'warn' : 'error']({ jobId: job.id, job: job.name, attempt: job.attempt, err: error, willRetry }, `job ${job.name} attempt failed`);
  const workers: JobWorker[] = [
    runtime.training.process({ [JOB_NAMES.train]: (ctx) => runTrainingJob(training, ctx) }, { concurrency: 1, onFailed }),
    runtime.refresh.process(
      { [JOB_NAMES.refreshAll]: (ctx) => runRefreshAll(refresh, ctx), [JOB_NAMES.refreshUser]: (ctx) => runRefreshUser(refresh, ctx) },
      { concurrency: config.WORKER_REFRESH_CONCURRENCY, onFailed },
    ),
  ];
  const redisWatch = watchRedisDataLoss(runtime);
  log.info('trainer worker processing jobs');
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        await redisWatch.stop();
        await Promise.all(workers.map((w) => w.close(config.WORKER_SHUTDOWN_GRACE_MS)));
        log.info('trainer worker stopped');
      })();
      return closing;
    },
  };
}
