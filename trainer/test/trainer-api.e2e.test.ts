import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callUnary } from '../../lib/src/grpc/client.js';
import { sendApiKey } from '../../lib/src/grpc/auth.js';
import { fileNameOf, newVersion } from '../../lib/src/models/artifact.js';
import { ModelRegistry } from '../../lib/src/models/registry.js';
import { ARTIFACT_ARRAYS as A } from '../../lib/src/models/layout.js';
import {
  JobState,
  ModelType,
  TrainerServiceClient,
  TrainingRunState,
  type StartTrainingRequest,
  type UpdateModelConfigRequest,
  type TrainingRun,
} from '../../lib/src/proto.js';
import { describeWithServers } from '../../lib/test/support/servers.js';
import { loadRecsvcConfig } from '../../recsvc/src/config.js';
import { startRecsvc, type RunningRecsvc } from '../../recsvc/src/server.js';
import { loadTrainerConfig } from '../src/config.js';
import { startTrainer, type RunningTrainerWithWorker } from '../src/server.js';
import { embeddedBackends, eventually, FAST_ENV, fillSmallWorld, realBackends, silentLog, type Backends } from './support/harness.js';

const ADMIN_KEY = 'trainer-e2e-admin-key-0123456789';
const { ALS: MODEL_ALS, LIGHTFM: MODEL_LIGHTFM } = { ALS: ModelType.MODEL_TYPE_ALS, LIGHTFM: ModelType.MODEL_TYPE_LIGHTFM };

/** The Trainer API over gRPC (API and worker in one process) next to a recommendation service on the same backends. */
function apiSuite(makeBackends: () => Promise<Backends>) {
  let backends: Backends;
  let trainer: RunningTrainerWithWorker;
  let recsvc: RunningRecsvc;
  let client: TrainerServiceClient;
  const call = <Req, Res>(method: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => grpc.ClientUnaryCall, request: Req) =>
    callUnary(client, method, request, { timeoutMs: 10_000 });
  const startTraining = (request: Partial<StartTrainingRequest>) =>
    call(client.startTraining, { modelTypes: [], ...request } as StartTrainingRequest);
  const getRun = (runId: string) => call(client.getTrainingRun, { runId });
  const waitForRun = async (runId: string): Promise<TrainingRun> => {
    for (let i = 0; i < 600; i++) {
      const { run } = await getRun(runId);
      if (run!.state === TrainingRunState.TRAINING_RUN_STATE_COMPLETED || run!.state === TrainingRunState.TRAINING_RUN_STATE_FAILED) return run!;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${runId} did not finish`);
  };
  const codeOf = async (promise: Promise<unknown>): Promise<[grpc.status, string]> => {
    try {
      await promise;
    } catch (err) {
      const e = err as grpc.ServiceError;
      return [e.code, e.details];
    }
    throw new Error('expected the call to fail');
  };

  beforeAll(async () => {
    backends = await makeBackends();
    await fillSmallWorld(backends.store);
    const deps = { store: backends.store, cache: backends.cache, objects: backends.objects };
    recsvc = await startRecsvc(loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0', MODEL_POLL_SECONDS: '3600' }), silentLog, deps);
    const apiKeys = `e2e:admin:${ADMIN_KEY}`;
    trainer = await startTrainer(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', API_KEYS: apiKeys, ...FAST_ENV, ...backends.env }), silentLog, deps);
    client = new TrainerServiceClient(`127.0.0.1:${trainer.port}`, grpc.credentials.createInsecure(), { interceptors: [sendApiKey(ADMIN_KEY)] });
  });
  afterAll(async () => {
    client?.close();
    await trainer?.shutdown(2_000);
    await recsvc?.shutdown(2_000);
    await backends?.close();
  });

  it('trains over gRPC, and the recommendation service swaps the new versions in without a restart', async () => {
    expect(recsvc.models.current('als')).toBeUndefined();
    const started = await startTraining({ modelTypes: [MODEL_LIGHTFM, MODEL_ALS], alsParams: { factors: 4, regularization: 0, alpha: 0, iterations: 0, cgSteps: 0, seed: 0 } });
    expect(started.existing).toBe(false);
    expect(started.run).toMatchObject({ modelTypes: [MODEL_ALS, MODEL_LIGHTFM] });
    const again = await startTraining({});
    expect(again).toMatchObject({ existing: true, run: { runId: started.run!.runId } });

    const run = await waitForRun(started.run!.runId);
    expect(run).toMatchObject({ state: TrainingRunState.TRAINING_RUN_STATE_COMPLETED, progress: 1, error: '', attempts: 1 });
    expect(run.createdAt).toBeInstanceOf(Date);
    expect(run.finishedAt).toBeInstanceOf(Date);
    expect(Object.keys(run.timings).sort()).toEqual(['build', 'evaluate', 'read', 'train_als', 'train_lightfm', 'tune_als', 'tune_lightfm', 'upload']);
    expect(run.dataStats).toMatchObject({ users: 60, items: 80 });
    expect(run.outcomes.map((o) => [o.modelType, o.promoted])).toEqual([
      [MODEL_ALS, true],
      [MODEL_LIGHTFM, true],
    ]);
    expect(run.outcomes[0].metrics.ndcgAt10).toBeGreaterThan(0);

    const { models } = await call(client.listModels, { modelType: ModelType.MODEL_TYPE_UNSPECIFIED });
    expect(models.map((m) => [m.modelType, m.version, m.active])).toEqual(run.outcomes.map((o) => [o.modelType, o.version, true]));
    expect(models[0].params).toMatchObject({ factors: 4 }); // an override is fixed, never searched
    expect(models[0].tuning).toMatchObject({ metric: 'ndcgAt10', startedFrom: 'configured' });
    expect(Object.keys(models[0].tuning!.space).sort()).toEqual(['alpha', 'iterations', 'regularization']);
    expect((await call(client.listModels, { modelType: MODEL_LIGHTFM })).models).toHaveLength(1);

    // Hot reload: the activation message makes the running recommendation service load and swap each version.
    await eventually(() => recsvc.models.current('als')?.version === run.outcomes[0].version, 10_000);
    await eventually(() => recsvc.models.current('lightfm')?.version === run.outcomes[1].version, 10_000);

    const activated = await call(client.activateModel, { modelType: MODEL_ALS, version: run.outcomes[0].version });
    expect(activated.model).toMatchObject({ modelType: MODEL_ALS, version: run.outcomes[0].version, active: true });
    // Every job the API starts can be polled with GetJob: refreshes and training runs alike.
    const refreshAll = (await call(client.refreshRecommendations, { userId: '' })).jobId;
    const refreshOne = (await call(client.refreshRecommendations, { userId: 'u3' })).jobId;
    const finished = async (jobId: string) => {
      for (let i = 0; i < 600; i++) {
        const { job } = await call(client.getJob, { jobId });
        if (job!.state === JobState.JOB_STATE_COMPLETED || job!.state === JobState.JOB_STATE_FAILED) return job!;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`job ${jobId} did not finish`);
    };
    const all = await finished(refreshAll);
    expect(all).toMatchObject({ jobId: refreshAll, name: 'update_all_recommendations', state: JobState.JOB_STATE_COMPLETED, progress: 1, error: '' });
    expect(all.stats['models.als.users']).toBeGreaterThan(0);
    expect(await finished(refreshOne)).toMatchObject({ name: 'update_recommendations', state: JobState.JOB_STATE_COMPLETED });
    expect((await call(client.getJob, { jobId: started.run!.runId })).job).toMatchObject({ name: 'train_model', state: JobState.JOB_STATE_COMPLETED });
  });

  it('answers bad input with INVALID_ARGUMENT and unknown runs or versions with NOT_FOUND', async () => {
    const { INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION } = grpc.status;
    expect(await codeOf(startTraining({ modelTypes: [ModelType.MODEL_TYPE_UNSPECIFIED] }))).toEqual([
      INVALID_ARGUMENT,
      'model_types[0] must be MODEL_TYPE_ALS or MODEL_TYPE_LIGHTFM, got 0',
    ]);
    expect((await codeOf(startTraining({ modelTypes: [42 as ModelType] })))[0]).toBe(INVALID_ARGUMENT);
    expect(await codeOf(startTraining({ alsParams: { factors: -3, regularization: 0, alpha: 0, iterations: 0, cgSteps: 0, seed: 0 } }))).toEqual([
      INVALID_ARGUMENT,
      'als_params.factors must be at least 1 and at most 1024, got -3',
    ]);
    expect(
      await codeOf(startTraining({ warpParams: { noComponents: 0, epochs: 0, learningRate: 11, maxSampled: 0, itemAlpha: 0, userAlpha: 0, seed: 0 } })),
    ).toEqual([INVALID_ARGUMENT, 'warp_params.learning_rate must be above 0 and at most 10, got 11']);
    expect(await codeOf(getRun(''))).toEqual([INVALID_ARGUMENT, 'run_id is required']);
    expect((await codeOf(getRun('not a run id!')))[0]).toBe(INVALID_ARGUMENT);
    expect(await codeOf(getRun('0b0e5c2e-0000-4000-8000-000000000000'))).toEqual([
      NOT_FOUND,
      "training run '0b0e5c2e-0000-4000-8000-000000000000' not found (unknown, or older than the retention)",
    ]);
    expect(await codeOf(call(client.getJob, { jobId: '' }))).toEqual([INVALID_ARGUMENT, 'job_id is required']);
    expect(await codeOf(call(client.getJob, { jobId: 'nope-0000' }))).toEqual([NOT_FOUND, "job 'nope-0000' not found (unknown, or older than the retention)"]);
    expect((await codeOf(call(client.listModels, { modelType: 9 as ModelType })))[0]).toBe(INVALID_ARGUMENT);
    expect((await codeOf(call(client.activateModel, { modelType: ModelType.MODEL_TYPE_UNSPECIFIED, version: 'x' })))[0]).toBe(INVALID_ARGUMENT);
    expect(await codeOf(call(client.activateModel, { modelType: MODEL_ALS, version: '' }))).toEqual([INVALID_ARGUMENT, 'version is required']);
    const [versionCode, versionMessage] = await codeOf(call(client.activateModel, { modelType: MODEL_ALS, version: 'latest' }));
    expect(versionCode).toBe(INVALID_ARGUMENT);
    expect(versionMessage).toMatch(/^invalid model version 'latest': a version is the UTC training time .* e\.g\. 20261124T000000123Z-a1b2c3 \(GET \/models lists the versions\)$/);
    expect(await codeOf(call(client.activateModel, { modelType: MODEL_ALS, version: '20990101T000000000Z-abcdef' }))).toEqual([
      NOT_FOUND,
      "model als version '20990101T000000000Z-abcdef' not found",
    ]);
    expect((await codeOf(call(client.refreshRecommendations, { userId: 'no spaces allowed' })))[0]).toBe(INVALID_ARGUMENT);

    // A corrupted artifact is refused: FAILED_PRECONDITION, the active version stays.
    const { models } = await call(client.listModels, { modelType: MODEL_LIGHTFM });
    const version = models[0].version;
    const key = `models/lightfm/${version}/${fileNameOf(A.userVectors, 'f32')}`;
    const body = Buffer.from(await backends.objects.get(key));
    body[body.length - 1] ^= 0x01;
    await backends.objects.put(key, body);
    const [code, message] = await codeOf(call(client.activateModel, { modelType: MODEL_LIGHTFM, version }));
    expect(code).toBe(FAILED_PRECONDITION);
    expect(message).toMatch(/checksum of userVectors does not match the manifest/);
  });

  it("stores each model's settings: read and changed over gRPC, validated with the allowed ranges, used by the next run", async () => {
    const { INVALID_ARGUMENT } = grpc.status;
    const update = (patch: Partial<UpdateModelConfigRequest>) =>
      call(client.updateModelConfig, { modelType: MODEL_ALS, values: {}, search: {}, stopSearching: [], reset: false, ...patch });
    const initial = (await call(client.getModelConfig, { modelType: MODEL_ALS })).config!;
    expect(initial).toMatchObject({ modelType: MODEL_ALS, source: 'environment', values: { factors: 8, iterations: 3 }, tuning: { enabled: true, maxTrials: 3 } });
    expect(initial.updatedAt).toBeUndefined();
    expect(Object.keys(initial.search).sort()).toEqual(['alpha', 'factors', 'iterations', 'regularization']);

    const updated = (await update({ values: { factors: 6 }, search: { alpha: { min: 0.1, max: 2, integer: false, scale: '' } }, stopSearching: ['factors', 'iterations'], tuning: { maxTrials: 2 } })).config!;
    expect(updated).toMatchObject({ source: 'stored', values: { factors: 6, iterations: 3 }, tuning: { maxTrials: 2, enabled: true }, search: { alpha: { min: 0.1, max: 2, scale: 'log' } } });
    expect(Object.keys(updated.search).sort()).toEqual(['alpha', 'regularization']);
    expect((await call(client.getModelConfig, { modelType: MODEL_ALS })).config).toEqual(updated);

    expect(await codeOf(update({ values: { factors: 2000 } }))).toEqual([INVALID_ARGUMENT, 'values.factors must be at least 1 and at most 1024, got 2000']);
    expect(await codeOf(update({ values: { rank: 3 } }))).toEqual([
      INVALID_ARGUMENT,
      'values.rank is not a als hyper-parameter (allowed: factors, regularization, alpha, iterations, cgSteps, seed)',
    ]);
    expect(await codeOf(update({ search: { alpha: { min: 3, max: 2, integer: false, scale: 'log' } } }))).toEqual([
      INVALID_ARGUMENT,
      'search.alpha.min (3) must not exceed search.alpha.max (2)',
    ]);
    expect(await codeOf(update({ search: { seed: { min: 1, max: 2, integer: true, scale: 'log' } } }))).toEqual([INVALID_ARGUMENT, 'search.seed cannot be searched (only fixed)']);
    expect(await codeOf(update({ tuning: { validationFraction: 0.9 } }))).toEqual([INVALID_ARGUMENT, 'tuning.validation_fraction must be at least 0.05 and at most 0.5, got 0.9']);
    expect((await codeOf(call(client.getModelConfig, { modelType: ModelType.MODEL_TYPE_UNSPECIFIED })))[0]).toBe(INVALID_ARGUMENT);
    expect((await call(client.getModelConfig, { modelType: MODEL_ALS })).config).toEqual(updated); // nothing half-written

    // The next run (scheduled runs carry no overrides either) uses the stored settings, warm-started from the active version.
    const activeBefore = (await call(client.listModels, { modelType: MODEL_ALS })).models.find((m) => m.active)!.version;
    const run = await waitForRun((await startTraining({ modelTypes: [MODEL_ALS] })).run!.runId);
    expect(run.state).toBe(TrainingRunState.TRAINING_RUN_STATE_COMPLETED);
    const newest = (await call(client.listModels, { modelType: MODEL_ALS })).models.find((m) => m.version === run.outcomes[0].version)!;
    expect(newest.params.factors).toBe(6);
    expect(newest.tuning!.startedFrom).toBe(`active:${activeBefore}`);
    expect(newest.tuning!.trials.length).toBeLessThanOrEqual(2);
    expect(Object.keys(newest.tuning!.space).sort()).toEqual(['alpha', 'regularization']);
    expect(run.outcomes[0].reason).toMatch(/on the same holdout|no active version/);

    const reset = (await update({ reset: true })).config!;
    expect(reset).toMatchObject({ source: 'environment', values: { factors: 8 } });
  });

  it('never activates an insane version by hand: FAILED_PRECONDITION with the reason', async () => {
    const registry = new ModelRegistry(backends.objects);
    const version = newVersion(new Date(Date.UTC(2030, 0, 1)));
    await registry.publish(
      { modelType: 'als', version, createdAt: new Date().toISOString(), params: { factors: 2 }, dataStats: {}, metrics: { ndcgAt10: 0.1 }, dimensions: { users: 1, items: 2, factors: 2 } },
      { [A.userVectors]: new Float32Array([1, Number.NaN]), [A.itemVectors]: new Float32Array([1, 0, 0, 1]), [A.userBiases]: new Float32Array(1), [A.itemBiases]: new Float32Array(2) },
      { users: ['u1'], items: ['m1', 'm2'] },
    );
    const before = await registry.activeVersion('als');
    const [code, message] = await codeOf(call(client.activateModel, { modelType: MODEL_ALS, version }));
    expect(code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(message).toBe(`als ${version} cannot be activated: userVectors[1] is NaN: the fit diverged (scores would not be finite)`);
    expect(await registry.activeVersion('als')).toBe(before);
  });
}

describe('Trainer gRPC API (embedded backends, in-process queue)', () => apiSuite(embeddedBackends));

describeWithServers(['REDIS_URL', 'MONGO_URL', 'S3_ENDPOINT'], 'Trainer gRPC API (real Redis/BullMQ, FerretDB, MinIO)', () =>
  apiSuite(realBackends),
);
