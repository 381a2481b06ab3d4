import { createLogger } from '../../lib/src/logger.js';
import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { loadGatewayConfig } from './config.js';
import { buildGateway } from './app.js';
import { registerConsole } from './console.js';
import { Upstreams } from './upstreams.js';

const config = loadGatewayConfig();
const log = createLogger('gateway', config.LOG_LEVEL);
const upstreams = new Upstreams(config.RECSVC_ADDRESS, config.TRAINER_ADDRESS, config.GRPC_DEADLINE_MS);
const app = await buildGateway({ upstreams, log, extraRoutes: (gateway) => registerConsole(gateway) });
await app.listen({ host: config.GATEWAY_HOST, port: config.GATEWAY_PORT });
onShutdownSignal(log, async () => {
  await app.close();
  upstreams.close();
});
