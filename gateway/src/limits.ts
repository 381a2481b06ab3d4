import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import cors from '@fastify/cors';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createRequire } from 'node:module';
import { env } from '../../lib/src/config.js';
import { CircuitBreaker } from '../../lib/src/circuit-breaker.js';
import { errorBody } from './http-errors.js';
import { LEASE_SCRIPT, LeasedCounters } from '../../lib/src/rate-limit-lease.js';

/**
 * The gateway's limits, read from the environment by gateway/src/config.ts (validated at start-up). Sizes in bytes,
 * times in milliseconds; README "Security" lists them.
 */
export const limitsEnvShape = {
  /** Requests per client (API key id, else client IP) per RATE_LIMIT_WINDOW_MS; 0 turns rate limiting off. */
  RATE_LIMIT_MAX: z.coerce.number().int().min(0).default(1_200),
  RATE_LIMIT_WINDOW_MS: env.positiveInt(60_000),
  /** Redis shared by every gateway replica for the rate-limit counters; unset: counters in this process only. */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  /** Redis commands of the rate limiter give up after this long; the request is then counted in this process. */
  RATE_LIMIT_REDIS_TIMEOUT_MS: env.positiveInt(100),
  /**
   * After 5 consecutive Redis failures the limiter counts in this process only (no Redis call at all) for this long,
   * then tries Redis again with one request.
   */
  RATE_LIMIT_REDIS_COOLDOWN_MS: env.positiveInt(1_000),
  /** Largest JSON body of most routes. */
  BODY_LIMIT_BYTES: env.positiveInt(16 * 1024),
  /** Largest body of batch routes (`config: { bodyLimit: 'batch' }`, e.g. POST /events with 1,000 events). */
  BATCH_BODY_LIMIT_BYTES: env.positiveInt(1024 * 1024),
  /** A refused (413) body up to this size is read and discarded so the client gets the 413, not a reset. */
  BODY_DRAIN_MAX_BYTES: env.positiveInt(16 * 1024 * 1024),
  /** Longest path parameter (ids are at most 64 characters); longer ones get 414. */
  MAX_PARAM_LENGTH: z.coerce.number().int().min(16).max(2_048).default(200),
  /** Largest request head (request line and headers); larger ones get 431. */
  MAX_HEADER_BYTES: z.coerce.number().int().min(1_024).max(1024 * 1024).default(16 * 1024),
  /** The whole head must arrive within this time (slow-header clients are cut off with 408). */
  HEADERS_TIMEOUT_MS: env.positiveInt(10_000),
  /** The whole request, body included, must arrive within this time (408). */
  REQUEST_TIMEOUT_MS: env.positiveInt(30_000),
  /** Idle keep-alive connections are closed after this time. */
  KEEP_ALIVE_TIMEOUT_MS: env.positiveInt(5_000),
  /** A socket with no traffic at all for this long is destroyed. */
  CONNECTION_TIMEOUT_MS: env.positiveInt(60_000),
  /** Requests in progress at once; more are shed with 503 and Retry-After. */
  MAX_CONCURRENT_REQUESTS: env.positiveInt(512),
  /** Retry-After (seconds) of a shed request. */
  SHED_RETRY_AFTER_SECONDS: env.positiveInt(1),
  /** Browser origins allowed by CORS, comma-separated exact origins (https://app.example.com); empty: none. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s*]+$/, 'each origin must be scheme://host[:port], without path or wildcard'))),
  /** Trust X-Forwarded-For from this many proxy hops in front of the gateway (0: use the socket address). */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
};

/** The resolved limits; every field has the default of limitsEnvShape. */
export interface GatewayLimits {
  RATE_LIMIT_MAX: number;
  RATE_LIMIT_WINDOW_MS: number;
  REDIS_URL?: string;
  RATE_LIMIT_REDIS_TIMEOUT_MS: number;
  RATE_LIMIT_REDIS_COOLDOWN_MS: number;
  BODY_LIMIT_BYTES: number;
  BATCH_BODY_LIMIT_BYTES: number;
  BODY_DRAIN_MAX_BYTES: number;
  MAX_PARAM_LENGTH: number;
  MAX_HEADER_BYTES: number;
  HEADERS_TIMEOUT_MS: number;
  REQUEST_TIMEOUT_MS: number;
  KEEP_ALIVE_TIMEOUT_MS: number;
  CONNECTION_TIMEOUT_MS: number;
  MAX_CONCURRENT_REQUESTS: number;
  SHED_RETRY_AFTER_SECONDS: number;
  CORS_ORIGINS: string[];
  TRUST_PROXY_HOPS: number;
}

/** The defaults, or overrides checked by the same schema (for tests and embedding). */
export function resolveLimits(overrides: Partial<Record<keyof GatewayLimits, unknown>> = {}): GatewayLimits {
  const source = Object.fromEntries(
    Object.entries(overrides)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]),
  );
  return z.object(limitsEnvShape).parse(source);
}

/** Paths that are never shed, rate limited or refused for load: probes must answer an overloaded gateway. */
const PROBES = new Set(['/healthz', '/readyz']);
const pathOf = (url: string) => url.split('?')[0];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `batch`: the route accepts bodies up to BATCH_BODY_LIMIT_BYTES instead of BODY_LIMIT_BYTES. */
    bodyLimit?: 'batch';
  }
}

/**
 * Per-route body limits from `config.bodyLimit`; call before routes are added (an onRoute hook).
 */
export function applyBodyLimits(app: FastifyInstance, limits: GatewayLimits): void {
  app.addHook('onRoute', (route) => {
    if (route.config?.bodyLimit === 'batch') route.bodyLimit = limits.BATCH_BODY_LIMIT_BYTES;
  });
}

/**
 * A refused body (413 before it was read, or 401/403 on a POST) is read and discarded up to BODY_DRAIN_MAX_BYTES
 * after the answer, so the client receives the answer instead of a connection reset (closing a socket with unread
 * data makes the kernel send RST, which discards the response in flight). Bigger bodies: the connection is closed.
 */
export function drainRefusedBodies(app: FastifyInstance, limits: GatewayLimits): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const raw = request.raw;
    if (raw.complete || reply.statusCode < 400) return payload;
    const declared = Number(request.headers['content-length'] ?? 0);
    if (declared > limits.BODY_DRAIN_MAX_BYTES) {
      reply.header('connection', 'close');
      return payload;
    }
    // Keep the connection: Node discards the rest of the body after the response (or keeps the flowing stream).
    reply.removeHeader('connection');
    let seen = 0;
    raw.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limits.BODY_DRAIN_MAX_BYTES) raw.socket?.destroy();
    });
    raw.resume();
    return payload;
  });
}

/**
 * Caps requests in progress: beyond MAX_CONCURRENT_REQUESTS a request is answered 503 with Retry-After at once,
 * before its body is read. Probes are exempt.
 */
export function shedLoad(app: FastifyInstance, limits: GatewayLimits): { inFlight: () => number } {
  let inFlight = 0;
  app.addHook('onRequest', async (request, reply) => {
    if (PROBES.has(pathOf(request.url))) return;
    if (inFlight >= limits.MAX_CONCURRENT_REQUESTS) {
      return reply
        .status(503)
        .header('retry-after', String(limits.SHED_RETRY_AFTER_SECONDS))
        .send(errorBody('UNAVAILABLE', `the gateway is at its limit of ${limits.MAX_CONCURRENT_REQUESTS} requests in progress: retry after ${limits.SHED_RETRY_AFTER_SECONDS} s`));
    }
    inFlight++;
    let released = false;
    const release = () => {
      if (!released) inFlight--;
      released = true;
    };
    reply.raw.once('close', release);
    reply.raw.once('finish', release);
  });
  return { inFlight: () => inFlight };
}

/** A @fastify/rate-limit store: `incr(key, cb, timeWindow, max)` and `child(routeOptions)`. */
interface RateLimitStore {
  incr(key: string, cb: (err: Error | null, result: { current: number; ttl: number } | null) => void, timeWindow: number, max: number): void;
  child(routeOptions: unknown): RateLimitStore;
}
type StoreConstructor = new (continueExceeding: boolean, exponentialBackoff: boolean, ...rest: unknown[]) => RateLimitStore;
// The plugin's own two stores (CommonJS files without type declarations).
const requirePlugin = createRequire(import.meta.resolve('@fastify/rate-limit'));
const RedisStore = requirePlugin('./store/RedisStore.js') as StoreConstructor;
const LocalStore = requirePlugin('./store/LocalStore.js') as StoreConstructor;

const RATE_LIMIT_NAMESPACE = 'recsys-gateway-ratelimit:';
/** Consecutive Redis failures after which the rate limiter counts locally without asking Redis. */
const RATE_LIMIT_BREAKER_FAILURES = 5;

/** The ioredis command of a lease (LEASE_SCRIPT), defined once per client. */
type LeaseCommand = (key: string, windowMs: number, amount: number) => Promise<[number, number]>;

function leaseCommand(redis: Redis): LeaseCommand {
  const withCommand = redis as Redis & { rateLimitLease?: LeaseCommand };
  if (!withCommand.rateLimitLease) redis.defineCommand('rateLimitLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
  return (key, windowMs, amount) => (redis as Redis & { rateLimitLease: LeaseCommand }).rateLimitLease(key, windowMs, amount);
}

/**
 * The rate limiter's store: counters in Redis (shared by every replica) taken in leases (lib/src/rate-limit-lease.ts:
 * one Redis round trip per 1% of the limit, never more than the limit across replicas) through a circuit breaker, and
 * counters in this process while Redis fails or the breaker is open, so a down or frozen Redis never fails or stalls
 * a request (at most RATE_LIMIT_REDIS_TIMEOUT_MS while the breaker learns of it) and clients are still limited, per
 * replica. Per-route limits (`config.rateLimit`, none so far) count every request in Redis.
 */
export function redisWithLocalFallbackStore(redis: Redis, breaker: CircuitBreaker) {
  const lease = leaseCommand(redis);
  return class RedisWithLocalFallback implements RateLimitStore {
    private readonly leased?: LeasedCounters;

    constructor(
      params: { continueExceeding?: boolean; exponentialBackoff?: boolean },
      private readonly remote: RateLimitStore = new RedisStore(!!params.continueExceeding, !!params.exponentialBackoff, redis, RATE_LIMIT_NAMESPACE),
      private readonly local: RateLimitStore = new LocalStore(!!params.continueExceeding, !!params.exponentialBackoff),
      leasing = !params.continueExceeding && !params.exponentialBackoff,
    ) {
      if (leasing) {
        this.leased = new LeasedCounters(async (key, amount, windowMs) => {
          const [current, ttlMs] = await breaker.run(() => lease(`${RATE_LIMIT_NAMESPACE}${key}`, windowMs, amount));
          return { current: Number(current), ttlMs: Number(ttlMs) };
        });
      }
    }

    incr(key: string, cb: (err: Error | null, result: { current: number; ttl: number } | null) => void, timeWindow: number, max: number): void {
      if (this.leased) {
        const counted = this.leased.incr(key, timeWindow, max);
        if (!(counted instanceof Promise)) return cb(null, counted);
        counted.then(
          (result) => cb(null, result),
          () => this.local.incr(key, cb, timeWindow, max),
        );
        return;
      }
      if (!breaker.allowsCalls) return this.local.incr(key, cb, timeWindow, max);
      breaker
        .run(
          () =>
            new Promise<{ current: number; ttl: number }>((resolve, reject) =>
              this.remote.incr(key, (err, result) => (err || !result ? reject(err ?? new Error('no result')) : resolve(result)), timeWindow, max),
            ),
        )
        .then(
          (result) => cb(null, result),
          () => this.local.incr(key, cb, timeWindow, max),
        );
    }

    child(routeOptions: { continueExceeding?: boolean; exponentialBackoff?: boolean }): RateLimitStore {
      return new RedisWithLocalFallback(routeOptions, this.remote.child(routeOptions), this.local.child(routeOptions), false);
    }
  };
}

/**
 * Per-client rate limits: counters in Redis when REDIS_URL is set (shared by every replica), in this process
 * otherwise, and in this process too while Redis is down or stalled (redisWithLocalFallbackStore). The client is the
 * API key's id when a valid key is sent, else the client address. 429 with Retry-After and RateLimit headers when
 * exceeded. Returns the Redis breaker (for the `rate_limit_circuit_state` gauge), if Redis is used.
 */
export async function registerRateLimit(
  app: FastifyInstance,
  limits: GatewayLimits,
  clientKey: (request: FastifyRequest) => string,
  redis?: Redis,
): Promise<CircuitBreaker | undefined> {
  if (limits.RATE_LIMIT_MAX === 0) return undefined;
  const breaker = redis
    ? new CircuitBreaker({ name: 'the rate-limit Redis', failureThreshold: RATE_LIMIT_BREAKER_FAILURES, coolDownMs: limits.RATE_LIMIT_REDIS_COOLDOWN_MS })
    : undefined;
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: limits.RATE_LIMIT_MAX,
    timeWindow: limits.RATE_LIMIT_WINDOW_MS,
    ...(redis && breaker ? { store: redisWithLocalFallbackStore(redis, breaker) as never } : {}),
    skipOnError: true,
    keyGenerator: clientKey,
    allowList: (request) => PROBES.has(pathOf(request.url)),
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`rate limit of ${context.max} requests per ${context.after} exceeded: retry after the Retry-After seconds`), {
        statusCode: context.statusCode,
        code: 'RESOURCE_EXHAUSTED',
      }),
  });
  return breaker;
}

/**
 * The ioredis client of the rate limiter: short timeouts, no offline queue (a down Redis costs a few ms). Waits up
 * to `readyWithinMs` for the first connection, so the first requests are counted too; if Redis is not there by
 * then, the gateway starts anyway and counts once it connects.
 */
export async function rateLimitRedis(limits: GatewayLimits, onError: (err: Error) => void, readyWithinMs = 2_000): Promise<Redis | undefined> {
  if (!limits.REDIS_URL || limits.RATE_LIMIT_MAX === 0) return undefined;
  const redis = new Redis(limits.REDIS_URL, {
    connectTimeout: 2_000,
    commandTimeout: limits.RATE_LIMIT_REDIS_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  redis.on('error', onError);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, readyWithinMs);
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
    redis.once('ready', done);
  });
  return redis;
}

/** CORS for the configured origins only; with none, no CORS headers are sent and browsers keep the same-origin rule. */
export async function registerCors(app: FastifyInstance, limits: GatewayLimits): Promise<void> {
  if (limits.CORS_ORIGINS.length === 0) return;
  await app.register(cors, {
    origin: limits.CORS_ORIGINS,
    methods: ['GET', 'POST'],
    allowedHeaders: ['content-type', 'authorization', 'x-api-key', 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
    credentials: false,
    maxAge: 600,
    strictPreflight: true,
  });
}
