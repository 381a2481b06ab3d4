import { status, type ServiceError, Metadata } from '@grpc/grpc-js';
import { DomainError, type DomainErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { isNetworkError } from '../dependency-errors.js';
import { CallAbortedError } from '../call-scope.js';

const domainToGrpc: Record<DomainErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
};

/**
 * Trailing metadata that marks a status as our services' own (`recsys-status-source: service`): its message was
 * written for clients. A status without it comes from grpc-js itself or something in between (no connection, a
 * deadline, a proxy) and may name internal addresses; the gateway answers those with a generic message.
 */
export const STATUS_SOURCE_KEY = 'recsys-status-source';

/** True if the error is a status one of our services sent (see STATUS_SOURCE_KEY). */
export function isServiceStatus(err: Pick<ServiceError, 'metadata'>): boolean {
  return err.metadata instanceof Metadata && err.metadata.get(STATUS_SOURCE_KEY)[0] === 'service';
}

/**
 * gRFC A6 server pushback: a negative `grpc-retry-pushback-ms` tells the client's retry policy not to retry. Our
 * services send it with every status of their own: such an answer is final (an UNAVAILABLE database or event stream
 * is unavailable to every replica alike, and a retry would spend the caller's deadline again; without it a stalled
 * database cost up to 3 × MONGO_TIMEOUT_MS and the gateway answered 504). Transport failures (a replica gone,
 * no connection) carry no pushback and are still retried on another replica (clientChannelOptions).
 */
export const RETRY_PUSHBACK_KEY = 'grpc-retry-pushback-ms';

/** A gRPC error with a code, as grpc-js expects it from a handler (marked as the service's own, not to be retried). */
export function grpcError(code: status, message: string): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(STATUS_SOURCE_KEY, 'service');
  metadata.set(RETRY_PUSHBACK_KEY, '-1');
  return { code, details: message, message, metadata };
}

/**
 * The one place domain errors become gRPC statuses. Network errors of a dependency become UNAVAILABLE; work given up
 * because the call was cancelled (CallAbortedError) CANCELLED; unknown
 * errors become INTERNAL with a generic message; their details go to the log only.
 */
export function toGrpcError(err: unknown, log: Logger): Partial<ServiceError> {
  if (err instanceof DomainError) return grpcError(domainToGrpc[err.code], err.message);
  if (isGrpcError(err)) return err;
  // The client cancelled (or the deadline passed) and a dependency call was given up for it: nobody reads this answer.
  if (err instanceof CallAbortedError) return grpcError(status.CANCELLED, err.message);
  // A dependency's network error that its client did not map (lib/src/dependency-errors.ts): still UNAVAILABLE.
  if (isNetworkError(err)) {
    log.warn({ err }, 'a dependency is unreachable');
    return grpcError(status.UNAVAILABLE, 'a storage service is unreachable; try again shortly');
  }
  log.error({ err }, 'unhandled error in gRPC handler');
  return grpcError(status.INTERNAL, 'internal error');
}

export function isGrpcError(err: unknown): err is ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as ServiceError).code === 'number' && 'details' in err;
}

/** For RPCs declared in the contract whose implementation has not landed yet. */
export function unimplemented(method: string): Partial<ServiceError> {
  return grpcError(status.UNIMPLEMENTED, `${method} is not implemented yet`);
}
