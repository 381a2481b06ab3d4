import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { describeWithServers, serverUrl } from '../../lib/test/support/servers.js';
import { ConfigError } from '../../lib/src/config.js';
import { loadTrainerConfig } from '../src/config.js';
import { createTrainerRuntime, JOB_NAMES, type RuntimeDeps } from '../src/runtime.js';
import type { SchedulerInfo } from '../src/queue/types.js';
import { registerSchedulers } from '../src/worker.js';
import { deleteRedisKeys, embeddedBackends, silentLog } from './support/harness.js';

/** `times` start-ups of the trainer on the same queues, each registering the schedulers; returns what is registered. */
async function startUps(env: Record<string, string>, times: number, deps: RuntimeDeps) {
  let registered: { training: SchedulerInfo[]; refresh: SchedulerInfo[] } | undefined;
  for (let i = 0; i < times; i++) {
    const runtime = await createTrainerRuntime(loadTrainerConfig(env), silentLog, deps);
    try {
      await registerSchedulers(runtime);
      registered = { training: await runtime.training.schedulers(), refresh: await runtime.refresh.schedulers() };
    } finally {
      await runtime.close();
    }
  }
  return registered!;
}

function schedulerSuite(baseEnv: () => Promise<{ env: Record<string, string>; deps: RuntimeDeps }>) {
  it('registers train_model at 00:00 UTC and update_all_recommendations at 00:30 UTC once, however often it starts', async () => {
    const { env, deps } = await baseEnv();
    const { training, refresh } = await startUps(env, 3, deps);
    expect(training).toHaveLength(1);
    expect(refresh).toHaveLength(1);
    expect(training[0]).toMatchObject({ id: 'train_model', cron: '0 0 * * *', tz: 'UTC', jobName: JOB_NAMES.train });
    expect(refresh[0]).toMatchObject({ id: 'update_all_recommendations', cron: '30 0 * * *', tz: 'UTC', jobName: JOB_NAMES.refreshAll });
    expect([training[0].next!.getUTCHours(), training[0].next!.getUTCMinutes()]).toEqual([0, 0]);
    expect([refresh[0].next!.getUTCHours(), refresh[0].next!.getUTCMinutes()]).toEqual([0, 30]);
    expect(training[0].next!.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);

    // A changed cron updates the same scheduler; `off` removes it.
    const changed = await startUps({ ...env, TRAIN_CRON: '15 3 * * *', REFRESH_CRON: 'off' }, 2, deps);
    expect(changed.training.map((s) => [s.id, s.cron])).toEqual([['train_model', '15 3 * * *']]);
    expect(changed.refresh).toEqual([]);
  });
}

describe('job schedulers (in-process queue)', () => {
  schedulerSuite(async () => {
    const backends = await embeddedBackends();
    // One process: the in-process queues live as long as the process, so every start-up gets the same queues.
    const runtime = await createTrainerRuntime(loadTrainerConfig({}), silentLog, backends);
    return { env: {}, deps: { ...backends, training: runtime.training, refresh: runtime.refresh } };
  });
});

describeWithServers(['REDIS_URL'], 'job schedulers (BullMQ on real Redis)', () => {
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  afterAll(() => deleteRedisKeys(serverUrl('REDIS_URL')!, prefix));
  schedulerSuite(async () => {
    const backends = await embeddedBackends();
    return { env: { REDIS_URL: serverUrl('REDIS_URL')!, QUEUE_PREFIX: prefix }, deps: backends };
  });
});

describe('trainer configuration', () => {
  it('has a default for every variable', () => {
    const config = loadTrainerConfig({});
    expect(config).toMatchObject({
      TRAIN_CRON: '0 0 * * *',
      REFRESH_CRON: '30 0 * * *',
      SCHEDULE_TZ: 'UTC',
      PROMOTION_METRIC: 'ndcgAt10',
      PROMOTION_MARGIN: 0.01,
      MODEL_KEEP_VERSIONS: 5,
      RECOMMENDATION_TTL_SECONDS: 86_400,
      JOB_ATTEMPTS: 3,
      REFIT_ON_ALL_DATA: true,
    });
  });

  it('lists every bad variable at once', () => {
    let error: unknown;
    try {
      loadTrainerConfig({ TRAIN_CRON: '0 25 * * *', REFRESH_CRON: 'daily', SCHEDULE_TZ: 'Mars/Olympus', PROMOTION_METRIC: 'auc', JOB_ATTEMPTS: '0' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['TRAIN_CRON', 'REFRESH_CRON', 'SCHEDULE_TZ', 'PROMOTION_METRIC', 'JOB_ATTEMPTS']) expect(problems).toContain(name);
  });
});
