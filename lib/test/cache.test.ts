import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cache } from '../src/cache/types.js';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { RedisCache } from '../src/cache/redis-cache.js';
import { describeWithServers, serverUrl } from './support/servers.js';

/** The one contract every Cache implementation passes. */
function cacheContract(makeCache: () => Promise<Cache>): void {
  let cache: Cache;
  const prefix = `test:${randomUUID()}:`;
  beforeAll(async () => {
    cache = await makeCache();
  });
  afterAll(async () => {
    await cache.close();
  });

  it('sets, gets and deletes with a TTL', async () => {
    expect(await cache.get(`${prefix}a`)).toBeNull();
    await cache.set(`${prefix}a`, 'one', 60);
    expect(await cache.get(`${prefix}a`)).toBe('one');
    expect(await cache.del([`${prefix}a`, `${prefix}missing`])).toBe(1);
    expect(await cache.get(`${prefix}a`)).toBeNull();
    expect(await cache.del([])).toBe(0);
  });

  it('expires entries after their TTL', async () => {
    await cache.set(`${prefix}short`, 'x', 1);
    expect(await cache.get(`${prefix}short`)).toBe('x');
    await sleep(1_200);
    expect(await cache.get(`${prefix}short`)).toBeNull();
  });

  it('reads many keys in one call, null for the missing ones, in order', async () => {
    await cache.set(`${prefix}m1`, 'one', 60);
    await cache.set(`${prefix}m3`, 'three', 60);
    expect(await cache.getMany([`${prefix}m1`, `${prefix}m2`, `${prefix}m3`])).toEqual(['one', null, 'three']);
    expect(await cache.getMany([])).toEqual([]);
  });

  it('writes many keys in one call', async () => {
    const entries = Array.from({ length: 250 }, (_, i) => [`${prefix}many:${i}`, `v${i}`] as const);
    await cache.setMany(entries, 60);
    expect(await cache.get(`${prefix}many:0`)).toBe('v0');
    expect(await cache.get(`${prefix}many:249`)).toBe('v249');
    await cache.setMany([], 60);
  });

  it('delivers published messages to subscribers until they unsubscribe', async () => {
    const channel = `${prefix}channel`;
    const received: string[] = [];
    const unsubscribe = await cache.subscribe(channel, (m) => received.push(m));
    await cache.publish(channel, 'hello');
    await expect.poll(() => received, { timeout: 2_000 }).toEqual(['hello']);
    await unsubscribe();
    await cache.publish(channel, 'after');
    await sleep(100);
    expect(received).toEqual(['hello']);
  });

  it('answers ping', async () => {
    await expect(cache.ping()).resolves.toBeUndefined();
  });
}

describe('MemoryCache', () => cacheContract(async () => new MemoryCache()));

describe('MemoryCache memory bound', () => {
  it('removes expired entries that are never read again, a few per write', async () => {
    let now = 0;
    const cache = new MemoryCache(() => now);
    for (let i = 0; i < 100; i++) await cache.set(`session:${i}`, 'x', 1);
    now = 2_000;
    for (let i = 0; i < 100; i++) await cache.set(`list:${i}`, 'y', 60);
    expect(cache.size).toBe(100);
    expect(await cache.get('list:0')).toBe('y');
  });

  it('evicts the least recently written entries past maxEntries', async () => {
    const cache = new MemoryCache(Date.now, { maxEntries: 3 });
    await cache.set('a', '1', 60);
    await cache.set('b', '2', 60);
    await cache.set('c', '3', 60);
    await cache.set('a', '1 again', 60);
    await cache.set('d', '4', 60);
    expect(cache.size).toBe(3);
    expect(await cache.getMany(['a', 'b', 'c', 'd'])).toEqual(['1 again', null, '3', '4']);
  });
});

describeWithServers(['REDIS_URL'], 'RedisCache (real Redis)', () => cacheContract(() => RedisCache.connect(serverUrl('REDIS_URL')!)));
