import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The gRPC call on whose behalf the current code runs (set by lib/src/grpc/server.ts around every handler): its
 * abort signal (the client cancelled, or the deadline passed) and its deadline. Dependency clients read it so that
 * work stops when the client gave up, without a signal parameter on every method: the Redis cache refuses commands
 * of an aborted call (lib/src/cache/redis-cache.ts); `remainingMs()` bounds a query by the call's deadline.
 */
export interface CallScope {
  readonly signal: AbortSignal;
  /** Epoch milliseconds; Infinity when the call has no deadline. */
  readonly deadline: number;
}

const storage = new AsyncLocalStorage<CallScope>();

/** Runs `fn` inside a call's scope. */
export function runInCallScope<T>(scope: CallScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/**
 * Runs `fn` outside any call's scope: for work that must not stop when the call that started it ends or is
 * cancelled, such as a cache write after the answer was sent, or a computation shared by several calls (single
 * flight). Such work is bounded by its dependencies' own time limits instead.
 */
export function detachedFromCall<T>(fn: () => T): T {
  return storage.exit(fn);
}

/**
 * Runs `fn` on behalf of several calls at once (a write shared by them, e.g. a group commit): in a scope whose signal
 * aborts only when every one of them was cancelled and whose deadline is the latest of theirs, so that one caller
 * giving up does not fail the others, while the work stays request-path work (dependency clients apply their request
 * limits, not their background ones). Outside any call when none of them ran in one.
 */
export function runForCalls<T>(scopes: readonly (CallScope | undefined)[], fn: () => T): T {
  const calls = scopes.filter((s): s is CallScope => s !== undefined);
  if (calls.length === 0) return detachedFromCall(fn);
  if (calls.length === 1) return storage.run(calls[0], fn);
  const all = new AbortController();
  let live = calls.length;
  const onAbort = () => {
    if (--live === 0) all.abort();
  };
  for (const call of calls) {
    if (call.signal.aborted) onAbort();
    else call.signal.addEventListener('abort', onAbort, { once: true });
  }
  return storage.run({ signal: all.signal, deadline: Math.max(...calls.map((c) => c.deadline)) }, fn);
}

/** The scope of the call being handled, if any. */
export function currentCall(): CallScope | undefined {
  return storage.getStore();
}

/** Milliseconds left until the current call's deadline (Infinity outside a call or without a deadline). */
export function remainingMs(now = Date.now()): number {
  const scope = storage.getStore();
  return scope ? scope.deadline - now : Infinity;
}

/** Thrown instead of calling a dependency for a call that was cancelled or whose deadline passed. */
export class CallAbortedError extends Error {
  constructor() {
    super('the call was cancelled or its deadline passed: the dependency was not called');
    this.name = 'CallAbortedError';
  }
}

/** Throws CallAbortedError when the current call was cancelled or its deadline passed. */
export function throwIfCallAborted(): void {
  if (storage.getStore()?.signal.aborted) throw new CallAbortedError();
}
