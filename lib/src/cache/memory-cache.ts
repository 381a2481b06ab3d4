import { EventEmitter } from 'node:events';
import type { Cache } from './types.js';

/** In-process cache with lazy expiry and in-process pub/sub. */
export class MemoryCache implements Cache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly bus = new EventEmitter().setMaxListeners(0);

  constructor(private readonly now: () => number = Date.now) {}

  async get(key: string): Promise<string | null> {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.value;
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  async setMany(entries: readonly (readonly [string, string])[], ttlSeconds: number): Promise<void> {
    for (const [key, value] of entries) await this.set(key, value, ttlSeconds);
  }

  async del(keys: readonly string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) if ((await this.get(key)) !== null && this.entries.delete(key)) removed++;
    return removed;
  }

  async publish(channel: string, message: string): Promise<void> {
    // Asynchronous delivery, like Redis.
    setImmediate(() => this.bus.emit(channel, message));
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>> {
    this.bus.on(channel, handler);
    return async () => {
      this.bus.off(channel, handler);
    };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
    this.bus.removeAllListeners();
  }
}
