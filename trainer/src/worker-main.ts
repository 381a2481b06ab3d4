import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { createLogger } from '../../lib/src/logger.js';
import { loadTrainerConfig } from './config.js';
import { startWorkerProcess } from './worker-process.js';

// The queue worker: processes train_model and the refresh jobs from BullMQ; scale it separately from the API.
const config = loadTrainerConfig();
const log = createLogger('trainer-worker', config.LOG_LEVEL);
if (!config.REDIS_URL) {
  log.fatal('the worker needs REDIS_URL (BullMQ); without Redis, trainer/src/main.ts runs the jobs in its own process');
  process.exit(2);
}
let worker: Awaited<ReturnType<typeof startWorkerProcess>> | undefined;
// A signal during start-up (still waiting for MongoDB, Redis or S3) just exits: no job was taken yet.
onShutdownSignal(log, async () => {
  if (worker) await worker.close();
  else log.info('stopped during start-up');
});
worker = await startWorkerProcess(config, log);
