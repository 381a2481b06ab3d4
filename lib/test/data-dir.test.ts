import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createObjectStore } from '../src/backends.js';
import { ConfigError } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { loadRecsvcConfig } from '../../recsvc/src/config.js';
import { startRecsvc } from '../../recsvc/src/server.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

const log = createLogger('test', 'silent');

describe('DATA_DIR: created only for the embedded object store, with a clear error when it cannot be', () => {
  it('creates DATA_DIR/objects when the embedded object store needs it', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'recsys-datadir-')), 'nested', 'data');
    const objects = await createObjectStore(loadRecsvcConfig({ DATA_DIR: dir }), log);
    await objects.put('a/b.bin', Buffer.from('x'));
    expect(existsSync(join(dir, 'objects', 'a', 'b.bin'))).toBe(true);
  });

  it('fails start-up with a ConfigError naming DATA_DIR and the path when the folder cannot be created', async () => {
    // A path through a regular file cannot be created, whoever runs the test (root ignores permission bits).
    const file = join(mkdtempSync(join(tmpdir(), 'recsys-datadir-')), 'a-file');
    writeFileSync(file, 'not a folder');
    const config = loadRecsvcConfig({ DATA_DIR: join(file, 'data'), RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0' });
    const failed = startRecsvc(config, log, { store: new MemoryStore(), cache: new MemoryCache() });
    await expect(failed).rejects.toBeInstanceOf(ConfigError);
    await expect(failed).rejects.toThrow(new RegExp(`DATA_DIR: cannot create or write the folder ${file}/data/objects \\(ENOTDIR\\); set DATA_DIR to a writable folder`));
  });
});

describeWithServers(['S3_ENDPOINT'], 'DATA_DIR with S3', () => {
  it('is never created when the models go to S3', async () => {
    const env = realStorageEnv();
    const objects = await createObjectStore({ ...env, MONGO_URL: undefined, REDIS_URL: undefined }, log);
    await objects.put('probe.bin', Buffer.from('x'));
    expect(existsSync(env.DATA_DIR)).toBe(false);
    await objects.remove(['probe.bin']);
  });
});
