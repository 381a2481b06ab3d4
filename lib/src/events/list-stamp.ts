import { randomBytes } from 'node:crypto';
import type { Cache } from '../cache/types.js';

/**
 * Which cached lists are older than the user's latest interaction: the **interactions stamp**.
 *
 * Every applied event (and every feedback like or dislike) replaces the user's stamp,
 * `interactions-changed:{user_id}`, with a new random token. recsvc reads the stamp together with the cached list in
 * one MGET; a cached list carries the stamp that was current when the user's history it was computed from was read
 * (`s{stamp}|{list}`), and is served only when the two are equal. So a list computed before an event is never served
 * after it, whatever model type or version it was cached under, whichever replica cached it and whichever versions the
 * replicas serve at that moment (a replica still serving the previous version, or one that swaps after the event, reads
 * the same stamp). Lists written without a stamp (the trainer's refresh jobs) count as computed before any event: they
 * are served only to users who have no stamp.
 *
 * Why a random token and not a time or a counter: equality needs no clock agreement between the consumer and the
 * recsvc replicas, and a stamp that expired or was evicted is never re-issued with the same value (an expired stamp
 * only turns the user's next request into a miss). Order of writes: the store first, then the stamp; order of reads:
 * the stamp first (with the list), then the history. An event landing anywhere in between changes the stamp after it
 * was read, so the list computed from the older history is cached under the older stamp and never served.
 */
export const STAMP_KEY_PREFIX = 'interactions-changed:';

/** How long a stamp is kept: longer than any cached list lives (a stamp gone only costs one cache miss). */
export const STAMP_TTL_SECONDS = 30 * 86_400;

export function stampKey(userId: string): string {
  return `${STAMP_KEY_PREFIX}${userId}`;
}

/**
 * A new stamp: when the events were applied (ms since the epoch, base 36), a dot, and 12 random base64url characters
 * (72 bits). Equality is what makes a list stale; the time lets recsvc tell whether the user changed since the model's
 * data snapshot without reading interaction_events (stampTime).
 */
export function newStamp(appliedAt: Date = new Date()): string {
  return `${appliedAt.getTime().toString(36)}.${randomBytes(9).toString('base64url')}`;
}

/** When the events behind a stamp were applied (ms), or null for a stamp without a time. */
export function stampTime(stamp: string): number | null {
  const dot = stamp.indexOf('.');
  if (dot <= 0) return null;
  const ms = parseInt(stamp.slice(0, dot), 36);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * Gives each user a new stamp (one pipelined write): their cached lists, of every version, are stale from now on.
 * `appliedAt`: when the store write that caused it was made (the appliedAt of the events).
 */
export async function stampUsers(cache: Cache, userIds: Iterable<string>, appliedAt: Date = new Date()): Promise<void> {
  const users = [...new Set(userIds)];
  if (users.length === 0) return;
  await cache.setMany(
    users.map((userId) => [stampKey(userId), newStamp(appliedAt)] as const),
    STAMP_TTL_SECONDS,
  );
}

/** The cached value of a list computed from history read under `stamp` (null: the user had no stamp). */
export function stampList(stamp: string | null, list: string): string {
  return stamp === null ? list : `s${stamp}|${list}`;
}

/**
 * The list inside a cached value if it was computed under the user's current stamp, else null (a miss). Values without
 * a stamp (written by the refresh jobs or before stamps existed) are current only for a user without a stamp.
 */
export function currentList(value: string | null, currentStamp: string | null): string | null {
  if (value === null) return null;
  if (value.charCodeAt(0) !== 115 /* s */) return currentStamp === null ? value : null;
  const bar = value.indexOf('|');
  if (bar === -1) return null;
  return currentStamp !== null && value.slice(1, bar) === currentStamp ? value.slice(bar + 1) : null;
}
