import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { createLogger } from '../../lib/src/logger.js';
import { loadTrainerConfig } from './config.js';
import { startTrainerApi } from './server.js';

const config = loadTrainerConfig();
const log = createLogger('trainer', config.LOG_LEVEL);
const server = await startTrainerApi(config, log);
onShutdownSignal(log, () => server.shutdown(config.SHUTDOWN_GRACE_MS));
