import { mkdtempSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallAbortedError } from '../src/call-scope.js';
import { isNetworkError } from '../src/dependency-errors.js';
import { UnavailableError } from '../src/errors.js';
import { isServiceStatus, toGrpcError } from '../src/grpc/status.js';
import { createLogger } from '../src/logger.js';
import { DirectoryObjectStore } from '../src/objectstore/directory-object-store.js';
import { S3ObjectStore } from '../src/objectstore/s3-object-store.js';
import type { ObjectStore } from '../src/objectstore/types.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { freePort } from './support/processes.js';
import { startStack, type TestStack } from './support/stack.js';

const log = createLogger('test', 'silent');

describe('dependency errors: unreachable is UNAVAILABLE, never INTERNAL', () => {
  it('recognises network errors by code, by the clients\' messages and through causes', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:9000'), { code: 'ECONNREFUSED' });
    expect(isNetworkError(refused)).toBe(true);
    expect(isNetworkError(new Error('Stream isn\'t writeable and enableOfflineQueue options is false'))).toBe(true);
    expect(isNetworkError(new Error('Command timed out'))).toBe(true);
    expect(isNetworkError(new Error('request failed', { cause: Object.assign(new Error('x'), { code: 'ETIMEDOUT' }) }))).toBe(true);
    expect(isNetworkError(new AggregateError([refused]))).toBe(true);
    expect(isNetworkError(new Error('duplicate key'))).toBe(false);
    expect(isNetworkError(new TypeError('x is undefined'))).toBe(false);
  });

  it('toGrpcError: a network error a client did not map becomes UNAVAILABLE without the address; others INTERNAL', () => {
    const mapped = toGrpcError(Object.assign(new Error('connect ECONNREFUSED 10.0.0.9:9000'), { code: 'ECONNREFUSED' }), log);
    expect(mapped.code).toBe(status.UNAVAILABLE);
    expect(mapped.details).not.toMatch(/10\.0\.0\.9/);
    expect(isServiceStatus(mapped as never)).toBe(true);
    expect(toGrpcError(new Error('bug'), log)).toMatchObject({ code: status.INTERNAL, details: 'internal error' });
    expect(toGrpcError(new UnavailableError('the database is unreachable'), log)).toMatchObject({ code: status.UNAVAILABLE });
    // Work given up because the client cancelled: CANCELLED, not an internal error.
    expect(toGrpcError(new CallAbortedError(), log)).toMatchObject({ code: status.CANCELLED });
  });

  it('S3ObjectStore: every operation on an unreachable server rejects with UnavailableError', async () => {
    const s3 = new S3ObjectStore({ endpoint: `http://127.0.0.1:${await freePort()}`, accessKey: 'a', secretKey: 'b', bucket: 'recsys-x', region: 'us-east-1' });
    for (const op of [() => s3.list('models/'), () => s3.get('models/als/ACTIVE'), () => s3.put('k', Buffer.from('v')), () => s3.ping(), () => s3.ensureBucket(), () => s3.remove(['k'])]) {
      const err = await op().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as Error).message).toMatch(/model store \(S3\) is unreachable/);
    }
  });

  it('S3ObjectStore: a frozen server (accepts, never answers) costs an operation timeoutMs, then UnavailableError', async () => {
    // What SIGSTOP does to an S3 server: the kernel accepts connections, nothing is ever read or answered.
    const frozen = await listening(createTcpServer(() => undefined));
    const sockets = tracked(frozen);
    try {
      const s3 = new S3ObjectStore({ endpoint: `http://127.0.0.1:${port(frozen)}`, accessKey: 'a', secretKey: 'b', bucket: 'recsys-x', region: 'us-east-1', timeoutMs: 200 });
      for (const op of [() => s3.list('models/'), () => s3.get('models/als/ACTIVE'), () => s3.put('k', Buffer.from('v')), () => s3.ping(), () => s3.remove(['k'])]) {
        const err = await op().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(UnavailableError);
      }
    } finally {
      await close(frozen, sockets);
    }
  });

  it('S3ObjectStore: a body that stops half-way rejects with UnavailableError (the timeout is per byte, not only to the headers)', async () => {
    const stalling = await listening(createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write(Buffer.alloc(10)); // 10 of the 1,000 bytes, then nothing
    }));
    const sockets = tracked(stalling);
    try {
      const s3 = new S3ObjectStore({ endpoint: `http://127.0.0.1:${port(stalling)}`, accessKey: 'a', secretKey: 'b', bucket: 'recsys-x', region: 'us-east-1', timeoutMs: 200 });
      const err = await s3.get('models/als/1/item_factors.f32').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
    } finally {
      await close(stalling, sockets);
    }
  });
});

const listening = <S extends Server>(server: S) => new Promise<S>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
const port = (server: Server) => (server.address() as { port: number }).port;
/** The server's connections, to be destroyed at close (a server closes only once its connections are gone). */
const tracked = (server: Server) => {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => sockets.add(socket));
  return sockets;
};
const close = (server: Server, sockets: Set<Socket>) => {
  for (const socket of sockets) socket.destroy();
  return new Promise<void>((resolve) => server.close(() => resolve()));
};

/** The stack's object store, switched to an S3 endpoint where nothing listens while `down`. */
class SwitchableObjectStore implements ObjectStore {
  down = false;
  constructor(
    private readonly up: ObjectStore,
    private readonly unreachable: ObjectStore,
  ) {}
  private get target() {
    return this.down ? this.unreachable : this.up;
  }
  ensureBucket = () => this.target.ensureBucket();
  put = (key: string, body: Buffer) => this.target.put(key, body);
  get = (key: string) => this.target.get(key);
  list = (prefix: string) => this.target.list(prefix);
  remove = (keys: readonly string[]) => this.target.remove(keys);
  ping = () => this.target.ping();
}

describe('REST answers while the object store (S3) is unreachable', () => {
  let stack: TestStack;
  let objects: SwitchableObjectStore;
  beforeAll(async () => {
    const unreachable = new S3ObjectStore({ endpoint: `http://127.0.0.1:${await freePort()}`, accessKey: 'a', secretKey: 'b', bucket: 'recsys-x', region: 'us-east-1' });
    objects = new SwitchableObjectStore(new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-s3-down-'))), unreachable);
    stack = await startStack(new MemoryStore(), { objects });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('GET /models and GET /models/{model_type}/config answer 503 with Retry-After, and 200 again when it is back', async () => {
    expect((await fetch(`${stack.baseUrl}/models`)).status).toBe(200);
    objects.down = true;
    try {
      for (const path of ['/models', '/models/als/config']) {
        const response = await fetch(`${stack.baseUrl}${path}`);
        expect(response.status, path).toBe(503);
        expect(response.headers.get('retry-after')).toBe('1');
        expect(await response.json()).toEqual({ error: { code: 'UNAVAILABLE', message: 'the model store (S3) is unreachable; try again shortly' } });
      }
    } finally {
      objects.down = false;
    }
    expect((await fetch(`${stack.baseUrl}/models`)).status).toBe(200);
  });
});
