import { z } from 'zod';
import { checkStorageEnv, env, loadConfig, metricsEnvShape, storageEnvShape } from '../../../lib/src/config.js';
import { eventsEnvShape } from '../../../lib/src/events/config.js';

const schema = z
  .object({
    ...storageEnvShape,
    ...eventsEnvShape,
    ...metricsEnvShape,
    /** Required here: the consumer reads the event topic. */
    KAFKA_BROKERS: eventsEnvShape.KAFKA_BROKERS.unwrap(),
    /** The consumer group: every replica with the same id shares the topic's partitions. */
    EVENTS_GROUP_ID: z.string().min(1).default('recsys-events'),
    /** Most records applied in one batch (one round of MongoDB writes, then one offset commit). */
    EVENTS_MAX_BATCH: env.positiveInt(500),
    /**
     * How long a batch waits for more records once it has one, in ms. 0 (default): a batch is what has already arrived
     * (a fetch answer holds every record the broker had), so a lone event is applied at once instead of after a wait.
     */
    EVENTS_MAX_WAIT_MS: z.coerce.number().int().min(0).max(5_000).default(0),
    /** Consumer group session timeout, ms (a member silent this long loses its partitions). */
    EVENTS_SESSION_TIMEOUT_MS: env.positiveInt(10_000),
    /** A batch still not applied and committed after this many seconds (retries included) makes GET /health 503. */
    EVENTS_STALL_SECONDS: env.positiveInt(60),
    /** Prometheus /metrics and GET /health over HTTP on METRICS_HOST; 0 picks a free port. */
    CONSUMER_METRICS_PORT: env.port(9466),
    LOG_LEVEL: env.logLevel(),
    SHUTDOWN_GRACE_MS: env.positiveInt(10_000),
  })
  .superRefine(checkStorageEnv);

export type ConsumerConfig = z.output<typeof schema>;

/** The event consumer's configuration, validated once at start-up. */
export function loadConsumerConfig(source: NodeJS.ProcessEnv = process.env): ConsumerConfig {
  return loadConfig(schema, source);
}
