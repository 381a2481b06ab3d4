import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { alsExplain, featureContributions, listText } from '../src/explanations.js';
import {
  ContributionKind,
  ExplanationKind,
  ModelType,
  RecommendationServiceClient,
  TimeBucket,
  type GetExperimentReportResponse,
  type GetRecommendationsResponse,
  type GetUserHistoryResponse,
} from '../../lib/src/proto.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { publishServingModel, seedServingWorld } from '../../lib/test/support/fixtures.js';
import { AUTH, startStack, type TestStack } from '../../lib/test/support/stack.js';

/** Gauss-Jordan inverse of a small dense matrix (the direct computation the explanation is checked against). */
function inverse(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    [a[c], a[p]] = [a[p], a[c]];
    const d = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((row) => row.slice(n));
}

/**
 * Section 5 of Hu, Koren & Volinsky (2008) written out with the full n×n C_u: W_u = (YᵀC_uY + λI)⁻¹,
 * x_u = W_u YᵀC_u p(u), s_ij = y_iᵀW_u y_j, contribution_j = s_ij c_uj.
 */
function direct(Y: number[][], lambda: number, alpha: number, weights: Map<number, number>, target: number) {
  const f = Y[0].length;
  const c = Y.map((_, i) => 1 + alpha * (weights.get(i) ?? 0));
  const A = Array.from({ length: f }, (_, a) =>
    Array.from({ length: f }, (_, b) => Y.reduce((s, y, i) => s + c[i] * y[a] * y[b], 0) + (a === b ? lambda : 0)),
  );
  const W = inverse(A);
  const mul = (v: number[]) => W.map((row) => row.reduce((s, w, b) => s + w * v[b], 0));
  const b = Array.from({ length: f }, (_, a) => [...weights.keys()].reduce((s, j) => s + c[j] * Y[j][a], 0));
  const x = mul(b);
  const score = Y[target].reduce((s, v, a) => s + v * x[a], 0);
  const wy = mul(Y[target]);
  const contributions = [...weights.keys()].map((j) => Y[j].reduce((s, v, a) => s + v * wy[a], 0) * c[j]);
  return { score, contributions };
}

describe('ALS explanations (implicit explain, Hu, Koren & Volinsky 2008 section 5)', () => {
  it('matches a model small enough to check by hand', () => {
    // Y = [1,0], [0,1], [1,1], [0.5,-0.5]; λ = 0.5, α = 2; the user has item 0 (weight 1) and item 2 (weight 0.5).
    // YᵀC_uY + λI = [[5.75, 1.75], [1.75, 3.75]], det 18.5; c = 3 and 2; W_u y_1 = [-1.75, 5.75] / 18.5.
    const [result] = alsExplain({
      factors: 2,
      itemFactors: Float32Array.from([1, 0, 0, 1, 1, 1, 0.5, -0.5]),
      regularization: 0.5,
      alpha: 2,
      history: [{ item: 0, weight: 1 }, { item: 2, weight: 0.5 }],
      targets: [1],
    });
    expect(result.contributions[0]).toEqual({ item: 0, value: expect.closeTo((-1.75 / 18.5) * 3, 12) });
    expect(result.contributions[1]).toEqual({ item: 2, value: expect.closeTo((4 / 18.5) * 2, 12) });
    // x_u = W_u (3 y_0 + 2 y_2) = [15.25, 2.75] / 18.5: the contributions sum to y_1ᵀx_u.
    expect(result.total).toBeCloseTo(2.75 / 18.5, 12);
  });

  it('agrees with the direct computation on a random model, with and without a precomputed YᵀY', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const f = 5;
    const Y = Array.from({ length: 12 }, () => Array.from({ length: f }, rand));
    const weights = new Map([[1, 1.0], [4, 0.5], [7, 1.8], [9, 0.3]]);
    const itemFactors = Float32Array.from(Y.flat());
    const Yf = Array.from({ length: 12 }, (_, i) => Array.from(itemFactors.subarray(i * f, (i + 1) * f)));
    const gramian = new Float64Array(f * f);
    for (const y of Yf) for (let a = 0; a < f; a++) for (let b = 0; b < f; b++) gramian[a * f + b] += y[a] * y[b];
    const history = [...weights].map(([item, weight]) => ({ item, weight }));
    for (const withGramian of [false, true]) {
      const explained = alsExplain({
        factors: f, itemFactors, regularization: 0.1, alpha: 3, history, targets: [0, 2, 11],
        gramian: withGramian ? gramian : undefined,
      });
      [0, 2, 11].forEach((target, t) => {
        const want = direct(Yf, 0.1, 3, weights, target);
        expect(explained[t].total).toBeCloseTo(want.score, 9);
        explained[t].contributions.forEach((c, j) => expect(c.value).toBeCloseTo(want.contributions[j], 9));
      });
    }
  });

  it('gives the numbers of the implicit library\'s own explain (implicit 0.7.2, recsvc/test/reference/als-explain-implicit.py)', () => {
    // Park-Miller (exact in doubles, so Python draws the same numbers).
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const itemFactors = Float32Array.from(Array.from({ length: 12 * 5 }, rand));
    const history = [{ item: 1, weight: 1.0 }, { item: 4, weight: 0.5 }, { item: 7, weight: 1.8 }, { item: 9, weight: 0.3 }];
    const implicit: Record<number, { total: number; contributions: Record<number, number> }> = {
      0: { total: -0.5239043512601287, contributions: { 7: 0.3318863053888448, 4: -0.17027352866995699, 9: -0.2238622160022135, 1: -0.4616549119768029 } },
      2: { total: -0.6097678406729372, contributions: { 9: 0.09721370279332994, 1: 0.06777731358403542, 4: -0.1301130973004068, 7: -0.6446457597498958 } },
      11: { total: -0.2594831631657082, contributions: { 7: 0.2872741785538027, 9: -0.09771007780496849, 4: -0.12722103679741345, 1: -0.321826227117129 } },
    };
    const explained = alsExplain({ factors: 5, itemFactors, regularization: 0.1, alpha: 3, history, targets: [0, 2, 11] });
    // implicit computes YᵀY in float32, this module in float64: agreement to float32 precision.
    [0, 2, 11].forEach((target, t) => {
      expect(explained[t].total).toBeCloseTo(implicit[target].total, 6);
      for (const c of explained[t].contributions) expect(c.value).toBeCloseTo(implicit[target].contributions[c.item], 6);
    });
  });

  it('ignores entries without a positive weight', () => {
    const [result] = alsExplain({
      factors: 2, itemFactors: Float32Array.from([1, 0, 0, 1, 1, 1]), regularization: 1, alpha: 1,
      history: [{ item: 0, weight: 1 }, { item: 2, weight: 0 }], targets: [2],
    });
    expect(result.contributions.map((c) => c.item)).toEqual([0]);
  });
});

describe('LightFM-style explanations (feature contributions)', () => {
  it('splits the score over the movie\'s genres, its identity and the user bias, exactly', () => {
    // u = [1, 2], b_u = 0.1; e_id = [0.5, 0], b_id = 0.2; Comedy [0, 1], 0.3; Horror [1, -0.5], -0.1.
    // The representation is the sum: [1.5, 0.5], bias 0.4; the score u·[1.5, 0.5] + 0.4 + 0.1 = 3.
    const parts = featureContributions({
      factors: 2,
      user: { vector: Float32Array.from([1, 2]), bias: 0.1 },
      itemVector: Float32Array.from([1.5, 0.5]),
      itemBias: 0.4,
      genres: [
        { genre: 'Comedy', vector: Float32Array.from([0, 1]), bias: 0.3 },
        { genre: 'Horror', vector: Float32Array.from([1, -0.5]), bias: -0.1 },
      ],
    });
    expect(parts).toEqual([
      { genre: 'Comedy', value: expect.closeTo(2.3, 6) },
      { genre: 'Horror', value: expect.closeTo(-0.1, 6) },
      { identity: true, value: expect.closeTo(0.7, 6) },
      { userBias: true, value: expect.closeTo(0.1, 6) },
    ]);
    expect(parts.reduce((s, p) => s + p.value, 0)).toBeCloseTo(3, 6);
  });

  it('writes lists for people', () => {
    expect(listText(['A'])).toBe('A');
    expect(listText(['A', 'B'])).toBe('A and B');
    expect(listText(['A', 'B', 'C'])).toBe('A, B and C');
  });
});

describe('explanations through REST and gRPC', () => {
  let stack: TestStack;
  let store: MemoryStore;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers checked field by field below
  const get = async (path: string): Promise<any> => (await fetch(`${stack.baseUrl}${path}`)).json();
  beforeAll(async () => {
    store = new MemoryStore();
    await seedServingWorld(store);
    stack = await startStack(store);
    await publishServingModel(stack.objects, 'als');
    await publishServingModel(stack.objects, 'lightfm');
    await stack.recsvc.models.checkActive('als');
    await stack.recsvc.models.checkActive('lightfm');
  });
  afterAll(async () => {
    await stack?.close();
    await store?.close();
  });

  it('explains an ALS list by the user\'s own movies, the same from the model and from the cache', async () => {
    // u1 watched m1 (a comedy): the other comedies are explained by it.
    const fresh = await get('/recommendations/u1?model=als&k=2');
    expect(fresh.source).toBe('model');
    const cached = await get('/recommendations/u1?model=als&k=2');
    expect(cached.source).toBe('cache');
    for (const list of [fresh, cached]) {
      for (const item of list.items) {
        expect(item.explanation.kind).toBe('similar_to_history');
        expect(item.explanation.contributions[0]).toMatchObject({ kind: 'movie', id: 'm1', label: 'Laugh One (2001)' });
        expect(item.explanation.text).toMatch(/Because of Laugh One \(2001\) in your history/);
      }
    }
    expect(cached.items.map((i: { explanation: unknown }) => i.explanation)).toEqual(fresh.items.map((i: { explanation: unknown }) => i.explanation));
    // Fold-in: u3 liked m4 (horror) and is unknown to the model; the contributions sum to the exact fold-in score.
    const foldIn = await get('/recommendations/u3?model=als&k=1');
    expect(foldIn.source).toBe('fold_in');
    expect(foldIn.items[0].explanation.contributions[0]).toMatchObject({ kind: 'movie', id: 'm4' });
    const sum = foldIn.items[0].explanation.contributions.reduce((s: number, c: { value: number }) => s + c.value, 0);
    expect(sum).toBeCloseTo(foldIn.items[0].score, 4);
  });

  it('explains a LightFM-style list by the movie\'s features, summing to the score', async () => {
    const list = await get('/recommendations/u1?model=lightfm&k=3');
    for (const item of list.items) {
      expect(item.explanation.kind).toBe('features');
      const sum = item.explanation.contributions.reduce((s: number, c: { value: number }) => s + c.value, 0);
      expect(sum).toBeCloseTo(item.score, 5);
      expect(item.explanation.contributions.map((c: { kind: string }) => c.kind)).toContain('genre');
    }
    // The fixture's comedy fan: the Comedy feature carries the first comedy.
    expect(list.items[0].explanation.contributions[0]).toMatchObject({ kind: 'genre', id: 'Comedy' });
    expect(list.items[0].explanation.text).toMatch(/Comedy/);
  });

  it('explains the LightFM list of a user who came by events only (no favourite genres), from the model and the cache', async () => {
    // Reported by a newcomer's try: such a list was scored from the user's interactions (fold-in) but explained with
    // no user representation at all: blank texts.
    const posted = await fetch(`${stack.baseUrl}/events`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [{ event_id: 'x-fresh-1', user_id: 'fresh1', movie_id: 'm4', type: 'watched', completed: true, progress: 1, occurred_at: '2026-11-29T12:00:00Z' }] }),
    });
    expect(posted.status).toBe(200);
    const fresh = await get('/recommendations/fresh1?model=lightfm&k=2');
    expect(fresh.source).toBe('fold_in');
    const cached = await get('/recommendations/fresh1?model=lightfm&k=2');
    expect(cached.source).toBe('cache');
    for (const list of [fresh, cached]) {
      for (const item of list.items) {
        expect(item.explanation.kind).toBe('features');
        expect(item.explanation.text).not.toBe('');
        expect(item.explanation.contributions.length).toBeGreaterThan(0);
        const sum = item.explanation.contributions.reduce((s: number, c: { value: number }) => s + c.value, 0);
        expect(sum).toBeCloseTo(item.score, 4);
      }
    }
  });

  it('says which top list a movie came from', async () => {
    const genres = await get('/recommendations/u4?model=als&k=2');
    expect(genres.source).toBe('genres_top');
    expect(genres.items[0].explanation).toEqual({ kind: 'top_list', text: expect.stringMatching(/favourite genres \(Comedy\)/), contributions: [], genres: ['Comedy'] });
    const global = await get('/recommendations/u5?model=lightfm&k=2');
    expect(global.source).toBe('global_top');
    expect(global.items[0].explanation).toMatchObject({ kind: 'top_list', text: 'Among the most popular movies overall', genres: [] });
    const top = await get('/genres_top?user_id=u4&limit=2');
    expect(top.items[0].explanation).toMatchObject({ kind: 'top_list', genres: ['Comedy'] });
  });

  it('serves the user\'s history beside the list', async () => {
    const history = await get('/users/u3/history');
    expect(history).toMatchObject({ user_id: 'u3', total: 1, items: [{ movie_id: 'm4', title: 'Scream One', weight: 0.9, imdb_url: null }] });
    const missing = await fetch(`${stack.baseUrl}/users/nobody/history`);
    expect(missing.status).toBe(404);
    expect((await fetch(`${stack.baseUrl}/users/u3/history?limit=0`)).status).toBe(400);
  });

  it('carries the same explanations, the history and the report over gRPC', async () => {
    const client = new RecommendationServiceClient(stack.recsvcAddress, grpc.credentials.createInsecure());
    type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
    const unary = <Req, Res>(method: unknown, req: Req) =>
      new Promise<Res>((resolve, reject) =>
        (method as (req: Req, cb: Callback<Res>) => unknown).call(client, req, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res))),
      );
    try {
      const list = await unary<object, GetRecommendationsResponse>(client.getRecommendations, { userId: 'u1', modelType: ModelType.MODEL_TYPE_ALS, k: 2 });
      expect(list.items[0].explanation).toMatchObject({
        kind: ExplanationKind.EXPLANATION_KIND_SIMILAR_TO_HISTORY,
        contributions: [expect.objectContaining({ kind: ContributionKind.CONTRIBUTION_KIND_MOVIE, id: 'm1' })],
      });
      const history = await unary<object, GetUserHistoryResponse>(client.getUserHistory, { userId: 'u1', limit: 0 });
      expect(history).toMatchObject({ userId: 'u1', total: 1, items: [{ movie: expect.objectContaining({ movieId: 'm1' }), weight: 1 }] });
      const report = await unary<object, GetExperimentReportResponse>(client.getExperimentReport, { k: 3, bucket: TimeBucket.TIME_BUCKET_HOUR });
      expect(report.bucket).toBe(TimeBucket.TIME_BUCKET_HOUR);
      expect(report.forced.length).toBe(2);
      const bad = await unary(client.getExperimentReport, { k: 3, bucket: 9 as TimeBucket }).catch((e: grpc.ServiceError) => e);
      expect(bad).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/bucket must be one of: TIME_BUCKET_HOUR, TIME_BUCKET_DAY/) });
      const badModel = await unary(client.getRecommendations, { userId: 'u1', modelType: 9 as ModelType, k: 2 }).catch((e: grpc.ServiceError) => e);
      expect(badModel).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/MODEL_TYPE_ALS, MODEL_TYPE_LIGHTFM/) });
    } finally {
      client.close();
    }
  });

  it('serves a cached list at once when the interactions cannot be read, and stops asking for a while', async () => {
    const warm = await get('/recommendations/u2?model=als&k=2');
    expect(warm.source).toBe('model');
    const original = store.userInteractionWeights.bind(store);
    let reads = 0;
    // MongoDB hanging: the read never answers.
    store.userInteractionWeights = () => {
      reads++;
      return new Promise(() => undefined);
    };
    try {
      // The same list again: its explanations were kept in process when it was computed, no read at all.
      const again = await get('/recommendations/u2?model=als&k=2');
      expect(again.source).toBe('cache');
      expect(again.items).toEqual(warm.items);
      expect(reads).toBe(0);
      // k=3 serves items whose explanations were never computed: they need the interactions.
      for (let i = 0; i < 3; i++) {
        const cached = await get('/recommendations/u2?model=als&k=3');
        expect(cached.source).toBe('cache');
        expect(cached.items.slice(0, 2).map((item: { movie_id: string }) => item.movie_id)).toEqual(warm.items.map((item: { movie_id: string }) => item.movie_id));
        expect(cached.items[0].explanation).toEqual({ kind: 'similar_to_history', text: 'No explanation available right now', contributions: [], genres: [] });
      }
      expect(reads).toBe(1);
    } finally {
      store.userInteractionWeights = original;
    }
  });
});
