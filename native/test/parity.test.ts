/**
 * Cross-backend parity: the TypeScript fallback computes what the native core computes. Needs the native addon
 * (skipped without it, failing when RECSYS_REQUIRE_NATIVE=1).
 */
import { describe, expect, it } from 'vitest';

import { getBackend, type WarpModelState } from '../src/index.js';
import { Rng } from '../src/ts/rng.js';
import { genreWorld, maxAbsDiff, nativeError, plantedLowRank, precisionAtK, requireNative } from './helpers.js';

describe('the random number generator', () => {
  it('produces the same stream as the C++ one (native/cpp/common.h)', () => {
    // Reference values printed by the C++ Rng.
    const r = new Rng(12345, 3);
    expect([r.next(), r.next(), r.next(), r.next(), r.next()]).toEqual([
      215427717, 4132786431, 766645309, 3444302397, 3014400144,
    ]);
    const q = new Rng(0, 0);
    expect(q.next()).toBe(3978283531);
    expect(q.below(1000)).toBe(69);
    expect(q.uniform()).toBeCloseTo(0.424426496029, 11);
    expect(new Rng(4294967295, 7).next()).toBe(1870133523);
  });
});

describe('native and TypeScript backends', () => {
  if (nativeError !== undefined) {
    if (requireNative) {
      it('are both required by RECSYS_REQUIRE_NATIVE=1, but the native addon does not load', () => {
        throw new Error(nativeError);
      });
    } else {
      it.skip(`skipped: native addon not loaded (${nativeError})`, () => {});
    }
    return;
  }
  const native = getBackend('native');
  const ts = getBackend('ts');

  it('fit the same ALS model with the Cholesky solver and one thread (within 1e-4)', async () => {
    const { train } = plantedLowRank({ nUsers: 120, nItems: 90, rank: 3, perUser: 15, holdout: 0, seed: 11 });
    const params = { factors: 8, regularization: 0.5, alpha: 2, iterations: 10, solver: 'cholesky', threads: 1 } as const;
    const a = await native.fitAls(train, { ...params, computeLoss: true });
    const b = await ts.fitAls(train, { ...params, computeLoss: true });
    expect(maxAbsDiff(a.state.userFactors, b.state.userFactors)).toBeLessThan(1e-4);
    expect(maxAbsDiff(a.state.itemFactors, b.state.itemFactors)).toBeLessThan(1e-4);
    a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i])).toBeLessThan(1e-6 * Math.max(1, l)));
    // Fold-in too.
    const ids = Int32Array.of(1, 5, 8);
    const w = Float32Array.of(1, 1, 0.5);
    expect(maxAbsDiff(native.alsRecalculateUser(a.state, ids, w, params), ts.alsRecalculateUser(a.state, ids, w, params))).toBeLessThan(1e-5);
  });

  it('fit WARP models of the same quality with one thread and the same seed (P@10 within 0.01)', async () => {
    const data = genreWorld({ nUsers: 400, nItems: 300, nGenres: 8, perUser: 25, holdout: 5, coldEvery: 1000, seed: 21 });
    const params = { noComponents: 16, epochs: 15, threads: 1, seed: 9 };
    const features = { itemFeatures: data.itemFeatures };
    const fit = async (api: typeof native): Promise<[WarpModelState, number]> => {
      const { state } = await api.fitWarp(data.train, features, params);
      const items = api.warpItemRepresentations(state, data.itemFeatures);
      const users = api.warpUserRepresentations(state);
      return [state, await precisionAtK(api, data, users.vectors, items.vectors, state.noComponents, 10, items.biases)];
    };
    const [a, p] = await fit(native);
    const [b, q] = await fit(ts);
    expect(p).toBeGreaterThan(0.1);
    expect(Math.abs(p - q)).toBeLessThan(0.01);
    // Same generator, same sampling, same arithmetic up to float rounding: here, the same trajectory.
    expect(maxAbsDiff(a.itemEmbeddings, b.itemEmbeddings)).toBeLessThan(1e-4);
    expect(maxAbsDiff(a.userEmbeddings, b.userEmbeddings)).toBeLessThan(1e-4);
  });
});
