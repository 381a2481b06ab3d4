import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { createLogger } from '../../lib/src/logger.js';
import { loadTrainerConfig } from './config.js';
import { startTrainer, startTrainerApi } from './server.js';

// The Trainer gRPC API. With REDIS_URL it only enqueues (workers run trainer/src/worker-main.ts); without it, the
// queue is in-process, so this process runs the jobs too.
const config = loadTrainerConfig();
const log = createLogger('trainer', config.LOG_LEVEL);
let server: Awaited<ReturnType<typeof startTrainerApi>> | undefined;
// A signal during start-up (still waiting for MongoDB, Redis or S3) just exits: nothing was accepted yet.
onShutdownSignal(log, async () => {
  if (server) await server.shutdown(config.SHUTDOWN_GRACE_MS);
  else log.info('stopped during start-up');
});
server = config.REDIS_URL ? await startTrainerApi(config, log) : await startTrainer(config, log);
