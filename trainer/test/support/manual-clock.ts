import type { QueueClock } from '../../src/queue/memory-queue.js';

/**
 * A clock the test moves: `advanceTo` fires every timer due by then in time order (letting promises settle after
 * each), so days of schedules run in milliseconds and no assertion depends on the wall clock. `earlyMs` makes every
 * timer fire that much before its time, as Node's timers may (rounding) — the case that once double-fired a tick.
 */
export class ManualClock implements QueueClock {
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;

  constructor(
    private time: number,
    private readonly earlyMs = 0,
  ) {}

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    // Early, but never at once for a positive delay (Node waits at least 1 ms).
    this.timers.set(id, { at: this.time + (ms > 0 ? Math.max(1, ms - this.earlyMs) : 0), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Moves the time to `target`, firing the due timers one by one in order. */
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= target && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].fn();
      await settle();
    }
    this.time = Math.max(this.time, target);
    await settle();
  }
}

/** Lets every pending promise callback and immediate run. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
