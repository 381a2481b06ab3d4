import { getBackend } from '../../native/src/index.js';
import type { ModelsApi } from '../../native/src/index.js';

/**
 * What the trainer uses of the models library (native/src): fitting, representations and top-K. The native addon
 * and its pure-TypeScript fallback both provide it (the library picks one at load, RECSYS_NATIVE overrides);
 * tests may inject their own.
 */
export type ModelCore = Pick<
  ModelsApi,
  'backend' | 'fitAls' | 'fitWarp' | 'warpItemRepresentations' | 'warpUserRepresentations' | 'topK' | 'batchTopK'
>;

/** The models library on the backend it chose at load (native where the addon is built, else TypeScript). */
export function loadModelCore(): ModelCore {
  return getBackend();
}
