/**
 * Errors of a dependency (database, cache, object store, broker) that mean "cannot be reached now" rather than
 * "the request is wrong": they become UnavailableError (gRPC UNAVAILABLE, HTTP 503 with Retry-After), never a 500.
 * Each storage client maps its own errors with this (lib/src/objectstore/s3-object-store.ts; MongoDB's in
 * lib/src/store/mongo-store.ts), and lib/src/grpc/status.ts catches any that get through.
 */

/** Socket-level error codes of Node.js that mean the peer cannot be reached or went away. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** Messages of ioredis and Node.js for a connection that is not there (they carry no error code). */
const NETWORK_MESSAGES = /Stream isn't writeable|Connection is closed|Command timed out|Reached the max retries per request limit|socket hang up|connect ECONNREFUSED|read ECONNRESET/;

/** True when the error (or one of its causes) means a dependency cannot be reached or did not answer in time. */
export function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (e instanceof Error && NETWORK_MESSAGES.test(e.message)) return true;
    if (e instanceof AggregateError && e.errors.some(isNetworkError)) return true;
  }
  return false;
}
