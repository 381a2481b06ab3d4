import { startGrpcServer, type RunningGrpcServer } from '../../lib/src/grpc/server.js';
import { createMetricsRegistry, grpcCallObserver, startMetricsServer } from '../../lib/src/metrics.js';
import type { Logger } from '../../lib/src/logger.js';
import type { TrainerConfig } from './config.js';
import type { ApiKeyStore } from '../../lib/src/api-keys.js';
import { trainerAuth } from './auth.js';
import { createTrainerRuntime, type RuntimeDeps, type TrainerRuntime } from './runtime.js';
import { trainerService } from './trainer-grpc.js';
import { TrainerService } from './trainer-service.js';
import { startTrainerWorker, type RunningWorker, type WorkerDeps } from './worker.js';

export interface TrainerApiDeps extends RuntimeDeps {
  /** A runtime shared with an in-process worker; created from the configuration when absent. */
  runtime?: TrainerRuntime;
  /** The API keys callers must present (default: from API_KEYS_FILE / API_KEYS, watched for rotation). */
  apiKeys?: ApiKeyStore;
}

export interface RunningTrainer extends RunningGrpcServer {
  readonly runtime: TrainerRuntime;
  readonly service: TrainerService;
  readonly metricsPort: number;
}

/** Starts the Trainer gRPC API (no job processing: that is the worker's, see startTrainer for both in one process). */
export async function startTrainerApi(config: TrainerConfig, log: Logger, deps: TrainerApiDeps = {}): Promise<RunningTrainer> {
  const auth = trainerAuth(config, log, deps.apiKeys);
  const runtime = deps.runtime ?? (await createTrainerRuntime(config, log, deps));
  const service = new TrainerService(runtime);
  // A run whose only worker died is retried or failed even while no worker runs (BullMQ's stalled check).
  const stalledChecks = [runtime.training.watchStalled(), runtime.refresh.watchStalled()];
  const registry = createMetricsRegistry('trainer');
  const metricsServer = await startMetricsServer(registry, config.METRICS_HOST, config.TRAINER_METRICS_PORT);
  const server = await startGrpcServer({
    host: config.TRAINER_HOST,
    port: config.TRAINER_PORT,
    maxConnectionAgeMs: config.GRPC_MAX_CONNECTION_AGE_SECONDS * 1000,
    services: [trainerService(service, log, grpcCallObserver(registry))],
    log,
    interceptors: [auth.interceptor],
    onClosed: async () => {
      await Promise.all(stalledChecks.map((check) => check.stop()));
      if (!deps.apiKeys) auth.keys.close();
      await new Promise((resolve) => metricsServer.close(resolve));
      if (!deps.runtime) await runtime.close();
    },
  });
  return { ...server, runtime, service, metricsPort: metricsServer.port };
}

export interface RunningTrainerWithWorker extends RunningTrainer {
  readonly worker: RunningWorker;
}

/**
 * The API and the worker in one process, sharing one runtime: what `trainer/src/main.ts` runs when REDIS_URL is
 * unset (the in-process queue cannot be shared between processes), and what the one-command demo uses.
 * Shutdown stops the API first, then the worker (finishing or releasing its job), then closes the backends.
 */
export async function startTrainer(config: TrainerConfig, log: Logger, deps: TrainerApiDeps & WorkerDeps = {}): Promise<RunningTrainerWithWorker> {
  const runtime = deps.runtime ?? (await createTrainerRuntime(config, log, deps));
  const worker = await startTrainerWorker(runtime, deps);
  const api = await startTrainerApi(config, log, { runtime, apiKeys: deps.apiKeys });
  const ownsRuntime = !deps.runtime;
  let closing: Promise<void> | undefined;
  return {
    ...api,
    worker,
    shutdown(graceMs?: number) {
      closing ??= (async () => {
        await api.shutdown(graceMs);
        await worker.close();
        if (ownsRuntime) await runtime.close();
      })();
      return closing;
    },
  };
}
