import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { MemoryCache } from '../../lib/src/cache/memory-cache.js';
import { sendApiKey } from '../../lib/src/grpc/auth.js';
import { callUnary } from '../../lib/src/grpc/client.js';
import { createLogger } from '../../lib/src/logger.js';
import { DirectoryObjectStore } from '../../lib/src/objectstore/directory-object-store.js';
import {
  GetGenresTopRequest,
  IngestEventsRequest,
  InteractionType,
  RecommendationServiceClient,
  SetFavoriteGenresRequest,
} from '../../lib/src/proto.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { seedServingWorld } from '../../lib/test/support/fixtures.js';
import { loadRecsvcConfig } from '../src/config.js';
import { startRecsvc, type RunningRecsvc } from '../src/server.js';

const INGEST = 'recsvc-auth-ingest-0123456789abcdef';
const CLIENT = 'recsvc-auth-client-0123456789abcdef';

describe('recsvc checks API keys on its gRPC API like the REST routes in front of it', () => {
  const log = createLogger('test', 'silent');
  const keys = new ApiKeyStore({ inline: `ingester:ingest:${INGEST};app:client:${CLIENT}` });
  const servers: RunningRecsvc[] = [];
  const clients: grpc.Client[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const store = new MemoryStore();
    await seedServingWorld(store);
    const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-auth-')));
    await objects.ensureBucket();
    const recsvc = await startRecsvc(loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0', ...env }), log, { store, cache: new MemoryCache(), objects, apiKeys: keys });
    servers.push(recsvc);
    return recsvc;
  };
  const client = (recsvc: RunningRecsvc, secret?: string) => {
    const c = new RecommendationServiceClient(`127.0.0.1:${recsvc.port}`, grpc.credentials.createInsecure(), secret ? { interceptors: [sendApiKey(secret)] } : {});
    clients.push(c);
    return c;
  };
  const ingest = (c: RecommendationServiceClient, id: string) =>
    callUnary(
      c,
      c.ingestEvents,
      IngestEventsRequest.fromPartial({ events: [{ eventId: id, userId: 'u4', movieId: 'm1', type: InteractionType.INTERACTION_TYPE_BOOKMARKED, occurredAt: new Date() }] }),
      { timeoutMs: 5_000 },
    );
  const code = (p: Promise<unknown>) => p.then(() => grpc.status.OK, (err: grpc.ServiceError) => err.code);

  let open: RunningRecsvc;
  beforeAll(async () => {
    open = await start();
  });
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(servers.map((s) => s.shutdown(1_000)));
  });

  it('IngestEvents needs a key with scope ingest: UNAUTHENTICATED without one, PERMISSION_DENIED with another scope', async () => {
    expect(await code(ingest(client(open), 'auth-1'))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await code(ingest(client(open, 'not-a-configured-key-0123456789'), 'auth-2'))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await code(ingest(client(open, CLIENT), 'auth-3'))).toBe(grpc.status.PERMISSION_DENIED);
    await expect(ingest(client(open, INGEST), 'auth-4')).resolves.toMatchObject({ accepted: 1 });
  });

  it('the client calls, writes included, are open by default', async () => {
    const c = client(open);
    expect(await code(callUnary(c, c.listGenres, {}, { timeoutMs: 5_000 }))).toBe(grpc.status.OK);
    expect(await code(callUnary(c, c.getGenresTop, GetGenresTopRequest.fromPartial({ userId: 'u4', limit: 3 }), { timeoutMs: 5_000 }))).toBe(grpc.status.OK);
    expect(await code(callUnary(c, c.setFavoriteGenres, SetFavoriteGenresRequest.fromPartial({ userId: 'auth-user', genres: ['Comedy'] }), { timeoutMs: 5_000 }))).toBe(grpc.status.OK);
  });

  it('with REQUIRE_KEY_FOR_CLIENT_ROUTES the client calls need a key with scope client', async () => {
    const closed = await start({ REQUIRE_KEY_FOR_CLIENT_ROUTES: 'true' });
    const anonymous = client(closed);
    expect(await code(callUnary(anonymous, anonymous.listGenres, {}, { timeoutMs: 5_000 }))).toBe(grpc.status.UNAUTHENTICATED);
    const app = client(closed, CLIENT);
    expect(await code(callUnary(app, app.listGenres, {}, { timeoutMs: 5_000 }))).toBe(grpc.status.OK);
  });
});
