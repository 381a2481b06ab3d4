/**
 * Steady open-loop load for the fault scenarios: one request every 1000/rate ms whether or not earlier ones have
 * answered (a stalled dependency must not slow the load down and hide its latency), each recorded with its start
 * time, latency, status and the bits of its answer the scenario checks (session ids, sources, accepted events).
 */

/** One request as the load generator saw it. `status` 0: no HTTP answer (connection error or the client's timeout). */
export interface Sample {
  kind: string;
  /** Start, ms since the load started. */
  at: number;
  ms: number;
  status: number;
  retryAfter?: string;
  error?: string;
  /** Parsed JSON body of a 2xx answer (only when the request asked for it). */
  body?: unknown;
  /** What the plan attached to the request (ids the scenario checks afterwards). */
  meta?: Record<string, string>;
}

export interface PlannedRequest {
  kind: string;
  path: string;
  method?: 'GET' | 'POST';
  body?: unknown;
  headers?: Record<string, string>;
  /** Keep the parsed body of 2xx answers on the sample. */
  keepBody?: boolean;
  /** Called with the parsed body of a 2xx answer. */
  onOk?: (body: unknown) => void;
  meta?: Record<string, string>;
}

export interface LoadSettings {
  baseUrl: string;
  /** Requests per second. */
  rate: number;
  /** The client gives up after this many ms (status 0, error 'timeout'). */
  timeoutMs: number;
  /** The i-th request (i = 0, 1, ...). */
  plan: (i: number) => PlannedRequest;
}

export class SteadyLoad {
  readonly samples: Sample[] = [];
  readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private sent = 0;

  constructor(private readonly settings: LoadSettings) {}

  /** Milliseconds since the load started (the clock every sample and phase uses). */
  now(): number {
    return performance.now() - this.t0;
  }

  start(): this {
    const interval = 1000 / this.settings.rate;
    const tick = () => {
      // Catch up on ticks a busy event loop delayed, so the rate stays the planned one.
      const due = Math.floor(this.now() / interval) + 1;
      while (this.sent < due) this.fire(this.sent++);
    };
    this.timer = setInterval(tick, Math.max(5, Math.floor(interval / 2)));
    return this;
  }

  private fire(i: number): void {
    const planned = this.settings.plan(i);
    const at = this.now();
    const sample: Sample = { kind: planned.kind, at, ms: 0, status: 0, meta: planned.meta };
    const task = (async () => {
      try {
        const response = await fetch(`${this.settings.baseUrl}${planned.path}`, {
          method: planned.method ?? 'GET',
          headers: { ...(planned.body !== undefined ? { 'content-type': 'application/json' } : {}), ...planned.headers },
          body: planned.body !== undefined ? JSON.stringify(planned.body) : undefined,
          signal: AbortSignal.timeout(this.settings.timeoutMs),
        });
        const text = await response.text();
        sample.status = response.status;
        sample.retryAfter = response.headers.get('retry-after') ?? undefined;
        if (response.status >= 200 && response.status < 300 && (planned.keepBody || planned.onOk)) {
          const body = JSON.parse(text) as unknown;
          if (planned.keepBody) sample.body = body;
          planned.onOk?.(body);
        }
        if (response.status >= 400) sample.error = text.slice(0, 300);
      } catch (err) {
        sample.error = err instanceof Error && err.name === 'TimeoutError' ? 'timeout' : String(err);
      } finally {
        sample.ms = this.now() - at;
        this.samples.push(sample);
      }
    })();
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  /** Stops sending and waits for the requests in flight (each ends by its timeout at the latest). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inflight]);
  }
}

/** The q-quantile (0..1) of `values` (nearest rank); 0 for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export interface PhaseStats {
  requests: number;
  /** Answers by status ('0' = no answer). */
  statuses: Record<string, number>;
  ok2xx: number;
  client4xx: number;
  server5xx: number;
  /** No HTTP answer at all (connection errors and client timeouts). */
  noAnswer: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function phaseStats(samples: Sample[]): PhaseStats {
  const statuses: Record<string, number> = {};
  for (const s of samples) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
  const ms = samples.map((s) => s.ms);
  return {
    requests: samples.length,
    statuses,
    ok2xx: samples.filter((s) => s.status >= 200 && s.status < 300).length,
    client4xx: samples.filter((s) => s.status >= 400 && s.status < 500).length,
    server5xx: samples.filter((s) => s.status >= 500).length,
    noAnswer: samples.filter((s) => s.status === 0).length,
    p50Ms: Math.round(quantile(ms, 0.5) * 10) / 10,
    p99Ms: Math.round(quantile(ms, 0.99) * 10) / 10,
    maxMs: Math.round(Math.max(0, ...ms) * 10) / 10,
  };
}

export const isOk = (s: Sample) => s.status >= 200 && s.status < 300;
