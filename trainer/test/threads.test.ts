import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../native/src/index.js';
import { loadTrainerConfig } from '../src/config.js';
import type { ModelCore } from '../src/model-core.js';
import { embeddedBackends, eventually, fillSmallWorld, startHarness, waitForRun, type Backends, type Harness } from './support/harness.js';

type Threaded = 'fitAls' | 'fitWarp' | 'batchTopK';

/** The real models library, recording the `threads` of every multi-threaded call it receives. */
function recordingCore(): { core: ModelCore; calls: { method: Threaded; threads: number | undefined }[] } {
  const real = getBackend();
  const calls: { method: Threaded; threads: number | undefined }[] = [];
  const core: ModelCore = {
    backend: real.backend,
    warpItemRepresentations: real.warpItemRepresentations.bind(real),
    warpUserRepresentations: real.warpUserRepresentations.bind(real),
    topK: real.topK.bind(real),
    fitAls: (matrix, params, onIteration) => {
      calls.push({ method: 'fitAls', threads: params?.threads });
      return real.fitAls(matrix, params, onIteration);
    },
    fitWarp: (matrix, features, params, onEpoch) => {
      calls.push({ method: 'fitWarp', threads: params?.threads });
      return real.fitWarp(matrix, features, params, onEpoch);
    },
    batchTopK: (query) => {
      calls.push({ method: 'batchTopK', threads: query.threads });
      return real.batchTopK(query);
    },
  };
  return { core, calls };
}

describe('TRAIN_THREADS sizes the native core of a worker', () => {
  let backends: Backends;
  let harness: Harness;
  const { core, calls } = recordingCore();

  beforeAll(async () => {
    backends = await embeddedBackends();
    await fillSmallWorld(backends.store);
    // 3: neither the default (0 = every core) nor the test default of 1, so only the setting can produce it.
    harness = await startHarness(backends, { core, env: { TRAIN_THREADS: '3', REFRESH_AFTER_PROMOTION: 'true' } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('passes the setting to every fit and batch top-K of a training run and of the refresh that follows', async () => {
    const { run } = await harness.service.startTraining({ modelTypes: [] });
    expect((await waitForRun(harness.service, run.runId)).state).toBe('completed');
    // The promotion queues update_all_recommendations, which ranks every user with batchTopK.
    await eventually(() => calls.filter((c) => c.method === 'batchTopK').length >= 3);
    const methods = new Set(calls.map((c) => c.method));
    expect([...methods].sort()).toEqual(['batchTopK', 'fitAls', 'fitWarp']);
    expect(calls.filter((c) => c.threads !== 3)).toEqual([]);
  });

  it('defaults to 0 (every core of the machine, for one process) and refuses a value outside 0-256', () => {
    expect(loadTrainerConfig({}).TRAIN_THREADS).toBe(0);
    expect(loadTrainerConfig({ TRAIN_THREADS: '4' }).TRAIN_THREADS).toBe(4);
    expect(() => loadTrainerConfig({ TRAIN_THREADS: '-1' })).toThrow(/TRAIN_THREADS/);
    expect(() => loadTrainerConfig({ TRAIN_THREADS: 'half' })).toThrow(/TRAIN_THREADS/);
  });
});
