import { randomUUID } from 'node:crypto';
import { Queue, UnrecoverableError, WaitingError, Worker, type Job, type JobsOptions } from 'bullmq';
import {
  JobReleasedError,
  PermanentJobError,
  STALLED_DEFAULTS,
  stalledReason,
  type Stoppable,
  type AddJobOptions,
  type AddJobResult,
  type JobHandler,
  type JobQueue,
  type JobRecord,
  type JobState,
  type JobWorker,
  type JsonObject,
  type QueueSettings,
  type SchedulerInfo,
  type SchedulerSpec,
  type WorkerOptions,
} from './types.js';

/** BullMQ's failed reason for a job moved out of `active` by the stalled check more than maxStalledCount times. */
const BULLMQ_STALLED_REASON = 'job stalled more than allowable limit';

/** How long a released handler that ignores its abort signal may still run before close() gives up waiting. */
const RELEASE_WAIT_MS = 5_000;

export interface BullMqQueueOptions extends QueueSettings {
  readonly redisUrl: string;
  /** Key prefix of every queue key in Redis (isolates deployments and test runs). */
  readonly prefix: string;
}

type AnyJob = Job<JsonObject, JsonObject, string>;

/** The object without its undefined properties (so that spreading it over defaults keeps the defaults). */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

function stateOf(state: string): JobState | null {
  switch (state) {
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    case 'waiting':
    case 'delayed':
    case 'prioritized':
    case 'waiting-children':
      return 'queued';
    default:
      return null;
  }
}

/**
 * The job queue on BullMQ 6 (Redis). Deduplication uses BullMQ's deduplication id (an atomic Lua SET NX, kept
 * until the job completes or finally fails, retries included); job ids are random UUIDs, so a returned id other
 * than the one we chose means an existing job was returned. Retries use BullMQ's exponential backoff;
 * PermanentJobError becomes UnrecoverableError. Schedulers are BullMQ job schedulers (upsertJobScheduler).
 */
export class BullMqJobQueue implements JobQueue {
  private readonly queue: Queue<JsonObject, JsonObject, string>;
  private readonly workers = new Set<Worker<JsonObject, JsonObject, string>>();

  constructor(
    readonly name: string,
    private readonly options: BullMqQueueOptions,
  ) {
    this.queue = new Queue<JsonObject, JsonObject, string>(name, {
      connection: { url: options.redisUrl, maxRetriesPerRequest: null },
      prefix: options.prefix,
      defaultJobOptions: this.jobOptions(),
    });
  }

  private jobOptions(): JobsOptions {
    return {
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: { count: this.options.keepFinished, age: this.options.keepFinishedSeconds },
      removeOnFail: { count: this.options.keepFinished, age: this.options.keepFinishedSeconds },
    };
  }

  async add(name: string, data: JsonObject, options: AddJobOptions = {}): Promise<AddJobResult> {
    const jobId = randomUUID();
    const job = await this.queue.add(name, data, {
      jobId,
      ...(options.deduplicationId !== undefined ? { deduplication: { id: options.deduplicationId } } : {}),
    });
    if (job.id === jobId) return { job: this.record(job, 'queued'), existing: false };
    const existing = await this.get(job.id!);
    if (existing) return { job: existing, existing: true };
    // The deduplicated job vanished between the add and the read (finished and removed): add again.
    return this.add(name, data, options);
  }

  async get(id: string): Promise<JobRecord | null> {
    // The job's hash and its state are separate reads: read the state before and after the hash until they agree,
    // so a record never pairs a state with older data (e.g. "queued for a retry" without the failure's reason).
    for (let attempt = 0; ; attempt++) {
      const before = await this.queue.getJobState(id);
      const job = (await this.queue.getJob(id)) as AnyJob | undefined;
      if (!job) return null;
      const after = await this.queue.getJobState(id);
      const state = stateOf(after);
      if (!state) return null;
      if (before === after || attempt === 3) return this.record(job, state);
    }
  }

  /**
   * Registers the scheduler unless it exists with the same cron, time zone, job name and data. BullMQ's upsert
   * replaces the scheduler's pending job with one for the next tick after *now*: an upsert of an unchanged spec by a
   * worker starting just after a tick whose job is still delayed or waiting (no worker took it yet, e.g. all were
   * down at midnight) would drop that tick's run. Ticks stay exactly once either way: an iteration's job id is
   * `repeat:{scheduler id}:{tick ms}`, added at most once, and the next iteration is added by the worker that takes
   * the current one.
   */
  async upsertScheduler(spec: SchedulerSpec): Promise<void> {
    const existing = await this.queue.getJobScheduler(spec.id);
    if (
      existing &&
      existing.pattern === spec.cron &&
      (existing.tz ?? 'UTC') === spec.tz &&
      existing.name === spec.jobName &&
      JSON.stringify(existing.template?.data ?? {}) === JSON.stringify(spec.data)
    ) {
      return;
    }
    const { attempts, backoff, removeOnComplete, removeOnFail } = this.jobOptions();
    await this.queue.upsertJobScheduler(
      spec.id,
      { pattern: spec.cron, tz: spec.tz },
      { name: spec.jobName, data: spec.data, opts: { attempts, backoff, removeOnComplete, removeOnFail } },
    );
  }

  async removeScheduler(id: string): Promise<void> {
    await this.queue.removeJobScheduler(id);
  }

  async schedulers(): Promise<SchedulerInfo[]> {
    const all = await this.queue.getJobSchedulers(0, -1, true);
    return all.map((s) => ({
      id: s.id ?? s.key,
      cron: s.pattern ?? '',
      tz: s.tz ?? 'UTC',
      jobName: s.name,
      next: s.next !== undefined ? new Date(s.next) : undefined,
    }));
  }

  process(handlers: Readonly<Record<string, JobHandler>>, options: WorkerOptions): JobWorker {
    let closing = false;
    // The processor must declare three parameters: BullMQ passes the abort signal only to such processors.
    const processor = async (job: AnyJob, token: string | undefined, signal: AbortSignal | undefined): Promise<JsonObject> => {
      const handler = handlers[job.name];
      if (!handler) throw new UnrecoverableError(`no handler for job '${job.name}' in queue ${this.name}`);
      const controller = new AbortController();
      signal?.addEventListener('abort', () => controller.abort(new JobReleasedError()), { once: true });
      try {
        return (await handler({
          id: job.id!,
          name: job.name,
          data: job.data,
          attempt: job.attemptsStarted,
          progress: isObject(job.progress) ? job.progress : {},
          signal: controller.signal,
          updateProgress: (progress) => job.updateProgress(progress),
        })) ?? {};
      } catch (err) {
        if (closing && controller.signal.aborted && token) {
          // Shutdown past the grace time: back to the wait list for another worker, not counted as a failure.
          await job.moveToWait(token);
          options.onFailed?.({ id: job.id!, name: job.name, attempt: job.attemptsStarted }, new JobReleasedError(), true);
          throw new WaitingError();
        }
        const error = err instanceof Error ? err : new Error(String(err));
        const permanent = error instanceof PermanentJobError || error instanceof UnrecoverableError;
        const willRetry = !permanent && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
        options.onFailed?.({ id: job.id!, name: job.name, attempt: job.attemptsStarted }, error, willRetry);
        if (error instanceof PermanentJobError) throw new UnrecoverableError(error.message);
        throw error;
      }
    };
    const worker = new Worker<JsonObject, JsonObject, string>(this.name, processor, {
      ...this.workerOptions(),
      concurrency: options.concurrency,
      removeOnComplete: { count: this.options.keepFinished, age: this.options.keepFinishedSeconds },
      removeOnFail: { count: this.options.keepFinished, age: this.options.keepFinishedSeconds },
    });
    worker.on('error', () => undefined); // connection errors are retried by ioredis; jobs report their own errors
    this.workers.add(worker);
    return {
      close: async (graceMs: number) => {
        closing = true;
        const closed = worker.close().then(() => true);
        const within = (ms: number) => Promise.race([closed, new Promise<false>((r) => setTimeout(() => r(false), ms).unref())]);
        if (!(await within(graceMs))) {
          worker.cancelAllJobs('worker shutting down');
          await within(RELEASE_WAIT_MS);
        }
        this.workers.delete(worker);
      },
    };
  }

  /** Connection and stalled-job settings of every Worker of this queue (processing or only checking). */
  private workerOptions() {
    const { lockDurationMs, stalledIntervalMs, maxStalledCount } = { ...STALLED_DEFAULTS, ...definedOnly(this.options) };
    return {
      connection: { url: this.options.redisUrl, maxRetriesPerRequest: null },
      prefix: this.options.prefix,
      lockDuration: lockDurationMs,
      stalledInterval: stalledIntervalMs,
      maxStalledCount,
    };
  }

  watchStalled(): Stoppable {
    // A Worker that never fetches jobs (no processor, autorun off) but runs BullMQ's stalled check: the check moves
    // jobs whose lock expired back to wait, or fails them past maxStalledCount, atomically in Redis (one Lua script),
    // so any number of checkers (API replicas, workers) agree.
    const checker = new Worker<JsonObject, JsonObject, string>(this.name, undefined, { ...this.workerOptions(), autorun: false });
    checker.on('error', () => undefined);
    this.workers.add(checker);
    void checker.startStalledCheckTimer().catch(() => undefined);
    return {
      stop: async () => {
        this.workers.delete(checker);
        await checker.close(true);
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.close(true)));
    await this.queue.close();
  }

  /**
   * A completed job keeps no error of an earlier attempt. A stall past maxStalledCount says that the worker died:
   * BullMQ's stalled check marks such a job (deferredFailure) and puts it back in the wait list, and the next worker
   * that takes it fails it at once without running it; while it waits, its record already carries the reason.
   */
  private failedReasonOf(job: AnyJob, state: JobState): string | undefined {
    if (state === 'completed') return undefined;
    const reason = job.failedReason || (state === 'queued' ? job.deferredFailure : undefined);
    if (!reason) return undefined;
    return reason === BULLMQ_STALLED_REASON ? stalledReason(this.options) : reason;
  }

  private record(job: AnyJob, state: JobState): JobRecord {
    return {
      id: job.id!,
      name: job.name,
      data: job.data,
      state,
      progress: isObject(job.progress) ? job.progress : {},
      result: isObject(job.returnvalue) ? job.returnvalue : undefined,
      failedReason: this.failedReasonOf(job, state),
      attempts: job.attemptsStarted,
      createdAt: new Date(job.timestamp),
      startedAt: job.processedOn ? new Date(job.processedOn) : undefined,
      finishedAt: job.finishedOn ? new Date(job.finishedOn) : undefined,
    };
  }
}
