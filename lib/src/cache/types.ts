/**
 * Key-value cache with TTLs and pub/sub (Redis in production, an in-process map for the demo and unit tests).
 * Both implementations pass the contract suite in lib/test/cache.contract.ts.
 */
export interface Cache {
  get(key: string): Promise<string | null>;
  /** Reads several keys in one round trip (MGET on Redis); null for each missing or expired key, in order. */
  getMany(keys: readonly string[]): Promise<(string | null)[]>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Writes many keys with one TTL in a single round trip (a pipeline on Redis). */
  setMany(entries: readonly (readonly [string, string])[], ttlSeconds: number): Promise<void>;
  /** Deletes keys; returns how many existed. */
  del(keys: readonly string[]): Promise<number>;
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel` until the returned function is called. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
