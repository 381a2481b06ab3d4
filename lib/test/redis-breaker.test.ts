import { afterAll, beforeAll, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { RedisCache } from '../src/cache/redis-cache.js';
import { runInCallScope } from '../src/call-scope.js';
import { CircuitOpenError } from '../src/circuit-breaker.js';
import { describeWithServers } from './support/servers.js';
import { PrivateRedis } from './support/private-redis.js';

// Needs redis-server (installed with the test servers); uses a port and process of its own.
describeWithServers(['REDIS_URL'], 'the Redis cache fails fast and recovers by itself (a real Redis stopped and frozen)', () => {
  let redis: PrivateRedis;
  let cache: RedisCache;
  const states: string[] = [];

  beforeAll(async () => {
    redis = await PrivateRedis.start();
    // A command limit with room for a loaded CI machine; the frozen server makes each of the first three wait it out.
    cache = await RedisCache.connect(redis.url, { commandTimeoutMs: 500, breakerFailures: 3, breakerCoolDownMs: 200 });
    cache.onBreakerState((s) => states.push(s));
  });
  afterAll(async () => {
    await cache?.close();
    await redis?.stop();
  });

  it('skips a frozen Redis after N timeouts and comes back when it resumes', async () => {
    await cache.set('k', 'v', 60);
    expect(await cache.get('k')).toBe('v');
    redis.freeze();
    try {
      for (let i = 0; i < 3; i++) await expect(cache.get('k')).rejects.toThrow(/timed out/i);
      expect(cache.breaker.state).toBe('open');
      // Open: the command is refused before it is sent, so it cannot wait on the frozen server.
      await expect(cache.get('k')).rejects.toBeInstanceOf(CircuitOpenError);
      await expect(cache.set('k', 'w', 60)).rejects.toBeInstanceOf(CircuitOpenError);
      await expect(cache.del(['k'])).rejects.toBeInstanceOf(CircuitOpenError);
      const registry = new Registry();
      cache.registerMetrics(registry, 'test_cache');
      expect(await registry.metrics()).toMatch(/test_cache_circuit_state\{dependency="redis"\} 2/);
    } finally {
      redis.resume();
    }
    await expect.poll(() => cache.get('k').catch(() => 'failed'), { timeout: 10_000, interval: 50 }).toBe('v');
    expect(cache.breaker.state).toBe('closed');
    expect(states).toContain('open');
    expect(states.at(-1)).toBe('closed');
  });

  it('fails at once while Redis is stopped (no offline queue) and reconnects when it is back', async () => {
    await redis.stop();
    const errors: unknown[] = [];
    for (let i = 0; i < 5; i++) errors.push(await cache.get('k').catch((e: unknown) => e));
    // The first failures are the client's own ("stream isn't writeable"/connection closed), never a queue wait.
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    expect(errors.some((e) => e instanceof CircuitOpenError)).toBe(true);
    expect(cache.breaker.state).toBe('open');
    await redis.start();
    await expect.poll(() => cache.get('k').catch(() => 'failed'), { timeout: 15_000, interval: 100 }).toBe(null);
    await cache.set('k', 'again', 60);
    expect(await cache.get('k')).toBe('again');
    expect(cache.breaker.state).toBe('closed');
  });

  it("a request's multi-key write (feedback's new stamp) is request-path work: bounded by the command timeout and the breaker, not the bulk limit", async () => {
    // A bulk limit longer than the test's own timeout: without the request-path rule the write would wait it out.
    const own = await RedisCache.connect(redis.url, { commandTimeoutMs: 300, breakerFailures: 2, breakerCoolDownMs: 60_000, bulkTimeoutMs: 120_000 });
    const inCall = <T>(fn: () => Promise<T>) => runInCallScope({ signal: new AbortController().signal, deadline: Infinity }, fn);
    try {
      await inCall(() => own.setMany([['a', '1'], ['b', '2']], 60));
      expect(await own.getMany(['a', 'b'])).toEqual(['1', '2']);
      redis.freeze();
      try {
        for (let i = 0; i < 2; i++) await expect(inCall(() => own.setMany([['a', 'x']], 60))).rejects.toThrow(/timed out/i);
        expect(own.breaker.state).toBe('open');
        await expect(inCall(() => own.setMany([['a', 'x']], 60))).rejects.toBeInstanceOf(CircuitOpenError);
      } finally {
        redis.resume();
      }
      // Outside a call (refresh jobs, the consumer) the bulk connection is used: the open breaker does not refuse it.
      await own.setMany([['a', '3']], 60);
      expect(await cache.get('a')).toBe('3');
    } finally {
      await own.close();
    }
  });
});

