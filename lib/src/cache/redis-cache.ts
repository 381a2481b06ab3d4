import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { CircuitBreaker, registerBreakerGauge, type BreakerState } from '../circuit-breaker.js';
import { currentCall, throwIfCallAborted } from '../call-scope.js';
import type { Cache } from './types.js';

/** Default REDIS_COMMAND_TIMEOUT_MS: a cache command that has not answered within 250 ms is given up (the list is computed). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 250;

/** How long a cache command may take and when the cache is skipped (REDIS_COMMAND_TIMEOUT_MS, REDIS_BREAKER_*). */
export interface RedisCacheOptions {
  /**
   * A command gives up after this many milliseconds (ioredis commandTimeout). Default DEFAULT_COMMAND_TIMEOUT_MS
   * (250): what a frozen Redis costs a request until the breaker opens. An event-loop stall longer than this can fire
   * the timer before the reply is read: that request then only skips the cache.
   */
  commandTimeoutMs?: number;
  /** Bulk writes (setMany: the trainer's refresh jobs) and publish give up after this many milliseconds. Default 10000. */
  bulkTimeoutMs?: number;
  /** Consecutive failures that open the circuit. Default 5. */
  breakerFailures?: number;
  /** Milliseconds the circuit stays open before a trial command. Default 1000. */
  breakerCoolDownMs?: number;
  /** Prefix of every key (REDIS_KEY_PREFIX; ioredis keyPrefix): deployments or test suites sharing one Redis. Channels are not prefixed. */
  keyPrefix?: string;
  /** Clock of the breaker (tests). */
  now?: () => number;
}

/**
 * The cache on Redis. A stopped or frozen Redis costs a request little: no offline queue (a command while
 * disconnected fails at once), a command timeout, and a circuit breaker that, after a few consecutive failures,
 * fails every cache command at once (CircuitOpenError, without touching the connection) until a trial command after
 * the cool-down succeeds. ioredis reconnects by itself, so the cache comes back without a restart. Reads and writes
 * made for a gRPC call that was cancelled or passed its deadline are refused (CallAbortedError) without a command.
 */
export class RedisCache implements Cache {
  private subscriber: Redis | undefined;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();
  readonly breaker: CircuitBreaker;
  private readonly stateListeners = new Set<(state: BreakerState) => void>();
  private bulk: Promise<Redis> | undefined;

  constructor(
    private readonly client: Redis,
    private readonly options: RedisCacheOptions = {},
  ) {
    this.breaker = new CircuitBreaker({
      name: 'the Redis cache',
      failureThreshold: options.breakerFailures ?? 5,
      coolDownMs: options.breakerCoolDownMs ?? 1_000,
      now: options.now,
      onStateChange: (state) => this.stateListeners.forEach((listener) => listener(state)),
    });
  }

  /** Connects eagerly so that a wrong URL fails at start-up; commands fail fast while disconnected. */
  static async connect(url: string, options: RedisCacheOptions = {}): Promise<RedisCache> {
    // Auto-pipelining batches the commands of concurrent requests into one write per event-loop tick.
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 5_000,
      commandTimeout: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      enableAutoPipelining: true,
      ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
    });
    // ioredis reconnects by itself; errors surface on the commands that fail.
    client.on('error', () => {});
    await client.connect();
    return new RedisCache(client, options);
  }

  /** Calls `listener` on every change of the breaker's state (closed, open, half_open). */
  onBreakerState(listener: (state: BreakerState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Registers `{prefix}_circuit_state{dependency="redis"}` (0 closed, 1 half-open, 2 open) in a registry. */
  registerMetrics(registry: Registry, prefix = 'cache'): void {
    registerBreakerGauge(registry, `${prefix}_circuit_state`, { redis: this.breaker });
  }

  get redis(): Redis {
    return this.client;
  }

  async get(key: string): Promise<string | null> {
    throwIfCallAborted();
    return this.breaker.run(() => this.client.get(key));
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    if (keys.length === 0) return [];
    throwIfCallAborted();
    return this.breaker.run(() => this.client.mget(...keys));
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    throwIfCallAborted();
    await this.breaker.run(() => this.client.set(key, value, 'EX', ttlSeconds));
  }

  /**
   * Several keys in one pipeline. Inside a gRPC call (a request: e.g. feedback's new stamp) it is request-path work:
   * the request connection, its command timeout and the breaker, so a frozen Redis costs the request at most
   * `commandTimeoutMs` (it cost the bulk limit, 10 s, and the feedback ended in 504). Outside a call (the trainer's
   * refresh jobs, the events consumer) it is bulk work: a connection of its own with a longer time limit, outside the
   * breaker, so a large pipeline neither delays the request path's commands nor trips its breaker.
   */
  async setMany(entries: readonly (readonly [string, string])[], ttlSeconds: number): Promise<void> {
    if (entries.length === 0) return;
    if (currentCall()) {
      throwIfCallAborted();
      await this.breaker.run(() => this.execSets(this.client, entries, ttlSeconds));
      return;
    }
    await this.execSets(await this.bulkClient(), entries, ttlSeconds);
  }

  private async execSets(client: Redis, entries: readonly (readonly [string, string])[], ttlSeconds: number): Promise<void> {
    const pipeline = client.pipeline();
    for (const [key, value] of entries) pipeline.set(key, value, 'EX', ttlSeconds);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  private bulkClient(): Promise<Redis> {
    this.bulk ??= (async () => {
      const bulk = this.client.duplicate({ lazyConnect: true, commandTimeout: this.options.bulkTimeoutMs ?? 10_000, enableAutoPipelining: false });
      bulk.on('error', () => {});
      try {
        await bulk.connect();
        return bulk;
      } catch (err) {
        bulk.disconnect();
        this.bulk = undefined;
        throw err;
      }
    })();
    return this.bulk;
  }

  async del(keys: readonly string[]): Promise<number> {
    return keys.length ? this.breaker.run(() => this.client.del(...keys)) : 0;
  }

  /** Announcements (a model activated) are not on the request path: the bulk connection, its longer limit, no breaker. */
  async publish(channel: string, message: string): Promise<void> {
    await (await this.bulkClient()).publish(channel, message);
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    if (!this.subscriber) {
      // Resubscribes itself after a reconnect (ioredis' own resubscription can reject unhandled when the
      // connection closes again meanwhile).
      const subscriber = this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: false });
      this.subscriber = subscriber;
      subscriber.on('error', () => {});
      subscriber.on('ready', () => {
        const channels = [...this.handlers.keys()];
        if (channels.length) subscriber.subscribe(...channels).catch(() => undefined);
      });
      this.subscriber.on('message', (ch: string, message: string) => {
        for (const h of this.handlers.get(ch) ?? []) h(message);
      });
    }
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      await this.subscriber.subscribe(channel);
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0) {
        this.handlers.delete(channel);
        // Best effort: a connection already gone has no subscription left to end.
        await this.subscriber?.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /** Asks Redis itself (not through the breaker), bounded by the command timeout. */
  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    const bulk = await this.bulk?.catch(() => undefined);
    bulk?.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
