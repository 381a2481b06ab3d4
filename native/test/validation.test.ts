/**
 * Bad arguments get a TypeError (wrong type) or RangeError (bad value) with an exact message, on both backends
 * (checked by the wrapper), and directly on the native addon (checked again in C++, with the same text).
 */
import { describe, expect, it } from 'vitest';

import { getBackend, type CsrMatrix, type ModelsApi } from '../src/index.js';
import { loadNativeAddon, type NativeAddon } from '../src/native-core.js';
import { apiOf, backendCases, csrFromRows, nativeError, requireNative } from './helpers.js';

type ErrorClass = typeof TypeError | typeof RangeError;

async function expectError(fn: () => unknown, kind: ErrorClass, message: string): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${kind.name}: ${message}`).toBeInstanceOf(kind);
  expect((error as Error).message).toBe(message);
}

// 3 users x 5 items.
const m = csrFromRows(5, [[0, 2], [1], [3, 4]]);
const with_ = (patch: Partial<Record<keyof CsrMatrix, unknown>>): CsrMatrix => ({ ...m, ...patch }) as CsrMatrix;

/** [what, call on the user-items matrix, error class, message]: the CSR checks, shared by every CSR argument. */
const csrCases = (name: string): [string, unknown, ErrorClass, string][] => [
  ['not an object', null, TypeError, `${name} must be an object`],
  ['a bad row count', with_({ nRows: -1 }), RangeError, `${name}.nRows must be an integer in [0, 2147483646]`],
  ['a string column count', with_({ nCols: '5' }), TypeError, `${name}.nCols must be a number`],
  ['indptr of the wrong type', with_({ indptr: Float32Array.of(0, 2, 3, 5) }), TypeError, `${name}.indptr must be an Int32Array`],
  ['indices of the wrong type', with_({ indices: [0, 2, 1, 3, 4] }), TypeError, `${name}.indices must be an Int32Array`],
  ['data of the wrong type', with_({ data: new Float64Array(5) }), TypeError, `${name}.data must be a Float32Array`],
  ['indptr of the wrong length', with_({ indptr: Int32Array.of(0, 2, 5) }), RangeError, `${name}.indptr must have length 4`],
  ['data of the wrong length', with_({ data: new Float32Array(4) }), RangeError, `${name}.data must have length 5`],
  ['a decreasing indptr', with_({ indptr: Int32Array.of(0, 3, 2, 5) }), RangeError, `${name}.indptr must start at 0, never decrease and end at 5`],
  ['an indptr not ending at nnz', with_({ indptr: Int32Array.of(0, 2, 3, 4) }), RangeError, `${name}.indptr must start at 0, never decrease and end at 5`],
  ['a column out of range', with_({ indices: Int32Array.of(0, 2, 1, 3, 7) }), RangeError, `${name}.indices[4] = 7 is out of range [0, 5)`],
  ['a negative column', with_({ indices: Int32Array.of(0, -2, 1, 3, 4) }), RangeError, `${name}.indices[1] = -2 is out of range [0, 5)`],
  ['a NaN value', with_({ data: Float32Array.of(1, Number.NaN, 1, 1, 1) }), RangeError, `${name}.data[1] = NaN is not finite`],
  ['an infinite value', with_({ data: Float32Array.of(1, 1, 1, Infinity, 1) }), RangeError, `${name}.data[3] = Infinity is not finite`],
];

describe.each(backendCases)('$name backend: argument checks', (c) => {
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

  it.each(csrCases('userItems'))('fitAls refuses userItems with %s', async (_what, value, kind, message) => {
    await expectError(() => api.fitAls(value as CsrMatrix, { iterations: 1 }), kind, message);
  });

  it.each<[string, unknown, ErrorClass, string]>([
    ['params not an object', [1], TypeError, 'params must be an object'],
    ['an unknown parameter', { factor: 8 }, TypeError, 'unknown ALS parameter: factor'],
    ['factors 0', { factors: 0 }, RangeError, 'factors must be an integer in [1, 1024]'],
    ['fractional factors', { factors: 2.5 }, RangeError, 'factors must be an integer in [1, 1024]'],
    ['factors as a string', { factors: '8' }, TypeError, 'factors must be a number'],
    ['a negative regularization', { regularization: -1 }, RangeError, 'regularization must be a finite number >= 0'],
    ['an infinite alpha', { alpha: Infinity }, RangeError, 'alpha must be a finite number >= 0'],
    ['negative iterations', { iterations: -1 }, RangeError, 'iterations must be an integer in [0, 100000]'],
    ['cgSteps 0', { cgSteps: 0 }, RangeError, 'cgSteps must be an integer in [1, 1024]'],
    ['an unknown solver', { solver: 'lu' }, TypeError, "solver must be 'cg' or 'cholesky'"],
    ['a negative seed', { seed: -1 }, RangeError, 'seed must be an integer in [0, 4294967295]'],
    ['too many threads', { threads: 1000 }, RangeError, 'threads must be an integer in [0, 256]'],
    ['computeLoss not a boolean', { computeLoss: 1 }, TypeError, 'computeLoss must be a boolean'],
    ['signal not an AbortSignal', { signal: {} }, TypeError, 'signal must be an AbortSignal'],
  ])('fitAls refuses %s', async (_what, params, kind, message) => {
    await expectError(() => api.fitAls(m, params as never), kind, message);
  });

  it('fitAls refuses a callback that is not a function', async () => {
    await expectError(() => api.fitAls(m, {}, 'x' as never), TypeError, 'onIteration must be a function');
  });

  it('alsRecalculateUser checks the state, the items, the weights and the gramian', async () => {
    const state = { factors: 3, userFactors: new Float32Array(9), itemFactors: new Float32Array(15) };
    const ids = Int32Array.of(0, 4);
    const w = Float32Array.of(1, 1);
    await expectError(() => api.alsRecalculateUser(null as never, ids, w), TypeError, 'state must be an object');
    await expectError(
      () => api.alsRecalculateUser({ ...state, itemFactors: new Float32Array(14) }, ids, w),
      RangeError,
      'state.itemFactors.length must be a multiple of 3',
    );
    await expectError(() => api.alsRecalculateUser(state, Float32Array.of(0) as never, w), TypeError, 'itemIds must be an Int32Array');
    await expectError(() => api.alsRecalculateUser(state, ids, Float32Array.of(1)), RangeError, 'weights must have length 2');
    await expectError(() => api.alsRecalculateUser(state, Int32Array.of(0, 5), w), RangeError, 'itemIds[1] = 5 is out of range [0, 5)');
    await expectError(() => api.alsRecalculateUser(state, ids, Float32Array.of(Number.NaN, 1)), RangeError, 'weights[0] is not finite');
    await expectError(
      () => api.alsRecalculateUser(state, ids, w, { gramian: new Float64Array(8) }),
      RangeError,
      'gramian must have length 9',
    );
    await expectError(
      () => api.alsRecalculateUser(state, ids, w, { gramian: new Float32Array(9) as never }),
      TypeError,
      'gramian must be a Float64Array',
    );
  });

  it.each(csrCases('interactions'))('fitWarp refuses interactions with %s', async (_what, value, kind, message) => {
    await expectError(() => api.fitWarp(value as CsrMatrix, {}, { epochs: 1 }), kind, message);
  });

  it.each<[string, () => Promise<unknown>, ErrorClass, string]>([
    [
      'unsorted rows',
      () => api.fitWarp(with_({ indices: Int32Array.of(2, 0, 1, 3, 4) }), {}, { epochs: 1 }),
      RangeError,
      'interactions.indices must be strictly increasing within each row (row 0)',
    ],
    [
      'item features for another number of items',
      () => api.fitWarp(m, { itemFeatures: csrFromRows(2, [[0], [1], [0], [1]]) }),
      RangeError,
      'features.itemFeatures.nRows must be 5',
    ],
    [
      'user features for another number of users',
      () => api.fitWarp(m, { userFeatures: csrFromRows(2, [[0]]) }),
      RangeError,
      'features.userFeatures.nRows must be 3',
    ],
    ['an unknown feature kind', () => api.fitWarp(m, { genres: m } as never), TypeError, 'unknown features key: genres'],
    ['an unknown parameter', () => api.fitWarp(m, {}, { no_components: 8 } as never), TypeError, 'unknown WARP parameter: no_components'],
    ['a zero learning rate', () => api.fitWarp(m, {}, { learningRate: 0 }), RangeError, 'learningRate must be a finite number > 0'],
    ['maxSampled 0', () => api.fitWarp(m, {}, { maxSampled: 0 }), RangeError, 'maxSampled must be an integer in [1, 100000]'],
    ['too many components', () => api.fitWarp(m, {}, { noComponents: 2000 }), RangeError, 'noComponents must be an integer in [1, 1024]'],
    ['a negative itemAlpha', () => api.fitWarp(m, {}, { itemAlpha: -0.1 }), RangeError, 'itemAlpha must be a finite number >= 0'],
    ['epochs as a string', () => api.fitWarp(m, {}, { epochs: '3' } as never), TypeError, 'epochs must be a number'],
    ['a callback that is not a function', () => api.fitWarp(m, {}, {}, 3 as never), TypeError, 'onEpoch must be a function'],
  ])('fitWarp refuses %s', async (_what, call, kind, message) => {
    await expectError(call, kind, message);
  });

  it('the WARP representation helpers check the state and the feature ids', async () => {
    const { state } = await api.fitWarp(m, { itemFeatures: csrFromRows(2, [[0], [1], [0], [1], []]) }, { epochs: 0, noComponents: 4 });
    await expectError(() => api.warpUserRepresentation(state, 3, Int32Array.of()), RangeError, 'userIndex must be an integer in [0, 2]');
    await expectError(() => api.warpNewItemRepresentation(state, Int32Array.of(2)), RangeError, 'itemFeatureIds[0] = 2 is out of range [0, 2)');
    await expectError(() => api.warpNewItemRepresentation(state, [0] as never), TypeError, 'itemFeatureIds must be an Int32Array');
    await expectError(
      () => api.warpNewItemRepresentation(state, Int32Array.of(0, 1), Float32Array.of(1)),
      RangeError,
      'weights must have length 2',
    );
    await expectError(
      () => api.warpItemRepresentations({ ...state, itemBiases: new Float32Array(3) }),
      RangeError,
      'state.itemBiases must have length 7',
    );
    await expectError(
      () => api.warpItemRepresentations(state, csrFromRows(3, [[0], [1], [2], [0], [1]])),
      RangeError,
      'itemFeatures.nCols must be 2',
    );
  });

  const u = Float32Array.of(1, 0, 0);
  const items = new Float32Array(12); // 4 items x 3
  it.each<[string, () => unknown, ErrorClass, string]>([
    ['a query that is not an object', () => api.topK(undefined as never), TypeError, 'query must be an object'],
    ['a Float64Array user vector', () => api.topK({ userVector: new Float64Array(3) as never, itemVectors: items, k: 1 }), TypeError, 'userVector must be a Float32Array'],
    ['an empty user vector', () => api.topK({ userVector: new Float32Array(0), itemVectors: items, k: 1 }), RangeError, 'userVector must not be empty'],
    ['item vectors of another size', () => api.topK({ userVector: u, itemVectors: new Float32Array(10), k: 1 }), RangeError, 'itemVectors.length must be a multiple of 3'],
    ['no items', () => api.topK({ userVector: u, itemVectors: new Float32Array(0), k: 1 }), RangeError, 'itemVectors must not be empty'],
    ['biases of the wrong length', () => api.topK({ userVector: u, itemVectors: items, itemBiases: new Float32Array(3), k: 1 }), RangeError, 'itemBiases must have length 4'],
    ['a NaN user bias', () => api.topK({ userVector: u, itemVectors: items, userBias: Number.NaN, k: 1 }), RangeError, 'userBias must be a finite number'],
    ['an exclusion out of range', () => api.topK({ userVector: u, itemVectors: items, exclude: Int32Array.of(1, 4), k: 1 }), RangeError, 'exclude[1] = 4 is out of range [0, 4)'],
    ['exclusions as an array', () => api.topK({ userVector: u, itemVectors: items, exclude: [1] as never, k: 1 }), TypeError, 'exclude must be an Int32Array'],
    ['k 0', () => api.topK({ userVector: u, itemVectors: items, k: 0 }), RangeError, 'k must be an integer in [1, 4]'],
    ['k above the number of items', () => api.topK({ userVector: u, itemVectors: items, k: 5 }), RangeError, 'k must be an integer in [1, 4]'],
    ['a fractional k', () => api.topK({ userVector: u, itemVectors: items, k: 1.5 }), RangeError, 'k must be an integer in [1, 4]'],
    ['k as a string', () => api.topK({ userVector: u, itemVectors: items, k: '2' as never }), TypeError, 'k must be a number'],
    ['similarItems without dim', () => api.similarItems({ itemVectors: items, itemId: 0, k: 1 } as never), TypeError, 'dim must be a number'],
    ['similarItems of an unknown item', () => api.similarItems({ itemVectors: items, dim: 3, itemId: 4, k: 1 }), RangeError, 'itemId must be an integer in [0, 3]'],
    ['batchTopK without a way to know dim', () => api.batchTopK({ userVectors: u, itemVectors: items, k: 1 }), TypeError, 'dim must be a number'],
    ['batchTopK with users out of range', () => api.batchTopK({ userVectors: u, itemVectors: items, dim: 3, users: Int32Array.of(1), k: 1 }), RangeError, 'users[0] = 1 is out of range [0, 1)'],
    ['batchTopK with exclusions for other users', () => api.batchTopK({ userVectors: u, itemVectors: items, dim: 3, exclude: csrFromRows(4, [[0], [1]]), k: 1 }), RangeError, 'exclude.nRows must be 1'],
    ['batchTopK with too many threads', () => api.batchTopK({ userVectors: u, itemVectors: items, dim: 3, k: 1, threads: 257 }), RangeError, 'threads must be an integer in [0, 256]'],
  ])('top-K refuses %s', async (_what, call, kind, message) => {
    await expectError(call, kind, message);
  });
});

describe('backend selection', () => {
  it('refuses an unknown backend name', async () => {
    await expectError(() => getBackend('gpu' as never), TypeError, "backend must be 'native' or 'ts'");
  });
});

describe('the native addon itself (C++ checks)', () => {
  if (nativeError !== undefined) {
    if (requireNative) {
      it('is required by RECSYS_REQUIRE_NATIVE=1 but does not load', () => {
        throw new Error(nativeError);
      });
    } else {
      it.skip(`skipped: native addon not loaded (${nativeError})`, () => {});
    }
    return;
  }
  const addon: NativeAddon = loadNativeAddon().addon;
  const alsArgs = () => ({
    userItems: m,
    factors: 2,
    regularization: 0.1,
    alpha: 1,
    iterations: 1,
    cgSteps: 3,
    cholesky: false,
    threads: 1,
    computeLoss: false,
    userFactors: new Float32Array(6),
    itemFactors: new Float32Array(10),
    control: new Int32Array(1),
  });
  const noop = (): void => {};

  it.each(csrCases('userItems'))('alsFit refuses userItems with %s, with the wrapper message', async (_what, value, kind, message) => {
    await expectError(() => addon.alsFit({ ...alsArgs(), userItems: value as CsrMatrix }, noop), kind, message);
  });

  it.each<[string, Record<string, unknown>, ErrorClass, string]>([
    ['factors 0', { factors: 0 }, RangeError, 'factors must be an integer in [1, 1024]'],
    ['a NaN regularization', { regularization: Number.NaN }, RangeError, 'regularization must be a finite number >= 0'],
    ['cholesky not a boolean', { cholesky: 'yes' }, TypeError, 'cholesky must be a boolean'],
    ['user factors of the wrong length', { userFactors: new Float32Array(5) }, RangeError, 'userFactors must have length 6'],
    ['item factors of the wrong type', { itemFactors: new Float64Array(10) }, TypeError, 'itemFactors must be a Float32Array'],
    ['no control word', { control: undefined }, TypeError, 'control must be an Int32Array'],
    ['a control word of the wrong length', { control: new Int32Array(2) }, RangeError, 'control must have length 1'],
  ])('alsFit refuses %s', async (_what, patch, kind, message) => {
    await expectError(() => addon.alsFit({ ...alsArgs(), ...patch } as never, noop), kind, message);
  });

  it('alsFit refuses a missing options object and a callback that is not a function', async () => {
    await expectError(() => addon.alsFit(null as never, noop), TypeError, 'options must be an object');
    await expectError(() => addon.alsFit(alsArgs(), 5 as never), TypeError, 'onIteration must be a function');
  });

  it('warpFit checks shapes against the interactions', async () => {
    const args = {
      interactions: m,
      itemFeatures: { nRows: 5, nCols: 5, indptr: Int32Array.of(0, 1, 2, 3, 4, 5), indices: Int32Array.of(0, 1, 2, 3, 4), data: new Float32Array(5).fill(1) },
      userFeatures: { nRows: 3, nCols: 3, indptr: Int32Array.of(0, 1, 2, 3), indices: Int32Array.of(0, 1, 2), data: new Float32Array(3).fill(1) },
      noComponents: 2,
      learningRate: 0.05,
      maxSampled: 10,
      itemAlpha: 0,
      userAlpha: 0,
      epochs: 1,
      seed: 1,
      threads: 1,
      itemEmbeddings: new Float32Array(10),
      itemBiases: new Float32Array(5),
      userEmbeddings: new Float32Array(6),
      userBiases: new Float32Array(3),
      control: new Int32Array(1),
    };
    await expect(addon.warpFit(args, noop)).resolves.toBeUndefined();
    await expectError(() => addon.warpFit({ ...args, userFeatures: { ...args.userFeatures, nRows: 2, indptr: Int32Array.of(0, 1, 3) } }, noop), RangeError, 'userFeatures.nRows must be 3');
    await expectError(() => addon.warpFit({ ...args, itemEmbeddings: new Float32Array(9) }, noop), RangeError, 'itemEmbeddings must have length 10');
    await expectError(() => addon.warpFit({ ...args, seed: 2 ** 32 }, noop), RangeError, 'seed must be an integer in [0, 4294967295]');
    await expectError(() => addon.warpFit({ ...args, learningRate: -1 }, noop), RangeError, 'learningRate must be a finite number > 0');
    await expectError(
      () => addon.warpFit({ ...args, interactions: with_({ indices: Int32Array.of(2, 0, 1, 3, 4) }) }, noop),
      RangeError,
      'interactions.indices must be strictly increasing within each row (row 0)',
    );
  });

  it('topK, similarItems and batchTopK check every argument', async () => {
    const u = Float32Array.of(1, 0, 0);
    const items = new Float32Array(12);
    const ids = new Int32Array(2);
    const scores = new Float32Array(2);
    await expectError(() => addon.topK(new Float64Array(3) as never, items, undefined, 0, undefined, 2, ids, scores), TypeError, 'userVector must be a Float32Array');
    await expectError(() => addon.topK(u, new Float32Array(10), undefined, 0, undefined, 2, ids, scores), RangeError, 'itemVectors.length must be a multiple of 3');
    await expectError(() => addon.topK(u, items, new Float32Array(2), 0, undefined, 2, ids, scores), RangeError, 'itemBiases must have length 4');
    await expectError(() => addon.topK(u, items, undefined, Infinity, undefined, 2, ids, scores), RangeError, 'userBias must be a finite number');
    await expectError(() => addon.topK(u, items, undefined, 0, Int32Array.of(9), 2, ids, scores), RangeError, 'exclude[0] = 9 is out of range [0, 4)');
    await expectError(() => addon.topK(u, items, undefined, 0, undefined, 5, ids, scores), RangeError, 'k must be an integer in [1, 4]');
    await expectError(() => addon.topK(u, items, undefined, 0, undefined, 2, new Int32Array(1), scores), RangeError, 'outIds must have length 2');
    await expectError(() => addon.similarItems(items, 3, 4, 2, undefined, ids, scores), RangeError, 'itemId must be an integer in [0, 3]');
    await expectError(
      () => addon.batchTopK({ userVectors: u, itemVectors: items, dim: 3, itemBiases: undefined, userBiases: undefined, exclude: undefined, users: Int32Array.of(7), k: 2, threads: 1, outIds: ids, outScores: scores }),
      RangeError,
      'users[0] = 7 is out of range [0, 1)',
    );
    await expectError(
      () => addon.alsRecalculateUser({ itemFactors: items, factors: 3, itemIds: Int32Array.of(1), weights: Float32Array.of(Number.NaN), regularization: 1, alpha: 1, gramian: undefined, out: new Float32Array(3) }),
      RangeError,
      'weights[0] is not finite',
    );
  });
});
