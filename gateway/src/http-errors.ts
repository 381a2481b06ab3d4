import { status } from '@grpc/grpc-js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { isGrpcError, isServiceStatus } from '../../lib/src/grpc/status.js';

/** The one gRPC → HTTP status table (connect-es's codeToHttpStatus). */
const grpcToHttp: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.FAILED_PRECONDITION]: 400,
  [status.OUT_OF_RANGE]: 400,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.ABORTED]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.UNAUTHENTICATED]: 401,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.UNIMPLEMENTED]: 501,
  [status.UNAVAILABLE]: 503,
};

export function httpStatusOf(code: status): number {
  return grpcToHttp[code] ?? 500;
}

/** The one JSON error body of the REST API. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** The error code of the JSON body for each HTTP status the gateway itself produces (gRPC names where one fits). */
const codeOfStatus: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  411: 'LENGTH_REQUIRED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RESOURCE_EXHAUSTED',
  431: 'HEADERS_TOO_LARGE',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function errorCodeOf(httpStatus: number): string {
  return codeOfStatus[httpStatus] ?? (httpStatus >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT');
}

/** Fastify's own errors: a status and a message that never repeats the request (no path, no body, no header). */
const frameworkErrorMessages: Record<string, [number, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'request body must be JSON: send Content-Type: application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'Content-Length does not match the body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'request body must be a JSON object (Content-Type: application/json), not empty'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'request body is not valid JSON (it did not parse, or it uses a forbidden key such as __proto__): send one JSON object'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'request body is too large'],
  FST_ERR_CTP_INVALID_TYPE: [415, 'request body must be JSON: send Content-Type: application/json'],
  FST_ERR_BAD_URL: [400, 'the URL is not valid (bad percent-encoding)'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'a path segment is too long: ids are at most 64 characters'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'the request could not be routed'],
};

/** Details of a gRPC status that name an address, a socket error or a resolver: not for clients. */
const INTERNALS = /\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]*\]|[\w.-]+:\d{2,5}\b|unix:|No connection established|Name resolution|getaddrinfo|remote_addr|LB pick|subchannel/i;
const ERRNO = /\bE(CONN|ADDR|HOST|NET|PIPE|NOTFOUND|AI_|TIMEDOUT)\w*/;

/** What a client reads instead of a transport-level 5xx (whose details go to the log). */
const GENERIC_UPSTREAM_MESSAGES: Record<number, string> = {
  500: 'internal error',
  501: 'not implemented',
  503: 'a backend service is unavailable: retry shortly',
  504: 'a backend service did not answer in time: retry shortly',
};

/** Retry-After (seconds) of 503 and 504 answers for upstream and dependency failures. */
export const UPSTREAM_RETRY_AFTER_SECONDS = 1;

export function revealsInternals(details: string): boolean {
  return INTERNALS.test(details) || ERRNO.test(details);
}

/** The body-size limit of the route, for 413 messages. */
function bodyLimitOf(request: FastifyRequest): number | undefined {
  const limit = (request.routeOptions as { bodyLimit?: number }).bodyLimit;
  return typeof limit === 'number' ? limit : undefined;
}

/** Maps validation, body-parsing, framework and gRPC errors to a status and the JSON error body; never leaks internals. */
export function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.validation) {
    const message = err.validation.map((v) => validationMessage(err.validationContext ?? 'request', v)).join('; ');
    return reply.status(400).send(errorBody('INVALID_ARGUMENT', message));
  }
  const upstreamError: unknown = err;
  if (isGrpcError(upstreamError)) {
    const { code, details } = upstreamError;
    const httpStatus = httpStatusOf(code);
    if (httpStatus >= 500) request.log.warn({ grpcCode: code, details, own: isServiceStatus(upstreamError) }, 'upstream error');
    // Only the services' own messages ("the database is unreachable; try again shortly") reach the client on a 5xx:
    // statuses made by grpc-js or anything in between (no connection, deadline, name resolution) name internal
    // addresses and causes, so they go to the log and the client gets a generic message.
    const generic =
      httpStatus === 500 ||
      (httpStatus > 500 && (!isServiceStatus(upstreamError) || revealsInternals(details)));
    const message = generic ? GENERIC_UPSTREAM_MESSAGES[httpStatus] ?? 'internal error' : details;
    // Worth retrying: the dependency is down or shedding load (a short, fixed hint; the client may back off more).
    if (httpStatus === 503 || httpStatus === 504) reply.header('retry-after', String(UPSTREAM_RETRY_AFTER_SECONDS));
    return reply.status(httpStatus).send(errorBody(status[code] ?? 'UNKNOWN', message));
  }
  const known = frameworkErrorMessages[err.code];
  if (known) {
    const [httpStatus, message] = known;
    const limit = httpStatus === 413 ? bodyLimitOf(request) : undefined;
    return reply.status(httpStatus).send(errorBody(errorCodeOf(httpStatus), limit ? `${message}: at most ${limit} bytes` : message));
  }
  if (err.statusCode === 429) {
    return reply.status(429).send(errorBody('RESOURCE_EXHAUSTED', err.message));
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    // Other client errors from fastify or a plugin: a fixed message per status, never the error's own text,
    // which may quote the request.
    request.log.info({ code: err.code, statusCode: err.statusCode }, 'client error');
    return reply.status(err.statusCode).send(errorBody(errorCodeOf(err.statusCode), STATUS_CODES[err.statusCode]?.toLowerCase() ?? 'bad request'));
  }
  request.log.error({ err }, 'unhandled error');
  return reply.status(500).send(errorBody('INTERNAL', 'internal error'));
}

interface ValidationIssue {
  keyword?: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/**
 * One validation problem as a sentence that says what is allowed: an enum lists its values
 * ("querystring.model must be one of: als, lightfm"), an unknown property names itself.
 */
export function validationMessage(context: string, v: ValidationIssue): string {
  const where = `${context}${v.instancePath.replaceAll('/', '.')}`;
  const allowed = v.params?.allowedValues;
  if (v.keyword === 'enum' && Array.isArray(allowed)) return `${where} must be one of: ${allowed.map(String).join(', ')}`;
  if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
    return `${where} must NOT have additional properties: '${v.params.additionalProperty.slice(0, 64)}' is not one of the allowed ones`;
  }
  return `${where} ${v.message ?? 'is invalid'}`;
}

/** For fastify's `frameworkErrors` option: bad percent-encoding (400) and over-long path parameters (414). */
export function handleFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return handleError(err, request, reply);
}

/**
 * For fastify's `clientErrorHandler`: requests Node's HTTP parser refuses before fastify sees them (unknown method,
 * malformed request line or header, head too large, head or body too slow). Answers in the JSON error body, then
 * closes the connection, as Node does.
 */
export function handleClientError(this: FastifyInstance, err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let httpStatus = 400;
  let message = 'malformed HTTP request';
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      httpStatus = 408;
      message = 'the request did not arrive in time';
      break;
    case 'HPE_HEADER_OVERFLOW':
      httpStatus = 431;
      message = 'the request line and headers are too large';
      break;
    case 'HPE_INVALID_METHOD':
      httpStatus = 501;
      message = `unknown HTTP method: this API uses ${API_METHODS.join(', ')}`;
      break;
    case 'HPE_INVALID_URL':
      message = 'the request URL is not valid';
      break;
  }
  this.log.debug({ code: err.code }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify(errorBody(errorCodeOf(httpStatus), message));
    socket.write(
      `HTTP/1.1 ${httpStatus} ${STATUS_CODES[httpStatus]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.end();
  socket.destroySoon();
}

/** Every method a route of the API answers (gateway/test/error-contract.e2e.test.ts checks it against the routes). */
export const API_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Method-aware 404: a path that exists for other methods answers 405 with `Allow`. */
export class RouteTable {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];

  add(url: string, methods: string | string[]): void {
    if (url === '*' || url === '/*') return; // catch-all routes (CORS preflight) say nothing about a path
    const source = url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}/?$`);
    const existing = this.routes.find((r) => r.pattern.source === pattern.source);
    const list = Array.isArray(methods) ? methods : [methods];
    if (existing) list.forEach((m) => existing.methods.add(m));
    else this.routes.push({ pattern, methods: new Set(list) });
  }

  /** The methods allowed on a concrete path; empty when no route matches it. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) route.methods.forEach((m) => methods.add(m));
    return [...methods].sort();
  }
}

/** The not-found handler: 405 + Allow when the path exists for other methods, else 404; neither echoes the path. */
export function notFoundHandler(table: RouteTable) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0];
    const allowed = table.allowed(path);
    if (allowed.length) {
      return reply
        .status(405)
        .header('allow', allowed.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', `method ${request.method} is not allowed here: use ${allowed.join(' or ')}`));
    }
    return reply.status(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${safePath(path)}`));
  };
}

/** A path fit to quote back: at most 100 characters of [A-Za-z0-9/_.~-], anything else replaced by '?'. */
export function safePath(path: string): string {
  const clean = path.slice(0, 100).replace(/[^A-Za-z0-9/_.~-]/g, '?');
  return path.length > 100 ? `${clean}...` : clean;
}
