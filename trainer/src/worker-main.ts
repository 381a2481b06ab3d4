import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { createLogger } from '../../lib/src/logger.js';
import { loadTrainerConfig } from './config.js';
import { createTrainerRuntime } from './runtime.js';
import { startTrainerWorker } from './worker.js';
import { createMetricsRegistry, startMetricsServer } from '../../lib/src/metrics.js';

// The queue worker: processes train_model and the refresh jobs from BullMQ; scale it separately from the API.
const config = loadTrainerConfig();
const log = createLogger('trainer-worker', config.LOG_LEVEL);
if (!config.REDIS_URL) {
  log.fatal('the worker needs REDIS_URL (BullMQ); without Redis, trainer/src/main.ts runs the jobs in its own process');
  process.exit(2);
}
const runtime = await createTrainerRuntime(config, log);
// Process metrics of the worker (CPU, memory, event-loop lag while training runs).
const metricsServer = await startMetricsServer(createMetricsRegistry('trainer-worker'), config.TRAINER_HOST, config.TRAINER_METRICS_PORT);
const worker = await startTrainerWorker(runtime);
onShutdownSignal(log, async () => {
  await worker.close();
  metricsServer.close();
  await runtime.close();
});
