import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { log, startBackend, startGateway, type Backend, type Gateway } from './support/secure-stack.js';

const ADMIN = 'gateway-admin-secret-0123456789';
const INGEST = 'gateway-ingest-secret-0123456789';
const CLIENT = 'gateway-client-secret-0123456789';
const METRICS = 'gateway-metrics-secret-0123456789';

/** API keys on the REST gateway, forwarded to (and checked again by) a real Trainer service. */
describe('gateway API keys', () => {
  let keysFile: string;
  let keys: ApiKeyStore;
  let backend: Backend;
  let open: Gateway;
  let strict: Gateway;

  beforeAll(async () => {
    keysFile = join(mkdtempSync(join(tmpdir(), 'recsys-gw-keys-')), 'keys');
    writeFileSync(keysFile, `ops:admin:${ADMIN}\nfeed:ingest:${INGEST}\napp:client:${CLIENT}\nprom:metrics:${METRICS}\n`);
    keys = new ApiKeyStore({ file: keysFile, log });
    backend = await startBackend(keys);
    const extraRoutes: Parameters<typeof startGateway>[1]['extraRoutes'] = (app) => {
      // What the events and catalogue routes of other modules do: one line of config.
      app.post('/test/events', { config: { scope: 'ingest', bodyLimit: 'batch' } }, async (request) => ({ received: JSON.stringify(request.body).length }));
      app.post('/test/undeclared', async () => ({ ok: true }));
    };
    open = await startGateway(backend, { apiKeys: keys, extraRoutes });
    strict = await startGateway(backend, { apiKeys: keys, requireKeyForClientRoutes: true, requireKeyForMetrics: true });
  });
  afterAll(async () => {
    await open?.app.close();
    await strict?.app.close();
    await backend?.close();
    keys?.close();
  });

  const call = (gw: Gateway, method: string, path: string, options: { body?: unknown; key?: string; header?: 'bearer' | 'x-api-key' } = {}) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.key ? (options.header === 'x-api-key' ? { 'x-api-key': options.key } : { authorization: `Bearer ${options.key}` }) : {}),
      },
      body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
    });
  async function expectError(response: Response, status: number, code: string, message?: RegExp) {
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: { message: string } };
    expect(body).toEqual({ error: { code, message: expect.any(String) } });
    if (message) expect(body.error.message).toMatch(message);
  }

  it('refuse every admin route without a key (401), with an unknown key (401) or a key of another scope (403)', async () => {
    const adminRoutes: [string, unknown][] = [
      ['/training/runs', { models: ['als'] }],
      ['/models/als/activate', { version: '20990101T000000000Z-abcdef' }],
      ['/recommendations/refresh', {}],
    ];
    for (const [path, body] of adminRoutes) {
      const none = await call(open, 'POST', path, { body });
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      await expectError(none, 401, 'UNAUTHENTICATED', /scope 'admin' is required/);
      await expectError(await call(open, 'POST', path, { body, key: 'no-such-key-0123456789' }), 401, 'UNAUTHENTICATED', /not valid/);
      await expectError(await call(open, 'POST', path, { body, key: INGEST }), 403, 'PERMISSION_DENIED', /'feed' lacks scope 'admin'/);
      await expectError(await call(open, 'POST', path, { body, key: CLIENT, header: 'x-api-key' }), 403, 'PERMISSION_DENIED');
    }
  });

  it('let an admin key through, and forward it to the Trainer service, which checks it again', async () => {
    // The Trainer service refuses calls without an admin key: a 404 for an unknown version proves the key went along.
    await expectError(
      await call(open, 'POST', '/models/als/activate', { body: { version: '20990101T000000000Z-abcdef' }, key: ADMIN }),
      404,
      'NOT_FOUND',
    );
    const refresh = await call(open, 'POST', '/recommendations/refresh', { body: {}, key: ADMIN, header: 'x-api-key' });
    expect(refresh.status).toBe(202);
    expect(await refresh.json()).toEqual({ job_id: expect.any(String) });
  });

  it('give routes of other modules their scope with one line, and admin to an undeclared state-changing route', async () => {
    const events = { events: Array.from({ length: 1_000 }, (_, i) => ({ user_id: `u${i}`, movie_id: `m${i}`, type: 'view', at: '2026-01-01T00:00:00Z' })) };
    expect(JSON.stringify(events).length).toBeGreaterThan(16 * 1024);
    const accepted = await call(open, 'POST', '/test/events', { body: events, key: INGEST });
    expect(accepted.status).toBe(200);
    await expectError(await call(open, 'POST', '/test/events', { body: events, key: ADMIN }), 403, 'PERMISSION_DENIED', /scope 'ingest'/);
    await expectError(await call(open, 'POST', '/test/undeclared', { body: {} }), 401, 'UNAUTHENTICATED', /scope 'admin'/);
    expect((await call(open, 'POST', '/test/undeclared', { body: {}, key: ADMIN })).status).toBe(200);
  });

  it('keep client routes, probes, docs and metrics open by default', async () => {
    expect((await call(open, 'GET', '/genres')).status).toBe(200);
    expect((await call(open, 'GET', '/models')).status).toBe(200);
    expect((await call(open, 'GET', '/metrics')).status).toBe(200);
    expect((await call(open, 'GET', '/healthz')).status).toBe(200);
    expect((await call(open, 'GET', '/docs/json')).status).toBe(200);
    // POST /genres is a client route: it reaches recsvc (400 there: no such genre), not the key check.
    await expectError(await call(open, 'POST', '/genres', { body: { user_id: 'u1', genres: ['Nope'] } }), 400, 'INVALID_ARGUMENT');
  });

  it('require scope client for client routes and scope metrics for /metrics when configured', async () => {
    await expectError(await call(strict, 'GET', '/genres'), 401, 'UNAUTHENTICATED', /scope 'client'/);
    await expectError(await call(strict, 'GET', '/genres', { key: ADMIN }), 403, 'PERMISSION_DENIED');
    expect((await call(strict, 'GET', '/genres', { key: CLIENT })).status).toBe(200);
    // GET /models reaches the Trainer service, which with REQUIRE_KEY_FOR_CLIENT_ROUTES off lets reads through.
    expect((await call(strict, 'GET', '/models', { key: CLIENT })).status).toBe(200);
    await expectError(await call(strict, 'GET', '/metrics'), 401, 'UNAUTHENTICATED', /scope 'metrics'/);
    expect((await call(strict, 'GET', '/metrics', { key: METRICS })).status).toBe(200);
    expect((await call(strict, 'GET', '/healthz')).status).toBe(200);
    expect((await call(strict, 'GET', '/docs/json')).status).toBe(200);
    expect((await call(strict, 'GET', '/favicon.ico')).status).toBe(204);
  });

  it('rotate keys without a restart (gateway and Trainer share the file)', async () => {
    const next = 'gateway-admin-rotated-0123456789';
    writeFileSync(keysFile, `ops:admin:${next}\nfeed:ingest:${INGEST}\napp:client:${CLIENT}\nprom:metrics:${METRICS}\n`);
    keys.reload();
    const body = { version: '20990101T000000000Z-abcdef' };
    await expectError(await call(open, 'POST', '/models/als/activate', { body, key: ADMIN }), 401, 'UNAUTHENTICATED');
    await expectError(await call(open, 'POST', '/models/als/activate', { body, key: next }), 404, 'NOT_FOUND');
  });

  it('fail closed: a gateway without keys refuses every admin route', async () => {
    const bare = await startGateway(backend, {});
    try {
      await expectError(await call(bare, 'POST', '/training/runs', { body: {}, key: ADMIN }), 401, 'UNAUTHENTICATED');
      await expectError(await call(bare, 'POST', '/recommendations/refresh', { body: {} }), 401, 'UNAUTHENTICATED', /none is configured/);
    } finally {
      await bare.app.close();
    }
  });
});
