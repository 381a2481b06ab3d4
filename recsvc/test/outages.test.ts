import { afterAll, beforeAll, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoStore } from '../../lib/src/store/mongo-store.js';
import { RedisCache } from '../../lib/src/cache/redis-cache.js';
import { startStack, type TestStack } from '../../lib/test/support/stack.js';
import { publishServingModel, seedServingWorld } from '../../lib/test/support/fixtures.js';
import { describeWithServers } from '../../lib/test/support/servers.js';
import { ownFerretDb, ownRedis, type OwnedServer } from '../../lib/test/support/processes.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = (response: Response): Promise<any> => response.json();

describeWithServers(['MONGO_URL', 'REDIS_URL'], 'outages of real servers under traffic', () => {
  let mongo: OwnedServer;
  let redis: OwnedServer;
  let store: MongoStore;
  let cache: RedisCache;
  let stack: TestStack;
  const get = (path: string) => fetch(`${stack.baseUrl}${path}`);

  beforeAll(async () => {
    mongo = await ownFerretDb();
    redis = await ownRedis();
    await Promise.all([mongo.start(), redis.start()]);
    store = await MongoStore.connect(mongo.url, 'outages');
    await store.init();
    await seedServingWorld(store);
    cache = await RedisCache.connect(redis.url);
    stack = await startStack(store, { cache, recsvcEnv: { LOG_FLUSH_MS: '100', LOG_RETRY_MS: '200', LOG_BATCH_SIZE: '10' } });
    await publishServingModel(stack.objects, 'als', { second: 1 });
    await publishServingModel(stack.objects, 'lightfm', { second: 1 });
    await Promise.all([stack.recsvc.models.checkActive('als'), stack.recsvc.models.checkActive('lightfm')]);
  });
  afterAll(async () => {
    await stack?.close();
    await cache?.close();
    await store?.close();
    await Promise.all([mongo?.stop(), redis?.stop()]);
  });

  it('loses no recommendation log while the MongoDB-wire server is down for a few seconds', async () => {
    const sessions: string[] = [];
    const serve = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const response = await get('/recommendations/u1?model=als&k=3');
        expect(response.status).toBe(200);
        sessions.push((await json(response)).session_id);
      }
    };
    await serve(15); // warms the cache and the movie info: the next requests need no MongoDB
    await mongo.stop();
    await serve(30);
    await sleep(3_000);
    await serve(15);
    expect(stack.recsvc.logs.size).toBeGreaterThan(0); // still buffered: MongoDB is down
    await mongo.start();
    await expect.poll(() => stack.recsvc.logs.size, { timeout: 30_000, interval: 200 }).toBe(0);
    expect(stack.recsvc.logs.dropped).toBe(0);
    expect(await store.count('recommendation_logs')).toBe(sessions.length);
    for (const sessionId of [sessions[0], sessions[20], sessions.at(-1)!]) {
      expect(await store.getRecommendationLog(sessionId)).not.toBeNull();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${stack.recsvc.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/recommendation_log_write_failures_total\{[^}]*\} [1-9]/);
  });

  it('answers 503 with a clear message when a request needs MongoDB and it is down', async () => {
    await mongo.stop();
    try {
      const response = await get('/genres_top?user_id=u4');
      expect(response.status).toBe(503);
      expect(await json(response)).toEqual({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/database is unreachable/) } });
    } finally {
      await mongo.start();
    }
  });

  it('serves from the model without the cache while Redis is unreachable', async () => {
    await redis.stop();
    try {
      for (const user of ['u1', 'u2']) {
        const response = await get(`/recommendations/${user}?model=lightfm&k=2`);
        expect(response.status).toBe(200);
        expect((await json(response)).source).toBe('model');
      }
      const metrics = await (await fetch(`http://127.0.0.1:${stack.recsvc.metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/recommendation_cache_errors_total\{[^}]*operation="get"[^}]*\} [1-9]/);
    } finally {
      await redis.start();
    }
  });
});
