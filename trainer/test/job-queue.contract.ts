import { afterEach, expect, it } from 'vitest';
import { PermanentJobError, type JobQueue, type JobRecord, type QueueSettings } from '../src/queue/types.js';

export const contractSettings: QueueSettings = { attempts: 3, backoffMs: 50, keepFinished: 100, keepFinishedSeconds: 3600 };

/** Polls `get` until the job reaches one of `states` (or the time limit passes). */
export async function waitForState(queue: JobQueue, id: string, states: JobRecord['state'][], timeoutMs = 15_000): Promise<JobRecord> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.get(id);
    if (job && states.includes(job.state)) return job;
    if (Date.now() > until) throw new Error(`job ${id} did not reach ${states.join('/')} (now ${job?.state ?? 'missing'})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The one contract both JobQueue implementations pass. `makeQueue` gives a fresh, isolated queue. */
export function jobQueueContract(makeQueue: (settings: QueueSettings) => Promise<JobQueue>): void {
  const open: JobQueue[] = [];
  const fresh = async (settings: QueueSettings = contractSettings) => {
    const queue = await makeQueue(settings);
    open.push(queue);
    return queue;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((q) => q.close()));
  });

  it('runs a job to completion with its data, progress and result', async () => {
    const queue = await fresh();
    const { job, existing } = await queue.add('double', { n: 21 });
    expect(existing).toBe(false);
    expect(job.state).toBe('queued');
    expect(job.data).toEqual({ n: 21 });
    const worker = queue.process(
      {
        double: async (ctx) => {
          expect(ctx.attempt).toBe(1);
          await ctx.updateProgress({ fraction: 0.5, stage: 'half' });
          expect((await queue.get(ctx.id))?.state).toBe('active');
          expect((await queue.get(ctx.id))?.progress).toEqual({ fraction: 0.5, stage: 'half' });
          return { n: (ctx.data.n as number) * 2 };
        },
      },
      { concurrency: 1 },
    );
    const done = await waitForState(queue, job.id, ['completed', 'failed']);
    expect(done.state).toBe('completed');
    expect(done.result).toEqual({ n: 42 });
    expect(done.progress).toEqual({ fraction: 0.5, stage: 'half' });
    expect(done.attempts).toBe(1);
    expect(done.startedAt).toBeInstanceOf(Date);
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());
    await worker.close(1_000);
  });

  it('returns null for an unknown job id', async () => {
    const queue = await fresh();
    expect(await queue.get('no-such-job')).toBeNull();
  });

  it('deduplicates concurrent adds while the job is queued or active, then accepts a new one', async () => {
    const queue = await fresh();
    const results = await Promise.all(Array.from({ length: 5 }, () => queue.add('train', { x: 1 }, { deduplicationId: 'train:all' })));
    const ids = new Set(results.map((r) => r.job.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.existing)).toHaveLength(1);
    const other = await queue.add('train', { x: 2 }, { deduplicationId: 'train:als' });
    expect(ids.has(other.job.id)).toBe(false);

    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const worker = queue.process({ train: async () => (await gate, {}) }, { concurrency: 2 });
    const first = results[0].job.id;
    await waitForState(queue, first, ['active']);
    const whileActive = await queue.add('train', { x: 3 }, { deduplicationId: 'train:all' });
    expect(whileActive).toMatchObject({ existing: true, job: { id: first, state: 'active' } });
    release();
    await waitForState(queue, first, ['completed']);
    const after = await queue.add('train', { x: 4 }, { deduplicationId: 'train:all' });
    expect(after.existing).toBe(false);
    expect(after.job.id).not.toBe(first);
    await waitForState(queue, after.job.id, ['completed']);
    await worker.close(1_000);
  });

  it('retries a failing job with backoff, keeping the progress of earlier attempts', async () => {
    const queue = await fresh();
    const seen: { attempt: number; progress: unknown; at: number }[] = [];
    const worker = queue.process(
      {
        flaky: async (ctx) => {
          seen.push({ attempt: ctx.attempt, progress: ctx.progress, at: Date.now() });
          if (ctx.attempt === 1) {
            await ctx.updateProgress({ done: ['als'] });
            throw new Error('S3 hiccup');
          }
          return { ok: true };
        },
      },
      { concurrency: 1 },
    );
    const { job } = await queue.add('flaky', {}, { deduplicationId: 'flaky' });
    // While the retry is pending, the job is still queued and deduplicated.
    const pending = await waitForState(queue, job.id, ['queued', 'completed']);
    if (pending.state === 'queued' && pending.attempts === 1) {
      expect(pending.failedReason).toBe('S3 hiccup');
      expect((await queue.add('flaky', {}, { deduplicationId: 'flaky' })).existing).toBe(true);
    }
    const done = await waitForState(queue, job.id, ['completed', 'failed']);
    expect(done.state).toBe('completed');
    expect(done.attempts).toBe(2);
    // A finished run keeps no error of an earlier attempt.
    expect(done.failedReason).toBeUndefined();
    expect(seen.map((s) => s.attempt)).toEqual([1, 2]);
    expect(seen[1].progress).toEqual({ done: ['als'] });
    expect(seen[1].at - seen[0].at).toBeGreaterThanOrEqual(40);
    await worker.close(1_000);
  });

  it('fails after the configured attempts with the last error', async () => {
    const queue = await fresh({ ...contractSettings, attempts: 2, backoffMs: 10 });
    let calls = 0;
    const worker = queue.process({ broken: async () => Promise.reject(new Error(`boom ${++calls}`)) }, { concurrency: 1 });
    const { job } = await queue.add('broken', {});
    const done = await waitForState(queue, job.id, ['failed']);
    expect(done.failedReason).toBe('boom 2');
    expect(done.attempts).toBe(2);
    expect(calls).toBe(2);
    await worker.close(1_000);
  });

  it('fails a permanent error at once, without retry, and frees its deduplication id', async () => {
    const queue = await fresh();
    let calls = 0;
    const failures: boolean[] = [];
    const worker = queue.process(
      {
        bad: async () => {
          calls++;
          throw new PermanentJobError('no interactions to train on');
        },
      },
      { concurrency: 1, onFailed: (_job, _err, willRetry) => failures.push(willRetry) },
    );
    const { job } = await queue.add('bad', {}, { deduplicationId: 'bad' });
    const done = await waitForState(queue, job.id, ['failed']);
    expect(done.failedReason).toBe('no interactions to train on');
    expect(done.attempts).toBe(1);
    expect(calls).toBe(1);
    expect(failures).toEqual([false]);
    expect((await queue.add('bad', {}, { deduplicationId: 'bad' })).existing).toBe(false);
    await worker.close(1_000);
  });

  it('fails a job whose name has no handler', async () => {
    const queue = await fresh();
    const worker = queue.process({ known: async () => ({}) }, { concurrency: 1 });
    const { job } = await queue.add('unknown_job', {});
    const done = await waitForState(queue, job.id, ['failed']);
    expect(done.failedReason).toMatch(/no handler for job 'unknown_job'/);
    expect(done.attempts).toBe(1);
    await worker.close(1_000);
  });

  it('keeps one scheduler per id however often it is upserted, and updates its pattern', async () => {
    const queue = await fresh();
    for (let i = 0; i < 3; i++) {
      await queue.upsertScheduler({ id: 'train_model', cron: '0 0 * * *', tz: 'UTC', jobName: 'train_model', data: { modelTypes: [] } });
      await queue.upsertScheduler({ id: 'update_all_recommendations', cron: '30 0 * * *', tz: 'UTC', jobName: 'update_all_recommendations', data: {} });
    }
    let schedulers = await queue.schedulers();
    expect(schedulers.map((s) => s.id).sort()).toEqual(['train_model', 'update_all_recommendations']);
    const train = schedulers.find((s) => s.id === 'train_model')!;
    expect(train).toMatchObject({ cron: '0 0 * * *', tz: 'UTC', jobName: 'train_model' });
    expect(train.next!.getTime()).toBeGreaterThan(Date.now());
    expect(train.next!.getUTCHours()).toBe(0);
    expect(train.next!.getUTCMinutes()).toBe(0);

    await queue.upsertScheduler({ id: 'train_model', cron: '15 2 * * *', tz: 'UTC', jobName: 'train_model', data: {} });
    schedulers = await queue.schedulers();
    expect(schedulers).toHaveLength(2);
    expect(schedulers.find((s) => s.id === 'train_model')!.cron).toBe('15 2 * * *');
    await queue.removeScheduler('train_model');
    expect((await queue.schedulers()).map((s) => s.id)).toEqual(['update_all_recommendations']);
  });

  it('runs jobs on the schedule', async () => {
    const queue = await fresh();
    const ran: string[] = [];
    const worker = queue.process({ tick: async (ctx) => (ran.push(ctx.data.label as string), {}) }, { concurrency: 1 });
    await queue.upsertScheduler({ id: 'tick', cron: '* * * * * *', tz: 'UTC', jobName: 'tick', data: { label: 'every second' } });
    await expect.poll(() => ran[0], { timeout: 30_000, interval: 50 }).toBe('every second');
    await queue.removeScheduler('tick');
    await worker.close(1_000);
  });

  it('lets the active job finish when the worker closes within its grace time', async () => {
    const queue = await fresh();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const worker = queue.process({ slow: async () => (started(), await sleep(300), { finished: true }) }, { concurrency: 1 });
    const { job } = await queue.add('slow', {});
    await running;
    await worker.close(5_000);
    const done = await queue.get(job.id);
    expect(done).toMatchObject({ state: 'completed', result: { finished: true } });
  });

  it('releases the active job past the grace time, and another worker completes it', async () => {
    const queue = await fresh();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let aborted = false;
    const first = queue.process(
      {
        // Never finishes on its own: only the abort at the end of the grace time ends it (no wall-clock bound).
        long: async (ctx) => {
          started();
          await new Promise<void>((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => ((aborted = true), reject(ctx.signal.reason)), { once: true });
          });
          return { by: 'first' };
        },
      },
      { concurrency: 1 },
    );
    const { job } = await queue.add('long', {});
    await running;
    await first.close(200);
    expect(aborted).toBe(true);
    const released = await queue.get(job.id);
    expect(released?.state).toBe('queued');
    expect(released?.failedReason).toBeUndefined();

    const second = queue.process({ long: async () => ({ by: 'second' }) }, { concurrency: 1 });
    const done = await waitForState(queue, job.id, ['completed', 'failed']);
    expect(done).toMatchObject({ state: 'completed', result: { by: 'second' } });
    await second.close(1_000);
  });
}
