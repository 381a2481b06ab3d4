import { createStore } from '../../lib/src/backends.js';
import { startGrpcServer, type RunningGrpcServer } from '../../lib/src/grpc/server.js';
import type { Logger } from '../../lib/src/logger.js';
import type { Store } from '../../lib/src/store/types.js';
import type { RecsvcConfig } from './config.js';
import { GenreCatalog } from './genre-catalog.js';
import { recommendationService } from './recommendation-grpc.js';

export interface RecsvcDeps {
  /** Injected by tests and the demo; otherwise created from the configuration. */
  store?: Store;
}

/** Starts the recommendation service: connects its backends, binds gRPC, closes them on shutdown. */
export async function startRecsvc(config: RecsvcConfig, log: Logger, deps: RecsvcDeps = {}): Promise<RunningGrpcServer> {
  const store = deps.store ?? (await createStore(config, log));
  const ownsStore = !deps.store;
  const catalog = new GenreCatalog(store);
  return startGrpcServer({
    host: config.RECSVC_HOST,
    port: config.RECSVC_PORT,
    services: [recommendationService({ catalog, log })],
    log,
    onClosed: async () => {
      if (ownsStore) await store.close();
    },
  });
}
