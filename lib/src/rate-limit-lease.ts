/**
 * Rate-limit counters shared by several processes through one store (Redis), without a store round trip per request:
 * each process takes a *lease* of `leaseSize(max)` consecutive counts of a client's window at once (one INCRBY) and
 * hands them out locally, one per request, until the lease is used up or the window ends.
 *
 * Bound (the README "Security" states it): counts are taken from the shared counter before they are used, so the
 * limit is never exceeded across replicas (no overshoot). Counts leased but not used by the end of the window are
 * lost, so a client may be refused early by at most `replicas × (leaseSize(max) − 1)` requests per window, with
 * leaseSize(max) ≤ 1% of max (1 for max < 200: every request then asks the store, exactly as before). Once the shared
 * counter has reached max, the rest of the window is refused locally without asking the store again.
 */

/** The largest lease: at most one store round trip per this many requests of one client. */
export const MAX_LEASE = 256;

/** Counts taken per store round trip for a limit of `max` per window: 1% of max, between 1 and MAX_LEASE. */
export function leaseSize(max: number): number {
  return Math.max(1, Math.min(MAX_LEASE, Math.floor(max / 100)));
}

/** What the shared counter answers to a lease: its value after adding `amount`, and the window's remaining ms. */
export interface LeaseGrant {
  current: number;
  ttlMs: number;
}

/** Adds `amount` to the counter `key` (created with a TTL of `windowMs` when new); rejects when the store fails. */
export type TakeLease = (key: string, amount: number, windowMs: number) => Promise<LeaseGrant>;

interface Lease {
  /** The next count to hand out. */
  next: number;
  /** The last count of the lease. */
  last: number;
  /** The window's end, by `now()`. */
  endsAt: number;
}

/** Result of one counted request, in the shape @fastify/rate-limit's stores answer: the count and ms to the window's end. */
export interface Counted {
  current: number;
  ttl: number;
}

/**
 * Leased counters of many keys (clients). `incr` answers at once from a lease when it can, else after one store round
 * trip shared by every request of that key waiting meanwhile (single flight). Leases of ended windows are dropped as
 * new ones are taken, so memory follows the clients of the current windows.
 */
export class LeasedCounters {
  private readonly leases = new Map<string, Lease>();
  private readonly pending = new Map<string, Promise<void>>();
  private sweepAt = 0;

  constructor(
    private readonly take: TakeLease,
    private readonly now: () => number = Date.now,
  ) {}

  /** Leases held (for tests). */
  get size(): number {
    return this.leases.size;
  }

  /** Counts one request of `key`; rejects when the store fails (the caller counts it elsewhere then). */
  incr(key: string, windowMs: number, max: number): Counted | Promise<Counted> {
    const local = this.fromLease(key, max);
    if (local) return local;
    return this.refill(key, windowMs, max).then(() => this.fromLease(key, max) ?? this.incr(key, windowMs, max));
  }

  private fromLease(key: string, max: number): Counted | undefined {
    const lease = this.leases.get(key);
    if (!lease) return undefined;
    const now = this.now();
    if (now >= lease.endsAt) {
      this.leases.delete(key);
      return undefined;
    }
    if (lease.next <= lease.last) return { current: lease.next++, ttl: lease.endsAt - now };
    // The shared counter had reached the limit: the rest of this window is refused without asking the store.
    if (lease.last >= max) return { current: lease.last + 1, ttl: lease.endsAt - now };
    return undefined;
  }

  private refill(key: string, windowMs: number, max: number): Promise<void> {
    let flight = this.pending.get(key);
    if (!flight) {
      const amount = leaseSize(max);
      flight = this.take(key, amount, windowMs)
        .then(({ current, ttlMs }) => {
          const now = this.now();
          this.sweep(now);
          this.leases.set(key, { next: current - amount + 1, last: current, endsAt: now + Math.max(1, ttlMs) });
        })
        .finally(() => this.pending.delete(key));
      this.pending.set(key, flight);
    }
    return flight;
  }

  /** Drops the leases of ended windows, at most once per second. */
  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 1_000;
    for (const [key, lease] of this.leases) if (now >= lease.endsAt) this.leases.delete(key);
  }
}

/**
 * The Lua script of a lease on Redis: INCRBY, and the window's TTL set when the key is new (or has none). Returns
 * `[current, ttl_ms]`.
 */
export const LEASE_SCRIPT = `
local current = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`;
