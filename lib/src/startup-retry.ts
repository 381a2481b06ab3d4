import { isNetworkError } from './dependency-errors.js';
import { UnavailableError } from './errors.js';
import type { Logger } from './logger.js';

/** Backoff of start-up retries: the first after `initialMs`, doubling up to `maxMs` between attempts. */
export interface StartupRetryPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_STARTUP_RETRY: StartupRetryPolicy = { initialMs: 500, maxMs: 10_000 };

/** Driver errors that mean "the server is not there (yet)" without a network error code (MongoDB's selection). */
const NOT_THERE_NAMES = /^(MongoServerSelectionError|MongoNetworkError|MongoNetworkTimeoutError|MongoTopologyClosedError)$/;

/**
 * True when a start-up step failed because a dependency cannot be reached yet (connection refused, no server
 * selected, timed out, UnavailableError), as opposed to a wrong configuration or a bug, which must stop the process.
 */
export function isDependencyNotReady(err: unknown): boolean {
  return err instanceof UnavailableError || isNetworkError(err) || (err instanceof Error && NOT_THERE_NAMES.test(err.name));
}

/**
 * Runs a start-up step until it succeeds: while it fails because a dependency is not ready (isDependencyNotReady), it
 * logs a warning (`what`, attempt, next delay, the error) and tries again after a backoff (DEFAULT_STARTUP_RETRY:
 * 0.5 s doubling to 10 s), for as long as it takes; any other error is thrown at once. `stopped` ends the waiting
 * (shutdown during start-up): the last error is thrown.
 */
export async function untilReady<T>(
  what: string,
  step: () => Promise<T>,
  log: Logger,
  policy: StartupRetryPolicy = DEFAULT_STARTUP_RETRY,
  stopped: () => boolean = () => false,
): Promise<T> {
  for (let attempt = 1, delay = policy.initialMs; ; attempt++, delay = Math.min(delay * 2, policy.maxMs)) {
    try {
      const result = await step();
      if (attempt > 1) log.info({ what, attempts: attempt }, 'start-up: dependency ready');
      return result;
    } catch (err) {
      if (!isDependencyNotReady(err) || stopped()) throw err;
      log.warn({ what, attempt, retryInMs: delay, err: String(err) }, 'start-up: dependency not ready; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
