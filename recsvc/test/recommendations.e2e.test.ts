import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { ModelRegistry, MODEL_ACTIVATED_CHANNEL } from '../../lib/src/models/registry.js';
import type { TestStack } from '../../lib/test/support/stack.js';
import { publishServingModel } from '../../lib/test/support/fixtures.js';
import { connectRealBackends, describeWithServers } from '../../lib/test/support/servers.js';
import { closeServingWorld, ids, json, startServingWorld, type ServingBackends } from '../../lib/test/support/serving-world.js';

type Backends = ServingBackends;
type ArmFigures = { model_type: string; sessions: number; feedback_count: number; likes: number };

function servingSuite(makeBackends: () => Promise<Backends>) {
  let stack: TestStack;
  let backends: Backends;
  let alsVersion: string;
  let lightfmVersion: string;
  const get = (path: string) => fetch(`${stack.baseUrl}${path}`);
  const post = (path: string, body: unknown) =>
    fetch(`${stack.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    backends = await makeBackends();
    let versions;
    ({ stack, versions } = await startServingWorld(backends));
    ({ als: alsVersion, lightfm: lightfmVersion } = versions);
  });
  afterAll(() => closeServingWorld(stack, backends));

  it('serves a known user from the model, excluding what they watched, then from the cache', async () => {
    const first = await json(await get('/recommendations/u1?model=als&k=3'));
    expect(first).toMatchObject({ user_id: 'u1', model_type: 'als', model_version: alsVersion, source: 'model', arm: 'forced' });
    expect(first.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids(first)).toEqual(['m2', 'm3', 'm4']);
    expect(first.items[0]).toMatchObject({ title: 'Laugh Two', genres: ['Comedy'], rank: 1 });
    expect(first.items[0].score).toBeCloseTo(0.9, 5);
    const second = await json(await get('/recommendations/u1?model=als&k=3'));
    expect(second.source).toBe('cache');
    expect(ids(second)).toEqual(ids(first));
    expect(second.session_id).not.toBe(first.session_id);
  });

  it('folds in users the model has not seen, and falls back to the genre and global top lists', async () => {
    const alsFoldIn = await json(await get('/recommendations/u3?model=als&k=2'));
    expect(alsFoldIn.source).toBe('fold_in');
    expect(ids(alsFoldIn)).toEqual(['m5', 'm6']);
    const warpFoldIn = await json(await get('/recommendations/u4?model=lightfm&k=2'));
    expect(warpFoldIn.source).toBe('fold_in');
    expect(ids(warpFoldIn)).toEqual(['m1', 'm2']);
    // Fold-in lists are cached like model lists ...
    const alsAgain = await json(await get('/recommendations/u3?model=als&k=2'));
    expect(alsAgain.source).toBe('cache');
    expect(ids(alsAgain)).toEqual(ids(alsFoldIn));
    expect((await json(await get('/recommendations/u4?model=lightfm&k=2'))).source).toBe('cache');
    // ... and new favourite genres (the LightFM-style user features) make them a miss at once.
    expect((await post('/genres', { user_id: 'u4', genres: ['Horror'] })).status).toBe(200);
    const newGenres = await json(await get('/recommendations/u4?model=lightfm&k=2'));
    expect(newGenres.source).toBe('fold_in');
    expect(ids(newGenres)).toEqual(['m4', 'm5']);
    expect((await post('/genres', { user_id: 'u4', genres: ['Comedy'] })).status).toBe(200);
    const genresTop = await json(await get('/recommendations/u4?model=als&k=2'));
    expect(genresTop.source).toBe('genres_top');
    expect(genresTop.items.every((i: { genres: string[] }) => i.genres.includes('Comedy'))).toBe(true);
    const globalTop = await json(await get('/recommendations/newcomer?model=als&k=2'));
    expect(globalTop.source).toBe('global_top');
    expect(ids(globalTop)).toEqual(['m4', 'm6']);
  });

  it('assigns models by a sticky hash of the user when none is forced', async () => {
    const arms = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const body = await json(await get(`/recommendations/user${i}?k=1`));
      // Users the models cannot score get the global top list: arm "fallback" (no model's impression), model_type
      // still the assigned arm's model.
      expect(body.arm).toBe(body.source === 'global_top' || body.source === 'genres_top' ? 'fallback' : body.model_type);
      arms.set(`user${i}`, body.model_type);
    }
    expect(new Set(arms.values())).toEqual(new Set(['als', 'lightfm']));
    for (const [user, arm] of [...arms].slice(0, 5)) {
      expect((await json(await get(`/recommendations/${user}?k=1`))).model_type).toBe(arm);
    }
  });

  it('rejects bad queries with 400', async () => {
    for (const path of ['/recommendations/u1?k=0', '/recommendations/u1?k=101', '/recommendations/u1?model=svd', '/recommendations/bad%20id', '/recommendations/u1?k=x']) {
      const response = await get(path);
      expect(response.status, path).toBe(400);
      expect((await json(response)).error.code).toBe('INVALID_ARGUMENT');
    }
  });

  it('records feedback once per (session, movie), and a dislike removes the movie at once', async () => {
    const list = await json(await get('/recommendations/u2?model=lightfm&k=3'));
    expect(ids(list)).toEqual(['m5', 'm6', 'm1']);
    let response = await post(`/feedback/${list.session_id}`, { movie_id: 'm5', liked: true });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ session_id: list.session_id, movie_id: 'm5', liked: true, created: true });
    response = await post(`/feedback/${list.session_id}`, { movie_id: 'm5', liked: false });
    expect(await json(response)).toMatchObject({ liked: false, created: false });
    const next = await json(await get('/recommendations/u2?model=lightfm&k=3'));
    // feedback is an interaction event too: the user is recomputed from their current interactions
    expect(next.source).toBe('fold_in');
    expect(ids(next)).not.toContain('m5');
    const feedback = [];
    for await (const batch of backends.store.scan('feedback')) feedback.push(...batch.filter((f) => f.sessionId === list.session_id));
    expect(feedback).toHaveLength(1);
  });

  it('answers 404 for an unknown session and 400 for malformed feedback or a movie not in the list', async () => {
    const list = await json(await get('/recommendations/u1?model=als&k=2'));
    const cases: [string, unknown, number, RegExp][] = [
      ['/feedback/00000000-0000-4000-8000-000000000000', { movie_id: 'm1', liked: true }, 404, /not found/],
      ['/feedback/not-a-session', { movie_id: 'm1', liked: true }, 400, /session_id/],
      [`/feedback/${list.session_id}`, { movie_id: 'm6', liked: true }, 400, /was not in the list/],
      [`/feedback/${list.session_id}`, { movie_id: 'm2', liked: 'yes' }, 400, /liked must be boolean/],
      [`/feedback/${list.session_id}`, { movie_id: 'm2' }, 400, /liked/],
      [`/feedback/${list.session_id}`, { movie_id: { $ne: 1 }, liked: true }, 400, /movie_id must be string/],
    ];
    for (const [path, body, status, message] of cases) {
      const response = await post(path, body);
      expect(response.status, JSON.stringify(body)).toBe(status);
      expect((await json(response)).error.message).toMatch(message);
    }
  });

  it('writes every served list to recommendation_logs and reports precision, recall and like rate', async () => {
    const list = await json(await get('/recommendations/u1?model=lightfm&k=3'));
    await post(`/feedback/${list.session_id}`, { movie_id: list.items[0].movie_id, liked: true });
    await stack.recsvc.logs.flush();
    const log = await backends.store.getRecommendationLog(list.session_id);
    expect(log).toMatchObject({ userId: 'u1', modelType: 'lightfm', modelVersion: lightfmVersion, arm: 'forced', source: 'model' });
    expect(log!.items.map((i) => i.movieId)).toEqual(ids(list));
    const report = await json(await get('/experiments/report?k=3'));
    expect(report.k).toBe(3);
    // Every session so far forced its model (?model=): reported apart, the experiment has no data yet.
    expect(report.arms.map((a: { feedback_count: number }) => a.feedback_count)).toEqual([0, 0]);
    expect(report.comparison).toMatchObject({ enough_data: false, p_value: null, difference: null, note: expect.stringMatching(/not enough data/i) });
    const lightfm = report.forced.find((a: { model_type: string }) => a.model_type === 'lightfm');
    expect(lightfm.sessions).toBeGreaterThanOrEqual(2);
    expect(lightfm.feedback_count).toBe(2);
    expect(lightfm.likes).toBe(1);
    expect(lightfm.like_rate).toBeCloseTo(0.5, 9);
    expect(lightfm.precision_at_k).toBeCloseTo(1 / 6, 9); // sessions with feedback: (0/3 + 1/3) / 2
    expect(lightfm.recall_at_k).toBeCloseTo(1, 9);
    expect((await get('/experiments/report?k=0')).status).toBe(400);
    expect((await get('/experiments/report?since=yesterday')).status).toBe(400);
    expect((await get('/experiments/report?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z')).status).toBe(400);
  });

  it('never reports feedback on a session it does not count, even before the log buffer is flushed', async () => {
    const before = await json(await get('/experiments/report?k=3'));
    // No ?model=: the A/B split assigns the model, so the session belongs to the experiment.
    const list = await json(await get('/recommendations/u3?k=3'));
    expect(list.arm).toBe(list.model_type);
    const response = await post(`/feedback/${list.session_id}`, { movie_id: list.items[0].movie_id, liked: true });
    expect(response.status).toBe(200);
    // No flush here: the feedback call itself made the session's log durable first.
    const report = await json(await get('/experiments/report?k=3'));
    const arm = (r: { arms: { model_type: string; sessions: number; sessions_with_feedback: number; feedback_count: number }[] }) =>
      r.arms.find((a) => a.model_type === list.model_type)!;
    expect(arm(report).sessions).toBe(arm(before).sessions + 1);
    expect(arm(report).feedback_count).toBe(arm(before).feedback_count + 1);
    for (const a of [...report.arms, ...report.forced]) expect(a.sessions).toBeGreaterThanOrEqual(a.sessions_with_feedback);
    expect(await backends.store.getRecommendationLog(list.session_id)).toMatchObject({ sessionId: list.session_id, arm: list.model_type });
    // The buffer's own write later is a no-op (idempotent by session id).
    await stack.recsvc.logs.flush();
    expect(arm(await json(await get('/experiments/report?k=3'))).sessions).toBe(arm(before).sessions + 1);
  });

  it('a fallback list (no model could score the user) is no impression of either model: arm "fallback", counted nowhere in the report', async () => {
    const figures = (r: { arms: ArmFigures[]; forced: ArmFigures[]; series: unknown[] }) => ({
      arms: r.arms.map((a) => [a.model_type, a.sessions, a.feedback_count, a.likes]),
      forced: r.forced.map((a) => [a.model_type, a.sessions, a.feedback_count, a.likes]),
      series: r.series,
    });
    const before = figures(await json(await get('/experiments/report?k=3')));
    // One user in the experiment (no ?model=), one forced: both unknown to every model, so both get the global top.
    for (const path of ['/recommendations/stranger-ab1?k=3', '/recommendations/stranger-ab2?model=lightfm&k=3']) {
      const list = await json(await get(path));
      expect(list.source, path).toBe('global_top');
      expect(list.arm, path).toBe('fallback');
      // Feedback on it is still taken and stored (it is the user's signal), only not as a model's result.
      expect((await post(`/feedback/${list.session_id}`, { movie_id: list.items[0].movie_id, liked: true })).status).toBe(200);
      expect(await backends.store.getRecommendationLog(list.session_id)).toMatchObject({ arm: 'fallback', source: 'global_top' });
    }
    await stack.recsvc.logs.flush();
    expect(figures(await json(await get('/experiments/report?k=3')))).toEqual(before);
  });

  it('swaps to a newly activated version without a restart and refuses a corrupt one', async () => {
    const registry = new ModelRegistry(stack.objects);
    const flipped = await publishServingModel(stack.objects, 'als', { second: 2, flip: true });
    await stack.cache.publish(MODEL_ACTIVATED_CHANNEL, JSON.stringify({ modelType: 'als', version: flipped }));
    await expect.poll(() => stack.recsvc.models.current('als')?.version, { timeout: 5_000 }).toBe(flipped);
    const after = await json(await get('/recommendations/u1?model=als&k=1'));
    expect(after).toMatchObject({ model_version: flipped, source: 'model' });
    expect(ids(after)).toEqual(['m4']);

    const corrupt = await publishServingModel(stack.objects, 'als', { second: 3, activate: false });
    await stack.objects.put(`models/als/${corrupt}/itemVectors.f32`, Buffer.alloc(48));
    await stack.objects.put('models/als/ACTIVE', Buffer.from(corrupt)); // as if a broken deploy moved the pointer
    await stack.recsvc.models.checkActive('als');
    expect(stack.recsvc.models.current('als')?.version).toBe(flipped);
    expect((await json(await get('/recommendations/u1?model=als&k=1'))).model_version).toBe(flipped);
    await registry.activate('als', alsVersion); // roll back
    await stack.recsvc.models.checkActive('als');
    expect(stack.recsvc.models.current('als')?.version).toBe(alsVersion);
  });

  it('exposes Prometheus metrics on the gateway and the service', async () => {
    const gatewayMetrics = await (await get('/metrics')).text();
    expect(gatewayMetrics).toMatch(/http_request_duration_seconds_bucket\{.*route="\/recommendations\/:user_id"/);
    const serviceMetrics = await (await fetch(`http://127.0.0.1:${stack.recsvc.metricsPort}/metrics`)).text();
    expect(serviceMetrics).toMatch(/recommendations_served_total\{.*model_type="als".*source="cache"/);
    expect(serviceMetrics).toMatch(/recommendation_cache_lookups_total\{.*result="hit"/);
    expect(serviceMetrics).toMatch(/recommendation_active_model_info\{.*model_type="lightfm"/);
    expect(serviceMetrics).toMatch(/grpc_server_handling_seconds_bucket/);
    expect(serviceMetrics).toMatch(/recommendation_log_buffer_size/);
  });
}

describe('serving through the REST gateway (embedded backends)', () => servingSuite(async () => ({ store: new MemoryStore() })));

describeWithServers(['MONGO_URL', 'REDIS_URL', 'S3_ENDPOINT'], 'serving through the REST gateway (real MongoDB-wire, Redis, S3)', () =>
  servingSuite(async () => {
    const { store, cache, objects } = await connectRealBackends();
    return { store, cache, objects };
  }),
);
