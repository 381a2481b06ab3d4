import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisCache } from '../src/cache/redis-cache.js';
import { CallAbortedError, currentCall, remainingMs } from '../src/call-scope.js';
import { startGrpcServer, unary, type RunningGrpcServer } from '../src/grpc/server.js';
import { createLogger } from '../src/logger.js';
import { GetGenresTopRequest, GetGenresTopResponse, ListGenresRequest, RecommendationServiceClient, RecommendationServiceService } from '../src/proto.js';
import { describeWithServers, serverUrl } from './support/servers.js';

describeWithServers(['REDIS_URL'], 'work stops when the client gave up (cancellation and deadlines reach the cache)', () => {
  const log = createLogger('test', 'silent');
  let cache: RedisCache;
  let server: RunningGrpcServer;
  let client: RecommendationServiceClient;
  /** What the handler saw after the client gave up: the key it tried to write and how that went. */
  let release: () => void = () => {};
  let lastSignal: AbortSignal | undefined;
  let outcome: Promise<{ key: string; aborted: boolean; remaining: number; error: unknown }>;
  let afterAnswer: Promise<{ key: string; aborted: boolean; error: unknown }>;
  let answered: () => void = () => {};
  const answerReceived = new Promise<void>((resolve) => (answered = resolve));

  beforeAll(async () => {
    cache = await RedisCache.connect(serverUrl('REDIS_URL')!);
    // ListGenres stands in for any handler: it waits until the test releases it, then writes to the cache.
    const listGenres = unary(
      'test/ListGenres',
      async (_request: unknown, context) => {
        const key = `test:cancel:${randomUUID()}`;
        const remaining = remainingMs();
        lastSignal = context.signal;
        outcome = (async () => {
          await new Promise<void>((resolve) => (release = resolve));
          const error = await cache.set(key, 'written after the client gave up', 60).then(() => undefined, (e: unknown) => e);
          return { key, aborted: context.signal.aborted && currentCall()?.signal.aborted === true, remaining, error };
        })();
        await outcome;
        return { genres: [] };
      },
      log,
    );
    // GetGenresTop answers at once and writes to the cache after its answer was sent (as a cache fill on a miss does).
    const getGenresTop = unary(
      'test/GetGenresTop',
      async (_request: unknown, context) => {
        const key = `test:after-answer:${randomUUID()}`;
        afterAnswer = (async () => {
          // Until the client has its answer and grpc-js has closed the stream (which it reports as 'cancelled').
          await answerReceived;
          await new Promise((resolve) => setTimeout(resolve, 50));
          const error = await cache.set(key, 'written after the answer', 60).then(() => undefined, (e: unknown) => e);
          return { key, aborted: context.signal.aborted, error };
        })();
        return GetGenresTopResponse.fromPartial({});
      },
      log,
    );
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      services: [{ name: 'recsys.v1.RecommendationService', definition: RecommendationServiceService, implementation: { listGenres, getGenresTop } }],
      log,
    });
    client = new RecommendationServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await server?.shutdown(1_000);
    await cache?.close();
  });

  it('the deadline aborts the call: the cache write after it is refused and never reaches Redis', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.listGenres(ListGenresRequest.fromPartial({}), new grpc.Metadata(), { deadline: Date.now() + 300 }, (e) => resolve(e!)),
    );
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(currentOutcomePending()).toBe(true);
    // The server's own deadline timer aborts the handler's signal (about when the client's fired).
    await expect.poll(() => lastSignal?.aborted).toBe(true);
    release();
    const { key, aborted, remaining, error } = await outcome;
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(300);
    expect(aborted).toBe(true);
    expect(error).toBeInstanceOf(CallAbortedError);
    expect(await cache.get(key)).toBeNull();
  });

  it('a cancelled call is aborted the same way', async () => {
    const call = client.listGenres(ListGenresRequest.fromPartial({}), new grpc.Metadata(), { deadline: Date.now() + 30_000 }, () => {});
    await expect.poll(() => currentOutcomePending()).toBe(true);
    call.cancel();
    // The server learns of the cancellation asynchronously: release once its signal says so.
    await expect.poll(() => lastSignal?.aborted).toBe(true);
    release();
    const { key, aborted, error } = await outcome;
    expect(aborted).toBe(true);
    expect(error).toBeInstanceOf(CallAbortedError);
    expect(await cache.get(key)).toBeNull();
  });

  it('a call that was answered is not aborted when its stream closes: work after the answer still reaches Redis', async () => {
    await new Promise<void>((resolve, reject) =>
      client.getGenresTop(GetGenresTopRequest.fromPartial({}), new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (e) => (e ? reject(e) : resolve())),
    );
    answered();
    const { key, aborted, error } = await afterAnswer;
    expect(aborted).toBe(false);
    expect(error).toBeUndefined();
    expect(await cache.get(key)).toBe('written after the answer');
  });

  let seen: unknown;
  /** True once the handler of the latest call has started (a new outcome promise exists). */
  function currentOutcomePending(): boolean {
    if (outcome && outcome !== seen) {
      seen = outcome;
      return true;
    }
    return false;
  }
});
