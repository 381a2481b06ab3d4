import { describe, expect, it } from 'vitest';
import { LeasedCounters, leaseSize, MAX_LEASE, type LeaseGrant } from '../src/rate-limit-lease.js';

/** A shared counter store with TTLs on an injected clock, as the Redis script behaves; counts its round trips. */
class FakeStore {
  readonly counters = new Map<string, { value: number; expiresAt: number }>();
  calls = 0;
  failing = false;
  constructor(private readonly clock: { now: number }) {}

  take = async (key: string, amount: number, windowMs: number): Promise<LeaseGrant> => {
    this.calls++;
    await Promise.resolve();
    if (this.failing) throw new Error('store down');
    let entry = this.counters.get(key);
    if (!entry || this.clock.now >= entry.expiresAt) {
      entry = { value: 0, expiresAt: this.clock.now + windowMs };
      this.counters.set(key, entry);
    }
    entry.value += amount;
    return { current: entry.value, ttlMs: entry.expiresAt - this.clock.now };
  };
}

const count = async (counters: LeasedCounters, key: string, windowMs: number, max: number) => counters.incr(key, windowMs, max);

describe('leased rate-limit counters', () => {
  it('lease 1% of the limit, between 1 and MAX_LEASE', () => {
    expect(leaseSize(3)).toBe(1);
    expect(leaseSize(199)).toBe(1);
    expect(leaseSize(1_200)).toBe(12);
    expect(leaseSize(1e9)).toBe(MAX_LEASE);
  });

  it('ask the store for every request when the limit is small (exact counts, as without leases)', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const counters = new LeasedCounters(store.take, () => clock.now);
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push((await count(counters, 'c', 60_000, 4)).current);
    expect(seen).toEqual([1, 2, 3, 4, 5, 5]);
    // The fourth count reached the limit: the rest of the window is refused without a round trip.
    expect(store.calls).toBe(4);
  });

  it('hand out consecutive counts from one round trip per lease', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const counters = new LeasedCounters(store.take, () => clock.now);
    const seen: number[] = [];
    for (let i = 0; i < 25; i++) seen.push((await count(counters, 'c', 60_000, 1_000)).current);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(store.calls).toBe(3);
  });

  it('never let two replicas together exceed the limit, and lose at most their unused leases', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const replicas = [new LeasedCounters(store.take, () => clock.now), new LeasedCounters(store.take, () => clock.now)];
    const max = 1_000;
    let allowed = 0;
    for (let i = 0; i < 1_500; i++) if ((await count(replicas[i % 3 === 0 ? 0 : 1], 'shared', 60_000, max)).current <= max) allowed++;
    expect(allowed).toBe(max);
    // Each count was leased once: the store's counter is the sum of the leases.
    expect(store.counters.get('shared')!.value % leaseSize(max)).toBe(0);
  });

  it('refuse early by at most replicas × (lease - 1) when leases are left unused', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const a = new LeasedCounters(store.take, () => clock.now);
    const b = new LeasedCounters(store.take, () => clock.now);
    const max = 1_000;
    await count(a, 'k', 60_000, max); // a holds counts 2..10 unused
    let allowed = 1;
    for (let i = 0; i < 2_000; i++) if ((await count(b, 'k', 60_000, max)).current <= max) allowed++;
    expect(allowed).toBeGreaterThanOrEqual(max - 2 * (leaseSize(max) - 1));
    expect(allowed).toBeLessThanOrEqual(max);
  });

  it('start over when the window ends, with the remaining time as ttl', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const counters = new LeasedCounters(store.take, () => clock.now);
    expect(await count(counters, 'c', 1_000, 2)).toEqual({ current: 1, ttl: 1_000 });
    clock.now = 400;
    expect(await count(counters, 'c', 1_000, 2)).toEqual({ current: 2, ttl: 600 });
    expect((await count(counters, 'c', 1_000, 2)).current).toBe(3);
    const calls = store.calls;
    expect((await count(counters, 'c', 1_000, 2)).current).toBe(3);
    expect(store.calls).toBe(calls);
    clock.now = 1_000;
    expect(await count(counters, 'c', 1_000, 2)).toEqual({ current: 1, ttl: 1_000 });
  });

  it('share one round trip among the requests that wait for a lease (single flight)', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const counters = new LeasedCounters(store.take, () => clock.now);
    const results = await Promise.all(Array.from({ length: 8 }, () => count(counters, 'c', 60_000, 1_000)));
    expect(results.map((r) => r.current).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(store.calls).toBe(1);
  });

  it('reject when the store fails, so the caller counts elsewhere, and lease again once it is back', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const counters = new LeasedCounters(store.take, () => clock.now);
    store.failing = true;
    await expect(count(counters, 'c', 60_000, 10)).rejects.toThrow('store down');
    store.failing = false;
    expect((await count(counters, 'c', 60_000, 10)).current).toBe(1);
  });

  it('drop the leases of ended windows as new ones are taken', async () => {
    const clock = { now: 0 };
    const store = new FakeStore(clock);
    const counters = new LeasedCounters(store.take, () => clock.now);
    for (let i = 0; i < 50; i++) await count(counters, `client-${i}`, 1_000, 10);
    expect(counters.size).toBe(50);
    clock.now = 5_000;
    await count(counters, 'late', 1_000, 10);
    expect(counters.size).toBe(1);
  });
});
