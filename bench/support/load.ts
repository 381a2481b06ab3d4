/**
 * One HTTP load run with autocannon, summarised: throughput, latency percentiles (autocannon's HDR histogram, in
 * milliseconds), errors and non-2xx answers.
 */
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
  /** Caps the request rate of all connections together (requests per second); unset: as fast as answered. */
  overallRate?: number;
  /** Seconds before a request counts as a timeout (default 10). */
  timeoutSeconds?: number;
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
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
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
