import { afterAll, describe } from 'vitest';
import { randomUUID } from 'node:crypto';
import { BullMqJobQueue } from '../src/queue/bullmq-queue.js';
import { MemoryJobQueue } from '../src/queue/memory-queue.js';
import { describeWithServers, serverUrl } from '../../lib/test/support/servers.js';
import { jobQueueContract } from './job-queue.contract.js';
import { deleteRedisKeys } from './support/harness.js';

describe('MemoryJobQueue', () => jobQueueContract(async (settings) => new MemoryJobQueue('contract', settings)));

describeWithServers(['REDIS_URL'], 'BullMqJobQueue (real Redis)', () => {
  // A prefix of its own per queue: no test sees another's jobs or schedulers.
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteRedisKeys(serverUrl('REDIS_URL')!, prefix);
  });
  jobQueueContract(async (settings) => {
    prefixes.push(`test-${randomUUID().slice(0, 8)}`);
    return new BullMqJobQueue('contract', { ...settings, redisUrl: serverUrl('REDIS_URL')!, prefix: prefixes.at(-1)! });
  });
});
