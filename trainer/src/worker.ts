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
    enqueueRefreshAll: async () => {
      const { jobId } = await service.refreshRecommendations();
      log.info({ jobId }, 'refresh of all recommendations queued after a promotion');
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
  log.info('trainer worker processing jobs');
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close(config.WORKER_SHUTDOWN_GRACE_MS)));
        log.info('trainer worker stopped');
      })();
      return closing;
    },
  };
}
