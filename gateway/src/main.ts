import { createLogger } from '../../lib/src/logger.js';
import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { loadGatewayConfig } from './config.js';
import { buildGateway } from './app.js';
import { registerConsole } from './console.js';
import { Upstreams } from './upstreams.js';
import { ApiKeyStore } from '../../lib/src/api-keys.js';

const config = loadGatewayConfig();
const log = createLogger('gateway', config.LOG_LEVEL);
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
