import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { Histogram, type Registry } from 'prom-client';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/src/logger.js';
import { REQUEST_ID_HEADER } from '../../lib/src/grpc/server.js';
import { createMetricsRegistry } from '../../lib/src/metrics.js';
import { errorBody, handleError } from './http-errors.js';
import { genreRoutes } from './routes/genres.js';
import { recommendationRoutes } from './routes/recommendations.js';
import { trainingRoutes } from './routes/training.js';
import { eventRoutes } from './routes/events.js';
import type { GatewayApp } from './routes/types.js';
import type { Upstreams } from './upstreams.js';

export interface GatewayDeps {
  upstreams: Upstreams;
  log: Logger;
  /** Extra routes mounted by the caller (the web console). */
  extraRoutes?: (app: GatewayApp) => Promise<void> | void;
}

/** JSON bodies are never coerced (an object or a number where a string belongs is a 400); query strings are. */
function validatorCompiler() {
  const options = { allErrors: false, strict: false, useDefaults: true, removeAdditional: false } as const;
  const bodyAjv = addFormats.default(new Ajv({ ...options, coerceTypes: false }));
  const paramsAjv = addFormats.default(new Ajv({ ...options, coerceTypes: true }));
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? bodyAjv : paramsAjv).compile(schema);
}

function observeRequests(app: GatewayApp, registry: Registry): void {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'REST request duration by route, method and status code',
    labelNames: ['route', 'method', 'status_code'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      { route: request.routeOptions.url ?? 'unmatched', method: request.method, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}

/** The REST gateway: validates, translates to gRPC with a deadline and maps errors; no business logic. */
export async function buildGateway({ upstreams, log, extraRoutes }: GatewayDeps): Promise<GatewayApp> {
  const app: GatewayApp = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    genReqId: (req) => {
      const header = req.headers[REQUEST_ID_HEADER];
      return typeof header === 'string' && /^[\w.-]{1,128}$/.test(header) ? header : randomUUID();
    },
    requestIdHeader: false,
    // Access logs for API calls; probes and scrapes stay quiet.
    logController: new LogController({ disableRequestLogging: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url) }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());
  // The API speaks JSON only: other media types are refused with a 400 that says so.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
  app.addHook('onSend', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  const registry = createMetricsRegistry('gateway');
  observeRequests(app, registry);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Movie recommendation service', version: '1.0.0', description: 'REST gateway in front of the gRPC services' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const upstream = await upstreams.health();
    const ready = upstream.recsvc && upstream.trainer;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', upstream });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );

  for (const routes of [genreRoutes, recommendationRoutes, trainingRoutes, eventRoutes]) routes(app, upstreams);
  await extraRoutes?.(app);
  return app;
}
