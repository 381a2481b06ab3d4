import { z } from 'zod';
import { checkStorageEnv, env, loadConfig, storageEnvShape } from '../../lib/src/config.js';

const schema = z
  .object({
    ...storageEnvShape,
    RECSVC_HOST: env.host(),
    RECSVC_PORT: env.port(50051),
    LOG_LEVEL: env.logLevel(),
    SHUTDOWN_GRACE_MS: env.positiveInt(10_000),
  })
  .superRefine(checkStorageEnv);

export type RecsvcConfig = z.output<typeof schema>;

/** The recommendation service's configuration, validated once at start-up. */
export function loadRecsvcConfig(source: NodeJS.ProcessEnv = process.env): RecsvcConfig {
  return loadConfig(schema, source);
}
