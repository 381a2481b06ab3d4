import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../native/src/index.js';
import { ownRedis, type OwnedServer } from '../../lib/test/support/processes.js';
import { describeWithServers } from '../../lib/test/support/servers.js';
import type { ModelCore } from '../src/model-core.js';
import type { JobQueue, JsonObject } from '../src/queue/types.js';
import { JOB_NAMES } from '../src/runtime.js';
import { redisMarkerKey, SCHEDULER_IDS } from '../src/worker.js';
import { embeddedBackends, eventually, fillSmallWorld, startHarness, waitForRun, type Harness } from './support/harness.js';

/** Records every job added to the queue (name, data, id) while passing it on. */
function recordAdds(queue: JobQueue): { name: string; data: JsonObject; id: string }[] {
  const adds: { name: string; data: JsonObject; id: string }[] = [];
  const add = queue.add.bind(queue);
  queue.add = async (name, data, options) => {
    const result = await add(name, data, options);
    adds.push({ name, data, id: result.job.id });
    return result;
  };
  return adds;
}

describe('the cache is refilled per model as soon as that model is promoted', () => {
  let harness: Harness;
  let alsRefillDoneBeforeLightfmFit: boolean | undefined;
  let adds: ReturnType<typeof recordAdds>;

  beforeAll(async () => {
    const backends = await embeddedBackends();
    await fillSmallWorld(backends.store);
    const real = getBackend();
    // The LightFM fit (the run's second model) waits until the ALS refill has completed: if the refill were queued
    // only when the whole run ends, it could never complete first and the run would time out.
    const core: ModelCore = {
      backend: real.backend,
      warpItemRepresentations: real.warpItemRepresentations.bind(real),
      warpUserRepresentations: real.warpUserRepresentations.bind(real),
      topK: real.topK.bind(real),
      batchTopK: real.batchTopK.bind(real),
      fitAls: real.fitAls.bind(real),
      fitWarp: async (matrix, features, params, onEpoch) => {
        if (alsRefillDoneBeforeLightfmFit === undefined) {
          const refill = () => adds.find((a) => a.name === JOB_NAMES.refreshAll && JSON.stringify(a.data.modelTypes) === '["als"]');
          await eventually(async () => refill() !== undefined && (await harness.runtime.refresh.get(refill()!.id))?.state === 'completed', 30_000).then(
            () => (alsRefillDoneBeforeLightfmFit = true),
            () => (alsRefillDoneBeforeLightfmFit = false),
          );
        }
        return real.fitWarp(matrix, features, params, onEpoch);
      },
    };
    harness = await startHarness(backends, { core, env: { REFRESH_AFTER_PROMOTION: 'true', TUNE_ENABLED: 'false' } });
    adds = recordAdds(harness.runtime.refresh);
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('queues the ALS refill while LightFM still trains, then the LightFM refill, each for its own model only', async () => {
    const { run } = await harness.service.startTraining({ modelTypes: [] });
    const done = await waitForRun(harness.service, run.runId, 60_000);
    expect(done.state).toBe('completed');
    expect(done.outcomes.map((o) => [o.modelType, o.promoted])).toEqual([
      ['als', true],
      ['lightfm', true],
    ]);
    expect(alsRefillDoneBeforeLightfmFit).toBe(true);
    const refills = adds.filter((a) => a.name === JOB_NAMES.refreshAll);
    expect(refills.map((a) => a.data.modelTypes)).toEqual([['als'], ['lightfm']]); // one each, none again at the end
    for (const [i, modelType] of (['als', 'lightfm'] as const).entries()) {
      const job = await eventually(async () => (await harness.runtime.refresh.get(refills[i].id))?.state === 'completed').then(() =>
        harness.runtime.refresh.get(refills[i].id),
      );
      const models = job!.result!.models as Record<string, { version: string; users: number }>;
      expect(Object.keys(models)).toEqual([modelType]);
      expect(models[modelType].version).toBe(done.outcomes[i].version);
      expect(models[modelType].users).toBeGreaterThan(0);
    }
  });

  it('refuses a refill job naming an unknown model type, for good', async () => {
    const { job } = await harness.runtime.refresh.add(JOB_NAMES.refreshAll, { modelTypes: ['svd'] });
    await eventually(async () => (await harness.runtime.refresh.get(job.id))?.state === 'failed');
    const failed = await harness.runtime.refresh.get(job.id);
    expect(failed).toMatchObject({ attempts: 1, failedReason: expect.stringMatching(/modelTypes must be a list of als, lightfm/) });
  });
});

describeWithServers(['REDIS_URL'], 'after Redis loses its data (a Redis server of the test\'s own)', () => {
  let redis: OwnedServer;
  let harness: Harness;
  let adds: ReturnType<typeof recordAdds>;
  const prefix = 'dataloss';

  beforeAll(async () => {
    redis = await ownRedis();
    await redis.start();
    const backends = { ...(await embeddedBackends()), env: { REDIS_URL: redis.url, QUEUE_PREFIX: prefix } };
    harness = await startHarness(backends, { env: { REDIS_LOSS_CHECK_MS: '200' } });
    adds = recordAdds(harness.runtime.refresh);
  });
  afterAll(async () => {
    await harness?.close();
    await redis?.stop();
  });

  const registered = async () => ({
    training: (await harness.runtime.training.schedulers()).map((s) => s.id),
    refresh: (await harness.runtime.refresh.schedulers()).map((s) => s.id),
  });
  const everythingBack = { training: [SCHEDULER_IDS.train], refresh: [SCHEDULER_IDS.refreshAll] };

  it('writes its marker at start-up and queues nothing while Redis keeps its data', async () => {
    expect(await registered()).toEqual(everythingBack);
    const client = new Redis(redis.url);
    try {
      expect(await client.exists(redisMarkerKey(prefix))).toBe(1);
    } finally {
      client.disconnect();
    }
    await new Promise((r) => setTimeout(r, 600)); // a few checks
    expect(adds).toEqual([]);
  });

  it('FLUSHALL: the schedules are registered again and a refresh of every cached list is queued, once', async () => {
    const client = new Redis(redis.url);
    try {
      await client.flushall();
      expect(await registered()).toEqual({ training: [], refresh: [] });
      await expect.poll(registered, { timeout: 30_000, interval: 100 }).toEqual(everythingBack);
      await expect.poll(() => adds.length, { timeout: 30_000, interval: 50 }).toBe(1);
      expect(adds[0]).toMatchObject({ name: JOB_NAMES.refreshAll, data: {} });
      expect(await client.exists(redisMarkerKey(prefix))).toBe(1);
      await new Promise((r) => setTimeout(r, 600)); // later checks find the marker: nothing more
      expect(adds).toHaveLength(1);
    } finally {
      client.disconnect();
    }
  });

  it('a Redis restart without persistence (checked on reconnect and periodically): the same recovery', async () => {
    const before = adds.length;
    await redis.stop();
    await redis.start();
    await expect.poll(registered, { timeout: 60_000, interval: 200 }).toEqual(everythingBack);
    await expect.poll(() => adds.length, { timeout: 60_000, interval: 100 }).toBe(before + 1);
  });
});
