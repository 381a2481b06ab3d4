import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { ConfigError } from '../../lib/src/config.js';
import { describeWithServers, serverUrl } from '../../lib/test/support/servers.js';
import { PrivateRedis } from '../../lib/test/support/private-redis.js';
import { loadGatewayConfig } from '../src/config.js';
import { startBackend, startGateway, type Backend, type Gateway } from './support/secure-stack.js';

const unique = () => randomUUID().replaceAll('-', '');

describe('gateway limits', () => {
  let backend: Backend;
  const gateways: Gateway[] = [];
  const start = async (...args: Parameters<typeof startGateway> extends [unknown, infer D] ? [D] : never) => {
    const gw = await startGateway(backend, ...args);
    gateways.push(gw);
    return gw;
  };

  beforeAll(async () => {
    backend = await startBackend(new ApiKeyStore());
  });
  afterAll(async () => {
    for (const gw of gateways) await gw.app.close();
    await backend?.close();
  });

  it('rate-limit each client with 429, Retry-After and the JSON body; a key is its own client; probes never count', async () => {
    const a = `a-${unique()}`;
    const b = `b-${unique()}`;
    const keys = new ApiKeyStore({ inline: `${a.slice(0, 60)}:client:${a};${b.slice(0, 60)}:client:${b}` });
    const gw = await start({ apiKeys: keys, limits: { RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW_MS: 600_000 } });
    const get = (key?: string, path = '/genres') => fetch(`${gw.url}${path}`, { headers: key ? { 'x-api-key': key } : {} });
    for (let i = 0; i < 3; i++) expect((await get(a)).status).toBe(200);
    const limited = await get(a);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3');
    expect(await limited.json()).toEqual({ error: { code: 'RESOURCE_EXHAUSTED', message: expect.stringMatching(/rate limit of 3 requests/) } });
    expect((await get(b)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await get(a, '/healthz')).status).toBe(200);
  });

  it('shed load beyond the concurrency cap with 503 and Retry-After, before reading the request; probes still answer', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const gw = await start({
      limits: { MAX_CONCURRENT_REQUESTS: 1, SHED_RETRY_AFTER_SECONDS: 2, RATE_LIMIT_MAX: 0 },
      extraRoutes: (app) => {
        app.get('/test/slow', async () => {
          entered();
          await gate;
          return { ok: true };
        });
      },
    });
    const slow = fetch(`${gw.url}/test/slow`);
    await inside;
    const shed = await fetch(`${gw.url}/genres`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('2');
    expect(await shed.json()).toEqual({ error: { code: 'UNAVAILABLE', message: expect.stringMatching(/limit of 1 requests in progress/) } });
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    release();
    expect((await slow).status).toBe(200);
    expect((await fetch(`${gw.url}/genres`)).status).toBe(200);
  });

  it('send CORS headers only to configured origins; none by default', async () => {
    const closed = await start({ limits: { RATE_LIMIT_MAX: 0 } });
    const plain = await fetch(`${closed.url}/genres`, { headers: { origin: 'https://evil.example' } });
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const gw = await start({ limits: { CORS_ORIGINS: ['https://app.example.com'], RATE_LIMIT_MAX: 0 } });
    const allowed = await fetch(`${gw.url}/genres`, { headers: { origin: 'https://app.example.com' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const preflight = await fetch(`${gw.url}/training/runs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    // The preflight catch-all does not turn unknown paths into 405s.
    expect((await fetch(`${gw.url}/nope`, { method: 'DELETE' })).status).toBe(404);
    const other = await fetch(`${gw.url}/genres`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('validate the limits at start-up, naming each bad value', () => {
    const config = loadGatewayConfig({});
    expect(config).toMatchObject({ BODY_LIMIT_BYTES: 16_384, BATCH_BODY_LIMIT_BYTES: 1_048_576, MAX_CONCURRENT_REQUESTS: 512, CORS_ORIGINS: [], REQUIRE_KEY_FOR_CLIENT_ROUTES: false });
    expect(loadGatewayConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:3000' }).CORS_ORIGINS).toEqual(['https://a.example', 'http://localhost:3000']);
    let error: ConfigError | undefined;
    try {
      loadGatewayConfig({ CORS_ORIGINS: '*', BODY_LIMIT_BYTES: '-1', RATE_LIMIT_MAX: 'lots', REDIS_URL: 'http://x', REQUIRE_KEY_FOR_CLIENT_ROUTES: 'yes' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = error!.problems.join('\n');
    for (const name of ['CORS_ORIGINS', 'BODY_LIMIT_BYTES', 'RATE_LIMIT_MAX', 'REDIS_URL', 'REQUIRE_KEY_FOR_CLIENT_ROUTES']) expect(problems).toContain(name);
  });
});

describeWithServers(['REDIS_URL'], 'gateway rate limits on Redis', () => {
  let backend: Backend;
  const gateways: Gateway[] = [];
  beforeAll(async () => {
    backend = await startBackend(new ApiKeyStore());
  });
  afterAll(async () => {
    for (const gw of gateways) await gw.app.close();
    await backend?.close();
  });

  it('share one budget across gateway replicas', async () => {
    const secret = `shared-${unique()}`;
    const keys = new ApiKeyStore({ inline: `${secret.slice(0, 60)}:client:${secret}` });
    // A generous command timeout: on a loaded machine a slow Redis reply would let a request through (fail open).
    const limits = { RATE_LIMIT_MAX: 4, RATE_LIMIT_WINDOW_MS: 600_000, REDIS_URL: serverUrl('REDIS_URL'), RATE_LIMIT_REDIS_TIMEOUT_MS: 5_000 };
    for (let i = 0; i < 2; i++) gateways.push(await startGateway(backend, { apiKeys: keys, limits }));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const gw = gateways[i % 2];
      statuses.push((await fetch(`${gw.url}/genres`, { headers: { authorization: `Bearer ${secret}` } })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('take counts from Redis in leases (1% of the limit) and still never let replicas together exceed the limit', async () => {
    const secret = `leased-${unique()}`;
    const keys = new ApiKeyStore({ inline: `${secret.slice(0, 60)}:client:${secret}` });
    const limits = { RATE_LIMIT_MAX: 300, RATE_LIMIT_WINDOW_MS: 600_000, REDIS_URL: serverUrl('REDIS_URL'), RATE_LIMIT_REDIS_TIMEOUT_MS: 5_000 };
    const pair = [await startGateway(backend, { apiKeys: keys, limits }), await startGateway(backend, { apiKeys: keys, limits })];
    gateways.push(...pair);
    const statuses: number[] = [];
    for (let i = 0; i < 320; i++) {
      statuses.push((await fetch(`${pair[i % 2].url}/genres`, { headers: { authorization: `Bearer ${secret}` } })).status);
    }
    const allowed = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    // Never more than the limit; at most each replica's unused lease (3 - 1 counts) less.
    expect(allowed).toBeLessThanOrEqual(300);
    expect(allowed).toBeGreaterThanOrEqual(300 - 2 * 2);
    expect(statuses.slice(-10)).toEqual(Array(10).fill(429));
  });

  it('count in this process when Redis is unreachable, so clients are still limited and nothing fails', async () => {
    const gw = await startGateway(backend, { limits: { RATE_LIMIT_MAX: 2, REDIS_URL: 'redis://127.0.0.1:1' } });
    gateways.push(gw);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${gw.url}/genres`)).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it('count in this process while Redis is frozen (SIGSTOP), skip Redis once the breaker opens, and go back to it', async () => {
    const redis = await PrivateRedis.start();
    try {
      const limits = { RATE_LIMIT_MAX: 8, RATE_LIMIT_WINDOW_MS: 600_000, REDIS_URL: redis.url, RATE_LIMIT_REDIS_TIMEOUT_MS: 50, RATE_LIMIT_REDIS_COOLDOWN_MS: 200 };
      const secret = `frozen-${unique()}`;
      const gw = await startGateway(backend, { limits, apiKeys: new ApiKeyStore({ inline: `${secret.slice(0, 60)}:client:${secret}` }) });
      gateways.push(gw);
      // The limited client has a key; /metrics is asked anonymously (another client, another budget).
      const genres = () => fetch(`${gw.url}/genres`, { headers: { 'x-api-key': secret } });
      const circuit = async () => /rate_limit_circuit_state\{[^}]*dependency="redis"[^}]*\} (\d)/.exec(await (await fetch(`${gw.url}/metrics`)).text())?.[1];
      expect((await genres()).status).toBe(200); // counted in Redis
      expect(await circuit()).toBe('0');
      redis.freeze();
      const statuses: number[] = [];
      try {
        // Every request is answered, from the local counter once Redis times out.
        for (let i = 0; i < 12; i++) statuses.push((await genres()).status);
        // Open, or already half-open again if the machine was slow enough for the cool-down to pass.
        expect(['1', '2']).toContain(await circuit());
      } finally {
        redis.resume();
      }
      expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
      expect(statuses).toContain(429); // still limited while Redis is frozen
      // Back on Redis after the cool-down: its counter (1 request before the freeze) decides again.
      await expect.poll(circuit, { timeout: 10_000, interval: 100 }).toBe('0');
    } finally {
      await redis.stop();
    }
  });
});
