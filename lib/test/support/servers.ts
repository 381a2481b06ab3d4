import { describe, it } from 'vitest';
import { randomUUID } from 'node:crypto';

/**
 * Real-server suites run when the server's URL is in the environment (scripts/test-servers.sh prints them).
 * Without it they skip with a one-line reason (printed after the run by skip-reasons-reporter.ts), unless
 * RECSYS_REQUIRE_SERVERS=1 (set by .ci/run), which turns the skip into a failure.
 */
export type ServerVar = 'MONGO_URL' | 'REDIS_URL' | 'S3_ENDPOINT' | 'KAFKA_BROKERS';

export const requireServers = process.env.RECSYS_REQUIRE_SERVERS === '1';

export function serverUrl(name: ServerVar): string | undefined {
  return process.env[name] || undefined;
}

export function describeWithServers(names: ServerVar[], title: string, body: () => void): void {
  const missing = names.filter((n) => !serverUrl(n));
  if (missing.length === 0) {
    describe(title, body);
  } else if (requireServers) {
    describe(title, () => {
      it('has its real servers', () => {
        throw new Error(`${missing.join(', ')} not set but RECSYS_REQUIRE_SERVERS=1: start them with scripts/test-servers.sh`);
      });
    });
  } else {
    describe.skip(`${title} — skipped: ${missing.join(', ')} not set (run scripts/test-servers.sh)`, body);
  }
}

/** Settings of the real servers from the environment, with a database and bucket of the test's own. */
export function realStorageEnv() {
  const unique = randomUUID().slice(0, 8);
  return {
    MONGO_URL: serverUrl('MONGO_URL'),
    MONGO_DB: `test_${unique}`,
    REDIS_URL: serverUrl('REDIS_URL'),
    // Suites share one Redis: per-user keys (the interactions stamps) must not reach another suite.
    REDIS_KEY_PREFIX: `test:${unique}:`,
    S3_ENDPOINT: serverUrl('S3_ENDPOINT'),
    S3_ACCESS_KEY: process.env.S3_ACCESS_KEY ?? 'minioadmin',
    S3_SECRET_KEY: process.env.S3_SECRET_KEY ?? 'minioadmin',
    S3_BUCKET: `test-${unique}`,
    S3_REGION: process.env.S3_REGION ?? 'us-east-1',
    DATA_DIR: `/tmp/recsys-test-${unique}`,
  };
}

/** Real-server suites drop the database they made (the embedded store needs nothing). */
export async function dropTestDatabase(store: unknown): Promise<void> {
  const { MongoStore } = await import('../../src/store/mongo-store.js');
  if (store instanceof MongoStore) await store.dropDatabase();
}

/**
 * MongoDB, Redis and S3 clients on the real test servers, built the way the services build them
 * (lib/src/backends.ts), with a database and a bucket of the caller's own.
 */
export async function connectRealBackends() {
  const [{ createStore, createCache, createObjectStore }, { createLogger }] = await Promise.all([
    import('../../src/backends.js'),
    import('../../src/logger.js'),
  ]);
  const env = realStorageEnv();
  const log = createLogger('test', 'silent');
  const [store, cache, objects] = await Promise.all([createStore(env, log), createCache(env, log), createObjectStore(env, log)]);
  return { env, store, cache, objects };
}
