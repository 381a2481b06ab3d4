/** Backend selection at load (RECSYS_NATIVE) and the addon's location. */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { findAddon } from '../src/native-core.js';
import { nativeError, requireNative } from './helpers.js';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

async function load(value: string | undefined): Promise<typeof import('../src/index.js')> {
  vi.resetModules();
  vi.stubEnv('RECSYS_NATIVE', value);
  return import('../src/index.js');
}

describe('backend selection', () => {
  it('RECSYS_NATIVE=ts picks the TypeScript backend', async () => {
    const m = await load('ts');
    expect(m.backend).toBe('ts');
    expect(m.getBackend().backend).toBe('ts');
  });

  it('refuses an unknown RECSYS_NATIVE value', async () => {
    await expect(load('gpu')).rejects.toThrow('RECSYS_NATIVE must be auto, native or ts (got "gpu")');
  });

  it('auto (the default) picks native exactly when the addon loads', async () => {
    const m = await load(undefined);
    expect(m.backend).toBe(nativeError === undefined ? 'native' : 'ts');
    if (requireNative) expect(m.backend).toBe('native');
  });

  it('RECSYS_NATIVE=native fails loudly without the addon, and works with it', async () => {
    if (nativeError === undefined) {
      expect((await load('native')).backend).toBe('native');
    } else {
      await expect(load('native')).rejects.toThrow(`RECSYS_NATIVE=native but ${nativeError}`);
    }
  });

  it('finds the addon from the source and from the compiled output alike', () => {
    const fromSource = findAddon();
    if (fromSource === undefined) return; // not built
    expect(fromSource).toMatch(/native[/\\]build[/\\]Release[/\\]recsys_native\.node$/);
    const root = fromSource.replace(/native[/\\]build[/\\]Release[/\\]recsys_native\.node$/, '');
    expect(findAddon(`${root}dist/native/src`)).toBe(fromSource);
    expect(findAddon(`${root}native/src`)).toBe(fromSource);
  });
});
