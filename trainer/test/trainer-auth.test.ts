import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCache } from '../../lib/src/cache/memory-cache.js';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { callUnary } from '../../lib/src/grpc/client.js';
import { sendApiKey } from '../../lib/src/grpc/auth.js';
import { createLogger } from '../../lib/src/logger.js';
import { DirectoryObjectStore } from '../../lib/src/objectstore/directory-object-store.js';
import { ModelType, TrainerServiceClient } from '../../lib/src/proto.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { loadTrainerConfig } from '../src/config.js';
import { startTrainerApi } from '../src/server.js';

const ADMIN = 'trainer-auth-admin-0123456789';
const INGEST = 'trainer-auth-ingest-0123456789';
const CLIENT = 'trainer-auth-client-0123456789';
const log = createLogger('test', 'silent');

async function statusOf(promise: Promise<unknown>): Promise<grpc.status> {
  try {
    await promise;
    return grpc.status.OK;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
}

describe('Trainer gRPC API keys', () => {
  let dir: string;
  let keysFile: string;
  let keys: ApiKeyStore;
  let trainer: Awaited<ReturnType<typeof startTrainerApi>>;
  let strict: Awaited<ReturnType<typeof startTrainerApi>>;
  const clients: TrainerServiceClient[] = [];
  const client = (server: { port: number }, secret?: string, header: 'bearer' | 'x-api-key' = 'bearer') => {
    const interceptors: grpc.Interceptor[] = [];
    if (secret && header === 'bearer') interceptors.push(sendApiKey(secret));
    if (secret && header === 'x-api-key') {
      interceptors.push((options, next) => new grpc.InterceptingCall(next(options), { start: (md, l, n) => (md.set('x-api-key', secret), n(md, l)) }));
    }
    const c = new TrainerServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { interceptors });
    clients.push(c);
    return c;
  };
  const activate = (c: TrainerServiceClient) =>
    callUnary(c, c.activateModel, { modelType: ModelType.MODEL_TYPE_ALS, version: '20990101T000000000Z-abcdef' }, { timeoutMs: 5_000 });
  const listModels = (c: TrainerServiceClient) => callUnary(c, c.listModels, { modelType: 0 }, { timeoutMs: 5_000 });
  const deps = () => ({ store: new MemoryStore(), cache: new MemoryCache(), objects: new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-auth-'))) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'recsys-auth-keys-'));
    keysFile = join(dir, 'keys');
    writeFileSync(keysFile, `ops:admin:${ADMIN}\nfeed:ingest:${INGEST}\n`);
    keys = new ApiKeyStore({ file: keysFile });
    trainer = await startTrainerApi(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0' }), log, { ...deps(), apiKeys: keys });
    strict = await startTrainerApi(
      loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0', API_KEYS: `ops:admin:${ADMIN};app:client:${CLIENT}`, REQUIRE_KEY_FOR_CLIENT_ROUTES: 'true' }),
      log,
      deps(),
    );
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([trainer?.shutdown(1_000), strict?.shutdown(1_000)]);
    keys?.close();
  });

  it('refuse state-changing calls without a key (UNAUTHENTICATED) or with the wrong scope (PERMISSION_DENIED)', async () => {
    expect(await statusOf(activate(client(trainer)))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await statusOf(activate(client(trainer, 'no-such-key-0123456789')))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await statusOf(activate(client(trainer, INGEST)))).toBe(grpc.status.PERMISSION_DENIED);
    const c = client(trainer);
    expect(await statusOf(callUnary(c, c.startTraining, { modelTypes: [] }, { timeoutMs: 5_000 }))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await statusOf(callUnary(c, c.refreshRecommendations, { userId: '' }, { timeoutMs: 5_000 }))).toBe(grpc.status.UNAUTHENTICATED);
  });

  it('let an admin key through (Bearer or x-api-key) to the handler, which answers on its own terms', async () => {
    // The version does not exist: NOT_FOUND comes from the handler, so the key check passed.
    expect(await statusOf(activate(client(trainer, ADMIN)))).toBe(grpc.status.NOT_FOUND);
    expect(await statusOf(activate(client(trainer, ADMIN, 'x-api-key')))).toBe(grpc.status.NOT_FOUND);
  });

  it('keep reads open unless REQUIRE_KEY_FOR_CLIENT_ROUTES, then require scope client', async () => {
    expect(await statusOf(listModels(client(trainer)))).toBe(grpc.status.OK);
    expect(await statusOf(listModels(client(strict)))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await statusOf(listModels(client(strict, ADMIN)))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await statusOf(listModels(client(strict, CLIENT)))).toBe(grpc.status.OK);
  });

  it('rotate keys without a restart', async () => {
    const rotated = 'trainer-auth-rotated-0123456789';
    writeFileSync(keysFile, `ops:admin:${rotated}\n`);
    keys.reload();
    expect(await statusOf(activate(client(trainer, ADMIN)))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await statusOf(activate(client(trainer, rotated)))).toBe(grpc.status.NOT_FOUND);
  });

  it('fail closed: with no key configured every state-changing call is refused', async () => {
    const open = await startTrainerApi(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0' }), log, deps());
    try {
      const c = client(open, ADMIN);
      const err = await activate(c).catch((e: grpc.ServiceError) => e);
      expect((err as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
      expect(await statusOf(activate(client(open)))).toBe(grpc.status.UNAUTHENTICATED);
      expect((await activate(client(open)).catch((e: grpc.ServiceError) => e) as grpc.ServiceError).details).toMatch(/none is configured/);
    } finally {
      await open.shutdown(1_000);
    }
  });
});
