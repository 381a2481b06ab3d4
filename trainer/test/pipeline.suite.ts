import { afterEach, beforeEach, expect, it } from 'vitest';
import { MODEL_TYPES, type ModelTypeName } from '../../lib/src/domain.js';
import { NotFoundError } from '../../lib/src/errors.js';
import { fileNameOf } from '../../lib/src/models/artifact.js';
import { catalogueFingerprint } from '../../lib/src/models/fingerprint.js';
import { ARTIFACT_ARRAYS as A, ARTIFACT_ID_MAPS as M } from '../../lib/src/models/layout.js';
import { CorruptModelError, ModelRegistry } from '../../lib/src/models/registry.js';
import type { ObjectStore } from '../../lib/src/objectstore/types.js';
import { decodeRecommendations, recommendationKey, CACHED_LIST_LENGTH } from '../../lib/src/recommendation-cache.js';
import { GENRES } from '../../lib/src/domain.js';
import type { TuningTrace } from '../src/tuning.js';
import { loadModelCore, type ModelCore } from '../src/model-core.js';
import { JOB_NAMES } from '../src/runtime.js';
import { waitForState } from './job-queue.contract.js';
import { eventually, fillSmallWorld, startHarness, waitForRun, type Backends, type Harness } from './support/harness.js';

/** An object store whose first `put` of a file matching `pattern` fails (an S3 outage in the middle of an upload). */
class FailOncePut implements ObjectStore {
  failures = 0;
  constructor(
    private readonly inner: ObjectStore,
    private readonly pattern: RegExp,
  ) {}
  ensureBucket = () => this.inner.ensureBucket();
  get = (key: string) => this.inner.get(key);
  list = (prefix: string) => this.inner.list(prefix);
  remove = (keys: readonly string[]) => this.inner.remove(keys);
  ping = () => this.inner.ping();
  async put(key: string, body: Buffer): Promise<void> {
    if (this.failures === 0 && this.pattern.test(key)) {
      this.failures++;
      throw new Error(`injected upload failure on ${key}`);
    }
    await this.inner.put(key, body);
  }
}

/**
 * The real models library with ALS made useless for one seed: item factors negated, so it ranks the best items last
 * (a configuration that fits badly; the fair gate re-fits the active version's own parameters, which stay good).
 */
function sabotagedAls(core: ModelCore, badSeed: number): ModelCore {
  return {
    ...core,
    backend: core.backend,
    fitAls: async (...args: Parameters<ModelCore['fitAls']>) => {
      const result = await core.fitAls(...args);
      if (args[1]?.seed === badSeed) result.state.itemFactors.forEach((v, i, a) => (a[i] = -v));
      return result;
    },
  };
}

/** The pipeline against one set of backends (embedded, or real Redis + FerretDB + MinIO). */
export function pipelineSuite(makeBackends: () => Promise<Backends>): void {
  let backends: Backends;
  const harnesses: Harness[] = [];
  const start = async (options: Parameters<typeof startHarness>[1] = {}) => {
    const harness = await startHarness(backends, options);
    harnesses.push(harness);
    return harness;
  };
  beforeEach(async () => {
    backends = await makeBackends();
    await fillSmallWorld(backends.store);
  });
  afterEach(async () => {
    for (const h of harnesses.splice(0).reverse()) await h.close();
    await backends.close();
  });

  it('trains both models on demand: artifacts in the bucket, manifests complete, ACTIVE set, activation announced', async () => {
    const h = await start();
    await backends.store.setPopularityFromWeights(new Map()); // the run must recompute it
    const { run, existing } = await h.service.startTraining({ modelTypes: [] });
    expect(existing).toBe(false);
    expect(run).toMatchObject({ state: 'queued', stage: 'queued', modelTypes: ['als', 'lightfm'], attempts: 0 });
    const done = await waitForRun(h.service, run.runId);
    expect(done.error).toBe('');
    expect(done).toMatchObject({ state: 'completed', progress: 1, stage: 'done', attempts: 1 });
    expect(Object.keys(done.timings).sort()).toEqual(['build', 'evaluate', 'read', 'train_als', 'train_lightfm', 'tune_als', 'tune_lightfm', 'upload']);
    for (const seconds of Object.values(done.timings)) expect(seconds).toBeGreaterThan(0);
    expect(done.dataStats).toMatchObject({ users: 60, items: 80, rejectedRecords: 0 });
    expect(done.dataStats.interactions).toBeGreaterThan(1000);
    expect(done.dataStats.density).toBeCloseTo(done.dataStats.interactions / (60 * 80), 10);
    expect(done.finishedAt!.getTime()).toBeGreaterThanOrEqual(done.startedAt!.getTime());

    const [mostPopular] = await backends.store.topMovies({ limit: 1 });
    expect(mostPopular.popularity).toBeGreaterThan(0);

    const registry = new ModelRegistry(backends.objects);
    expect(done.outcomes.map((o) => o.modelType)).toEqual(['als', 'lightfm']);
    for (const outcome of done.outcomes) {
      expect(outcome.promoted).toBe(true);
      expect(outcome.reason).toMatch(/no active version yet/);
      for (const key of ['ndcgAt10', 'precisionAt10', 'recallAt10', 'mapAt10', 'popularityNdcgAt10']) {
        expect(outcome.metrics[key]).toBeGreaterThanOrEqual(0);
        expect(outcome.metrics[key]).toBeLessThanOrEqual(1);
      }
      expect(outcome.metrics.usersEvaluated).toBeGreaterThan(40);
      expect(await registry.activeVersion(outcome.modelType)).toBe(outcome.version);

      const { manifest, arrays, idMaps } = await registry.load(outcome.modelType, outcome.version);
      // Self-tuned: the search trace is stored with the version and its chosen trial's values are the version's.
      const tuning = manifest.tuning as TuningTrace;
      expect(tuning).toMatchObject({ metric: 'ndcgAt10', startedFrom: 'configured', validationFraction: 0.2 });
      expect(tuning.trials.length).toBeGreaterThanOrEqual(1);
      expect(tuning.trials.length).toBeLessThanOrEqual(3);
      expect(tuning.trials[0].params).toEqual(Object.fromEntries(Object.keys(tuning.space).map((n) => [n, (outcome.modelType === 'als' ? { factors: 8, regularization: h.config.ALS_REGULARIZATION, alpha: h.config.ALS_ALPHA, iterations: 3 } : { learningRate: h.config.WARP_LEARNING_RATE, epochs: 3, maxSampled: h.config.WARP_MAX_SAMPLED, noComponents: 8, itemAlpha: 0, userAlpha: 0 })[n as 'factors']])));
      expect(manifest.params).toMatchObject(tuning.trials[tuning.chosen].params);
      expect(tuning.trials.filter((t) => t.kept)).toEqual([tuning.trials[tuning.chosen]]);
      expect(manifest).toMatchObject({ formatVersion: 1, modelType: outcome.modelType, version: outcome.version, metrics: outcome.metrics });
      expect(manifest.dataStats).toEqual(done.dataStats);
      // The data fingerprint: the catalogue the version scores as the store holds it, and the documents read.
      expect(manifest.data).toEqual({
        catalogue: (await catalogueFingerprint(backends.store, idMaps[M.items])).fingerprint,
        movies: await backends.store.count('movies'),
        watched: await backends.store.count('watched_movies'),
        likes: await backends.store.count('likes'),
        bookmarks: await backends.store.count('bookmarks'),
      });
      expect(Date.parse(manifest.createdAt)).toBeGreaterThan(0);
      const d = manifest.dimensions;
      expect(d).toMatchObject({ users: 60, items: 80, factors: outcome.modelType === 'als' ? manifest.params.factors : manifest.params.noComponents });
      expect(idMaps[M.users]).toHaveLength(60);
      expect(idMaps[M.items]).toHaveLength(80);
      expect(arrays[A.userVectors]).toHaveLength(60 * d.factors);
      expect(arrays[A.itemVectors]).toHaveLength(80 * d.factors);
      expect(arrays[A.userBiases]).toHaveLength(60);
      expect(arrays[A.itemBiases]).toHaveLength(80);
      for (const file of manifest.files) {
        expect(await backends.objects.get(`models/${outcome.modelType}/${outcome.version}/${fileNameOf(file.name, file.kind)}`)).toHaveLength(file.bytes);
      }
      if (outcome.modelType === 'als') {
        expect(manifest.params).toMatchObject({ iterations: 3, cgSteps: h.config.ALS_CG_STEPS, seed: h.config.ALS_SEED });
        expect([...(arrays[A.userBiases] as Float32Array)].every((b) => b === 0)).toBe(true);
        expect(Object.keys(arrays).sort()).toEqual([A.itemBiases, A.itemVectors, A.userBiases, A.userVectors].sort());
      } else {
        expect(manifest.params).toMatchObject({ noComponents: 8, seed: h.config.WARP_SEED });
        expect(d.genres).toBe(GENRES.length);
        expect(idMaps[M.genres]).toEqual([...GENRES]);
        expect(arrays[A.genreUserVectors]).toHaveLength(GENRES.length * 8);
        expect(arrays[A.genreItemVectors]).toHaveLength(GENRES.length * 8);
        expect(arrays[A.genreUserBiases]).toHaveLength(GENRES.length);
        expect(arrays[A.genreItemBiases]).toHaveLength(GENRES.length);
      }
    }
    await eventually(() => h.activations.length === 2);
    expect(h.activations).toEqual(done.outcomes.map((o) => ({ modelType: o.modelType, version: o.version })));

    const listed = await h.service.listModels();
    expect(listed.map((m) => [m.modelType, m.version, m.active])).toEqual(done.outcomes.map((o) => [o.modelType, o.version, true]));
    expect(listed[0].params.factors).toBe(listed[0].tuning!.trials[listed[0].tuning!.chosen].params.factors);
    expect(listed[0].metrics.ndcgAt10).toBe(done.outcomes[0].metrics.ndcgAt10);
  });

  it("gates on a temporal holdout (each user's latest interactions) when EVAL_SPLIT=temporal", async () => {
    const h = await start({ env: { EVAL_SPLIT: 'temporal' } });
    const done = await waitForRun(h.service, (await h.service.startTraining({ modelTypes: ['als'] })).run.runId);
    expect(done.error).toBe('');
    expect(done.dataStats.temporalHoldout).toBe(1);
    expect(done.outcomes[0].metrics.usersEvaluated).toBeGreaterThan(40);
    expect(done.outcomes[0].metrics.ndcgAt10).toBeGreaterThan(0);
  });

  it('gives one run for concurrent StartTraining calls for the same models', async () => {
    const h = await start({ worker: false });
    const calls = await Promise.all(Array.from({ length: 4 }, () => h.service.startTraining({ modelTypes: ['lightfm', 'als'] })));
    expect(new Set(calls.map((c) => c.run.runId)).size).toBe(1);
    expect(calls.filter((c) => !c.existing)).toHaveLength(1);
    // "Both" spelled as an empty list is the same set of models.
    expect(await h.service.startTraining({ modelTypes: [] })).toMatchObject({ existing: true, run: { runId: calls[0].run.runId } });
    // Another set of models is another run.
    const alsOnly = await h.service.startTraining({ modelTypes: ['als'] });
    expect(alsOnly.existing).toBe(false);
    expect(alsOnly.run.runId).not.toBe(calls[0].run.runId);
  });

  it('retries a run whose upload fails midway and never publishes a partial version', async () => {
    const objects = new FailOncePut(backends.objects, /^models\/lightfm\/.*itemVectors/);
    // Versions are named by the second: a retry more than a second later names a newer version than the failed one.
    const h = await start({ objects, env: { JOB_BACKOFF_MS: '1100' } });
    const { run } = await h.service.startTraining({ modelTypes: [] });
    const done = await waitForRun(h.service, run.runId);
    expect(objects.failures).toBe(1);
    expect(done).toMatchObject({ state: 'completed', attempts: 2 });
    expect(done.error).toBe(''); // the first attempt's error is not the finished run's (attempts: 2 says it was retried)
    const registry = new ModelRegistry(backends.objects);
    for (const modelType of MODEL_TYPES) {
      // One complete version per model: ALS was kept from the first attempt, the half-written WARP upload pruned.
      const versions = await registry.list(modelType);
      expect(versions.map((v) => v.version)).toEqual([done.outcomes.find((o) => o.modelType === modelType)!.version]);
      const dirs = new Set((await backends.objects.list(`models/${modelType}/`)).map((k) => k.split('/')[2]));
      dirs.delete('ACTIVE');
      expect([...dirs]).toEqual([versions[0].version]);
      await registry.load(modelType, versions[0].version);
      expect(await registry.activeVersion(modelType)).toBe(versions[0].version);
    }
  });

  it('keeps the active version when the promotion gate refuses a worse model, and stores the candidate', async () => {
    const h = await start();
    const first = await waitForRun(h.service, (await h.service.startTraining({ modelTypes: ['als'] })).run.runId);
    const good = first.outcomes[0];
    await h.close();
    harnesses.splice(harnesses.indexOf(h), 1);

    const worse = await start({ core: sabotagedAls(loadModelCore(), 99) });
    const second = await waitForRun(worse.service, (await worse.service.startTraining({ modelTypes: ['als'], als: { seed: 99 } })).run.runId);
    expect(second.state).toBe('completed');
    const candidate = second.outcomes[0];
    expect(candidate.metrics.ndcgAt10).toBeLessThan(good.metrics.ndcgAt10 - 0.01);
    expect(candidate.promoted).toBe(false);
    expect(candidate.reason).toMatch(/worse than active .* on the same holdout\) by .* more than the margin 0\.01: stored as a candidate/);
    expect(await worse.runtime.registry.activeVersion('als')).toBe(good.version);
    const listed = await worse.service.listModels('als');
    expect(listed.map((m) => [m.version, m.active]).sort()).toEqual(
      [
        [candidate.version, false],
        [good.version, true],
      ].sort(),
    );

    // Trained on another catalogue than the active version: replaced whatever the metrics (they do not compare).
    await fillSmallWorld(backends.store, 8); // another seed: the same movie ids with other titles
    const third = await waitForRun(worse.service, (await worse.service.startTraining({ modelTypes: ['als'] })).run.runId);
    expect(third.outcomes[0]).toMatchObject({ promoted: true, reason: expect.stringMatching(/trained on another catalogue/) });
    expect(await worse.runtime.registry.activeVersion('als')).toBe(third.outcomes[0].version);
  });

  it('rolls back with ActivateModel and refuses a corrupted version', async () => {
    const h = await start({ env: { PROMOTION_MARGIN: '1' } }); // every new version is promoted
    const first = await waitForRun(h.service, (await h.service.startTraining({ modelTypes: ['lightfm'] })).run.runId);
    const second = await waitForRun(h.service, (await h.service.startTraining({ modelTypes: ['lightfm'], warp: { seed: 99 } })).run.runId);
    const [v1, v2] = [first.outcomes[0].version, second.outcomes[0].version];
    expect(await h.runtime.registry.activeVersion('lightfm')).toBe(v2);

    const rolledBack = await h.service.activateModel('lightfm', v1);
    expect(rolledBack).toMatchObject({ modelType: 'lightfm', version: v1, active: true });
    expect(await h.runtime.registry.activeVersion('lightfm')).toBe(v1);
    await eventually(() => h.activations.some((a) => a.version === v1 && h.activations.indexOf(a) > 0));
    expect((await h.service.listModels('lightfm')).map((m) => [m.version, m.active]).sort()).toEqual(
      [
        [v2, false],
        [v1, true],
      ].sort(),
    );

    // Corrupt v2's item vectors: load and activation refuse it, and the active version stays.
    const key = `models/lightfm/${v2}/${fileNameOf(A.itemVectors, 'f32')}`;
    const body = Buffer.from(await backends.objects.get(key));
    body[0] ^= 0xff;
    await backends.objects.put(key, body);
    await expect(h.runtime.registry.load('lightfm', v2)).rejects.toBeInstanceOf(CorruptModelError);
    await expect(h.service.activateModel('lightfm', v2)).rejects.toThrow(/checksum of itemVectors does not match/);
    expect(await h.runtime.registry.activeVersion('lightfm')).toBe(v1);
    await expect(h.service.activateModel('lightfm', '20990101T000000000Z-abcdef')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('fails a run on bad data at once, with a clear message and no retry', async () => {
    await backends.store.clear();
    await backends.store.insertMany('movies', [{ movieId: 'm1', title: 'One', year: 2000, genres: ['Drama'], rating: 7, popularity: 0 }]);
    await backends.store.insertMany('watched_movies', [
      { userId: 'u1', movieId: 'm404', completed: true, watchedAt: new Date() },
      { userId: 'u2', movieId: 'm405', completed: false, watchedAt: new Date() },
    ]);
    const h = await start();
    const done = await waitForRun(h.service, (await h.service.startTraining({ modelTypes: [] })).run.runId);
    expect(done).toMatchObject({ state: 'failed', attempts: 1 });
    expect(done.error).toMatch(/2 of 2 interaction records .* movie missing from the movies collection.*movieId 'm404' in watched_movies/);
    expect(await h.runtime.registry.list('als')).toEqual([]);

    await backends.store.clear();
    const empty = await waitForRun(h.service, (await h.service.startTraining({ modelTypes: ['als'] })).run.runId);
    expect(empty).toMatchObject({ state: 'failed', attempts: 1, error: 'the movies collection is empty: there is nothing to train on' });
  });

  it('refreshes the cached lists of every user of the active versions, and of one user', async () => {
    const h = await start();
    const trained = await waitForRun(h.service, (await h.service.startTraining({ modelTypes: [] })).run.runId);
    await backends.store.upsertFeedback({ sessionId: 's1', userId: 'u1', movieId: 'm1', liked: false, modelType: 'als', modelVersion: 'x', rank: 1, sessionCreatedAt: new Date() });

    const { jobId } = await h.service.refreshRecommendations();
    const job = await waitForState(h.runtime.refresh, jobId, ['completed', 'failed']);
    expect(job.failedReason).toBeUndefined();
    const result = job.result as { models: Record<ModelTypeName, { version: string; users: number; usersPerSecond: number }> };
    const excluded = new Set([...(await backends.store.userInteractionWeights('u1')).keys(), 'm1']);
    for (const outcome of trained.outcomes) {
      expect(result.models[outcome.modelType]).toMatchObject({ version: outcome.version, users: 60 });
      expect(result.models[outcome.modelType].usersPerSecond).toBeGreaterThan(0);
      const raw = await backends.cache.get(recommendationKey('u1', outcome.modelType, outcome.version));
      const list = decodeRecommendations(raw!)!;
      expect(list).toHaveLength(Math.min(CACHED_LIST_LENGTH, 80 - excluded.size));
      expect(list.some((r) => excluded.has(r.movieId))).toBe(false);
      for (let i = 1; i < list.length; i++) expect(list[i].score).toBeLessThanOrEqual(list[i - 1].score);
      expect(await backends.cache.get(recommendationKey('u60', outcome.modelType, outcome.version))).not.toBeNull();
    }

    for (const outcome of trained.outcomes) await backends.cache.del([recommendationKey('u2', outcome.modelType, outcome.version)]);
    const one = await h.service.refreshRecommendations('u2');
    const single = await waitForState(h.runtime.refresh, one.jobId, ['completed', 'failed']);
    expect(single.result).toMatchObject({ userId: 'u2', written: { als: { items: expect.any(Number) }, lightfm: { items: expect.any(Number) } } });
    for (const outcome of trained.outcomes) {
      expect(decodeRecommendations((await backends.cache.get(recommendationKey('u2', outcome.modelType, outcome.version)))!)!.length).toBeGreaterThan(0);
    }
    const unknown = await h.service.refreshRecommendations('nobody');
    const skipped = await waitForState(h.runtime.refresh, unknown.jobId, ['completed', 'failed']);
    expect(skipped.result).toMatchObject({ written: {}, skipped: { als: expect.stringMatching(/not in the model/) } });
    expect(JOB_NAMES.refreshUser).toBe(single.name);
  });
}
