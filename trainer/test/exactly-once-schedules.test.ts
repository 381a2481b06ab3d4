import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { CronExpressionParser } from 'cron-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { describeWithServers, serverUrl } from '../../lib/test/support/servers.js';
import { loadTrainerConfig } from '../src/config.js';
import { BullMqJobQueue } from '../src/queue/bullmq-queue.js';
import { MemoryJobQueue } from '../src/queue/memory-queue.js';
import type { JobQueue, SchedulerSpec } from '../src/queue/types.js';
import { createTrainerRuntime, JOB_NAMES, REFRESH_QUEUE, TRAINING_QUEUE } from '../src/runtime.js';
import { registerSchedulers, SCHEDULER_IDS } from '../src/worker.js';
import { contractSettings } from './job-queue.contract.js';
import { deleteRedisKeys, embeddedBackends, silentLog } from './support/harness.js';
import { ManualClock } from './support/manual-clock.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

/** Every time `cron` matches in (from, to], in UTC. */
function ticksBetween(cron: string, from: number, to: number): number[] {
  const it = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: new Date(from) });
  const ticks: number[] = [];
  for (let t = it.next().getTime(); t <= to; t = it.next().getTime()) ticks.push(t);
  return ticks;
}

/** A deterministic pseudo-random sequence in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('exactly-once schedules (in-process queue, injected clock)', () => {
  for (const earlyMs of [0, 3]) {
    it(`runs a per-minute schedule once per tick over 1,000 ticks while three callers re-register it around the ticks (timers ${earlyMs} ms early)`, async () => {
      const start = Date.UTC(2026, 0, 1, 0, 0, 30);
      const clock = new ManualClock(start, earlyMs);
      const queue = new MemoryJobQueue('training', contractSettings, clock);
      const runs: string[] = [];
      const worker = queue.process({ tick: async (ctx) => (runs.push(ctx.id), {}) }, { concurrency: 2 });
      const spec: SchedulerSpec = { id: 'tick', cron: '* * * * *', tz: 'UTC', jobName: 'tick', data: {} };
      const registerAll = () => Promise.all([0, 1, 2].map(() => queue.upsertScheduler(spec)));
      await registerAll();
      const next = random(earlyMs + 1);
      const ticks = ticksBetween(spec.cron, start, start + 1000 * MINUTE);
      expect(ticks).toHaveLength(1000);
      for (const tick of ticks) {
        // The three "scheduler processes" start up at any moment: just before the tick, exactly at it, just after.
        await clock.advanceTo(tick - 1 - Math.floor(next() * 5));
        if (next() < 0.5) await registerAll();
        await clock.advanceTo(tick);
        if (next() < 0.5) await registerAll();
        await clock.advanceTo(tick + Math.floor(next() * 5));
        if (next() < 0.5) await registerAll();
      }
      await clock.advanceTo(ticks.at(-1)! + 30_000);
      expect(runs).toEqual(ticks.map((t) => `repeat:tick:${t}`));
      await worker.close(1_000);
      await queue.close();
    });
  }

  it('runs the nightly train_model and update_all_recommendations once a night for 400 nights, with three runtimes registering the schedules', async () => {
    const start = Date.UTC(2026, 0, 1, 12);
    const clock = new ManualClock(start);
    // One process holds the in-process queues: every runtime (API, worker, a re-registration) shares them.
    const training = new MemoryJobQueue(TRAINING_QUEUE, contractSettings, clock);
    const refresh = new MemoryJobQueue(REFRESH_QUEUE, contractSettings, clock);
    const backends = await embeddedBackends();
    const runtimes = await Promise.all(
      [0, 1, 2].map(() => createTrainerRuntime(loadTrainerConfig({}), silentLog, { ...backends, training, refresh })),
    );
    const ran: { name: string; at: number }[] = [];
    const record = async (ctx: { name: string }) => (ran.push({ name: ctx.name, at: clock.now() }), {});
    const workers = [
      training.process({ [JOB_NAMES.train]: record }, { concurrency: 1 }),
      refresh.process({ [JOB_NAMES.refreshAll]: record }, { concurrency: 1 }),
    ];
    await Promise.all(runtimes.map((r) => registerSchedulers(r)));
    const nights = 400;
    for (let night = 1; night <= nights; night++) {
      const midnight = start - 12 * 3600_000 + night * DAY;
      // Re-registrations at the worst moments: the millisecond before each tick, at it, and between the two.
      await clock.advanceTo(midnight - 1);
      await Promise.all(runtimes.map((r) => registerSchedulers(r)));
      await clock.advanceTo(midnight);
      await Promise.all(runtimes.map((r) => registerSchedulers(r)));
      await clock.advanceTo(midnight + 15 * MINUTE);
      await registerSchedulers(runtimes[night % 3]);
      await clock.advanceTo(midnight + 30 * MINUTE);
      await Promise.all(runtimes.map((r) => registerSchedulers(r)));
    }
    await clock.advanceTo(start + nights * DAY);
    const expected = Array.from({ length: nights }, (_, n) => start - 12 * 3600_000 + (n + 1) * DAY).flatMap((midnight) => [
      { name: JOB_NAMES.train, at: midnight },
      { name: JOB_NAMES.refreshAll, at: midnight + 30 * MINUTE },
    ]);
    expect(ran).toEqual(expected);
    await Promise.all(workers.map((w) => w.close(1_000)));
    await Promise.all(runtimes.map((r) => r.close()));
    await training.close();
    await refresh.close();
  });
});

describeWithServers(['REDIS_URL'], 'exactly-once schedules (BullMQ job schedulers, three instances on real Redis)', () => {
  const prefixes: string[] = [];
  const freshPrefix = () => {
    prefixes.push(`test-${randomUUID().slice(0, 8)}`);
    return prefixes.at(-1)!;
  };
  afterAll(async () => {
    for (const prefix of prefixes) await deleteRedisKeys(serverUrl('REDIS_URL')!, prefix);
  });

  it('three scheduler processes registering the nightly schedules at once leave one scheduler and one pending job per tick', async () => {
    const redisUrl = serverUrl('REDIS_URL')!;
    const prefix = freshPrefix();
    const env = { REDIS_URL: redisUrl, QUEUE_PREFIX: prefix };
    const backends = await embeddedBackends();
    const runtimes = await Promise.all([0, 1, 2].map(() => createTrainerRuntime(loadTrainerConfig(env), silentLog, backends)));
    try {
      for (let round = 0; round < 5; round++) await Promise.all(runtimes.map((r) => registerSchedulers(r)));
      for (const [queueName, schedulerId, cron] of [
        [TRAINING_QUEUE, SCHEDULER_IDS.train, '0 0 * * *'],
        [REFRESH_QUEUE, SCHEDULER_IDS.refreshAll, '30 0 * * *'],
      ] as const) {
        const raw = new Queue(queueName, { connection: { url: redisUrl }, prefix });
        try {
          const schedulers = await raw.getJobSchedulers();
          expect(schedulers.map((s) => s.key)).toEqual([schedulerId]);
          const next = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: new Date() }).next().getTime();
          // BullMQ's per-tick dedupe: the iteration's job id is repeat:{scheduler id}:{tick ms}, added at most once.
          const pending = await raw.getJobs(['delayed', 'waiting', 'active']);
          expect(pending.map((j) => j.id)).toEqual([`repeat:${schedulerId}:${next}`]);
        } finally {
          await raw.close();
        }
      }
    } finally {
      await Promise.all(runtimes.map((r) => r.close()));
    }
  });

  it('a per-second schedule, re-registered all the time by three instances with a worker each, runs each tick once', async () => {
    const redisUrl = serverUrl('REDIS_URL')!;
    const prefix = freshPrefix();
    const queues: JobQueue[] = [0, 1, 2].map(() => new BullMqJobQueue('ticks', { ...contractSettings, redisUrl, prefix }));
    const runs: { id: string; instance: number }[] = [];
    const workers = queues.map((queue, instance) =>
      queue.process({ tick: async (ctx) => (runs.push({ id: ctx.id, instance }), {}) }, { concurrency: 2 }),
    );
    const spec: SchedulerSpec = { id: 'tick', cron: '* * * * * *', tz: 'UTC', jobName: 'tick', data: {} };
    let registering = true;
    // Each instance upserts the scheduler again and again (start-ups, reconnects), at moments of its own.
    const loops = queues.map(async (queue, i) => {
      const next = random(i + 11);
      while (registering) {
        await queue.upsertScheduler(spec);
        await new Promise((r) => setTimeout(r, 50 + Math.floor(next() * 400)));
      }
    });
    try {
      await expect.poll(() => new Set(runs.map((r) => r.id)).size, { timeout: 60_000, interval: 100 }).toBeGreaterThanOrEqual(10);
    } finally {
      registering = false;
      await Promise.all(loops);
      await queues[0].removeScheduler('tick');
      await Promise.all(workers.map((w) => w.close(2_000)));
      await Promise.all(queues.map((q) => q.close()));
    }
    const ids = runs.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length); // no tick ran twice
    const ticks = ids.map((id) => {
      const match = /^repeat:tick:(\d+)$/.exec(id);
      expect(match, id).not.toBeNull();
      return Number(match![1]);
    });
    for (const tick of ticks) expect(tick % 1000).toBe(0);
  });

  it('a tick that came while no worker ran survives the re-registration by the workers that start later, and runs once', async () => {
    const redisUrl = serverUrl('REDIS_URL')!;
    const prefix = freshPrefix();
    const queues: JobQueue[] = [0, 1, 2].map(() => new BullMqJobQueue('ticks', { ...contractSettings, redisUrl, prefix }));
    const raw = new Queue('ticks', { connection: { url: redisUrl }, prefix });
    const spec: SchedulerSpec = { id: 'tick', cron: '* * * * * *', tz: 'UTC', jobName: 'tick', data: { label: 'nightly' } };
    const runs: string[] = [];
    let worker: ReturnType<JobQueue['process']> | undefined;
    try {
      await queues[0].upsertScheduler(spec);
      const [pending] = await raw.getJobs(['delayed']);
      const tick = Number(/^repeat:tick:(\d+)$/.exec(pending.id!)![1]);
      // Every worker is down when the tick comes: its job stays delayed, due, until one starts.
      await new Promise((r) => setTimeout(r, Math.max(0, tick - Date.now()) + 1_200));
      // Two workers start up and register the schedules (unchanged) before taking jobs.
      await Promise.all([queues[1].upsertScheduler(spec), queues[2].upsertScheduler(spec)]);
      expect(await raw.getJob(pending.id!)).toBeDefined();
      worker = queues[1].process({ tick: async (ctx) => (runs.push(ctx.id), {}) }, { concurrency: 1 });
      await expect.poll(() => runs.length, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(1);
      expect(runs[0]).toBe(pending.id);
    } finally {
      await queues[0].removeScheduler('tick');
      await worker?.close(2_000);
      await raw.close();
      await Promise.all(queues.map((q) => q.close()));
    }
    expect(new Set(runs).size).toBe(runs.length);
  });
});
