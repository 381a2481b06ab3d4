import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CallAbortedError, runInCallScope } from '../src/call-scope.js';
import { CircuitOpenError } from '../src/circuit-breaker.js';
import { UnavailableError } from '../src/errors.js';
import { MongoBulkWriteError, MongoNetworkError } from 'mongodb';
import { isConnectivityError, MongoStore, type MongoStoreOptions } from '../src/store/mongo-store.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';
import { listen, tcpRelay, type TcpRelay } from './support/tcp-relay.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
const relays: TcpRelay[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

describe('MongoStore fails fast', () => {
  it('rejects with UnavailableError when the server accepts TCP but never answers', async () => {
    // A black hole: connections are accepted and held, nothing is ever written back (a frozen server).
    const server = createServer((socket) => sockets.push(socket));
    servers.push(server);
    const port = await listen(server);
    const error = await MongoStore.connect(`mongodb://127.0.0.1:${port}/`, 'failfast', { timeoutMS: 300 }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(UnavailableError);
  }, 30_000);

  it('takes a bulk write stopped by a lost connection for the database being unreachable (a 503, not a 500)', () => {
    // As the fault suite's mongo-freeze saw it: insertMany failed with the pool cleared (a MongoNetworkError), which
    // the driver wraps in a MongoBulkWriteError and keeps as its errorResponse.
    const wrapped = new MongoBulkWriteError(new MongoNetworkError('Connection pool was cleared') as never, { insertedCount: 0 } as never);
    expect(isConnectivityError(wrapped)).toBe(true);
    expect(isConnectivityError(new MongoBulkWriteError({ message: 'E11000 duplicate key', code: 11000 }, { insertedCount: 0 } as never))).toBe(false);
  });

  it('rejects with UnavailableError when nothing listens', async () => {
    const server = createServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    await expect(MongoStore.connect(`mongodb://127.0.0.1:${port}/`, 'failfast', { timeoutMS: 300 })).rejects.toBeInstanceOf(UnavailableError);
  }, 30_000);
});

/**
 * A MongoStore on the real server behind a TCP relay (tcpRelay: frozen on demand, or every answer `delayMs` late),
 * on database MONGO_DB + `dbSuffix`; runs `fn`, then drops that database and closes the store.
 */
async function withRelayedStore(
  dbSuffix: string,
  options: MongoStoreOptions,
  fn: (store: MongoStore, relay: TcpRelay) => Promise<void>,
  relayOptions: { delayMs?: number } = {},
): Promise<void> {
  const env = realStorageEnv();
  const target = new URL(env.MONGO_URL!);
  const relay = tcpRelay(Number(target.port), target.hostname, relayOptions);
  relays.push(relay);
  const port = await listen(relay.server);
  const store = await MongoStore.connect(`mongodb://127.0.0.1:${port}/?directConnection=true`, `${env.MONGO_DB}${dbSuffix}`, options);
  try {
    await fn(store, relay);
  } finally {
    await store.dropDatabase().catch(() => undefined);
    await store.close();
  }
}

describeWithServers(['MONGO_URL'], 'MongoStore fails fast on a stalled real server and recovers by itself', () => {
  it('does not take a busy server for a stalled one: answers later than the stall probe period are waited for, and the circuit stays closed', async () => {
    // Every answer (pings included) comes 400 ms late: longer than the probe period (200 ms), within the budget.
    await withRelayedStore(
      '_busy',
      { timeoutMS: 10_000, stallProbeMs: 200, breakerFailures: 1 },
      async (store) => {
        await store.setFavoriteGenres('u1', ['Drama']);
        // Concurrent calls, each waiting more than twice the probe period: the old probe failed them all as stalled
        // (a ping unanswered within 200 ms) and opened the circuit.
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => (i % 2 ? store.getUser('u1') : store.setFavoriteGenres('u1', ['Comedy']))));
        expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
        expect(store.breaker?.state).toBe('closed');
        expect((await store.getUser('u1'))?.favoriteGenres).toEqual(['Comedy']);
      },
      { delayMs: 400 },
    );
  }, 60_000);

  it('answers UnavailableError while the server is frozen, and serves again once it thaws (the pool is not stuck)', async () => {
    await withRelayedStore('', { timeoutMS: 1_500, maxPoolSize: 4 }, async (store, relay) => {
      await store.init();
      await store.setFavoriteGenres('u1', ['Drama']);
      relay.freeze();
      // More concurrent calls than the pool has connections: every one fails fast, none waits for the others.
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (i % 2 ? store.getUser('u1') : store.setFavoriteGenres('u1', ['Comedy']))));
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof UnavailableError)).toBe(true);
      relay.thaw();
      // Recovers without a restart: the stalled connections were closed and replaced.
      let user = null;
      for (let attempt = 0; attempt < 50 && !user; attempt++) {
        user = await store.getUser('u1').catch(() => null);
        if (!user) await new Promise((r) => setTimeout(r, 200));
      }
      expect(user?.userId).toBe('u1');
      await store.setFavoriteGenres('u1', ['Horror']);
      expect((await store.getUser('u1'))?.favoriteGenres).toEqual(['Horror']);
    });
  }, 60_000);

  it('opens its circuit after consecutive failures (then rejects without waiting) and closes it by itself after the thaw', async () => {
    let now = 0;
    await withRelayedStore('_breaker', {
      timeoutMS: 1_000,
      breakerFailures: 3,
      breakerCoolDownMs: 1_000,
      now: () => now,
    }, async (store, relay) => {
      await store.setFavoriteGenres('u1', ['Drama']);
      relay.freeze();
      for (let i = 0; i < 3; i++) await expect(store.getUser('u1')).rejects.toBeInstanceOf(UnavailableError);
      // Open: rejected at once, nothing sent (a frozen database costs the request nothing).
      const open = await store.getUser('u1').then(() => null, (err: unknown) => err);
      expect(open).toBeInstanceOf(CircuitOpenError);
      expect(store.breaker?.state).toBe('open');
      // A duplicate key or another answer of the database is not a failure of it (checked after the thaw below).
      relay.thaw();
      expect(await store.getUser('u1').then(() => 'answered', (err: unknown) => err)).toBeInstanceOf(CircuitOpenError);
      now += 1_000; // the cool-down passes: one trial call goes through and closes the circuit
      let user = null;
      for (let attempt = 0; attempt < 50 && !user; attempt++) {
        user = await store.getUser('u1').catch(() => null);
        if (!user) {
          now += 1_000;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(user?.userId).toBe('u1');
      expect(store.breaker?.state).toBe('closed');
    });
  }, 60_000);

  it('gives a call up when its gRPC call is cancelled, and asks nothing for a call cancelled already; the circuit does not count it', async () => {
    await withRelayedStore('_cancel', {
      timeoutMS: 30_000,
      stallProbeMs: 20_000,
      breakerFailures: 1,
    }, async (store, relay) => {
      await store.setFavoriteGenres('u1', ['Drama']);
      relay.freeze();
      const client = new AbortController();
      const pending = runInCallScope({ signal: client.signal, deadline: Infinity }, () => store.getUser('u1')).then(() => null, (e: unknown) => e);
      client.abort(); // the client gave up while the database does not answer: the store's 30 s budget is not waited for
      expect(await pending).toBeInstanceOf(CallAbortedError);
      const again = await runInCallScope({ signal: client.signal, deadline: Infinity }, () => store.getUser('u1')).then(() => null, (e: unknown) => e);
      expect(again).toBeInstanceOf(CallAbortedError);
      expect(store.breaker?.state).toBe('closed');
      relay.thaw();
      expect((await store.getUser('u1'))?.favoriteGenres).toEqual(['Drama']);
    });
  }, 60_000);

  it('bounds a call by the gRPC call\'s deadline: the error comes before it, whatever the store\'s own budget', async () => {
    await withRelayedStore('_deadline', { timeoutMS: 20_000, stallProbeMs: 5_000 }, async (store, relay) => {
      await store.setFavoriteGenres('u1', ['Drama']);
      relay.freeze();
      const signal = new AbortController().signal;
      // 800 ms left in the call: the store gives up with DEADLINE_MARGIN_MS to spare, not after its 20 s budget.
      const err = await runInCallScope({ signal, deadline: Date.now() + 800 }, () => store.getUser('u1')).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      const budget = Number(/within its time budget \((\d+) ms\)/.exec((err as Error).message)?.[1]);
      expect(budget).toBeGreaterThan(0);
      expect(budget).toBeLessThanOrEqual(800);
      // No time left at all: refused without asking the database.
      const none = await runInCallScope({ signal, deadline: Date.now() + 100 }, () => store.getUser('u1')).then(() => null, (e: unknown) => e);
      expect((none as Error).message).toMatch(/no time was left before the call's deadline/);
      relay.thaw();
    });
  }, 60_000);

  it('tells a stalled server from a slow one: a call waiting on a server that does not answer a ping fails long before its budget', async () => {
    await withRelayedStore('_stall', { timeoutMS: 30_000, stallProbeMs: 200 }, async (store, relay) => {
      await store.setFavoriteGenres('u1', ['Drama']);
      relay.freeze();
      // The budget is 30 s (the test would time out waiting for it): the ping on the probe's own connection gets no
      // answer either, so the call is given up as stalled.
      const err = await store.getUser('u1').then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect((err as Error).message).toMatch(/does not answer \(stalled\)/);
      relay.thaw();
    });
  }, 20_000);
});
