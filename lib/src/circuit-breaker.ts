import { Gauge, type Registry } from 'prom-client';
import { UnavailableError } from './errors.js';

/** `closed`: calls go through; `open`: calls fail at once; `half_open`: one trial call decides. */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** The numeric value of each state in the `*_circuit_state` gauges (0 closed, 1 half-open, 2 open). */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface CircuitBreakerOptions {
  /** Name of the dependency, for messages ("redis"). */
  name: string;
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** Milliseconds the circuit stays open before one trial call is let through (half-open). */
  coolDownMs: number;
  /** Clock in milliseconds (injected by tests); Date.now by default. */
  now?: () => number;
  onStateChange?: (state: BreakerState, previous: BreakerState) => void;
}

/** Thrown instead of calling the dependency while the circuit is open: it costs no I/O at all. */
export class CircuitOpenError extends UnavailableError {
  constructor(name: string) {
    super(`${name} is unavailable (circuit open); try again shortly`);
  }
}

/**
 * A small circuit breaker: after `failureThreshold` consecutive failures the circuit opens and every call fails at
 * once with CircuitOpenError (no waiting on a stopped or frozen server); after `coolDownMs` one trial call goes
 * through (half-open, others still fail fast): its success closes the circuit, its failure opens it again for
 * another cool-down. The time bound of each call is the dependency client's own (e.g. ioredis' commandTimeout).
 */
export class CircuitBreaker {
  private current: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    if (!(options.failureThreshold >= 1)) throw new RangeError('failureThreshold must be at least 1');
    this.now = options.now ?? Date.now;
  }

  /** The state now (an open circuit whose cool-down has passed reads as half-open). */
  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.coolDownMs) return 'half_open';
    return this.current;
  }

  /** True if a call made now would reach the dependency. */
  get allowsCalls(): boolean {
    const state = this.state;
    return state === 'closed' || (state === 'half_open' && !this.trialInFlight);
  }

  /** Runs `call` through the breaker: rejects with CircuitOpenError without calling it while open. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === 'open' || (state === 'half_open' && this.trialInFlight)) throw new CircuitOpenError(this.options.name);
    const trial = state === 'half_open';
    if (trial) {
      this.trialInFlight = true;
      this.transition('half_open');
    }
    try {
      const result = await call();
      this.succeeded();
      return result;
    } catch (err) {
      this.failed(trial);
      throw err;
    } finally {
      if (trial) this.trialInFlight = false;
    }
  }

  private succeeded(): void {
    this.failures = 0;
    this.transition('closed');
  }

  private failed(trial: boolean): void {
    this.failures++;
    if (trial || this.failures >= this.options.failureThreshold) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  private transition(next: BreakerState): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    this.options.onStateChange?.(next, previous);
  }
}

/**
 * Registers the gauge `{name}{dependency="..."}` (0 closed, 1 half-open, 2 open) of breakers in a Prometheus
 * registry, read at each scrape, e.g. `recommendation_cache_circuit_state{dependency="redis"}`.
 */
export function registerBreakerGauge(registry: Registry, name: string, breakers: Record<string, CircuitBreaker>): void {
  new Gauge({
    name,
    help: 'State of the circuit breaker in front of a dependency: 0 closed, 1 half-open (one trial call), 2 open (skipped)',
    labelNames: ['dependency'],
    registers: [registry],
    collect() {
      for (const [dependency, breaker] of Object.entries(breakers)) this.set({ dependency }, BREAKER_STATE_VALUE[breaker.state]);
    },
  });
}
