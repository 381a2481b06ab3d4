import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { createLogger } from '../../lib/src/logger.js';
import { loadRecsvcConfig } from './config.js';
import { startRecsvc } from './server.js';

const config = loadRecsvcConfig();
const log = createLogger('recsvc', config.LOG_LEVEL);
let server: Awaited<ReturnType<typeof startRecsvc>> | undefined;
// Shutdown: drain calls (SHUTDOWN_GRACE_MS), then write the buffered logs (LOG_FLUSH_GRACE_MS; the rest stays in the
// spool), then close the clients. Whatever else stalls (a frozen MongoDB on close), the process exits after both
// graces plus a margin: nothing is lost by exiting then, the spool holds every list not yet stored.
const hardLimitMs = config.SHUTDOWN_GRACE_MS + config.LOG_FLUSH_GRACE_MS + 2_000;
// A signal during start-up (recsvc still waiting for a dependency) just exits: nothing was served yet, and the spool
// keeps whatever an earlier run left for the next start.
onShutdownSignal(log, async () => {
  if (!server) {
    log.info('stopped during start-up');
    return;
  }
  await Promise.race([
    server.shutdown(config.SHUTDOWN_GRACE_MS),
    new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`shutdown took longer than ${hardLimitMs} ms: exiting`)), hardLimitMs).unref()),
  ]);
});
server = await startRecsvc(config, log);
