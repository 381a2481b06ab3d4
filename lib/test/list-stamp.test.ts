import { describe, expect, it } from 'vitest';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { currentList, newStamp, stampKey, stampList, stampTime, stampUsers, STAMP_TTL_SECONDS } from '../src/events/list-stamp.js';

describe('interactions stamps: which cached list is older than the user\'s latest event', () => {
  it('serves a list only under the stamp it was computed under', () => {
    const list = 'r1;m1,0.5;m2,0.25';
    expect(currentList(stampList(null, list), null)).toBe(list); // no event ever: a list without a stamp is current
    expect(currentList(stampList(null, list), 'abc')).toBeNull(); // the refresh job's list, after an event: stale
    expect(currentList(stampList('abc', list), 'abc')).toBe(list);
    expect(currentList(stampList('abc', list), 'abd')).toBeNull(); // a newer event
    expect(currentList(stampList('abc', list), null)).toBeNull(); // the stamp expired or Redis lost it: recompute
    expect(currentList(null, 'abc')).toBeNull();
    expect(currentList('sabc', 'abc')).toBeNull(); // malformed: a miss
    expect(currentList('[["m1",1]]', null)).toBe('[["m1",1]]'); // the JSON list of earlier versions
  });

  it('gives every user a new, distinct stamp in one write, kept longer than any list', async () => {
    let now = 0;
    const cache = new MemoryCache(() => now);
    await stampUsers(cache, ['u1', 'u2', 'u1']);
    const [a, b] = await cache.getMany([stampKey('u1'), stampKey('u2')]);
    expect(a).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{12}$/);
    expect(b).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{12}$/);
    expect(a).not.toBe(b);
    await stampUsers(cache, ['u1']);
    expect(await cache.get(stampKey('u1'))).not.toBe(a);
    now = (STAMP_TTL_SECONDS - 1) * 1000;
    expect(await cache.get(stampKey('u2'))).toBe(b);
    now = STAMP_TTL_SECONDS * 1000;
    expect(await cache.get(stampKey('u2'))).toBeNull();
    await stampUsers(cache, []);
    expect(new Set(Array.from({ length: 1000 }, () => newStamp())).size).toBe(1000);
  });

  it('carries when the events were applied, so a miss needs no interaction_events read', async () => {
    const at = new Date('2026-11-30T01:00:00.123Z');
    expect(stampTime(newStamp(at))).toBe(at.getTime());
    const cache = new MemoryCache();
    await stampUsers(cache, ['u1'], at);
    expect(stampTime((await cache.get(stampKey('u1')))!)).toBe(at.getTime());
    expect(stampTime('no-time')).toBeNull();
  });
});
