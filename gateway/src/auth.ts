import { AsyncLocalStorage } from 'node:async_hooks';
import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { presentedSecret, type ApiKeyScope, type ApiKeyStore } from '../../lib/src/api-keys.js';
import { errorBody } from './http-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The API-key scope a route needs: `config: { scope: 'admin' }` (training, activation, refresh, catalogue) or
     * `'ingest'` (events). Routes without one are client routes: open unless REQUIRE_KEY_FOR_CLIENT_ROUTES.
     */
    scope?: ApiKeyScope;
  }
  interface FastifyRequest {
    /** The id of the API key the request authenticated with, when it sent a valid one. */
    apiKeyId?: string;
  }
}

export interface GatewayAuthOptions {
  keys: ApiKeyStore;
  /** Client routes (no `scope`) need a key with scope `client`. */
  requireKeyForClientRoutes: boolean;
  /** GET /metrics needs a key with scope `metrics`. */
  requireKeyForMetrics: boolean;
}

/** Routes that never need a key: probes, the favicon, the API docs and the web console's files. */
function isPublic(path: string): boolean {
  return path === '/healthz' || path === '/readyz' || path === '/favicon.ico' || path === '/' || path.startsWith('/docs') || path.startsWith('/console/');
}

/** The credential of the request being handled, forwarded to the Trainer service (see forwardApiKey). */
const forwarded = new AsyncLocalStorage<string>();

/**
 * Checks API keys before anything else of the request is read: 401 UNAUTHENTICATED (missing or unknown key),
 * 403 PERMISSION_DENIED (key without the route's scope), in the one JSON error body. The presented key is then
 * forwarded to the Trainer service on the calls the handler makes, which checks it again.
 */
export function registerAuth(app: FastifyInstance, options: GatewayAuthOptions): void {
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0];
    const routeScope = request.routeOptions.config?.scope;
    const scope: ApiKeyScope | undefined =
      routeScope ??
      (path === '/metrics'
        ? options.requireKeyForMetrics
          ? 'metrics'
          : undefined
        : options.requireKeyForClientRoutes && !isPublic(path) && request.routeOptions.url
          ? 'client'
          : undefined);
    const secret = presentedSecret(request.headers.authorization, request.headers['x-api-key']);
    if (!scope) {
      if (secret) request.apiKeyId = options.keys.find(secret)?.id;
      return;
    }
    const result = options.keys.authorize(secret, scope);
    if (result.ok) {
      request.apiKeyId = result.keyId;
      return;
    }
    request.log.warn({ reason: result.reason, scope, route: request.routeOptions.url }, 'request refused');
    if (result.reason === 'forbidden') return reply.status(403).send(errorBody('PERMISSION_DENIED', result.message));
    return reply
      .status(401)
      .header('www-authenticate', 'Bearer')
      .send(errorBody('UNAUTHENTICATED', result.message));
  });
  // The handler (and the gRPC calls it makes) runs inside the request's credential context.
  app.addHook('preHandler', (request, _reply, done) => {
    const secret = presentedSecret(request.headers.authorization, request.headers['x-api-key']);
    if (secret && request.apiKeyId) forwarded.run(secret, done);
    else done();
  });
}

/** The rate-limit identity of a request: its API key id when valid, else its client address. */
export function clientIdentity(keys: ApiKeyStore) {
  return (request: FastifyRequest): string => {
    if (request.apiKeyId) return `key:${request.apiKeyId}`;
    const secret = presentedSecret(request.headers.authorization, request.headers['x-api-key']);
    const id = secret ? keys.find(secret)?.id : undefined;
    return id ? `key:${id}` : `ip:${request.ip}`;
  };
}

/**
 * A grpc-js client interceptor for the Trainer client: sends the API key of the REST request being handled as
 * `authorization: Bearer <key>`, so the Trainer service checks the caller's own key (no gateway-wide key exists).
 */
export const forwardApiKey: grpc.Interceptor = (options, nextCall) =>
  new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      const secret = forwarded.getStore();
      if (secret && !metadata.get('authorization').length) metadata.set('authorization', `Bearer ${secret}`);
      next(metadata, listener);
    },
  });

/**
 * Runs `fn` with `secret` as the credential forwarded to the Trainer service, for callers outside a REST request
 * (the demo starting its first training run through Upstreams).
 */
export function withApiKey<T>(secret: string, fn: () => T): T {
  return forwarded.run(secret, fn);
}
