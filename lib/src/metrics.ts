import { createServer, type Server } from 'node:http';
import { Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { status } from '@grpc/grpc-js';
import type { CallObserver } from './grpc/server.js';

/** One Prometheus registry per service, with the process metrics and a `service` label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** gRPC handling time by method and status code (low cardinality: methods and codes are fixed sets). */
export function grpcCallObserver(registry: Registry): CallObserver {
  const histogram = new Histogram({
    name: 'grpc_server_handling_seconds',
    help: 'Time to handle a unary gRPC call, by method and status code',
    labelNames: ['method', 'code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  return (method, code, seconds) => histogram.observe({ method, code: status[code] ?? String(code) }, seconds);
}

/** Serves GET /metrics for a gRPC service on its own HTTP port. */
export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
  /** Also serves GET /health: 200 with this JSON when `healthy`, else 503 (container healthchecks). */
  health?: () => { healthy: boolean },
): Promise<Server & { port: number }> {
  const server = createServer((req, res) => {
    if (health && req.method === 'GET' && req.url === '/health') {
      const state = health();
      res.writeHead(state.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(state));
      return;
    }
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `only GET /metrics${health ? ' and GET /health are' : ' is'} served here` } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return Object.assign(server, { port: typeof address === 'object' && address ? address.port : port });
}
