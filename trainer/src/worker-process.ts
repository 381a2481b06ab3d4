import type { Logger } from '../../lib/src/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../../lib/src/metrics.js';
import type { TrainerConfig } from './config.js';
import { createTrainerRuntime, type RuntimeDeps } from './runtime.js';
import { startTrainerWorker, type WorkerDeps } from './worker.js';

export interface RunningWorkerProcess {
  /** The port of the worker's /metrics listener (on METRICS_HOST). */
  readonly metricsPort: number;
  /** Stops taking jobs (finishing or releasing the active ones), closes /metrics and the backends. */
  close(): Promise<void>;
}

/**
 * What trainer/src/worker-main.ts runs: the runtime, the queue worker and its process metrics (CPU, memory,
 * event-loop lag while training runs) on METRICS_HOST:TRAINER_METRICS_PORT.
 */
export async function startWorkerProcess(config: TrainerConfig, log: Logger, deps: RuntimeDeps & WorkerDeps = {}): Promise<RunningWorkerProcess> {
  const runtime = await createTrainerRuntime(config, log, deps);
  const metricsServer = await startMetricsServer(createMetricsRegistry('trainer-worker'), config.METRICS_HOST, config.TRAINER_METRICS_PORT);
  const worker = await startTrainerWorker(runtime, deps);
  log.info({ metrics: `${config.METRICS_HOST}:${metricsServer.port}`, threads: config.TRAIN_THREADS || 'all cores' }, 'trainer worker started');
  let closing: Promise<void> | undefined;
  return {
    metricsPort: metricsServer.port,
    close() {
      closing ??= (async () => {
        await worker.close();
        await new Promise((resolve) => metricsServer.close(resolve));
        await runtime.close();
      })();
      return closing;
    },
  };
}
