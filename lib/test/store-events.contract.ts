import { afterAll, beforeEach, expect, it } from 'vitest';
import type { ValidEvent } from '../src/events/interaction-event.js';
import type { MovieDoc, Store } from '../src/store/types.js';
import { dropTestDatabase } from './support/servers.js';

const movie = (movieId: string): MovieDoc => ({ movieId, title: `Movie ${movieId}`, year: 2000, genres: ['Drama'], rating: 8, popularity: 0 });
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute));
let n = 0;
const ev = (type: ValidEvent['type'], movieId: string, minute: number, extra: Partial<ValidEvent> = {}): ValidEvent => ({
  eventId: `e${++n}`,
  userId: 'u1',
  movieId,
  type,
  occurredAt: at(minute),
  ...(type === 'watched' ? { completed: true } : {}),
  ...(type === 'rated' ? { rating: 8 } : {}),
  ...extra,
});

/** Applying interaction events: every Store implementation passes it (lib/test/store-events.test.ts). */
export function storeEventsContract(
  makeStore: () => Promise<Store>,
  /** Deletes the idempotency records (interaction_events) behind the store's back, as a crash before writing them. */
  dropIdempotencyRecords?: (store: Store) => Promise<void>,
): void {
  let store: Store;
  beforeEach(async () => {
    store ??= await makeStore();
    await store.clear();
    await store.insertMany('movies', ['m1', 'm2', 'm3', 'm4'].map(movie));
  });
  afterAll(async () => {
    await dropTestDatabase(store);
    await store?.close();
  });

  it('writes each kind of event into the collections the training job reads, with the mission weights', async () => {
    const events = [
      ev('watched', 'm1', 1, { completed: true }),
      ev('watched', 'm2', 2, { completed: false, progress: 0.4 }),
      ev('rated', 'm3', 3, { rating: 7 }),
      ev('bookmarked', 'm4', 4),
    ];
    const result = await store.applyInteractionEvents(events, at(10));
    expect(result.applied.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
    expect(result.duplicates).toEqual([]);
    const weights = await store.userInteractionWeights('u1');
    expect(Object.fromEntries(weights)).toEqual({ m1: 1, m2: 0.5, m3: expect.closeTo(0.7, 9), m4: 0.3 });
    expect(await store.count('watched_movies')).toBe(2);
    expect(await store.count('likes')).toBe(1);
    expect(await store.count('bookmarks')).toBe(1);
    expect(await store.count('interaction_events')).toBe(4);
    expect(await store.lastInteractionEventAt('u1')).toEqual(at(10));
    expect(await store.lastInteractionEventAt('nobody')).toBeNull();
  });

  it('applies an event once per id: a redelivered event is reported as a duplicate and changes nothing', async () => {
    const watched = ev('watched', 'm1', 1);
    const liked = ev('liked', 'm2', 2);
    const first = await store.applyInteractionEvents([watched, liked, watched], at(10));
    expect(first.applied.map((e) => e.eventId)).toEqual([watched.eventId, liked.eventId]);
    expect(first.duplicates.map((e) => e.eventId)).toEqual([watched.eventId]);
    const again = await store.applyInteractionEvents([liked, watched], at(11));
    expect(again.applied).toEqual([]);
    expect(again.duplicates).toHaveLength(2);
    expect(await store.count('watched_movies')).toBe(1);
    expect(await store.count('likes')).toBe(1);
    expect(Object.fromEntries(await store.userInteractionWeights('u1'))).toEqual({ m1: 1, m2: 1 });
  });

  it('applies the same event sent eight times at once exactly once: one applied, seven duplicates', async () => {
    for (const type of ['watched', 'rated', 'bookmarked', 'liked'] as const) {
      const event = ev(type, 'm1', 1);
      const results = await Promise.all(Array.from({ length: 8 }, () => store.applyInteractionEvents([event], at(10))));
      expect(results.reduce((n, r) => n + r.applied.length, 0)).toBe(1);
      expect(results.reduce((n, r) => n + r.duplicates.length, 0)).toBe(7);
    }
    expect(await store.count('watched_movies')).toBe(1);
    expect(await store.count('likes')).toBe(2);
    expect(await store.count('bookmarks')).toBe(1);
    expect(await store.count('interaction_events')).toBe(4);
  });

  it('tells applied events from new ones in a small batch and in a large one', async () => {
    // Bookmark events are looked up by id; a few ids and more than 64 take different query shapes in the MongoDB store
    // (equality per id, or one $in).
    const small = [ev('watched', 'm1', 1), ev('bookmarked', 'm2', 2)];
    const large = Array.from({ length: 100 }, (_, i) => ev('bookmarked', `m${(i % 4) + 1}`, i, { userId: `b${i}` }));
    expect((await store.applyInteractionEvents(small, at(10))).applied).toHaveLength(2);
    expect((await store.applyInteractionEvents(large.slice(0, 50), at(10))).applied).toHaveLength(50);
    const mixed = await store.applyInteractionEvents([...large, ...small], at(11));
    expect(mixed.applied.map((e) => e.eventId)).toEqual(large.slice(50).map((e) => e.eventId));
    expect(mixed.duplicates).toHaveLength(52);
    expect(await store.count('interaction_events')).toBe(102);
    expect(await store.count('watched_movies')).toBe(1);
    expect(await store.count('bookmarks')).toBe(101);
  });

  // Only where a crash can fall between the writes (the in-process store applies a batch in one synchronous step).
  if (dropIdempotencyRecords) it('writes nothing twice when a batch is applied again after a crash before its idempotency records', async () => {
    const events = [ev('watched', 'm1', 1), ev('rated', 'm2', 2), ev('bookmarked', 'm3', 3)];
    await store.applyInteractionEvents(events, at(10));
    // as if the process died after writing the effects: the idempotency records are gone, the effects are not
    await dropIdempotencyRecords!(store);
    const again = await store.applyInteractionEvents(events, at(11));
    expect(again.applied).toHaveLength(3);
    expect(await store.count('watched_movies')).toBe(1);
    expect(await store.count('likes')).toBe(1);
    expect(await store.count('bookmarks')).toBe(1);
    expect(await store.count('interaction_events')).toBe(3);
  });

  it('removes bookmarks in event order', async () => {
    await store.applyInteractionEvents([ev('bookmarked', 'm1', 1), ev('bookmark_removed', 'm1', 2), ev('bookmark_removed', 'm2', 3), ev('bookmarked', 'm2', 4)]);
    expect([...(await store.userInteractionWeights('u1')).keys()]).toEqual(['m2']);
  });

  it('lets the latest like or dislike decide, whatever order the events arrive in', async () => {
    await store.applyInteractionEvents([ev('watched', 'm1', 1), ev('disliked', 'm1', 2), ev('disliked', 'm2', 3)]);
    expect(await store.dislikedMovieIds('u1')).toEqual(['m1', 'm2'].filter((m) => m));
    expect((await store.userInteractionWeights('u1')).has('m1')).toBe(false);
    // a later like brings m1 back (as a positive interaction), an older like of m2 arriving late changes nothing
    await store.applyInteractionEvents([ev('liked', 'm1', 5), ev('liked', 'm2', 1)]);
    expect(await store.dislikedMovieIds('u1')).toEqual(['m2']);
    const weights = await store.userInteractionWeights('u1');
    expect(weights.get('m1')).toBeCloseTo(2, 9); // watched (1.0) + liked (1.0)
    expect(weights.has('m2')).toBe(false);
    // the one-read form a cache miss uses gives both at once, the same
    expect(await store.userInteractionHistory('u1')).toEqual({ interactions: weights, disliked: ['m2'] });
  });

  it('writes no decision document for likes and dislikes whose feedback document the caller stored (POST /feedback)', async () => {
    await store.upsertFeedback(
      { sessionId: '00000000-0000-4000-8000-000000000002', userId: 'u1', movieId: 'm4', liked: false, modelType: 'als', modelVersion: 'v1', rank: 1, sessionCreatedAt: at(1) },
      at(2),
    );
    const events = [ev('disliked', 'm4', 2), ev('liked', 'm5', 2)];
    const result = await store.applyInteractionEvents(events, at(2), { decisionsStored: true });
    expect(result.applied.length).toBe(2);
    expect(await store.count('feedback')).toBe(1); // the session's feedback document only
    expect(await store.count('interaction_events')).toBe(2);
    expect(await store.count('likes')).toBe(1);
    expect(await store.dislikedMovieIds('u1')).toEqual(['m4']);
    // applied once: the same events again are duplicates
    expect((await store.applyInteractionEvents(events, at(3), { decisionsStored: true })).duplicates.length).toBe(2);
    expect(await store.count('likes')).toBe(1);
  });

  it('lets session feedback and event decisions compete on time', async () => {
    await store.applyInteractionEvents([ev('disliked', 'm3', 1)]);
    await store.upsertFeedback(
      { sessionId: '00000000-0000-4000-8000-000000000001', userId: 'u1', movieId: 'm3', liked: true, modelType: 'als', modelVersion: 'v1', rank: 1, sessionCreatedAt: at(2) },
      at(3),
    );
    expect(await store.dislikedMovieIds('u1')).toEqual([]);
    await store.applyInteractionEvents([ev('disliked', 'm3', 4)]);
    expect(await store.dislikedMovieIds('u1')).toEqual(['m3']);
    // the report ignores event decisions (no model type)
    const totals = await store.experimentTotals({ k: 3 });
    expect(totals.reduce((sum, t) => sum + t.feedbackCount, 0)).toBe(1);
  });
}
