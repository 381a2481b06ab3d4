/**
 * One HTTP load run with autocannon, summarised: throughput, latency percentiles (autocannon's HDR histogram, in
 * milliseconds), errors and non-2xx answers.
 */
import { Agent, request as httpRequest } from 'node:http';
import autocannon from 'autocannon';

export interface LoadOptions {
  title: string;
  url: string;
  connections: number;
  durationSeconds: number;
  /** Stop after this many responses, or at durationSeconds, whichever comes first. */
  amount?: number;
  method?: 'GET' | 'POST';
  /** Builds each request (path, body...) when the path changes from request to request. */
  setupRequest?: (request: autocannon.Request) => autocannon.Request;
  /**
   * Caps the request rate of all connections together (requests per second); unset: as fast as answered. autocannon
   * spends each connection's share of a second as fast as answered, then waits for the next second: the load comes
   * in bursts at full speed (latency as at saturation). For latency at a rate, use pacedRate.
   */
  overallRate?: number;
  /**
   * Open-loop load at this rate (requests per second), GET only: requests start at evenly spaced times, whatever the
   * answers do, over at most `connections` keep-alive connections (more wait for one); each latency counts from the
   * request's scheduled start, so a stall is counted for every request it delays (no coordinated omission).
   */
  pacedRate?: number;
  /** Seconds before a request counts as a timeout (default 10). */
  timeoutSeconds?: number;
  /** pacedRate runs: keep every request's scheduled start and latency in `LoadResult.trace` (for finding stalls). */
  trace?: boolean;
}

export interface LoadResult {
  title: string;
  /** Completed requests per second: completed / wall time of the run. */
  rps: number;
  /** autocannon's mean of its per-second samples (lower than rps when the run ends within a second). */
  rpsSampleMean: number;
  requests: number;
  /** Requests sent (completed, failed and timed out ones included). */
  sent: number;
  seconds: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  bytesPerResponse: number;
  connections: number;
  /** With LoadOptions.trace (pacedRate runs): per answered request, [scheduled start in ms from the run's start, latency ms]. */
  trace?: [number, number][];
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.pacedRate) return runPaced(options, options.pacedRate);
  const requests: autocannon.Request[] | undefined = options.setupRequest
    ? [{ method: options.method ?? 'GET', setupRequest: (req: autocannon.Request) => options.setupRequest!(req) }]
    : undefined;
  const opts: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: options.timeoutSeconds ?? 10,
    method: options.method ?? 'GET',
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds }),
    ...(requests ? { requests } : {}),
    ...(options.overallRate ? { overallRate: Math.max(1, Math.round(options.overallRate)) } : {}),
  };
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(opts, (err: unknown, res: autocannon.Result) => (err ? reject(err) : resolve(res)));
    if (options.amount) {
      const timer = setTimeout(() => instance.stop(), options.durationSeconds * 1000);
      instance.once('done', () => clearTimeout(timer));
    }
  });
  const seconds = (performance.now() - started) / 1000;
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0;
  const completed = result.requests.total;
  return {
    title: options.title,
    rps: completed / Math.max(seconds, 1e-9),
    rpsSampleMean: result.requests.average,
    requests: completed,
    sent: result.requests.sent,
    seconds,
    latencyMs: {
      mean: result.latency.mean,
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    bytesPerResponse: completed ? result.throughput.total / completed : 0,
    connections: options.connections,
  };
}

/** The q-quantile (0..1, nearest rank) of ascending values; 0 when there are none. */
export function percentile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] : 0;
}

/** LoadOptions.pacedRate: an open-loop generator on node:http (autocannon has none). */
async function runPaced(options: LoadOptions, rate: number): Promise<LoadResult> {
  const target = new URL(options.url);
  // fifo: every socket is used in turn, so none sits idle long enough for the server's keep-alive timeout to close it
  // just as it is reused (a reset counted as an error; lifo, the default, leaves the sockets a low rate needs idle).
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, scheduling: 'fifo' });
  const total = Math.max(1, Math.round(rate * options.durationSeconds));
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  const trace: [number, number][] | undefined = options.trace ? [] : undefined;
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let non2xx = 0;
  let bytes = 0;
  let sent = 0;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const fire = (scheduledAt: number) => {
    const path = options.setupRequest?.({ method: 'GET', path: target.pathname + target.search } as autocannon.Request).path ?? target.pathname + target.search;
    const done = new Promise<void>((resolve) => {
      let timedOut = false;
      const req = httpRequest({ host: target.hostname, port: target.port, path, method: 'GET', agent, timeout: (options.timeoutSeconds ?? 10) * 1000 }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => {
          const latency = performance.now() - scheduledAt;
          latencies.push(latency);
          trace?.push([scheduledAt - started, latency]);
          const code = res.statusCode ?? 0;
          statusCodes[code] = (statusCodes[code] ?? 0) + 1;
          if (code < 200 || code >= 300) non2xx++;
          resolve();
        });
      });
      req.on('timeout', () => {
        timedOut = true;
        timeouts++;
        req.destroy();
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (!timedOut) {
          errors++;
          // Kept with the status codes as `error <code>` (e.g. ECONNRESET), so the JSON says what failed.
          const key = `error ${err.code ?? err.name}`;
          statusCodes[key] = (statusCodes[key] ?? 0) + 1;
        }
        resolve();
      });
      req.end();
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };
  // Every request due by now is started (timer resolution ~1 ms), at its own scheduled time for the latency.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - started) / intervalMs) + 1);
      for (; sent < due; sent++) fire(started + sent * intervalMs);
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => percentile(sorted, q);
  const completed = latencies.length;
  return {
    title: options.title,
    rps: completed / Math.max(seconds, 1e-9),
    rpsSampleMean: completed / Math.max(seconds, 1e-9),
    requests: completed,
    sent,
    seconds,
    latencyMs: {
      mean: completed ? latencies.reduce((a, b) => a + b, 0) / completed : 0,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      max: sorted.at(-1) ?? 0,
    },
    errors,
    timeouts,
    non2xx,
    statusCodes,
    bytesPerResponse: completed ? bytes / completed : 0,
    connections: options.connections,
    ...(trace ? { trace } : {}),
  };
}
