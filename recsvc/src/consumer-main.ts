import { createCache, createStore } from '../../lib/src/backends.js';
import { EventApplier } from '../../lib/src/events/applier.js';
import { parseBrokers } from '../../lib/src/events/kafka.js';
import { onShutdownSignal } from '../../lib/src/grpc/server.js';
import { createLogger } from '../../lib/src/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../../lib/src/metrics.js';
import { loadConsumerConfig } from './consumer/config.js';
import { EventConsumer } from './consumer/event-consumer.js';
import { ConsumerMetrics } from './consumer/metrics.js';

/** The event consumer deployable: one consumer group member (run as many as the topic has partitions). */
const config = loadConsumerConfig();
const log = createLogger('events-consumer', config.LOG_LEVEL);
const [store, cache] = await Promise.all([createStore(config, log), createCache(config, log)]);
const applier = new EventApplier(store, cache);
const metricsRegistry = createMetricsRegistry('events-consumer');
const consumer = new EventConsumer({
  settings: {
    brokers: parseBrokers(config.KAFKA_BROKERS),
    topic: config.EVENTS_TOPIC,
    dlqTopic: config.EVENTS_DLQ_TOPIC,
    clientId: 'events-consumer',
    partitions: config.EVENTS_PARTITIONS,
  },
  groupId: config.EVENTS_GROUP_ID,
  applier,
  metrics: new ConsumerMetrics(metricsRegistry),
  log,
  maxBatch: config.EVENTS_MAX_BATCH,
  maxWaitMs: config.EVENTS_MAX_WAIT_MS,
  sessionTimeoutMs: config.EVENTS_SESSION_TIMEOUT_MS,
  stallAfterMs: config.EVENTS_STALL_SECONDS * 1000,
});
// GET /health: 200 while the member is in its group and its batches get applied, else 503 (the compose healthcheck).
const metricsServer = await startMetricsServer(metricsRegistry, config.METRICS_HOST, config.CONSUMER_METRICS_PORT, () => consumer.health());
await consumer.start();
log.info({ metricsPort: metricsServer.port }, 'events consumer ready');
onShutdownSignal(log, async () => {
  await consumer.stop();
  await new Promise((resolve) => metricsServer.close(resolve));
  await Promise.all([store.close(), cache.close()]);
});
