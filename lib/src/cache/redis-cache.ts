import { Redis } from 'ioredis';
import type { Cache } from './types.js';

export class RedisCache implements Cache {
  private subscriber: Redis | undefined;
  private readonly handlers = new Map<string, Set<(message: string) => void>>();

  constructor(private readonly client: Redis) {}

  /** Connects eagerly so that a wrong URL fails at start-up; commands fail fast while disconnected. */
  static async connect(url: string): Promise<RedisCache> {
    // Auto-pipelining batches the commands of concurrent requests into one write per event-loop tick.
    const client = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      connectTimeout: 5_000,
      enableAutoPipelining: true,
    });
    // ioredis reconnects by itself; errors surface on the commands that fail.
    client.on('error', () => {});
    await client.connect();
    return new RedisCache(client);
  }

  get redis(): Redis {
    return this.client;
  }

  async get(key: string): Promise<string | null> {
    return this.client.get(key);
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    await this.client.set(key, value, 'EX', ttlSeconds);
  }

  async setMany(entries: readonly (readonly [string, string])[], ttlSeconds: number): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const [key, value] of entries) pipeline.set(key, value, 'EX', ttlSeconds);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async del(keys: readonly string[]): Promise<number> {
    return keys.length ? this.client.del(...keys) : 0;
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.client.publish(channel, message);
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

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
