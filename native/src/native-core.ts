/**
 * Loads the native addon (native/build/Release/recsys_native.node), found relative to the package root so that it
 * resolves both from native/src (vitest) and from dist/native/src (after tsc).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Core } from './types.js';

/** Must equal kAbiVersion in native/cpp/addon.cc: a stale build is refused. */
export const ADDON_ABI_VERSION = 1;
export const ADDON_PATH = join('native', 'build', 'Release', 'recsys_native.node');

export interface NativeAddon extends Core {
  readonly abiVersion: number;
  readonly hardwareConcurrency: number;
}

/** The addon's absolute path: the first ancestor of this module that holds native/build/Release/... */
export function findAddon(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

let loaded: { addon: NativeAddon; path: string } | { error: Error } | undefined;

/** Loads the addon once; throws (every time) if it is missing, fails to load or is stale. */
export function loadNativeAddon(): { addon: NativeAddon; path: string } {
  if (loaded === undefined) {
    try {
      const path = findAddon();
      if (path === undefined) {
        throw new Error(`the native addon is not built (no ${ADDON_PATH}); run npm run build:native`);
      }
      const addon = createRequire(import.meta.url)(path) as NativeAddon;
      if (addon.abiVersion !== ADDON_ABI_VERSION) {
        const abi = String(addon.abiVersion);
        throw new Error(
          `the native addon at ${path} is stale (ABI ${abi}, expected ${ADDON_ABI_VERSION}); run npm run build:native`,
        );
      }
      loaded = { addon, path };
    } catch (e) {
      loaded = { error: e instanceof Error ? e : new Error(String(e)) };
    }
  }
  if ('error' in loaded) throw loaded.error;
  return loaded;
}
