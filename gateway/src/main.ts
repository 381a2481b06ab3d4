import cluster from 'node:cluster';
import { createLogger } from '../../lib/src/logger.js';
import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { loadGatewayConfig } from './config.js';
import { buildGateway } from './app.js';
import { registerConsole } from './console.js';
import { Upstreams } from './upstreams.js';
import { ApiKeyStore } from '../../lib/src/api-keys.js';

const config = loadGatewayConfig();
const log = createLogger('gateway', config.LOG_LEVEL);

if (config.GATEWAY_WORKERS > 1 && cluster.isPrimary) {
  runPrimary(config.GATEWAY_WORKERS);
} else {
  await runGateway();
}

/**
 * GATEWAY_WORKERS > 1: this process only forks that many gateway processes (node:cluster), which share the one
 * listening port (the primary hands connections out round-robin). A worker that dies is replaced (at most once a
 * second); SIGTERM/SIGINT go to every worker, each drains as a single gateway does, and the primary exits after the
 * last. Rate-limit counters are per process unless REDIS_URL is set (then shared by all workers and replicas).
 */
function runPrimary(workers: number): void {
  let stopping = false;
  let lastFork = 0;
  const fork = () => {
    lastFork = Date.now();
    cluster.fork();
  };
  for (let i = 0; i < workers; i++) fork();
  log.info({ workers }, 'gateway primary: workers started');
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    log.error({ pid: worker.process.pid, code, signal }, 'gateway worker exited: starting another');
    setTimeout(fork, Math.max(0, lastFork + 1_000 - Date.now()));
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  }
}

async function runGateway(): Promise<void> {
  const upstreams = new Upstreams(config.RECSVC_ADDRESS, config.TRAINER_ADDRESS, config.GRPC_DEADLINE_MS);
  const apiKeys = ApiKeyStore.fromEnv(config, log);
  if (apiKeys.size === 0) log.warn('no API keys configured (API_KEYS_FILE or API_KEYS): admin and ingest routes answer 401');
  const app = await buildGateway({
    upstreams,
    log,
    extraRoutes: (gateway) => registerConsole(gateway),
    apiKeys,
    requireKeyForClientRoutes: config.REQUIRE_KEY_FOR_CLIENT_ROUTES,
    requireKeyForMetrics: config.REQUIRE_KEY_FOR_METRICS,
    limits: config,
  });
  await app.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_PORT });
  onShutdownSignal(log, async () => {
    await app.close();
    upstreams.close();
    apiKeys.close();
  });
}
