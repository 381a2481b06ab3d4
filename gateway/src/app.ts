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
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { clientIdentity, registerAuth } from './auth.js';
import { API_METHODS, errorBody, handleClientError, handleError, handleFrameworkError, notFoundHandler, RouteTable } from './http-errors.js';
import { registerBreakerGauge } from '../../lib/src/circuit-breaker.js';
import { applyBodyLimits, drainRefusedBodies, rateLimitRedis, registerCors, registerRateLimit, resolveLimits, shedLoad, type GatewayLimits } from './limits.js';
import { ErrorResponse } from './schemas.js';
import { genreRoutes } from './routes/genres.js';
import { recommendationRoutes } from './routes/recommendations.js';
import { trainingRoutes } from './routes/training.js';
import { eventRoutes } from './routes/events.js';
import { movieRoutes } from './routes/movies.js';
import type { GatewayApp } from './routes/types.js';
import type { Upstreams } from './upstreams.js';

export interface GatewayDeps {
  upstreams: Upstreams;
  log: Logger;
  /** Extra routes mounted by the caller (the web console). */
  extraRoutes?: (app: GatewayApp) => Promise<void> | void;
  /**
   * API keys. Default: none, so every route with a `scope` answers 401 (fail closed); main.ts passes the keys of
   * API_KEYS_FILE / API_KEYS.
   */
  apiKeys?: ApiKeyStore;
  /** Client routes need a key with scope `client` (REQUIRE_KEY_FOR_CLIENT_ROUTES). */
  requireKeyForClientRoutes?: boolean;
  /** GET /metrics needs a key with scope `metrics` (REQUIRE_KEY_FOR_METRICS). */
  requireKeyForMetrics?: boolean;
  /** Limits and timeouts; each missing field has its documented default (see limits.ts). */
  limits?: Partial<GatewayLimits>;
}

/** State-changing routes open to API clients (users' own genres and feedback); open unless REQUIRE_KEY_FOR_CLIENT_ROUTES. */
const CLIENT_WRITE_ROUTES = new Set(['POST /genres', 'POST /feedback/:session_id']);

/**
 * Fail closed: a state-changing route needs `admin` unless it declares its own scope (`config: { scope: 'ingest' }`)
 * or is one of the client write routes. So POST /training/runs, POST /models/:model_type/activate and
 * POST /recommendations/refresh need `admin`, and so does any new POST route until it says otherwise.
 */
function requireAdminByDefault(route: { method: string | string[]; url: string; config?: { scope?: string } }): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const changesState = methods.some((m) => !['GET', 'HEAD', 'OPTIONS'].includes(m));
  if (!changesState || route.config?.scope) return;
  if (methods.every((m) => CLIENT_WRITE_ROUTES.has(`${m} ${route.url}`))) return;
  route.config = { ...route.config, scope: 'admin' };
}

/**
 * Documents in OpenAPI every error a route can answer, in the one error body: 400, 404, 429, 500, 503, 504 always;
 * 413 and 415 with a body; 414 with path parameters; 401 and 403 when a key is needed (with the route's security
 * requirement).
 */
function documentErrors(
  route: { method: string | string[]; url: string; config?: { scope?: string }; schema?: Record<string, unknown> },
  options: { rateLimited: boolean; keysForClientRoutes: boolean },
): void {
  const schema = route.schema;
  if (!schema || schema.hide) return;
  const errors: Record<number, unknown> = { 400: ErrorResponse, 404: ErrorResponse, 500: ErrorResponse, 503: ErrorResponse, 504: ErrorResponse };
  if (options.rateLimited) errors[429] = ErrorResponse;
  if (schema.body) Object.assign(errors, { 413: ErrorResponse, 415: ErrorResponse });
  if (route.url.includes(':')) errors[414] = ErrorResponse;
  const keyed = Boolean(route.config?.scope) || options.keysForClientRoutes;
  if (keyed) Object.assign(errors, { 401: ErrorResponse, 403: ErrorResponse });
  route.schema = {
    ...schema,
    response: { ...errors, ...(schema.response as object | undefined) },
    ...(keyed ? { security: [{ bearer: [] }, { apiKey: [] }] } : {}),
    ...(route.config?.scope ? { description: `${(schema.description as string | undefined) ?? ''}${schema.description ? ' ' : ''}Needs an API key with scope \`${route.config.scope}\`.` } : {}),
  };
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

/**
 * The REST gateway: validates, translates to gRPC with a deadline and maps errors; no business logic. Every answer,
 * including the framework's and the HTTP parser's own, is JSON `{"error":{"code","message"}}` when it is an error.
 */
export async function buildGateway(deps: GatewayDeps): Promise<GatewayApp> {
  const { upstreams, log, extraRoutes } = deps;
  const limits = resolveLimits(deps.limits);
  const keys = deps.apiKeys ?? new ApiKeyStore();
  const app: GatewayApp = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    genReqId: (req) => {
      const header = req.headers[REQUEST_ID_HEADER];
      return typeof header === 'string' && /^[\w.-]{1,128}$/.test(header) ? header : randomUUID();
    },
    requestIdHeader: false,
    // Access logs for API calls; probes and scrapes stay quiet.
    logController: new LogController({ disableRequestLogging: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url) }),
    bodyLimit: limits.BODY_LIMIT_BYTES,
    // `/genres/` is `/genres` (the 405 handler's route table matched it already, and claimed GET was not allowed).
    routerOptions: { maxParamLength: limits.MAX_PARAM_LENGTH, ignoreTrailingSlash: true },
    // Node checks header and request timeouts on this interval (30 s by default, too coarse for short timeouts).
    http: { maxHeaderSize: limits.MAX_HEADER_BYTES, connectionsCheckingInterval: Math.min(1_000, limits.HEADERS_TIMEOUT_MS) },
    requestTimeout: limits.REQUEST_TIMEOUT_MS,
    keepAliveTimeout: limits.KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: limits.CONNECTION_TIMEOUT_MS,
    trustProxy: limits.TRUST_PROXY_HOPS > 0 ? (_address: string, hop: number) => hop < limits.TRUST_PROXY_HOPS : false,
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
    // Node's own answer to CONNECT and upgrade requests is to drop the socket: refuse them in JSON instead.
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.server.headersTimeout = limits.HEADERS_TIMEOUT_MS;
  app.server.on('connect', (_req, socket) => {
    const body = JSON.stringify(errorBody('METHOD_NOT_ALLOWED', `CONNECT is not supported: this API uses ${API_METHODS.join(', ')}`));
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${API_METHODS.join(', ')}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
  app.setValidatorCompiler(validatorCompiler());
  // The API speaks JSON only: other media types are refused with a 415 that says so.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(handleError);
  const routeTable = new RouteTable();
  app.addHook('onRoute', (route) => {
    routeTable.add(route.url, route.method as string | string[]);
    requireAdminByDefault(route);
    documentErrors(route as Parameters<typeof documentErrors>[0], { rateLimited: limits.RATE_LIMIT_MAX > 0, keysForClientRoutes: deps.requireKeyForClientRoutes ?? false });
  });
  app.setNotFoundHandler(notFoundHandler(routeTable));
  applyBodyLimits(app, limits);
  app.addHook('onSend', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  drainRefusedBodies(app, limits);
  // Order matters: shed load first (cheapest), then rate limits (so failed key guesses count), then keys.
  shedLoad(app, limits);
  const redis = await rateLimitRedis(limits, (err) => log.warn({ err: err.message }, 'rate-limit Redis error: requests are counted in this process meanwhile'));
  if (redis) app.addHook('onClose', async () => void redis.disconnect());
  const rateLimitBreaker = await registerRateLimit(app, limits, clientIdentity(keys), redis);
  await registerCors(app, limits);
  registerAuth(app, {
    keys,
    requireKeyForClientRoutes: deps.requireKeyForClientRoutes ?? false,
    requireKeyForMetrics: deps.requireKeyForMetrics ?? false,
  });
  const registry = createMetricsRegistry('gateway');
  if (rateLimitBreaker) registerBreakerGauge(registry, 'rate_limit_circuit_state', { redis: rateLimitBreaker });
  observeRequests(app, registry);

  await app.register(swagger, {
    openapi: {
      // 3.1: JSON Schema 2020-12, so TypeBox's numeric exclusiveMinimum is valid as it is.
      openapi: '3.1.0',
      info: { title: 'Movie recommendation service', version: '1.0.0', description: 'REST gateway in front of the gRPC services' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key: Authorization: Bearer <key>' },
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An API key: X-API-Key: <key>' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  // Browsers ask for it on every visit to the console or /docs: no icon, and no 404 in their console.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) => reply.status(204).send());
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const upstream = await upstreams.health();
    const ready = upstream.recsvc && upstream.trainer;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', upstream });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );

  for (const routes of [genreRoutes, recommendationRoutes, trainingRoutes, eventRoutes, movieRoutes]) routes(app, upstreams);
  await extraRoutes?.(app);
  return app;
}
