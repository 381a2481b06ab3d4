import { z } from 'zod';
import { checkStorageEnv, env, loadConfig, storageEnvShape } from '../../lib/src/config.js';

const schema = z
  .object({
    ...storageEnvShape,
    TRAINER_HOST: env.host(),
    TRAINER_PORT: env.port(50052),
    LOG_LEVEL: env.logLevel(),
    SHUTDOWN_GRACE_MS: env.positiveInt(10_000),
  })
  .superRefine(checkStorageEnv);

export type TrainerConfig = z.output<typeof schema>;

/** The trainer's configuration (API and worker), validated once at start-up. */
export function loadTrainerConfig(source: NodeJS.ProcessEnv = process.env): TrainerConfig {
  return loadConfig(schema, source);
}
