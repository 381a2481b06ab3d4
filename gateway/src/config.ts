import { z } from 'zod';
import { env, loadConfig } from '../../lib/src/config.js';
import { apiKeysEnvShape } from '../../lib/src/api-keys.js';
import { limitsEnvShape } from './limits.js';

const schema = z.object({
  GATEWAY_HOST: env.host(),
  GATEWAY_PORT: env.port(8080),
  /** gRPC targets; `dns:///recsvc:50051` spreads calls over every replica DNS returns (round robin). */
  RECSVC_ADDRESS: env.grpcTarget().default('127.0.0.1:50051'),
  TRAINER_ADDRESS: env.grpcTarget().default('127.0.0.1:50052'),
  /** Deadline of every gRPC call the gateway makes. */
  GRPC_DEADLINE_MS: env.positiveInt(5_000),
  LOG_LEVEL: env.logLevel(),
  SHUTDOWN_GRACE_MS: env.positiveInt(10_000),
  /** Gateway processes sharing GATEWAY_PORT (node:cluster); 1: this process serves. README "Performance". */
  GATEWAY_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  ...apiKeysEnvShape,
  ...limitsEnvShape,
});

export type GatewayConfig = z.output<typeof schema>;

/** The gateway's configuration, validated once at start-up. */
export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig(schema, source);
}
