import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * Reads and validates configuration from the environment once, at start-up, listing every problem at once.
 * Each service declares its own schema in its `src/config.ts`; nothing else reads process.env.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const blanksRemoved = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(blanksRemoved);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  return result.data;
}

/** Common field builders so every service spells its variables the same way. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /** An interface to bind: an IP address (0.0.0.0 = every interface) or a host name. */
  host: (fallback = '127.0.0.1') =>
    z
      .string()
      .refine((v) => isIP(v) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(v), 'must be an IP address (0.0.0.0 for every interface) or a host name')
      .default(fallback),
  url: () => z.string().url().optional(),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  number: (fallback: number) => z.coerce.number().default(fallback),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  /**
   * A gRPC target: `host:port`, `dns:///host:port` (every address of the name, round robin), `ipv4:a:p,b:p`,
   * `ipv6:[a]:p` or `unix:/path`.
   */
  grpcTarget: () =>
    z
      .string()
      .refine(
        (v) => /^(dns:(\/\/[^/]*)?\/)?[^\s/:]+:\d{1,5}$/.test(v) || /^(ipv4|ipv6):\S+$/.test(v) || /^unix:\S+$/.test(v) || /^dns:\/\/\/\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(v),
        'must be host:port, dns:///host:port, ipv4:ip:port[,ip:port...], ipv6:[ip]:port or unix:/path',
      ),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * Settings every gRPC server shares. GRPC_MAX_CONNECTION_AGE_SECONDS: clients reconnect (and re-resolve DNS, finding
 * new replicas) after at most this long; 0 keeps connections open indefinitely.
 */
export const grpcServerEnvShape = {
  GRPC_MAX_CONNECTION_AGE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
};

/**
 * The interface every service's Prometheus /metrics listener binds (one name for all services: recsvc, trainer API
 * and worker; the gateway serves /metrics on its own port). 127.0.0.1 for the local demo; 0.0.0.0 in containers.
 */
export const metricsEnvShape = {
  METRICS_HOST: env.host('127.0.0.1'),
};

/** Storage settings shared by every service that talks to MongoDB, Redis or S3 (unset means embedded). */
export const storageEnvShape = {
  MONGO_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// URL').optional(),
  MONGO_DB: z.string().min(1).default('recsys'),
  /**
   * Time budget of one MongoDB operation on a request path, ms (driver timeoutMS: server selection, pool checkout and
   * the server's maxTimeMS). Past it the call fails with UNAVAILABLE / HTTP 503 instead of waiting for the caller's
   * deadline (5 s); a server that does not answer a ping within 500 ms while a call waits fails the call at once (stalled), and after 3 such failures in a row the store fails at once (circuit breaker, lib/src/store/mongo-store.ts). Bulk work (imports, training scans, reports) gets 60 s. 100 to 60,000; default 4,000.
   */
  MONGO_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(4_000),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  /** A Redis cache command gives up after this long (a frozen Redis costs a request at most this, per command). */
  REDIS_COMMAND_TIMEOUT_MS: env.positiveInt(250),
  /** Consecutive Redis cache failures that open the circuit breaker (the cache is then skipped at once). */
  REDIS_BREAKER_FAILURES: env.positiveInt(5),
  /** How long the Redis breaker stays open before one trial command checks whether Redis is back. */
  REDIS_BREAKER_COOLDOWN_MS: env.positiveInt(1_000),
  /** Prefix of every cache key (several deployments, or test suites, sharing one Redis); empty by default. */
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:._-]{0,100}$/, "must be up to 100 characters of letters, digits, ':', '.', '_' or '-'").default(''),
  S3_ENDPOINT: z.string().url().optional(),
  S3_ACCESS_KEY: z.string().optional(),
  S3_SECRET_KEY: z.string().optional(),
  S3_BUCKET: z.string().min(3).default('recsys-models'),
  S3_REGION: z.string().default('us-east-1'),
  /**
   * An S3 request gives up when the server has sent nothing for this long, ms (a frozen S3 costs an operation this
   * much, then UNAVAILABLE / HTTP 503, instead of the caller's whole deadline). 100 to 60,000; default 3,000.
   */
  S3_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3_000),
  DATA_DIR: z.string().default('.data'),
};
export interface StorageEnv {
  MONGO_URL?: string;
  MONGO_DB: string;
  /** Optional in hand-made envs (tests); the schema always sets it. */
  MONGO_TIMEOUT_MS?: number;
  REDIS_URL?: string;
  REDIS_COMMAND_TIMEOUT_MS?: number;
  REDIS_BREAKER_FAILURES?: number;
  REDIS_BREAKER_COOLDOWN_MS?: number;
  REDIS_KEY_PREFIX?: string;
  S3_ENDPOINT?: string;
  S3_ACCESS_KEY?: string;
  S3_SECRET_KEY?: string;
  S3_BUCKET: string;
  S3_REGION: string;
  /** Optional in hand-made envs (tests); the schema always sets it. */
  S3_TIMEOUT_MS?: number;
  DATA_DIR: string;
}

/** Cross-field checks of the storage settings; use with `.superRefine(checkStorageEnv)`. */
export function checkStorageEnv(env: Partial<StorageEnv>, ctx: z.RefinementCtx): void {
  if (env.S3_ENDPOINT && (!env.S3_ACCESS_KEY || !env.S3_SECRET_KEY)) {
    ctx.addIssue({ code: 'custom', path: ['S3_ACCESS_KEY'], message: 'S3_ACCESS_KEY and S3_SECRET_KEY are required with S3_ENDPOINT' });
  }
}

/**
 * Creates `dir` (and its parents) if missing and checks that this process may write there; called only when an
 * embedded backend needs the folder (e.g. model files without S3_ENDPOINT). Throws a ConfigError naming `variable`
 * and the absolute path when it cannot (a read-only image folder, a path through a file...).
 */
export async function ensureWritableDir(dir: string, variable: string, hint: string): Promise<string> {
  const absolute = resolve(dir);
  try {
    await mkdir(absolute, { recursive: true });
    await access(absolute, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError([`${variable}: cannot create or write the folder ${absolute} (${code}); ${hint}`]);
  }
  return absolute;
}
