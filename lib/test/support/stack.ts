import { createLogger } from '../../src/logger.js';
import type { Store } from '../../src/store/types.js';
import type { Cache } from '../../src/cache/types.js';
import type { ObjectStore } from '../../src/objectstore/types.js';
import { MemoryCache } from '../../src/cache/memory-cache.js';
import { DirectoryObjectStore } from '../../src/objectstore/directory-object-store.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecsvcConfig } from '../../../recsvc/src/config.js';
import { startRecsvc, type RunningRecsvc } from '../../../recsvc/src/server.js';
import { loadTrainerConfig } from '../../../trainer/src/config.js';
import { startTrainer } from '../../../trainer/src/server.js';
import { buildGateway, type GatewayDeps } from '../../../gateway/src/app.js';
import { ApiKeyStore } from '../../../lib/src/api-keys.js';
import { Upstreams } from '../../../gateway/src/upstreams.js';

export interface TestStack {
  baseUrl: string;
  recsvc: RunningRecsvc;
  cache: Cache;
  objects: ObjectStore;
  recsvcAddress: string;
  trainerAddress: string;
  close(): Promise<void>;
}

/** The API key of test stacks (scopes admin, ingest, client, metrics), as production keys are configured (API_KEYS). */
export const TEST_API_KEY = 'test-stack-key-0123456789abcdef0123456789';
export const TEST_API_KEYS = `test:admin,ingest,client,metrics:${TEST_API_KEY}`;
/** Headers that carry the test stack's key (state-changing routes need it; README "Security"). */
export const AUTH = { authorization: `Bearer ${TEST_API_KEY}` } as const;

/** Starts recsvc, the trainer (API and worker) and the gateway on 127.0.0.1 ephemeral ports, as the services run in production. */
export async function startStack(
  store: Store,
  options: {
    cache?: Cache;
    objects?: ObjectStore;
    recsvcEnv?: Record<string, string>;
    /** Extra trainer settings (e.g. small hyper-parameters for quick runs). */
    trainerEnv?: Record<string, string>;
    /** Passed through to buildGateway (e.g. the web console). */
    extraRoutes?: GatewayDeps['extraRoutes'];
  } = {},
): Promise<TestStack> {
  const log = createLogger('test', (process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
  const cache = options.cache ?? new MemoryCache();
  const objects = options.objects ?? new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-stack-')));
  await objects.ensureBucket();
  const recsvcConfig = loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0', LOG_FLUSH_MS: '50', ...options.recsvcEnv });
  const apiKeys = new ApiKeyStore({ inline: TEST_API_KEYS });
  const recsvc = await startRecsvc(recsvcConfig, log, { store, cache, objects, apiKeys });
  // The trainer API and an in-process worker share the stack's backends (as in the one-process demo).
  const trainer = await startTrainer(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', TRAIN_CRON: 'off', REFRESH_CRON: 'off', API_KEYS: TEST_API_KEYS, ...options.trainerEnv }), log, { store, cache, objects });
  const recsvcAddress = `127.0.0.1:${recsvc.port}`;
  const trainerAddress = `127.0.0.1:${trainer.port}`;
  const upstreams = new Upstreams(recsvcAddress, trainerAddress, 5_000);
  const app = await buildGateway({ upstreams, log, apiKeys, extraRoutes: options.extraRoutes });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('gateway did not bind a TCP port');
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    recsvc,
    cache,
    objects,
    recsvcAddress,
    trainerAddress,
    async close() {
      await app.close();
      upstreams.close();
      await Promise.all([recsvc.shutdown(2_000), trainer.shutdown(2_000)]);
    },
  };
}
