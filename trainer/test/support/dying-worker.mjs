// A trainer worker that takes one job from a BullMQ queue, reports progress, prints "started" and then hangs until
// the test kills it (SIGKILL): the worker that dies mid-run. Plain JavaScript so that it runs in a child Node process
// without a TypeScript loader; its lock settings are the ones the test gives the trainer (JOB_LOCK_MS).
// Usage: node dying-worker.mjs <redis url> <queue prefix> <queue name> <lock ms> <stalled interval ms>
// (every process must use the same settings: the stalled check runs at most once per interval across all of them).
import { Worker } from 'bullmq';

const [redisUrl, prefix, queueName, lockMs, stalledMs] = process.argv.slice(2);
const worker = new Worker(
  queueName,
  async (job) => {
    await job.updateProgress({ fraction: 0.3, stage: 'train_als', timings: {}, dataStats: {}, outcomes: [] });
    process.stdout.write(`started ${job.id}\n`);
    await new Promise(() => undefined);
  },
  { connection: { url: redisUrl, maxRetriesPerRequest: null }, prefix, lockDuration: Number(lockMs), stalledInterval: Number(stalledMs), concurrency: 1 },
);
worker.on('error', () => undefined);
