import { randomUUID } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import {
  JobReleasedError,
  PermanentJobError,
  backoffDelay,
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
  type Stoppable,
  type WorkerOptions,
} from './types.js';

/** The time source and timers of the in-process queue (real ones by default; tests inject a manual clock). */
export interface QueueClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: QueueClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface SchedulerEntry {
  spec: SchedulerSpec;
  next: Date | undefined;
  timer?: unknown;
}

interface MemoryJob {
  id: string;
  name: string;
  data: JsonObject;
  state: JobState;
  progress: JsonObject;
  result: JsonObject | undefined;
  failedReason: string | undefined;
  attempts: number;
  createdAt: Date;
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  deduplicationId: string | undefined;
  /** Identifies the running attempt, so a late result of a released attempt is ignored. */
  attemptToken: symbol | undefined;
}

/** Longest setTimeout delay Node accepts; longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** How long a released handler that ignores its signal may take before its job is put back anyway. */
const RELEASE_WAIT_MS = 5_000;

const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/**
 * The in-process queue: the same contract as the BullMQ queue, kept in memory, for one process (the demo when
 * REDIS_URL is unset, and unit tests). Data, progress and results are copied through JSON like BullMQ's, so a
 * handler cannot depend on sharing objects with the producer. Jobs are lost when the process exits.
 */
export class MemoryJobQueue implements JobQueue {
  private readonly jobs = new Map<string, MemoryJob>();
  private readonly waiting: string[] = [];
  private readonly deduplication = new Map<string, string>();
  private readonly timers = new Set<unknown>();
  private readonly schedulerTimers = new Map<string, SchedulerEntry>();
  /**
   * The last tick (cron time, ms) each scheduler id added a job for; kept across upserts and removals, so that a
   * tick gives one job however often (and by however many callers) the scheduler is registered.
   */
  private readonly lastTicks = new Map<string, number>();
  private worker: MemoryWorker | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly settings: QueueSettings,
    private readonly clock: QueueClock = systemClock,
  ) {}

  async add(name: string, data: JsonObject, options: AddJobOptions = {}): Promise<AddJobResult> {
    return this.addNow(name, data, options);
  }

  /** `add` without an await before the check: callers in this file rely on it being synchronous. */
  private addNow(name: string, data: JsonObject, options: AddJobOptions = {}, jobId: string = randomUUID()): AddJobResult {
    this.assertOpen();
    // Check and insert without an await in between: concurrent adds see each other (one event loop).
    const { deduplicationId } = options;
    if (deduplicationId !== undefined) {
      const existingId = this.deduplication.get(deduplicationId);
      const existing = existingId ? this.jobs.get(existingId) : undefined;
      if (existing && (existing.state === 'queued' || existing.state === 'active')) {
        return { job: this.record(existing), existing: true };
      }
    }
    const job: MemoryJob = {
      id: jobId,
      name,
      data: clone(data),
      state: 'queued',
      progress: {},
      result: undefined,
      failedReason: undefined,
      attempts: 0,
      createdAt: new Date(this.clock.now()),
      startedAt: undefined,
      finishedAt: undefined,
      deduplicationId,
      attemptToken: undefined,
    };
    this.jobs.set(job.id, job);
    if (deduplicationId !== undefined) this.deduplication.set(deduplicationId, job.id);
    this.waiting.push(job.id);
    const added = this.record(job);
    this.pump();
    return { job: added, existing: false };
  }

  async get(id: string): Promise<JobRecord | null> {
    const job = this.jobs.get(id);
    return job ? this.record(job) : null;
  }

  async upsertScheduler(spec: SchedulerSpec): Promise<void> {
    this.assertOpen();
    CronExpressionParser.parse(spec.cron, { tz: spec.tz }); // throws on a bad expression, as BullMQ does
    const old = this.schedulerTimers.get(spec.id);
    if (old?.timer) this.clearTimer(old.timer);
    const entry: SchedulerEntry = { spec: clone(spec), next: undefined, timer: undefined };
    this.schedulerTimers.set(spec.id, entry);
    this.armScheduler(entry);
  }

  async removeScheduler(id: string): Promise<void> {
    const entry = this.schedulerTimers.get(id);
    if (entry?.timer) this.clearTimer(entry.timer);
    this.schedulerTimers.delete(id);
  }

  async schedulers(): Promise<SchedulerInfo[]> {
    return [...this.schedulerTimers.values()].map(({ spec, next }) => ({
      id: spec.id,
      cron: spec.cron,
      tz: spec.tz,
      jobName: spec.jobName,
      next,
    }));
  }

  process(handlers: Readonly<Record<string, JobHandler>>, options: WorkerOptions): JobWorker {
    this.assertOpen();
    if (this.worker && !this.worker.closing) throw new Error(`queue ${this.name} already has a worker in this process`);
    const worker = new MemoryWorker(this, handlers, options);
    this.worker = worker;
    queueMicrotask(() => this.pump());
    return worker;
  }

  /**
   * In one process the worker cannot die without its queue (both live in the process and vanish with it), so there
   * is no stalled job to find: a worker closed while its handler hangs releases the job itself (JobWorker.close).
   */
  watchStalled(): Stoppable {
    return { stop: async () => undefined };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) this.clock.clearTimeout(timer);
    this.timers.clear();
    this.schedulerTimers.clear();
  }

  // ------------------------------------------------------------------------------------------ worker plumbing

  /** Starts as many waiting jobs as the worker may run. */
  pump(): void {
    const worker = this.worker;
    if (!worker || worker.closing || this.closed) return;
    while (worker.active.size < worker.options.concurrency && this.waiting.length > 0) {
      const job = this.jobs.get(this.waiting.shift()!);
      if (job && job.state === 'queued') void this.run(worker, job);
    }
  }

  private async run(worker: MemoryWorker, job: MemoryJob): Promise<void> {
    const token = Symbol(job.id);
    const controller = new AbortController();
    job.state = 'active';
    job.attempts++;
    job.startedAt = new Date(this.clock.now());
    job.attemptToken = token;
    worker.active.set(job.id, { controller, job, token });
    const context = {
      id: job.id,
      name: job.name,
      data: clone(job.data),
      attempt: job.attempts,
      progress: clone(job.progress),
      signal: controller.signal,
      updateProgress: async (progress: JsonObject) => {
        if (job.attemptToken === token) job.progress = clone(progress);
      },
    };
    const handler = worker.handlers[job.name];
    let outcome: { ok: true; result: JsonObject } | { ok: false; error: Error };
    try {
      if (!handler) throw new PermanentJobError(`no handler for job '${job.name}' in queue ${this.name}`);
      outcome = { ok: true, result: clone((await handler(context)) ?? {}) };
    } catch (err) {
      outcome = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
    }
    if (job.attemptToken !== token) return; // released meanwhile
    this.finishAttempt(worker, job, outcome, controller.signal.aborted && worker.closing);
  }

  private finishAttempt(
    worker: MemoryWorker,
    job: MemoryJob,
    outcome: { ok: true; result: JsonObject } | { ok: false; error: Error },
    released: boolean,
  ): void {
    worker.active.delete(job.id);
    job.attemptToken = undefined;
    if (outcome.ok) {
      job.state = 'completed';
      job.result = outcome.result;
      job.failedReason = undefined; // an earlier attempt's error does not outlive the run's success
      job.finishedAt = new Date(this.clock.now());
      this.releaseDeduplication(job);
    } else if (released) {
      // Shutdown: back to the head of the queue, not counted as a failure.
      job.state = 'queued';
      this.waiting.unshift(job.id);
      worker.options.onFailed?.({ id: job.id, name: job.name, attempt: job.attempts }, new JobReleasedError(), true);
    } else {
      const permanent = outcome.error instanceof PermanentJobError;
      const willRetry = !permanent && job.attempts < this.settings.attempts;
      job.failedReason = outcome.error.message;
      worker.options.onFailed?.({ id: job.id, name: job.name, attempt: job.attempts }, outcome.error, willRetry);
      if (willRetry) {
        job.state = 'queued';
        this.setTimer(() => {
          this.waiting.push(job.id);
          this.pump();
        }, backoffDelay(this.settings, job.attempts));
      } else {
        job.state = 'failed';
        job.finishedAt = new Date(this.clock.now());
        this.releaseDeduplication(job);
      }
    }
    this.applyRetention();
    worker.settled();
    this.pump();
  }

  /** Puts every active job of the worker back in the queue at once (its handler ignored the abort). */
  forceRelease(worker: MemoryWorker): void {
    for (const { job } of [...worker.active.values()]) {
      this.finishAttempt(worker, job, { ok: false, error: new JobReleasedError() }, true);
    }
  }

  private releaseDeduplication(job: MemoryJob): void {
    if (job.deduplicationId !== undefined && this.deduplication.get(job.deduplicationId) === job.id) {
      this.deduplication.delete(job.deduplicationId);
    }
  }

  private applyRetention(): void {
    const oldest = this.clock.now() - this.settings.keepFinishedSeconds * 1000;
    for (const state of ['completed', 'failed'] as const) {
      const finished = [...this.jobs.values()]
        .filter((j) => j.state === state)
        .sort((a, b) => b.finishedAt!.getTime() - a.finishedAt!.getTime());
      finished.forEach((j, i) => {
        if (i >= this.settings.keepFinished || j.finishedAt!.getTime() < oldest) this.jobs.delete(j.id);
      });
    }
  }

  /**
   * Arms the timer of the scheduler's next tick: the first cron time after both now and the last tick fired. At the
   * tick it adds one job with the id `repeat:{scheduler id}:{tick ms}` (BullMQ's id for a scheduler's iteration);
   * a tick already fired (the timer came early, or the scheduler was upserted again around the tick) adds nothing.
   * A tick missed while the process was busy past the next one is skipped, as BullMQ skips it.
   */
  private armScheduler(entry: SchedulerEntry): void {
    if (this.closed) return;
    const { id, cron, tz } = entry.spec;
    const after = Math.max(this.clock.now(), this.lastTicks.get(id) ?? -Infinity);
    const next = CronExpressionParser.parse(cron, { tz, currentDate: new Date(after) }).next().toDate();
    entry.next = next;
    const fire = () => {
      if (this.schedulerTimers.get(id) !== entry || this.closed) return;
      const remaining = next.getTime() - this.clock.now();
      if (remaining > 0) {
        entry.timer = this.setTimer(fire, Math.min(MAX_TIMER_MS, remaining));
        return;
      }
      if ((this.lastTicks.get(id) ?? -Infinity) < next.getTime()) {
        this.lastTicks.set(id, next.getTime());
        const jobId = `repeat:${id}:${next.getTime()}`;
        if (!this.jobs.has(jobId)) this.addNow(entry.spec.jobName, entry.spec.data, {}, jobId);
      }
      this.armScheduler(entry);
    };
    entry.timer = this.setTimer(fire, Math.min(MAX_TIMER_MS, Math.max(0, next.getTime() - this.clock.now())));
  }

  private setTimer(fn: () => void, ms: number): unknown {
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private clearTimer(timer: unknown): void {
    this.clock.clearTimeout(timer);
    this.timers.delete(timer);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`queue ${this.name} is closed`);
  }

  private record(job: MemoryJob): JobRecord {
    return {
      id: job.id,
      name: job.name,
      data: clone(job.data),
      state: job.state,
      progress: clone(job.progress),
      result: clone(job.result),
      failedReason: job.failedReason,
      attempts: job.attempts,
      createdAt: job.createdAt,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
    };
  }
}

class MemoryWorker implements JobWorker {
  readonly active = new Map<string, { controller: AbortController; job: MemoryJob; token: symbol }>();
  closing = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly queue: MemoryJobQueue,
    readonly handlers: Readonly<Record<string, JobHandler>>,
    readonly options: WorkerOptions,
  ) {}

  settled(): void {
    if (this.active.size === 0) for (const wake of this.waiters.splice(0)) wake();
  }

  private idle(ms: number): Promise<boolean> {
    if (this.active.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (await this.idle(graceMs)) return;
    for (const { controller } of this.active.values()) controller.abort(new JobReleasedError());
    if (await this.idle(RELEASE_WAIT_MS)) return;
    this.queue.forceRelease(this);
  }
}
