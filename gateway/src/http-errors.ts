import { status } from '@grpc/grpc-js';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isGrpcError } from '../../lib/src/grpc/status.js';

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

/** Maps validation, body-parsing and gRPC errors to a status and the JSON error body; never leaks internals. */
export function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err.validation) {
    const message = err.validation.map((v) => validationMessage(err.validationContext ?? 'request', v)).join('; ');
    return reply.status(400).send(errorBody('INVALID_ARGUMENT', message));
  }
  const upstreamError: unknown = err;
  if (isGrpcError(upstreamError)) {
    const { code, details } = upstreamError;
    const httpStatus = httpStatusOf(code);
    if (httpStatus >= 500) request.log.warn({ grpcCode: code, details }, 'upstream error');
    const message = httpStatus === 500 ? 'internal error' : details;
    return reply.status(httpStatus).send(errorBody(status[code] ?? 'UNKNOWN', message));
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return reply.status(400).send(errorBody('INVALID_ARGUMENT', 'request body must be a JSON object (Content-Type: application/json)'));
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.status(err.statusCode).send(errorBody('INVALID_ARGUMENT', err.message));
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
