/**
 * The job queue the trainer's API enqueues into and its workers process. Two implementations pass one contract
 * suite (trainer/test/job-queue.contract.ts): BullMQ on Redis (production, several worker processes) and an
 * in-process queue (the one-process demo and unit tests, when REDIS_URL is unset).
 */

/** Where a job is in its life: waiting (or delayed before a retry), being processed, or finished. */
export type JobState = 'queued' | 'active' | 'completed' | 'failed';

/** A JSON object: what job data, progress and results are (they are stored as JSON in Redis). */
export type JsonObject = { [key: string]: unknown };

export interface JobRecord {
  readonly id: string;
  readonly name: string;
  readonly data: JsonObject;
  readonly state: JobState;
  /** The last progress object reported by the handler ({} before the first report); kept across attempts. */
  readonly progress: JsonObject;
  /** The handler's result once completed. */
  readonly result: JsonObject | undefined;
  /** The error message of the last failed attempt (also while a retry is pending); undefined once completed. */
  readonly failedReason: string | undefined;
  /** Attempts started so far (1 while the first attempt runs). */
  readonly attempts: number;
  readonly createdAt: Date;
  /** When the latest attempt started. */
  readonly startedAt: Date | undefined;
  readonly finishedAt: Date | undefined;
}

export interface AddJobOptions {
  /**
   * While a job added with the same deduplication id is queued or active (retries included), `add` returns that
   * job instead of adding another. Atomic: concurrent adds give one job.
   */
  readonly deduplicationId?: string;
}

export interface AddJobResult {
  readonly job: JobRecord;
  /** True when an existing job was returned (deduplication). */
  readonly existing: boolean;
}

export interface JobContext {
  readonly id: string;
  readonly name: string;
  readonly data: JsonObject;
  /** 1 on the first attempt. */
  readonly attempt: number;
  /** The progress stored by earlier attempts ({} on the first), so a retry can skip finished work. */
  readonly progress: JsonObject;
  /** Aborted when the worker shuts down past its grace time: stop, and the job is released to another worker. */
  readonly signal: AbortSignal;
  /** Persists a progress object (visible to `get` at once). */
  updateProgress(progress: JsonObject): Promise<void>;
}

export type JobHandler = (context: JobContext) => Promise<JsonObject>;

/** Thrown by a handler for a failure that retrying cannot fix (bad data): the job fails without further attempts. */
export class PermanentJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/** A job factory: adds `jobName` with `data` at every time matching `cron` in time zone `tz`. */
export interface SchedulerSpec {
  readonly id: string;
  readonly cron: string;
  readonly tz: string;
  readonly jobName: string;
  readonly data: JsonObject;
}

export interface SchedulerInfo {
  readonly id: string;
  readonly cron: string;
  readonly tz: string;
  readonly jobName: string;
  /** The next time a job will be added. */
  readonly next: Date | undefined;
}

export interface WorkerOptions {
  /** Jobs processed at once by this worker. */
  readonly concurrency: number;
  /** Called when a job fails or is released (for logging). */
  readonly onFailed?: (job: { id: string; name: string; attempt: number }, error: Error, willRetry: boolean) => void;
}

/** Stops a background task (the stalled check, a watcher). */
export interface Stoppable {
  stop(): Promise<void>;
}

export interface JobWorker {
  /**
   * Stops taking jobs and waits for the active ones; past `graceMs` aborts them (their signal) and releases them
   * back to the queue for another worker, then returns.
   */
  close(graceMs: number): Promise<void>;
}

export interface JobQueue {
  readonly name: string;
  add(name: string, data: JsonObject, options?: AddJobOptions): Promise<AddJobResult>;
  /** The job, or null if unknown (never added, or removed after its retention time). */
  get(id: string): Promise<JobRecord | null>;
  /** Creates or updates a scheduler by id (idempotent: calling it at every start-up keeps one scheduler). */
  upsertScheduler(spec: SchedulerSpec): Promise<void>;
  removeScheduler(id: string): Promise<void>;
  schedulers(): Promise<SchedulerInfo[]>;
  /**
   * Runs the stalled check (see QueueSettings) every stalledIntervalMs in this process without processing jobs:
   * the trainer API runs it, so that a run whose only worker died is retried or failed even while no worker runs.
   * Workers run it on their own.
   */
  watchStalled(): Stoppable;
  /** Starts processing jobs with the handler of each job name; a job with no handler fails permanently. */
  process(handlers: Readonly<Record<string, JobHandler>>, options: WorkerOptions): JobWorker;
  close(): Promise<void>;
}

/** Retry and retention settings shared by both implementations. */
export interface QueueSettings {
  /** Attempts per job, the first included. */
  readonly attempts: number;
  /** Delay before the first retry; doubles at each further retry. */
  readonly backoffMs: number;
  /** Finished jobs kept (per state) for GetTrainingRun, at most this many ... */
  readonly keepFinished: number;
  /** ... and at most this old. */
  readonly keepFinishedSeconds: number;
  /**
   * Stalled-job handling. A worker holds a lock on each job it runs and renews it every lockDurationMs / 2 (BullMQ's
   * job lock; a heartbeat on the job record in the in-process queue). A job whose lock expired (its worker died or
   * froze) is found by the stalled check, run every stalledIntervalMs by every worker and by the trainer API: it is
   * put back in the queue (a new attempt) up to maxStalledCount times, then failed with STALLED_REASON.
   * Defaults: 30 000 ms, 30 000 ms, 1 (BullMQ's).
   */
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly maxStalledCount?: number;
}

export const STALLED_DEFAULTS = { lockDurationMs: 30_000, stalledIntervalMs: 30_000, maxStalledCount: 1 } as const;

/** The failed reason of a job whose worker died (or stalled) more often than maxStalledCount allows. */
export function stalledReason(settings: QueueSettings): string {
  const lock = settings.lockDurationMs ?? STALLED_DEFAULTS.lockDurationMs;
  const max = settings.maxStalledCount ?? STALLED_DEFAULTS.maxStalledCount;
  return (
    `the worker running this job died or stalled (its lock was not renewed within ${lock} ms) ` +
    `${max + 1} time${max === 0 ? '' : 's'}, more than JOB_MAX_STALLED_COUNT=${max} allows: failed, start it again`
  );
}

/** The error a released job's handler sees (its signal's reason). */
export class JobReleasedError extends Error {
  constructor() {
    super('worker shutting down: job released to the queue');
    this.name = 'JobReleasedError';
  }
}

export function backoffDelay(settings: QueueSettings, failedAttempt: number): number {
  return settings.backoffMs * 2 ** Math.max(0, failedAttempt - 1);
}
