import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { API_METHODS } from '../src/http-errors.js';
import { rawRequest, startBackend, startGateway, type Backend, type Gateway, type RawResponse } from './support/secure-stack.js';

const ADMIN = 'contract-admin-secret-0123456789';

/**
 * Everything the gateway can answer, driven with raw HTTP on a socket: the JSON error body, a status that says what
 * went wrong, no echo of the request, no hang, no reset.
 */
describe('the one error contract', () => {
  let keys: ApiKeyStore;
  let backend: Backend;
  let gw: Gateway;

  beforeAll(async () => {
    keys = new ApiKeyStore({ inline: `ops:admin:${ADMIN}` });
    backend = await startBackend(keys);
    gw = await startGateway(backend, {
      apiKeys: keys,
      limits: { HEADERS_TIMEOUT_MS: 300, REQUEST_TIMEOUT_MS: 600, BODY_DRAIN_MAX_BYTES: 8 * 1024 * 1024 },
    });
  });
  afterAll(async () => {
    await gw?.app.close();
    await backend?.close();
  });

  const head = (method: string, path: string, headers: Record<string, string | number> = {}) =>
    `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
  const post = (path: string, body: string | Buffer, contentType = 'application/json', extra: Record<string, string> = {}) =>
    rawRequest(gw.port, head('POST', path, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), ...extra }), { body: Buffer.from(body) });

  /** The JSON error body with `code`, and nothing of the request's `notEchoed` text in it. */
  function expectError(response: RawResponse, status: number, code: string, notEchoed?: string) {
    expect(response.status, response.body).toBe(status);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(response.body);
    expect(body).toEqual({ error: { code, message: expect.any(String) } });
    expect(body.error.message.length).toBeLessThan(300);
    if (notEchoed) expect(response.body).not.toContain(notEchoed);
  }

  it('404 for unknown paths, 405 with Allow for known paths and other methods, 501 for unknown methods', async () => {
    expectError(await rawRequest(gw.port, head('GET', '/nope')), 404, 'NOT_FOUND');
    for (const method of ['PUT', 'DELETE', 'PATCH', 'PROPFIND', 'LOCK', 'MKCOL', 'SEARCH', 'PURGE', 'OPTIONS', 'TRACE']) {
      const response = await rawRequest(gw.port, head(method, '/genres', { 'content-length': 0 }));
      expectError(response, 405, 'METHOD_NOT_ALLOWED');
      expect(response.headers.allow).toBe('GET, HEAD, POST');
    }
    const param = await rawRequest(gw.port, head('DELETE', '/recommendations/u1'));
    expectError(param, 405, 'METHOD_NOT_ALLOWED');
    expect(param.headers.allow).toBe('GET, HEAD');
    expectError(await rawRequest(gw.port, head('DELETE', '/no/such/thing')), 404, 'NOT_FOUND');
    const unknown = await rawRequest(gw.port, head('FOO', '/genres'));
    expectError(unknown, 501, 'NOT_IMPLEMENTED');
    // The message names every method the API's routes use (it said "GET and POST" while the catalogue uses more).
    expect(JSON.parse(unknown.body).error.message).toBe(`unknown HTTP method: this API uses ${API_METHODS.join(', ')}`);
    const documented = JSON.parse((await rawRequest(gw.port, head('GET', '/docs/json'))).body) as { paths: Record<string, Record<string, unknown>> };
    const used = new Set(Object.values(documented.paths).flatMap((ops) => Object.keys(ops).map((m) => m.toUpperCase())));
    expect(used.size).toBeGreaterThan(3);
    for (const method of used) expect(API_METHODS).toContain(method);
    // A trailing slash is the same route (it answered 405 "GET is not allowed here: use GET or HEAD or POST").
    const slash = await rawRequest(gw.port, head('GET', '/genres/'));
    expect(slash.status, slash.body).toBe(200);
    expectError(await rawRequest(gw.port, head('CONNECT', 'example.com:443')), 405, 'METHOD_NOT_ALLOWED');
    expectError(await rawRequest(gw.port, 'HELLO\r\n\r\n'), 501, 'NOT_IMPLEMENTED');
    expectError(await rawRequest(gw.port, 'GET /genres HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'), 400, 'INVALID_ARGUMENT', 'no colon');
  });

  it('413 for bodies over the limit, received in full (no reset), the connection still usable', async () => {
    const body = JSON.stringify({ user_id: 'u1', genres: ['Comedy'], pad: 'x'.repeat(100_000) });
    const response = await post('/genres', body);
    expectError(response, 413, 'PAYLOAD_TOO_LARGE', 'xxxxxxxxxx');
    expect(JSON.parse(response.body).error.message).toMatch(/at most 16384 bytes/);
    // A 5 MB body sent in one go: the client gets the 413, not ECONNRESET/EPIPE.
    const huge = Buffer.alloc(5_000_000, 'a');
    const big = await post('/genres', huge);
    expectError(big, 413, 'PAYLOAD_TOO_LARGE');
    expect(big.socketError).toBeUndefined();
    // The server reads and discards the refused body instead of closing with unread data (which makes the kernel
    // send a reset that can destroy the 413 in flight): after the whole body, the same connection serves again.
    const answers = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(gw.port, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => {
        text += d.toString('latin1');
        if (/HTTP\/1\.1 413[\s\S]*HTTP\/1\.1 200[\s\S]*"ok"/.test(text)) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
      socket.write(head('POST', '/genres', { 'content-type': 'application/json', 'content-length': huge.length }));
      socket.write(huge, () => socket.write(head('GET', '/healthz')));
    });
    expect(answers).toMatch(/^HTTP\/1\.1 413[\s\S]*HTTP\/1\.1 200/);
    // Chunked, without Content-Length: refused once the limit is passed.
    const chunk = 'x'.repeat(20_000);
    const chunked = await rawRequest(gw.port, head('POST', '/genres', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }), {
      body: Buffer.from(`${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`),
    });
    expectError(chunked, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('414 for path parameters over the limit, without the path in the answer', async () => {
    const id = 'a'.repeat(250);
    expectError(await rawRequest(gw.port, head('GET', `/recommendations/${id}`)), 414, 'URI_TOO_LONG', id.slice(0, 120));
    // Up to the limit the id reaches validation: ids are at most 64 characters.
    expectError(await rawRequest(gw.port, head('GET', `/recommendations/${'b'.repeat(150)}`)), 400, 'INVALID_ARGUMENT', 'b'.repeat(100));
  });

  it('415 for bodies that are not JSON, 400 for broken, empty, deep or wrongly shaped JSON', async () => {
    expectError(await post('/genres', '<genres/>', 'text/xml'), 415, 'UNSUPPORTED_MEDIA_TYPE', '<genres/>');
    expectError(await post('/genres', 'user_id=u1', 'application/x-www-form-urlencoded'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await post('/genres', 'user_id=u1', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    expectError(await post('/genres', '{"user_id": '), 400, 'INVALID_ARGUMENT');
    expectError(await post('/genres', ''), 400, 'INVALID_ARGUMENT');
    const deep = `${'['.repeat(7_000)}${']'.repeat(7_000)}`;
    expectError(await post('/genres', deep), 400, 'INVALID_ARGUMENT');
    const deepObject = `${'{"a":'.repeat(2_500)}1${'}'.repeat(2_500)}`;
    expectError(await post('/genres', deepObject), 400, 'INVALID_ARGUMENT');
    expectError(await post('/genres', '{"user_id":"u1","genres":["Comedy"],"__proto__":{"admin":true}}'), 400, 'INVALID_ARGUMENT');
  });

  it('431 for oversized headers, 408 for clients too slow to send their head or body', async () => {
    const big = 'a'.repeat(20_000);
    expectError(await rawRequest(gw.port, head('GET', '/genres', { 'x-big': big })), 431, 'HEADERS_TOO_LARGE', big.slice(0, 50));
    // A head that never ends: cut off (the timeout is 300 ms here) with 408.
    expectError(await rawRequest(gw.port, 'GET /genres HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n'), 408, 'REQUEST_TIMEOUT');
    // A body that never arrives in full.
    expectError(
      await rawRequest(gw.port, head('POST', '/genres', { 'content-type': 'application/json', 'content-length': 100 }), { body: Buffer.from('{"user_id"') }),
      408,
      'REQUEST_TIMEOUT',
    );
  });

  it('400 for repeated query keys, bad percent-encoding and odd characters; 404 for path traversal; no echo', async () => {
    expectError(await rawRequest(gw.port, head('GET', '/genres_top?user_id=a&user_id=b')), 400, 'INVALID_ARGUMENT');
    expectError(await rawRequest(gw.port, head('GET', '/recommendations/u1?k=1&k=2')), 400, 'INVALID_ARGUMENT');
    expectError(await rawRequest(gw.port, head('GET', '/recommendations/%E0%A4%A')), 400, 'INVALID_ARGUMENT', '%E0%A4%A');
    expectError(await rawRequest(gw.port, head('GET', '/recommendations/%F0%9F%98%80')), 400, 'INVALID_ARGUMENT');
    expectError(await rawRequest(gw.port, head('GET', '/recommendations/%3Cscript%3E')), 400, 'INVALID_ARGUMENT', '<script>');
    expectError(await rawRequest(gw.port, head('GET', '/genres_top?user_id=%00')), 400, 'INVALID_ARGUMENT');
    for (const path of ['/../../etc/passwd', '/docs/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/console/..%2f..%2fpackage.json', '/\u00e9t\u00e9']) {
      const response = await rawRequest(gw.port, head('GET', encodeURI(path).replaceAll('%25', '%')));
      expect([400, 404], path).toContain(response.status);
      expectError(response, response.status, response.status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT', '<');
      expect(response.body).not.toContain('root:');
    }
    const script = await rawRequest(gw.port, head('GET', '/<script>alert(1)</script>'));
    expect([400, 404]).toContain(script.status);
    expect(script.body).not.toContain('<script>');
  });

  it('answers an admin route with a body the same way, key or not, before reading the body', async () => {
    const response = await post('/training/runs', JSON.stringify({ models: ['als'] }));
    expectError(response, 401, 'UNAUTHENTICATED');
    const huge = await post('/training/runs', Buffer.alloc(2_000_000, 'a'));
    expectError(huge, 401, 'UNAUTHENTICATED');
    expect(huge.socketError).toBeUndefined();
  });
});

describe('upstream failures', () => {
  it('keep the services\' own messages and hide grpc-js transport details (addresses, socket errors)', async () => {
    const { revealsInternals } = await import('../src/http-errors.js');
    for (const internal of [
      'No connection established. Last error: connect ECONNREFUSED 127.0.0.1:50051',
      'Deadline exceeded after 5.002s,LB pick: 0.001s,remote_addr=10.0.0.7:50052',
      'Name resolution failed for target dns:recsvc:50051',
      'read ECONNRESET',
      'failed to connect to all addresses; last error: UNKNOWN: ipv6:[::1]:50051',
    ]) expect(revealsInternals(internal), internal).toBe(true);
    for (const own of ['the database is unreachable: retry shortly', 'the model store is unavailable', 'call cancelled or deadline exceeded']) {
      expect(revealsInternals(own), own).toBe(false);
    }
  });

  it('answer 503 with a generic message and Retry-After when a backend cannot be reached', async () => {
    const { startGateway: start } = await import('./support/secure-stack.js');
    const { Upstreams } = await import('../src/upstreams.js');
    const upstreams = new Upstreams('127.0.0.1:1', '127.0.0.1:1', 2_000);
    const gw = await start({ upstreams } as unknown as Backend, {});
    try {
      const response = await fetch(`${gw.url}/genres`);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ error: { code: 'UNAVAILABLE', message: 'a backend service is unavailable: retry shortly' } });
      expect(text).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    } finally {
      await gw.app.close();
      upstreams.close();
    }
  });

  it('pass a service\'s own 503 message on, and answer any other 5xx status generically, both with Retry-After', async () => {
    const { RecommendationServiceService } = await import('../../lib/src/proto.js');
    const { grpcError } = await import('../../lib/src/grpc/status.js');
    const { Upstreams } = await import('../src/upstreams.js');
    const { startGateway: start } = await import('./support/secure-stack.js');
    // A stand-in recsvc whose ListGenres fails: with a status of the service's own (grpcError), or a bare one as a
    // proxy or a foreign server would send it (no recsys-status-source trailer).
    let own = true;
    const server = new grpc.Server();
    server.addService(RecommendationServiceService, {
      listGenres: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
        callback(own ? grpcError(grpc.status.UNAVAILABLE, 'the database is unreachable; try again shortly') : { code: grpc.status.UNAVAILABLE, details: 'upstream pool recsvc-7 drained' }),
    } as unknown as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const upstreams = new Upstreams(`127.0.0.1:${port}`, '127.0.0.1:1', 2_000);
    const gw = await start({ upstreams } as unknown as Backend, {});
    try {
      const first = await fetch(`${gw.url}/genres`);
      expect(first.status).toBe(503);
      expect(first.headers.get('retry-after')).toBe('1');
      expect(await first.json()).toEqual({ error: { code: 'UNAVAILABLE', message: 'the database is unreachable; try again shortly' } });
      own = false;
      const second = await fetch(`${gw.url}/genres`);
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toBe('1');
      expect(await second.json()).toEqual({ error: { code: 'UNAVAILABLE', message: 'a backend service is unavailable: retry shortly' } });
    } finally {
      await gw.app.close();
      upstreams.close();
      server.forceShutdown();
    }
  });
});
