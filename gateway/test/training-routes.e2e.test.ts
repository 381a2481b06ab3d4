/**
 * The training routes of the REST gateway over a real Trainer service (embedded backends, in-process queue):
 * model settings (GET/PUT /models/{model_type}/config), the tuning trace in GET /models, and the 400s that name
 * the allowed range or say why a version cannot be activated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newVersion } from '../../lib/src/models/artifact.js';
import { ARTIFACT_ARRAYS as A } from '../../lib/src/models/layout.js';
import { ModelRegistry } from '../../lib/src/models/registry.js';
import { loadTrainerConfig } from '../../trainer/src/config.js';
import { startTrainer, type RunningTrainerWithWorker } from '../../trainer/src/server.js';
import { embeddedBackends, FAST_ENV, fillSmallWorld, silentLog, type Backends } from '../../trainer/test/support/harness.js';
import { buildGateway } from '../src/app.js';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { AUTH, TEST_API_KEYS } from '../../lib/test/support/stack.js';
import { Upstreams } from '../src/upstreams.js';

describe('REST training routes: model settings, tuning trace, activation refusals', () => {
  let backends: Backends;
  let trainer: RunningTrainerWithWorker;
  let upstreams: Upstreams;
  let app: Awaited<ReturnType<typeof buildGateway>>;

  beforeAll(async () => {
    backends = await embeddedBackends();
    await fillSmallWorld(backends.store);
    trainer = await startTrainer(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', API_KEYS: TEST_API_KEYS, ...FAST_ENV }), silentLog, {
      store: backends.store,
      cache: backends.cache,
      objects: backends.objects,
    });
    // No recommendation service is needed for these routes: its address is never called.
    upstreams = new Upstreams('127.0.0.1:9', `127.0.0.1:${trainer.port}`, 10_000);
    app = await buildGateway({ upstreams, log: silentLog, apiKeys: new ApiKeyStore({ inline: TEST_API_KEYS }) });
  });
  afterAll(async () => {
    await app?.close();
    upstreams?.close();
    await trainer?.shutdown(2_000);
    await backends?.close();
  });

  const get = async (url: string) => {
    const res = await app.inject({ method: 'GET', url });
    return { status: res.statusCode, body: res.json() };
  };
  const send = async (method: 'PUT' | 'POST', url: string, payload: unknown) => {
    const res = await app.inject({ method, url, payload: payload as object, headers: AUTH });
    return { status: res.statusCode, body: res.json() };
  };

  it('reads and changes a model config; errors are 400 naming the allowed range; nothing half-written', async () => {
    const initial = await get('/models/lightfm/config');
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({
      model_type: 'lightfm',
      source: 'environment',
      updated_at: null,
      values: { noComponents: 8, epochs: 3, learningRate: 0.03, maxSampled: 30 },
      tuning: { enabled: true, max_trials: 3, budget_fits: 4, validation_fraction: 0.2 },
    });
    expect(Object.keys(initial.body.search).sort()).toEqual(['epochs', 'itemAlpha', 'learningRate', 'maxSampled', 'noComponents', 'userAlpha']);

    const changed = await send('PUT', '/models/lightfm/config', {
      values: { learningRate: 0.05 },
      search: { epochs: { min: 2, max: 6 } },
      stop_searching: ['itemAlpha', 'userAlpha'],
      tuning: { max_trials: 2 },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      source: 'stored',
      values: { learningRate: 0.05 },
      search: { epochs: { min: 2, max: 6, integer: true, scale: 'log' } },
      tuning: { enabled: true, max_trials: 2 },
    });
    expect(changed.body.updated_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(Object.keys(changed.body.search)).not.toContain('itemAlpha');
    expect((await get('/models/lightfm/config')).body).toEqual(changed.body);

    const tooHigh = await send('PUT', '/models/lightfm/config', { values: { learningRate: 11 } });
    expect(tooHigh).toEqual({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: 'values.learningRate must be above 0 and at most 10, got 11' } } });
    const budget = await send('PUT', '/models/lightfm/config', { tuning: { max_trials: 0 } });
    expect(budget).toEqual({ status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: 'tuning.max_trials must be at least 1 and at most 1000, got 0' } } });
    // An integer beyond the protobuf int32 it travels in (found by schemathesis): a 400 naming the bound, not a 500.
    const huge = await send('PUT', '/models/lightfm/config', { tuning: { max_trials: -85167645377365049575039041536 } });
    expect(huge.status).toBe(400);
    expect(huge.body.error.message).toMatch(/max_trials must be >= -2147483648/);
    expect((await send('PUT', '/models/lightfm/config', { bogus: 1 })).status).toBe(400);
    expect((await get('/models/knn/config')).status).toBe(400);
    expect((await get('/models/lightfm/config')).body).toEqual(changed.body);

    const reset = await send('PUT', '/models/lightfm/config', { reset: true });
    expect(reset.body).toMatchObject({ source: 'environment', values: { learningRate: 0.03 } });
  });

  it('shows how each version chose its parameters in GET /models', async () => {
    const started = await send('POST', '/training/runs', { models: ['als'] });
    expect(started.status).toBe(202);
    let run = started.body.run;
    for (let i = 0; i < 400 && run.state !== 'completed' && run.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      run = (await get(`/training/runs/${run.run_id}`)).body;
    }
    expect(run.state).toBe('completed');
    const { body } = await get('/models?model=als');
    const version = body.models.find((m: { version: string }) => m.version === run.outcomes[0].version);
    expect(version.tuning).toMatchObject({ metric: 'ndcgAt10', started_from: 'configured', validation_fraction: 0.2 });
    expect(version.tuning.trials.length).toBeGreaterThanOrEqual(1);
    const chosen = version.tuning.trials[version.tuning.chosen];
    expect(chosen.kept).toBe(true);
    for (const [name, value] of Object.entries(chosen.params)) expect(version.params[name]).toBe(value);
  });

  it('refuses to activate an insane version: 400 FAILED_PRECONDITION with the reason', async () => {
    const registry = new ModelRegistry(backends.objects);
    const version = newVersion(new Date(Date.UTC(2031, 0, 1)));
    await registry.publish(
      { modelType: 'als', version, createdAt: new Date().toISOString(), params: {}, dataStats: {}, metrics: {}, dimensions: { users: 1, items: 1, factors: 1 } },
      { [A.userVectors]: new Float32Array([1e5]), [A.itemVectors]: new Float32Array([1e5]), [A.userBiases]: new Float32Array(1), [A.itemBiases]: new Float32Array(1) },
      { users: ['u1'], items: ['m1'] },
    );
    const res = await send('POST', '/models/als/activate', { version });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('FAILED_PRECONDITION');
    expect(res.body.error.message).toMatch(/cannot be activated: scores reach up to 1\.00e\+10 in absolute value, beyond the sane bound 10000/);
  });
});
