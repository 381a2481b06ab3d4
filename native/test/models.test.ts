/**
 * One suite, run on both backends: ALS, WARP and top-K behave the same whichever backend serves them.
 * The native backend is skipped (with the reason) when its addon is not built, or fails when
 * RECSYS_REQUIRE_NATIVE=1.
 */
import { describe, expect, it } from 'vitest';

import type { AlsModelState, ModelsApi, WarpModelState } from '../src/index.js';
import {
  apiOf,
  backendCases,
  csrFromRows,
  dot,
  genreWorld,
  maxAbsDiff,
  plantedLowRank,
  popularityPrecisionAtK,
  precisionAtK,
} from './helpers.js';

const planted = plantedLowRank({ nUsers: 300, nItems: 200, rank: 4, perUser: 20, holdout: 4, seed: 1 });
const genres = genreWorld({
  nUsers: 300,
  nItems: 240,
  nGenres: 6,
  perUser: 20,
  holdout: 4,
  coldEvery: 7,
  seed: 3,
});

const ALS = { factors: 8, regularization: 0.5, alpha: 2, threads: 1 } as const;
const WARP = { noComponents: 16, epochs: 15, learningRate: 0.05, threads: 1, seed: 5 } as const;

async function alsPrecision(api: ModelsApi, state: AlsModelState): Promise<number> {
  return precisionAtK(api, planted, state.userFactors, state.itemFactors, state.factors, 10);
}

async function warpPrecision(api: ModelsApi, state: WarpModelState): Promise<number> {
  const items = api.warpItemRepresentations(state, genres.itemFeatures);
  const users = api.warpUserRepresentations(state, genres.userFeatures);
  return precisionAtK(api, genres, users.vectors, items.vectors, state.noComponents, 10, items.biases);
}

describe.each(backendCases)('$name backend', (c) => {
  if (c.missing !== undefined) {
    it('is required by RECSYS_REQUIRE_NATIVE=1 but does not load', () => {
      throw new Error(c.missing);
    });
    return;
  }
  if (c.skip !== undefined) {
    it.skip(`skipped: ${c.skip}`, () => {});
    return;
  }
  const api = apiOf(c) as ModelsApi;

  it('reports its name', () => {
    expect(api.backend).toBe(c.name);
  });

  describe('ALS', () => {
    it('decreases the loss at every iteration with the exact solver, and reports it per iteration', async () => {
      const seen: [number, number | undefined][] = [];
      const fit = await api.fitAls(
        planted.train,
        { ...ALS, solver: 'cholesky', iterations: 6, computeLoss: true },
        (iteration, loss) => seen.push([iteration, loss]),
      );
      expect(fit.losses).toHaveLength(6);
      expect(fit.secondsPerIteration).toHaveLength(6);
      expect(seen.map(([i]) => i)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(seen.map(([, l]) => l)).toEqual(fit.losses);
      for (let i = 1; i < fit.losses.length; i++) expect(fit.losses[i]).toBeLessThanOrEqual(fit.losses[i - 1] * (1 + 1e-9));
      expect(fit.losses[5]).toBeLessThan(fit.losses[0]);
    });

    it('reports no loss unless asked', async () => {
      const seen: (number | undefined)[] = [];
      const fit = await api.fitAls(planted.train, { ...ALS, iterations: 2 }, (_i, loss) => seen.push(loss));
      expect(fit.losses).toEqual([]);
      expect(seen).toEqual([undefined, undefined]);
    });

    it('converges with conjugate gradient to the Cholesky solution', async () => {
      const exact = await api.fitAls(planted.train, { ...ALS, solver: 'cholesky', iterations: 8 });
      // With as many steps as factors, CG solves each system (up to rounding): the same iterates.
      const full = await api.fitAls(planted.train, { ...ALS, solver: 'cg', cgSteps: 8, iterations: 8 });
      expect(maxAbsDiff(full.state.userFactors, exact.state.userFactors)).toBeLessThan(1e-3);
      expect(maxAbsDiff(full.state.itemFactors, exact.state.itemFactors)).toBeLessThan(1e-3);
      // Three warm-started steps per half-iteration reach the same loss.
      const exactLoss = await api.fitAls(planted.train, { ...ALS, solver: 'cholesky', iterations: 15, computeLoss: true });
      const cg = await api.fitAls(planted.train, { ...ALS, solver: 'cg', iterations: 15, computeLoss: true });
      expect(cg.losses[14]).toBeLessThan(exactLoss.losses[14] * 1.01);
    });

    it('recovers planted low-rank preferences far better than popularity', async () => {
      const fit = await api.fitAls(planted.train, { ...ALS, iterations: 15 });
      const p = await alsPrecision(api, fit.state);
      const pop = popularityPrecisionAtK(planted, 10);
      expect(p).toBeGreaterThan(0.25);
      expect(p).toBeGreaterThan(3 * pop);
    });

    it('gives zero factors to users and items without entries', async () => {
      const m = csrFromRows(5, [[0, 1], [], [1, 3], [0, 3]]); // item 2 and 4 unseen, user 1 empty
      for (const solver of ['cg', 'cholesky'] as const) {
        const { state } = await api.fitAls(m, { factors: 3, iterations: 3, solver, threads: 1 });
        expect(Array.from(state.userFactors.subarray(3, 6))).toEqual([0, 0, 0]);
        expect(Array.from(state.itemFactors.subarray(6, 9))).toEqual([0, 0, 0]);
        expect(Array.from(state.itemFactors.subarray(12, 15))).toEqual([0, 0, 0]);
        expect(state.userFactors.some((v) => v !== 0)).toBe(true);
      }
    });

    it('starts from the seed: same seed same model, another seed another model', async () => {
      const a = await api.fitAls(planted.train, { ...ALS, iterations: 2, seed: 1 });
      const b = await api.fitAls(planted.train, { ...ALS, iterations: 2, seed: 1 });
      const d = await api.fitAls(planted.train, { ...ALS, iterations: 2, seed: 2 });
      expect(b.state).toEqual(a.state);
      expect(maxAbsDiff(a.state.itemFactors, d.state.itemFactors)).toBeGreaterThan(0);
    });

    it('reaches the same model with two threads as with one', async () => {
      const one = await api.fitAls(planted.train, { ...ALS, iterations: 10, threads: 1 });
      const two = await api.fitAls(planted.train, { ...ALS, iterations: 10, threads: 2 });
      expect(maxAbsDiff(one.state.userFactors, two.state.userFactors)).toBeLessThan(1e-4);
      expect(maxAbsDiff(one.state.itemFactors, two.state.itemFactors)).toBeLessThan(1e-4);
    });

    it('folds in a user exactly: the result solves the normal equations', async () => {
      const { state } = await api.fitAls(planted.train, { ...ALS, iterations: 5 });
      const k = state.factors;
      const items = Int32Array.of(3, 17, 42, 99, 150);
      const weights = Float32Array.of(1, 0.5, 2, 1, 0.3);
      const params = { regularization: ALS.regularization, alpha: ALS.alpha };
      const x = api.alsRecalculateUser(state, items, weights, params);
      // A = YᵀY + λI + Σ α w yyᵀ, b = Σ (1 + α w) y
      const nItems = state.itemFactors.length / k;
      const Ax = new Float64Array(k);
      const b = new Float64Array(k);
      for (let i = 0; i < nItems; i++) {
        const s = dot(state.itemFactors, i * k, x, 0, k);
        for (let a = 0; a < k; a++) Ax[a] += s * state.itemFactors[i * k + a];
      }
      for (let a = 0; a < k; a++) Ax[a] += ALS.regularization * x[a];
      items.forEach((item, j) => {
        const s = dot(state.itemFactors, item * k, x, 0, k);
        for (let a = 0; a < k; a++) {
          Ax[a] += ALS.alpha * weights[j] * s * state.itemFactors[item * k + a];
          b[a] += (1 + ALS.alpha * weights[j]) * state.itemFactors[item * k + a];
        }
      });
      let residual = 0;
      let norm = 0;
      for (let a = 0; a < k; a++) {
        residual += (Ax[a] - b[a]) ** 2;
        norm += b[a] ** 2;
      }
      expect(Math.sqrt(residual / norm)).toBeLessThan(1e-5);
      const gramian = api.alsItemGramian(state);
      expect(api.alsRecalculateUser(state, items, weights, { ...params, gramian })).toEqual(x);
      expect(Array.from(api.alsRecalculateUser(state, new Int32Array(0), new Float32Array(0)))).toEqual(
        new Array(k).fill(0),
      );
    });

    it('stops when aborted and rejects with the reason; a throwing callback rejects with its error', async () => {
      const controller = new AbortController();
      const reason = new Error('stop now');
      await expect(
        api.fitAls(planted.train, { ...ALS, iterations: 50, signal: controller.signal }, (iteration) => {
          if (iteration === 2) controller.abort(reason);
        }),
      ).rejects.toBe(reason);
      const boom = new Error('boom');
      await expect(
        api.fitAls(planted.train, { ...ALS, iterations: 50 }, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      await expect(api.fitAls(planted.train, { ...ALS, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });
  });

  describe('scheduling', () => {
    it('keeps the event loop turning while fitting', async () => {
      const data = plantedLowRank({ nUsers: 600, nItems: 400, rank: 4, perUser: 30, holdout: 0, seed: 4 });
      // A fit that blocked the main thread would have settled before the loop's next check phase; one that runs
      // off the main thread (the native AsyncWorker, or the TypeScript fit yielding between chunks) has not.
      let settled = false;
      const fit = api.fitAls(data.train, { factors: 24, iterations: 8, threads: 1, solver: 'cholesky' }).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
      await fit;
      expect(settled).toBe(true);
    });
  });

  describe('WARP', () => {
    const features = { itemFeatures: genres.itemFeatures, userFeatures: genres.userFeatures };

    it('is deterministic with one thread and the same seed', async () => {
      const a = await api.fitWarp(genres.train, features, { ...WARP, epochs: 3 });
      const b = await api.fitWarp(genres.train, features, { ...WARP, epochs: 3 });
      const d = await api.fitWarp(genres.train, features, { ...WARP, epochs: 3, seed: 6 });
      expect(b.state).toEqual(a.state);
      expect(maxAbsDiff(a.state.itemEmbeddings, d.state.itemEmbeddings)).toBeGreaterThan(0);
      expect(a.secondsPerEpoch).toHaveLength(3);
    });

    it('learns: precision@10 far above the untrained model and popularity', async () => {
      const epochs: number[] = [];
      const untrained = await api.fitWarp(genres.train, features, { ...WARP, epochs: 0 });
      const fit = await api.fitWarp(genres.train, features, WARP, (e) => epochs.push(e));
      expect(epochs).toEqual(Array.from({ length: WARP.epochs }, (_, i) => i + 1));
      const p = await warpPrecision(api, fit.state);
      expect(p).toBeGreaterThan(2 * popularityPrecisionAtK(genres, 10));
      expect(p).toBeGreaterThan((await warpPrecision(api, untrained.state)) + 0.2);
    });

    it('reaches the same quality with two threads as with one', async () => {
      const one = await api.fitWarp(genres.train, features, WARP);
      const two = await api.fitWarp(genres.train, features, { ...WARP, threads: 2 });
      const p1 = await warpPrecision(api, one.state);
      const p2 = await warpPrecision(api, two.state);
      expect(Math.abs(p1 - p2)).toBeLessThan(0.03);
    });

    it('scores a new movie known only by its genre highest for the fans of that genre', async () => {
      const { state } = await api.fitWarp(genres.train, features, WARP);
      const users = api.warpUserRepresentations(state, genres.userFeatures);
      const dim = state.noComponents;
      let right = 0;
      for (let g = 0; g < genres.nGenres; g++) {
        const item = api.warpNewItemRepresentation(state, Int32Array.of(g));
        const mean = (fans: boolean): number => {
          let s = 0;
          let n = 0;
          for (let u = 0; u < genres.nUsers; u++) {
            if ((genres.userGenre[u] === g) !== fans) continue;
            s += dot(users.vectors, u * dim, item.vector, 0, dim) + item.bias;
            n++;
          }
          return s / n;
        };
        if (mean(true) > mean(false)) right++;
      }
      expect(right).toBe(genres.nGenres);
      // Cold catalogue items (never interacted with) are ranked by their genre too: for each user, the share of
      // (same-genre, other-genre) pairs of cold items in the right order.
      const items = api.warpItemRepresentations(state, genres.itemFeatures);
      let auc = 0;
      for (let u = 0; u < genres.nUsers; u++) {
        const score = (i: number): number => dot(users.vectors, u * dim, items.vectors, i * dim, dim) + items.biases[i];
        const same = genres.coldItems.filter((i) => genres.itemGenre[i] === genres.userGenre[u]).map(score);
        const other = genres.coldItems.filter((i) => genres.itemGenre[i] !== genres.userGenre[u]).map(score);
        let ordered = 0;
        for (const s of same) for (const o of other) if (s > o) ordered++;
        auc += ordered / (same.length * other.length);
      }
      expect(auc / genres.nUsers).toBeGreaterThan(0.85);
    });

    it('recommends a new user known only by a favourite genre movies of that genre', async () => {
      const { state } = await api.fitWarp(genres.train, features, WARP);
      const items = api.warpItemRepresentations(state, genres.itemFeatures);
      for (let g = 0; g < genres.nGenres; g++) {
        const user = api.warpUserRepresentation(state, null, Int32Array.of(g));
        const top = api.topK({ userVector: user.vector, itemVectors: items.vectors, itemBiases: items.biases, k: 10 });
        const share = Array.from(top.ids).filter((i) => genres.itemGenre[i] === g).length / 10;
        expect(share).toBeGreaterThanOrEqual(0.8);
      }
      // A known user's representation with their features equals the batch one.
      const all = api.warpUserRepresentations(state, genres.userFeatures);
      const one = api.warpUserRepresentation(state, 7, Int32Array.of(genres.userGenre[7]));
      expect(one.vector).toEqual(all.vectors.subarray(7 * state.noComponents, 8 * state.noComponents));
      expect(one.bias).toBe(all.biases[7]);
    });

    it('ignores interactions whose weight is not positive (weights scale the update)', async () => {
      const zero = { ...genres.train, data: new Float32Array(genres.train.data.length) };
      const trained = await api.fitWarp(zero, {}, { ...WARP, epochs: 2 });
      const untrained = await api.fitWarp(zero, {}, { ...WARP, epochs: 0 });
      expect(trained.state).toEqual(untrained.state);
    });

    it('exports its state as plain float32 arrays that reload bit-exactly from little-endian bytes', async () => {
      const { state } = await api.fitWarp(genres.train, features, { ...WARP, epochs: 2 });
      const bytes = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      const reload = (b: Buffer): Float32Array => {
        const copy = new Float32Array(b.length / 4);
        for (let i = 0; i < copy.length; i++) copy[i] = b.readFloatLE(i * 4);
        return copy;
      };
      const reloaded: WarpModelState = {
        ...state,
        userEmbeddings: reload(bytes(state.userEmbeddings)),
        userBiases: reload(bytes(state.userBiases)),
        itemEmbeddings: reload(bytes(state.itemEmbeddings)),
        itemBiases: reload(bytes(state.itemBiases)),
      };
      expect(reloaded).toEqual(state);
      expect(api.warpItemRepresentations(reloaded, genres.itemFeatures)).toEqual(
        api.warpItemRepresentations(state, genres.itemFeatures),
      );
    });

    it('applies L2 regularisation: alpha shrinks the embeddings', async () => {
      const plain = await api.fitWarp(genres.train, features, { ...WARP, epochs: 5 });
      const shrunk = await api.fitWarp(genres.train, features, { ...WARP, epochs: 5, itemAlpha: 0.01, userAlpha: 0.01 });
      const norm = (a: Float32Array): number => a.reduce((s, v) => s + v * v, 0);
      expect(norm(shrunk.state.itemEmbeddings)).toBeLessThan(norm(plain.state.itemEmbeddings));
      expect(norm(shrunk.state.userEmbeddings)).toBeLessThan(norm(plain.state.userEmbeddings));
      expect(shrunk.state.itemEmbeddings.every(Number.isFinite)).toBe(true);
    });
  });

  describe('top-K', () => {
    // 12 items in 3 dims, with exact ties (items 2 and 7 are identical, as are 4 and 9).
    const dim = 3;
    const itemVectors = Float32Array.from([
      1, 0, 0, 0, 1, 0, 0.5, 0.5, 0, -1, 0, 0, 0.25, 0.25, 0.25, 0, 0, 1, 2, 0, 0, 0.5, 0.5, 0, 0, -1, 0, 0.25, 0.25,
      0.25, 0, 0, 0, 0.1, 0.9, 0,
    ]);
    const nItems = itemVectors.length / dim;
    const userVector = Float32Array.of(1, 1, 0.5);
    const brute = (bias?: Float32Array, userBias = 0, exclude: number[] = []): [number, number][] =>
      Array.from({ length: nItems }, (_, i) => [i, Math.fround(dot(itemVectors, i * dim, userVector, 0, dim) + (bias?.[i] ?? 0) + userBias)] as [number, number])
        .filter(([i]) => !exclude.includes(i))
        .sort((a, b) => b[1] - a[1] || a[0] - b[0]);

    it('ranks by score, ties by lower id, skipping excluded items', () => {
      const all = api.topK({ userVector, itemVectors, k: nItems });
      const expected = brute();
      expect(Array.from(all.ids)).toEqual(expected.map(([i]) => i));
      expected.forEach(([, s], j) => expect(all.scores[j]).toBeCloseTo(s, 5));
      const top3 = api.topK({ userVector, itemVectors, k: 3, exclude: Int32Array.of(6, 1) });
      expect(Array.from(top3.ids)).toEqual(brute(undefined, 0, [6, 1]).slice(0, 3).map(([i]) => i));
    });

    it('adds item and user biases', () => {
      const itemBiases = Float32Array.from({ length: nItems }, (_, i) => (i % 3) * 0.3);
      const r = api.topK({ userVector, itemVectors, itemBiases, userBias: 2, k: 5 });
      const expected = brute(itemBiases, 2).slice(0, 5);
      expect(Array.from(r.ids)).toEqual(expected.map(([i]) => i));
      expected.forEach(([, s], j) => expect(r.scores[j]).toBeCloseTo(s, 5));
    });

    it('returns fewer than k when exclusions leave fewer items', () => {
      const exclude = Int32Array.from({ length: nItems - 2 }, (_, i) => i + 2);
      const r = api.topK({ userVector, itemVectors, exclude, k: 5 });
      expect(Array.from(r.ids)).toEqual([0, 1]); // equal scores: lower id first
      expect(r.scores).toHaveLength(2);
    });

    it('ranks 5k items x 64 dims synchronously', () => {
      const big = Float32Array.from({ length: 5000 * 64 }, (_, i) => Math.sin(i));
      const u = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i));
      const r = api.topK({ userVector: u, itemVectors: big, k: 20 });
      expect(r.ids).toHaveLength(20);
      for (let j = 1; j < 20; j++) expect(r.scores[j]).toBeLessThanOrEqual(r.scores[j - 1]);
    });

    it('batchTopK equals topK user by user, with exclusions, biases, a subset of users and -1 padding', async () => {
      const nUsers = 25;
      const d = 8;
      const n = 60;
      const userVectors = Float32Array.from({ length: nUsers * d }, (_, i) => Math.sin(i * 1.3));
      const items = Float32Array.from({ length: n * d }, (_, i) => Math.cos(i * 0.7));
      const itemBiases = Float32Array.from({ length: n }, (_, i) => (i % 5) * 0.1);
      const userBiases = Float32Array.from({ length: nUsers }, (_, u) => u * 0.01);
      // User 3 has every item but 4 excluded: its row is padded.
      const excludedRows = Array.from({ length: nUsers }, (_, u) =>
        u === 3 ? Array.from({ length: n - 4 }, (_, i) => i + 4) : [u % n, (u * 7) % n, (u * 13 + 1) % n].filter((v, i, a) => a.indexOf(v) === i).sort((a, b) => a - b),
      );
      const exclude = csrFromRows(n, excludedRows);
      const k = 6;
      const users = Int32Array.of(3, 0, 24, 11, 3);
      for (const subset of [undefined, users]) {
        const batch = await api.batchTopK({ userVectors, itemVectors: items, dim: d, itemBiases, userBiases, exclude, k, users: subset, threads: 2 });
        const rows = subset ? Array.from(subset) : Array.from({ length: nUsers }, (_, u) => u);
        expect(batch.ids).toHaveLength(rows.length * k);
        rows.forEach((u, row) => {
          const one = api.topK({
            userVector: userVectors.subarray(u * d, (u + 1) * d),
            itemVectors: items,
            itemBiases,
            userBias: userBiases[u],
            exclude: Int32Array.from(excludedRows[u]),
            k,
          });
          const ids = Array.from(batch.ids.subarray(row * k, (row + 1) * k));
          const scores = Array.from(batch.scores.subarray(row * k, (row + 1) * k));
          expect(ids.slice(0, one.ids.length)).toEqual(Array.from(one.ids));
          expect(scores.slice(0, one.ids.length)).toEqual(Array.from(one.scores));
          expect(ids.slice(one.ids.length)).toEqual(new Array(k - one.ids.length).fill(-1));
          expect(scores.slice(one.ids.length)).toEqual(new Array(k - one.ids.length).fill(-Infinity));
        });
      }
      // dim inferred from the biases.
      const inferred = await api.batchTopK({ userVectors, itemVectors: items, itemBiases, userBiases, k });
      const given = await api.batchTopK({ userVectors, itemVectors: items, dim: d, itemBiases, userBiases, k });
      expect(inferred).toEqual(given);
    });

    it('batchTopK equals topK on a catalogue larger than one scoring block', async () => {
      const d = 16;
      const n = 2500;
      const nUsers = 11;
      const userVectors = Float32Array.from({ length: nUsers * d }, (_, i) => Math.sin(i * 0.37));
      const items = Float32Array.from({ length: n * d }, (_, i) => Math.cos(i * 0.11));
      const itemBiases = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.1);
      const batch = await api.batchTopK({ userVectors, itemVectors: items, itemBiases, k: 7, threads: 2 });
      for (let u = 0; u < nUsers; u++) {
        const one = api.topK({ userVector: userVectors.subarray(u * d, (u + 1) * d), itemVectors: items, itemBiases, k: 7 });
        expect(batch.ids.subarray(u * 7, (u + 1) * 7)).toEqual(one.ids);
        expect(batch.scores.subarray(u * 7, (u + 1) * 7)).toEqual(one.scores);
      }
    });

    it('finds similar items by cosine, never the item itself nor zero vectors', () => {
      const r = api.similarItems({ itemVectors, dim, itemId: 0, k: nItems });
      const norm = (i: number): number => Math.sqrt(dot(itemVectors, i * dim, itemVectors, i * dim, dim));
      const expected = Array.from({ length: nItems }, (_, i) => i)
        .filter((i) => i !== 0 && norm(i) > 0)
        .map((i) => [i, dot(itemVectors, i * dim, itemVectors, 0, dim) / (norm(i) * norm(0))] as const)
        .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      expect(Array.from(r.ids)).toEqual(expected.map(([i]) => i));
      expect(r.ids[0]).toBe(6); // (2, 0, 0): same direction
      expect(r.scores[0]).toBeCloseTo(1, 6);
      const excluded = api.similarItems({ itemVectors, dim, itemId: 0, k: 2, exclude: Int32Array.of(6) });
      expect(Array.from(excluded.ids)).toEqual(expected.slice(1, 3).map(([i]) => i));
    });
  });
});
