/**
 * Cooperative scheduling for the TypeScript backend: long fits give the event loop a turn every ~20 ms (so a
 * BullMQ worker keeps renewing its lock), and stop when the control word is set.
 */
import { setImmediate as nextTick } from 'node:timers/promises';

export class AbortedError extends Error {
  constructor() {
    super('aborted');
    this.name = 'AbortedError';
  }
}

export class Slicer {
  private last = performance.now();

  constructor(
    private readonly control: Int32Array,
    private readonly sliceMs = 20,
  ) {}

  /** True when the current slice is used up (cheap enough to call every few rows). */
  due(): boolean {
    return performance.now() - this.last >= this.sliceMs;
  }

  /** Yields to the event loop, then throws if the fit was asked to stop. */
  async pause(): Promise<void> {
    await nextTick();
    this.last = performance.now();
    this.check();
  }

  check(): void {
    if (this.control[0] !== 0) throw new AbortedError();
  }
}
