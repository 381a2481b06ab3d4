/**
 * The models library: implicit ALS, hybrid WARP and top-K ranking, backed by the native addon (native/cpp) or by
 * the pure-TypeScript fallback (./ts) with the same API. This module is the only entry point.
 *
 * The backend is chosen once, at load, by RECSYS_NATIVE: `auto` (default; native when the addon loads, else ts),
 * `native` (throws at load if the addon is missing or stale) or `ts`. One line on stderr says which was chosen.
 * getBackend(name) gives either backend explicitly (parity tests, benchmarks).
 */
import { ALS_DEFAULTS, WARP_DEFAULTS, createApi } from './api.js';
import { loadNativeAddon } from './native-core.js';
import { tsCore } from './ts/core.js';
import type { Backend, ModelsApi } from './types.js';

export type {
  AlsFitResult,
  AlsFoldInParams,
  AlsModelState,
  AlsParams,
  Backend,
  BatchTopKQuery,
  CsrMatrix,
  EpochCallback,
  IterationCallback,
  ModelsApi,
  Representation,
  Representations,
  SimilarItemsQuery,
  TopKQuery,
  TopKResult,
  WarpFeatures,
  WarpFitResult,
  WarpModelState,
  WarpParams,
} from './types.js';
export { ALS_DEFAULTS, WARP_DEFAULTS };

const apis = new Map<Backend, ModelsApi>();

/** The API on the given backend (default: the one chosen at load). Throws if the native addon cannot be loaded. */
export function getBackend(name: Backend = backend): ModelsApi {
  if (name !== 'native' && name !== 'ts') throw new TypeError("backend must be 'native' or 'ts'");
  let api = apis.get(name);
  if (api === undefined) {
    api = createApi(name === 'native' ? loadNativeAddon().addon : tsCore, name);
    apis.set(name, api);
  }
  return api;
}

/** Whether the native addon loads (without throwing). */
export function nativeAvailable(): boolean {
  try {
    loadNativeAddon();
    return true;
  } catch {
    return false;
  }
}

/** Why the native addon does not load, or undefined when it does. */
export function nativeLoadError(): string | undefined {
  try {
    loadNativeAddon();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function chooseBackend(): Backend {
  // The one environment variable of this library (documented with the service configuration).
  const requested = process.env.RECSYS_NATIVE ?? 'auto';
  if (requested !== 'auto' && requested !== 'native' && requested !== 'ts' && requested !== '') {
    throw new Error(`RECSYS_NATIVE must be auto, native or ts (got ${JSON.stringify(requested)})`);
  }
  if (requested === 'ts') {
    process.stderr.write('recsys models: TypeScript backend (RECSYS_NATIVE=ts)\n');
    return 'ts';
  }
  try {
    const { path, addon } = loadNativeAddon();
    process.stderr.write(`recsys models: native backend (${path}, ${addon.hardwareConcurrency} cores)\n`);
    return 'native';
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (requested === 'native') throw new Error(`RECSYS_NATIVE=native but ${reason}`);
    process.stderr.write(`recsys models: TypeScript backend (${reason})\n`);
    return 'ts';
  }
}

/** The backend chosen at load. */
export const backend: Backend = chooseBackend();

const api = getBackend(backend);

export const fitAls = api.fitAls;
export const alsItemGramian = api.alsItemGramian;
export const alsRecalculateUser = api.alsRecalculateUser;
export const fitWarp = api.fitWarp;
export const warpItemRepresentations = api.warpItemRepresentations;
export const warpUserRepresentations = api.warpUserRepresentations;
export const warpUserRepresentation = api.warpUserRepresentation;
export const warpNewItemRepresentation = api.warpNewItemRepresentation;
export const topK = api.topK;
export const batchTopK = api.batchTopK;
export const similarItems = api.similarItems;
