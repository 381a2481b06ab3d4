import Fastify, { type FastifyBaseLogger } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../lib/src/logger.js';
import { GenresTopFallback, type RankedMovie } from '../../lib/src/proto.js';
import { REQUEST_ID_HEADER } from '../../lib/src/grpc/server.js';
import { errorBody, handleError } from './http-errors.js';
import {
  GenresResponse,
  GenresTopQuery,
  GenresTopResponse,
  SetGenresBody,
  SetGenresResponse,
  errorResponses,
} from './schemas.js';
import type { Upstreams } from './upstreams.js';

export interface GatewayDeps {
  upstreams: Upstreams;
  log: Logger;
}

/** JSON bodies are never coerced (an object or a number where a string belongs is a 400); query strings are. */
function validatorCompiler() {
  const options = { allErrors: false, strict: false, useDefaults: true, removeAdditional: false } as const;
  const bodyAjv = new Ajv({ ...options, coerceTypes: false });
  const paramsAjv = new Ajv({ ...options, coerceTypes: true });
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? bodyAjv : paramsAjv).compile(schema);
}

export function toRestItem(item: RankedMovie) {
  const movie = item.movie;
  return {
    movie_id: movie?.movieId ?? '',
    title: movie?.title ?? '',
    genres: movie?.genres ?? [],
    year: movie?.year ?? 0,
    rating: movie?.rating ?? 0,
    score: item.score,
    rank: item.rank,
  };
}

/** The REST gateway: validates, translates to gRPC with a deadline and maps errors; no business logic. */
export async function buildGateway({ upstreams, log }: GatewayDeps) {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    genReqId: (req) => {
      const header = req.headers[REQUEST_ID_HEADER];
      return typeof header === 'string' && /^[\w.-]{1,128}$/.test(header) ? header : randomUUID();
    },
    requestIdHeader: false,
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

  await app.register(swagger, {
    openapi: {
      info: { title: 'Movie recommendation service', version: '1.0.0', description: 'REST gateway in front of the gRPC services' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const recsvc = upstreams.recommendations;

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const upstream = await upstreams.health();
    const ready = upstream.recsvc && upstream.trainer;
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', upstream });
  });

  app.get(
    '/genres',
    { schema: { summary: 'The genres the catalogue knows', response: { 200: GenresResponse, ...errorResponses } } },
    async (request) => {
      const res = await upstreams.call(recsvc, recsvc.listGenres, {}, request.id);
      return { genres: res.genres };
    },
  );

  app.post(
    '/genres',
    {
      schema: {
        summary: "Set a user's favourite genres (1 to 3), creating the user if new",
        body: SetGenresBody,
        response: { 200: SetGenresResponse, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(
        recsvc,
        recsvc.setFavoriteGenres,
        { userId: request.body.user_id, genres: request.body.genres },
        request.id,
      );
      return { user_id: res.userId, genres: res.genres, created: res.created };
    },
  );

  app.get(
    '/genres_top',
    {
      schema: {
        summary: "The most popular movies in the user's favourite genres, excluding movies already watched",
        querystring: GenresTopQuery,
        response: { 200: GenresTopResponse, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(
        recsvc,
        recsvc.getGenresTop,
        { userId: request.query.user_id, limit: request.query.limit ?? 10 },
        request.id,
      );
      return {
        user_id: res.userId,
        genres: res.genres,
        fallback: res.fallback === GenresTopFallback.GENRES_TOP_FALLBACK_GLOBAL ? ('global' as const) : null,
        items: res.items.map(toRestItem),
      };
    },
  );

  return app;
}
