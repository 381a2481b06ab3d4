import { z } from 'zod';
import { env, loadConfig } from '../../lib/src/config.js';
import { apiKeysEnvShape } from '../../lib/src/api-keys.js';
import { limitsEnvShape } from './limits.js';

const schema = z.object({
  GATEWAY_HOST: env.host(),
  GATEWAY_PORT: env.port(8080),
  RECSVC_ADDRESS: z.string().min(1).default('127.0.0.1:50051'),
  TRAINER_ADDRESS: z.string().min(1).default('127.0.0.1:50052'),
  /** Deadline of every gRPC call the gateway makes. */
  GRPC_DEADLINE_MS: env.positiveInt(5_000),
  LOG_LEVEL: env.logLevel(),
  SHUTDOWN_GRACE_MS: env.positiveInt(10_000),
  ...apiKeysEnvShape,
  ...limitsEnvShape,
});

export type GatewayConfig = z.output<typeof schema>;

/** The gateway's configuration, validated once at start-up. */
export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(schema, source);
}
