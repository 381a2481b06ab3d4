import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { createLogger } from '../../lib/src/logger.js';
import { loadRecsvcConfig } from './config.js';
import { startRecsvc } from './server.js';

const config = loadRecsvcConfig();
const log = createLogger('recsvc', config.LOG_LEVEL);
const server = await startRecsvc(config, log);
onShutdownSignal(log, () => server.shutdown(config.SHUTDOWN_GRACE_MS));
