import { join } from 'node:path';
import { ensureWritableDir, type StorageEnv } from './config.js';
import type { Logger } from './logger.js';
import type { Store } from './store/types.js';
import type { Cache } from './cache/types.js';
import type { ObjectStore } from './objectstore/types.js';
import { MemoryStore } from './store/memory-store.js';
import { MongoStore } from './store/mongo-store.js';
import { MemoryCache } from './cache/memory-cache.js';
import { RedisCache } from './cache/redis-cache.js';
import { DirectoryObjectStore } from './objectstore/directory-object-store.js';
import { S3ObjectStore } from './objectstore/s3-object-store.js';

/**
 * MongoDB when MONGO_URL is set, else the embedded store. `embeddedLogs`: "disk" (services, the demo) keeps its
 * recommendation logs and feedback in DATA_DIR/store/logs.sqlite; "memory" (throw-away stores of CLI commands) keeps
 * nothing on disk, so such a command never touches the demo's files.
 */
export async function createStore(env: StorageEnv, log: Logger, embeddedLogs: 'disk' | 'memory' = 'disk'): Promise<Store> {
  if (!env.MONGO_URL && embeddedLogs === 'memory') {
    log.info('store: embedded in-process, nothing on disk (MONGO_URL not set)');
    return new MemoryStore();
  }
  if (!env.MONGO_URL) {
    // Recommendation logs and feedback grow with traffic: on disk (SQLite) under DATA_DIR, surviving a restart.
    const dir = await ensureWritableDir(
      join(env.DATA_DIR, 'store'),
      'DATA_DIR',
      'set DATA_DIR to a writable folder (a volume in a container), or MONGO_URL to keep the data in MongoDB',
    );
    const logsPath = join(dir, 'logs.sqlite');
    log.info({ logsPath }, 'store: embedded in-process, recommendation logs and feedback in SQLite (MONGO_URL not set)');
    return new MemoryStore({ logsPath });
  }
  const store = await MongoStore.connect(env.MONGO_URL, env.MONGO_DB, { timeoutMS: env.MONGO_TIMEOUT_MS });
  await store.init();
  log.info({ db: env.MONGO_DB }, 'store: MongoDB');
  return store;
}

export async function createCache(env: StorageEnv, log: Logger): Promise<Cache> {
  if (!env.REDIS_URL) {
    log.info('cache: embedded in-process (REDIS_URL not set)');
    return new MemoryCache();
  }
  const cache = await RedisCache.connect(env.REDIS_URL, {
    commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    breakerFailures: env.REDIS_BREAKER_FAILURES,
    breakerCoolDownMs: env.REDIS_BREAKER_COOLDOWN_MS,
    keyPrefix: env.REDIS_KEY_PREFIX,
  });
  log.info('cache: Redis');
  return cache;
}

export async function createObjectStore(env: StorageEnv, log: Logger): Promise<ObjectStore> {
  let objectStore: ObjectStore;
  if (env.S3_ENDPOINT) {
    objectStore = new S3ObjectStore({
      endpoint: env.S3_ENDPOINT,
      accessKey: env.S3_ACCESS_KEY ?? '',
      secretKey: env.S3_SECRET_KEY ?? '',
      bucket: env.S3_BUCKET,
      region: env.S3_REGION,
      timeoutMs: env.S3_TIMEOUT_MS,
    });
    log.info({ endpoint: env.S3_ENDPOINT, bucket: env.S3_BUCKET }, 'object store: S3');
  } else {
    // Only the embedded object store needs DATA_DIR: nothing is created when S3 is configured.
    const dir = await ensureWritableDir(
      join(env.DATA_DIR, 'objects'),
      'DATA_DIR',
      'set DATA_DIR to a writable folder (a volume in a container), or S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY to keep models in S3',
    );
    objectStore = new DirectoryObjectStore(dir);
    log.info({ dir }, 'object store: local folder (S3_ENDPOINT not set)');
  }
  await objectStore.ensureBucket();
  return objectStore;
}
