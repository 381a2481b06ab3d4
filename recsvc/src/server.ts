import { join } from 'node:path';
import { MODEL_TYPES } from '../../lib/src/domain.js';
import { createCache, createObjectStore, createStore } from '../../lib/src/backends.js';
import { ensureWritableDir } from '../../lib/src/config.js';
import type { Cache } from '../../lib/src/cache/types.js';
import { RedisCache } from '../../lib/src/cache/redis-cache.js';
import type { ApiKeyStore } from '../../lib/src/api-keys.js';
import { recommendationAuth } from './auth.js';
import { deferredService, startGrpcServer, type RunningGrpcServer, type ServiceBinding } from '../../lib/src/grpc/server.js';
import { UnavailableError } from '../../lib/src/errors.js';
import { RecommendationServiceService } from '../../lib/src/proto.js';
import { DEFAULT_STARTUP_RETRY, untilReady, type StartupRetryPolicy } from '../../lib/src/startup-retry.js';
import type { Logger } from '../../lib/src/logger.js';
import { createMetricsRegistry, grpcCallObserver, startMetricsServer } from '../../lib/src/metrics.js';
import { catalogueMismatch } from '../../lib/src/models/fingerprint.js';
import { ARTIFACT_ID_MAPS } from '../../lib/src/models/layout.js';
import { ModelRegistry } from '../../lib/src/models/registry.js';
import type { ObjectStore } from '../../lib/src/objectstore/types.js';
import type { Store } from '../../lib/src/store/types.js';
import type { RecsvcConfig } from './config.js';
import { GenreCatalog } from './genre-catalog.js';
import { RecommendationLogWriter } from './log-writer.js';
import { RecsvcMetrics } from './metrics.js';
import { ModelHolder } from './model-holder.js';
import { MovieInfoCache } from './movie-info.js';
import { RECOMMENDATION_SERVICE_NAME, recommendationService } from './recommendation-grpc.js';
import { EXPLANATION_CACHE_TTL_MS, Recommender } from './recommender.js';
import { ExplanationCache } from './explain-list.js';
import { EventApplier } from '../../lib/src/events/applier.js';
import { EventProducer, ensureTopics, parseBrokers } from '../../lib/src/events/kafka.js';
import { EventIngest } from './event-ingest.js';

export interface RecsvcDeps {
  /** Injected by tests and the demo; otherwise created from the configuration (and closed on shutdown). */
  store?: Store;
  cache?: Cache;
  objects?: ObjectStore;
  /** The API keys callers must present (default: from API_KEYS_FILE / API_KEYS, watched for rotation). */
  apiKeys?: ApiKeyStore;
  /** Backoff while a dependency is not ready at start-up (default DEFAULT_STARTUP_RETRY: 0.5 s doubling to 10 s). */
  startupRetry?: StartupRetryPolicy;
}

export interface RunningRecsvc extends RunningGrpcServer {
  readonly models: ModelHolder;
  readonly logs: RecommendationLogWriter;
  readonly metricsPort: number;
  readonly recommender: Recommender;
}

/** Starts the recommendation service: backends, model hot reload, log writer, gRPC and /metrics. */
export async function startRecsvc(config: RecsvcConfig, log: Logger, deps: RecsvcDeps = {}): Promise<RunningRecsvc> {
  const auth = recommendationAuth(config, log, deps.apiKeys);
  // The gRPC server binds first, health NOT_SERVING, every call UNAVAILABLE ("starting"), while the dependencies are
  // connected with retries (a MongoDB, Redis, S3 or Kafka that is not up yet is waited for, with a backoff and a
  // warning per attempt, instead of the process exiting); SERVING once everything is ready.
  let closeParts: (() => Promise<void>) | undefined;
  let shuttingDown = false;
  const service = deferredService(RECOMMENDATION_SERVICE_NAME, RecommendationServiceService, log, () =>
    new UnavailableError('the recommendation service is starting (waiting for its database, cache or model store); try again shortly'));
  const server = await startGrpcServer({
    host: config.RECSVC_HOST,
    port: config.RECSVC_PORT,
    maxConnectionAgeMs: config.GRPC_MAX_CONNECTION_AGE_SECONDS * 1000,
    services: [service.binding],
    log,
    interceptors: [auth.interceptor],
    notServingYet: true,
    onClosed: async () => {
      shuttingDown = true;
      if (!deps.apiKeys) auth.keys.close();
      await closeParts?.();
    },
  });
  try {
    const running = await connectParts(config, log, deps, () => shuttingDown);
    service.ready(running.implementation);
    closeParts = running.close;
    server.markServing();
    log.info({ port: server.port }, 'recsvc serving');
    return Object.assign(server, running.exposed);
  } catch (err) {
    await server.shutdown(0);
    throw err;
  }
}

interface RecsvcParts {
  implementation: ServiceBinding['implementation'];
  close(): Promise<void>;
  exposed: Omit<RunningRecsvc, keyof RunningGrpcServer>;
}

/** The backends (each waited for while it is not ready: untilReady), the model holder, the log writer and /metrics. */
async function connectParts(
  config: RecsvcConfig,
  log: Logger,
  deps: RecsvcDeps,
  stopped: () => boolean,
): Promise<RecsvcParts> {
  const retry = deps.startupRetry ?? DEFAULT_STARTUP_RETRY;
  const ready = <T>(what: string, step: () => Promise<T>) => untilReady(what, step, log, retry, stopped);
  const store = deps.store ?? (await ready('MongoDB', () => createStore(config, log)));
  const cache = deps.cache ?? (await ready('Redis', () => createCache(config, log)));
  const objects = deps.objects ?? (await ready('the model store (S3)', () => createObjectStore(config, log)));
  const registry = createMetricsRegistry('recsvc');
  const metrics = new RecsvcMetrics(registry);
  if (cache instanceof RedisCache) cache.registerMetrics(registry, 'recommendation_cache');
  const models = new ModelHolder(new ModelRegistry(objects), cache, log, config.MODEL_POLL_SECONDS * 1000, {
    onLoaded: (model) => {
      metrics.modelSwapped(model.modelType, model.version);
      metrics.modelLoads.inc({ model_type: model.modelType, result: 'loaded' });
    },
    onRefused: (modelType) => metrics.modelLoads.inc({ model_type: modelType, result: 'refused' }),
  }, (artifact) => catalogueMismatch(store, artifact.manifest.data, artifact.idMaps[ARTIFACT_ID_MAPS.items] ?? []));
  await ready('the model registry', () => models.start());
  // The log spool (LOG_SPOOL_DIR, default DATA_DIR/log-spool): with a store of its own; an injected store (tests,
  // the demo) gets one only when LOG_SPOOL_DIR names it, so test processes never replay each other's lists.
  const spoolPath = config.LOG_SPOOL_DIR ?? (deps.store ? undefined : join(config.DATA_DIR, 'log-spool'));
  const spoolDir = spoolPath
    ? await ensureWritableDir(
        spoolPath,
        config.LOG_SPOOL_DIR ? 'LOG_SPOOL_DIR' : 'DATA_DIR',
        'set LOG_SPOOL_DIR (or DATA_DIR) to a writable folder (a volume in a container): served lists are spooled there until stored',
      )
    : undefined;
  const logs = new RecommendationLogWriter(
    store,
    {
      batchSize: config.LOG_BATCH_SIZE,
      flushIntervalMs: config.LOG_FLUSH_MS,
      maxBuffered: config.LOG_BUFFER_MAX,
      retryDelayMs: config.LOG_RETRY_MS,
      flushGraceMs: config.LOG_FLUSH_GRACE_MS,
      spoolDir,
    },
    log,
    {
      onBuffered: (size) => metrics.logBuffer.set(size),
      onDropped: (count) => metrics.logDropped.inc(count),
      onWriteFailed: () => metrics.logWriteFailures.inc(),
    },
  );
  logs.start();
  // Interaction events: produced to Kafka when KAFKA_BROKERS is set, otherwise applied in this process.
  let producer: EventProducer | undefined;
  if (config.KAFKA_BROKERS) {
    const settings = {
      brokers: parseBrokers(config.KAFKA_BROKERS),
      topic: config.EVENTS_TOPIC,
      dlqTopic: config.EVENTS_DLQ_TOPIC,
      clientId: 'recsvc',
      partitions: config.EVENTS_PARTITIONS,
    };
    await ready('Kafka', () => ensureTopics(settings));
    producer = new EventProducer(settings);
    log.info({ brokers: settings.brokers, topic: settings.topic }, 'events: produced to Kafka');
  } else {
    log.info('events: applied directly (KAFKA_BROKERS not set)');
  }
  const events = new EventIngest(
    producer
      ? { mode: 'kafka', producer }
      : { mode: 'direct', applier: new EventApplier(store, cache) },
    store,
    {
      onIngested: (mode, accepted, duplicates, refused) => {
        metrics.eventsIngested.inc({ mode, result: 'accepted' }, accepted - duplicates);
        metrics.eventsIngested.inc({ mode, result: 'duplicate' }, duplicates);
        metrics.eventsIngested.inc({ mode, result: 'refused' }, refused);
      },
    },
  );
  // The replica's catalogue view: hidden movies and cold-start movies, followed on CATALOGUE_CHANNEL.
  const movies = new MovieInfoCache(store, config.MOVIE_INFO_TTL_SECONDS * 1000);
  await ready('the catalogue (MongoDB)', () => movies.startSync(cache, {
    reloadMs: config.CATALOGUE_RELOAD_SECONDS * 1000,
    log,
    coldSince: () => new Date(Math.min(...MODEL_TYPES.map((t) => models.current(t)?.dataSnapshotAt ?? 0))),
  }));
  const recommender = new Recommender({
    store,
    cache,
    models,
    logs,
    movies,
    metrics,
    log,
    experiment: { experimentId: config.EXPERIMENT_ID, alsShare: config.EXPERIMENT_ALS_SHARE, mode: config.EXPERIMENT_MODE },
    cacheTtlSeconds: config.RECOMMENDATION_TTL_SECONDS,
    events,
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    missConcurrency: config.RECOMMEND_MISS_CONCURRENCY,
    missQueue: config.RECOMMEND_MISS_QUEUE,
    explanationCache: new ExplanationCache(config.EXPLANATION_CACHE_ENTRIES, EXPLANATION_CACHE_TTL_MS),
  });
  const metricsServer = await startMetricsServer(registry, config.METRICS_HOST, config.RECSVC_METRICS_PORT);
  return {
    implementation: recommendationService({ catalog: new GenreCatalog(store, { onGenresChanged: (userId) => recommender.userChanged(userId) }), recommender, events, store, log, observe: grpcCallObserver(registry) }).implementation,
    close: async () => {
      await models.stop();
      await movies.stopSync();
      await logs.close();
      await producer?.close();
      await new Promise((resolve) => metricsServer.close(resolve));
      if (!deps.store) await store.close();
      if (!deps.cache) await cache.close();
    },
    exposed: { models, logs, metricsPort: metricsServer.port, recommender },
  };
}
