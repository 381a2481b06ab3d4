import { z } from 'zod';
import { checkStorageEnv, env, grpcServerEnvShape, loadConfig, metricsEnvShape, storageEnvShape } from '../../lib/src/config.js';
import { eventsEnvShape } from '../../lib/src/events/config.js';
import { apiKeysEnvShape } from '../../lib/src/api-keys.js';

const schema = z
  .object({
    ...storageEnvShape,
    ...grpcServerEnvShape,
    ...metricsEnvShape,
    RECSVC_HOST: env.host(),
    RECSVC_PORT: env.port(50051),
    /** Prometheus /metrics over HTTP on METRICS_HOST; 0 picks a free port. */
    RECSVC_METRICS_PORT: env.port(9464),
    EXPERIMENT_ID: z.string().min(1).default('als-vs-lightfm-1'),
    /** Share of users assigned to ALS, 0 to 1. */
    EXPERIMENT_ALS_SHARE: z.coerce.number().min(0).max(1).default(0.5),
    EXPERIMENT_MODE: z.enum(['hash', 'random']).default('hash'),
    RECOMMENDATION_TTL_SECONDS: env.positiveInt(86_400),
    /** How long Redis keeps a served list's session record (~0.3 KB) for feedback reaching another replica. */
    SESSION_TTL_SECONDS: env.positiveInt(3_600),
    /** Cache misses (MongoDB reads + scoring) computed at once; RECOMMEND_MISS_QUEUE more wait, then 503. */
    RECOMMEND_MISS_CONCURRENCY: env.positiveInt(32),
    RECOMMEND_MISS_QUEUE: env.positiveInt(256),
    /** Served lists whose explanations are kept in process (LRU, ~3 KB each); 0 turns it off. */
    EXPLANATION_CACHE_ENTRIES: z.coerce.number().int().min(0).default(20_000),
    MODEL_POLL_SECONDS: env.positiveInt(30),
    MOVIE_INFO_TTL_SECONDS: env.positiveInt(600),
    /** Full reload of the hidden movies and cold-start movies (the fallback of the catalogue pub/sub channel). */
    CATALOGUE_RELOAD_SECONDS: env.positiveInt(30),
    LOG_BATCH_SIZE: env.positiveInt(500),
    LOG_FLUSH_MS: env.positiveInt(1_000),
    LOG_BUFFER_MAX: env.positiveInt(100_000),
    LOG_RETRY_MS: env.positiveInt(500),
    /** On shutdown, how long the log writer keeps writing to the store before it leaves the rest in the spool. */
    LOG_FLUSH_GRACE_MS: env.positiveInt(5_000),
    /** Recommendation-log spool folder (one per recsvc process or container); default DATA_DIR/log-spool. */
    LOG_SPOOL_DIR: z.string().min(1).optional(),
    LOG_LEVEL: env.logLevel(),
    SHUTDOWN_GRACE_MS: env.positiveInt(10_000),
    ...eventsEnvShape,
    ...apiKeysEnvShape,
  })
  .superRefine(checkStorageEnv);

export type RecsvcConfig = z.output<typeof schema>;

/** The recommendation service's configuration, validated once at start-up. */
export function loadRecsvcConfig(source: NodeJS.ProcessEnv = process.env): RecsvcConfig {
  return loadConfig(schema, source);
}
