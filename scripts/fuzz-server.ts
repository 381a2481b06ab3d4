/**
 * The gateway for API fuzzing (scripts/fuzz-api.sh): recsvc, the trainer (API and worker) and the gateway in one
 * process on embedded defaults, with small generated data, trained models and one API key of every scope.
 * Prints one line `FUZZ-READY <port> <api key>` on stdout once the gateway serves; stops on SIGTERM/SIGINT.
 *
 *   node dist/scripts/fuzz-server.js [--port 0] [--data-dir DIR]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { ApiKeyStore, ensureDemoKey } from '../lib/src/api-keys.js';
import { MemoryCache } from '../lib/src/cache/memory-cache.js';
import { generateData } from '../lib/src/data/generate.js';
import { createLogger } from '../lib/src/logger.js';
import { DirectoryObjectStore } from '../lib/src/objectstore/directory-object-store.js';
import { TrainingRunState } from '../lib/src/proto.js';
import { MemoryStore } from '../lib/src/store/memory-store.js';
import { loadRecsvcConfig } from '../recsvc/src/config.js';
import { startRecsvc } from '../recsvc/src/server.js';
import { loadTrainerConfig } from '../trainer/src/config.js';
import { startTrainer } from '../trainer/src/server.js';
import { buildGateway } from '../gateway/src/app.js';
import { withApiKey } from '../gateway/src/auth.js';
import { Upstreams } from '../gateway/src/upstreams.js';

const { values: flags } = parseArgs({ options: { port: { type: 'string', default: '0' }, 'data-dir': { type: 'string' } } });
const dataDir = flags['data-dir'] ?? mkdtempSync(join(tmpdir(), 'recsys-fuzz-'));
const log = createLogger('fuzz', 'warn');
const { file, secret } = ensureDemoKey(dataDir);
const keys = new ApiKeyStore({ file, log });

const store = new MemoryStore();
const cache = new MemoryCache();
const objects = new DirectoryObjectStore(join(dataDir, 'objects'));
await objects.ensureBucket();
await generateData(store, { users: 150, movies: 200, interactions: 4_000, seed: 7 });
const recsvc = await startRecsvc(loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0', LOG_LEVEL: 'warn' }), log, { store, cache, objects, apiKeys: keys });
// One training thread: the fuzzer may start runs with large hyper-parameters; they must not take the machine.
const trainer = await startTrainer(
  loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', TRAIN_CRON: 'off', REFRESH_CRON: 'off', TRAIN_THREADS: '1', LOG_LEVEL: 'warn' }),
  log,
  { store, cache, objects, apiKeys: keys },
);
const upstreams = new Upstreams(`127.0.0.1:${recsvc.port}`, `127.0.0.1:${trainer.port}`, 10_000);

// Trained models first, so recommendation routes answer 200 as well as their errors.
const { run } = await withApiKey(secret, () => upstreams.call(upstreams.trainer, upstreams.trainer.startTraining, { modelTypes: [] }, 'fuzz'));
for (let i = 0; ; i++) {
  const { run: now } = await upstreams.call(upstreams.trainer, upstreams.trainer.getTrainingRun, { runId: run!.runId }, 'fuzz');
  if (now!.state === TrainingRunState.TRAINING_RUN_STATE_COMPLETED) break;
  if (now!.state === TrainingRunState.TRAINING_RUN_STATE_FAILED || i > 1_200) throw new Error(`training did not complete: ${now!.error || now!.state}`);
  await sleep(250);
}
for (const type of ['als', 'lightfm'] as const) await recsvc.models.checkActive(type);

const app = await buildGateway({ upstreams, log, apiKeys: keys, limits: { RATE_LIMIT_MAX: 1_000_000 } });
await app.listen({ host: '127.0.0.1', port: Number(flags.port) });
process.stdout.write(`FUZZ-READY ${(app.server.address() as AddressInfo).port} ${secret}\n`);

const stop = async () => {
  await app.close();
  upstreams.close();
  await trainer.shutdown(2_000);
  await recsvc.shutdown(2_000);
  keys.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
