import { describe, expect, it } from 'vitest';
import { CircuitBreaker, CircuitOpenError, type BreakerState } from '../src/circuit-breaker.js';
import { UnavailableError } from '../src/errors.js';

/** A breaker on a clock the test moves by hand; records its state changes. */
function breaker(failureThreshold = 3, coolDownMs = 1_000) {
  let now = 0;
  const changes: BreakerState[] = [];
  const b = new CircuitBreaker({ name: 'redis', failureThreshold, coolDownMs, now: () => now, onStateChange: (s) => changes.push(s) });
  return { b, changes, advance: (ms: number) => (now += ms) };
}
const fail = () => Promise.reject(new Error('boom'));
const ok = () => Promise.resolve('ok');

describe('CircuitBreaker (fake clock)', () => {
  it('stays closed below the threshold and counts only consecutive failures', async () => {
    const { b, changes } = breaker(3);
    await expect(b.run(fail)).rejects.toThrow('boom');
    await expect(b.run(fail)).rejects.toThrow('boom');
    await expect(b.run(ok)).resolves.toBe('ok'); // resets the count
    await expect(b.run(fail)).rejects.toThrow('boom');
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('closed');
    expect(changes).toEqual([]);
  });

  it('opens after N consecutive failures and then fails at once without calling', async () => {
    const { b, changes } = breaker(3);
    for (let i = 0; i < 3; i++) await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
    let called = 0;
    const err = await b.run(async () => called++).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/redis is unavailable/);
    expect(called).toBe(0);
    expect(changes).toEqual(['open']);
  });

  it('half-opens after the cool-down: one trial call, a success closes it', async () => {
    const { b, changes, advance } = breaker(2, 1_000);
    for (let i = 0; i < 2; i++) await expect(b.run(fail)).rejects.toThrow('boom');
    advance(999);
    expect(b.state).toBe('open');
    await expect(b.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    advance(1);
    expect(b.state).toBe('half_open');
    let release!: (v: string) => void;
    const trial = b.run(() => new Promise<string>((resolve) => (release = resolve)));
    // While the trial is in flight every other call still fails fast.
    expect(b.allowsCalls).toBe(false);
    await expect(b.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    release('back');
    await expect(trial).resolves.toBe('back');
    expect(b.state).toBe('closed');
    await expect(b.run(ok)).resolves.toBe('ok');
    expect(changes).toEqual(['open', 'half_open', 'closed']);
  });

  it('a failed trial opens it again for a whole cool-down', async () => {
    const { b, changes, advance } = breaker(2, 1_000);
    for (let i = 0; i < 2; i++) await expect(b.run(fail)).rejects.toThrow('boom');
    advance(1_000);
    await expect(b.run(fail)).rejects.toThrow('boom');
    expect(b.state).toBe('open');
    advance(500);
    await expect(b.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    advance(500);
    await expect(b.run(ok)).resolves.toBe('ok');
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('refuses a threshold below 1', () => {
    expect(() => new CircuitBreaker({ name: 'x', failureThreshold: 0, coolDownMs: 1 })).toThrow(RangeError);
  });
});
