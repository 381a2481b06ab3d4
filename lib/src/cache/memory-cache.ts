import { EventEmitter } from 'node:events';
import type { Cache } from './types.js';

/** Default MemoryCache bound: about 50-150 MB of lists, session records and stamps. */
export const MEMORY_CACHE_MAX_ENTRIES = 100_000;
/** Entries checked for expiry per write (amortised active expiry, as Redis samples keys with a TTL). */
const SWEEP_PER_WRITE = 4;

/**
 * In-process cache (the embedded default: the one-command demo and fast tests) with in-process pub/sub. Bounded like a
 * Redis with `maxmemory`: expired entries are removed as they are read and, a few per write, by a sweep that walks
 * every entry in turn (so a key written once and never read again, such as a served list's session record, does not
 * stay after its TTL); past `maxEntries` the least recently written entries are evicted (a list or session record
 * evicted early is a cache miss, as after a Redis eviction).
 */
export class MemoryCache implements Cache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly bus = new EventEmitter().setMaxListeners(0);
  private sweep: Iterator<[string, { value: string; expiresAt: number }]> | undefined;
  private readonly maxEntries: number;

  constructor(
    private readonly now: () => number = Date.now,
    options: { maxEntries?: number } = {},
  ) {
    this.maxEntries = options.maxEntries ?? MEMORY_CACHE_MAX_ENTRIES;
  }

  /** Entries held, expired ones not yet removed included (for tests). */
  get size(): number {
    return this.entries.size;
  }

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
    const now = this.now();
    // Delete first: a rewritten key moves to the end of the Map's order (least recently written first).
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + ttlSeconds * 1000 });
    this.sweepExpired(now);
    if (this.entries.size > this.maxEntries) {
      for (const oldest of this.entries.keys()) {
        this.entries.delete(oldest);
        if (this.entries.size <= this.maxEntries) break;
      }
    }
  }

  /** Checks the next SWEEP_PER_WRITE entries of a walk over all of them (a Map iterator sees later insertions too). */
  private sweepExpired(now: number): void {
    for (let i = 0; i < SWEEP_PER_WRITE; i++) {
      this.sweep ??= this.entries.entries();
      const next = this.sweep.next();
      if (next.done) {
        this.sweep = undefined;
        return;
      }
      const [key, entry] = next.value;
      if (entry.expiresAt <= now) this.entries.delete(key);
    }
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
    this.sweep = undefined;
    this.bus.removeAllListeners();
  }
}
