import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHED_LIST_LENGTH, decodeRecommendations, encodeRecommendations, recommendationKey } from '../../lib/src/recommendation-cache.js';
import { stampUsers } from '../../lib/src/events/list-stamp.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import type { RecommendationLogDoc } from '../../lib/src/store/types.js';
import { MOVIES, publishServingModel, seedServingWorld } from '../../lib/test/support/fixtures.js';
import { closeServingWorld, json } from '../../lib/test/support/serving-world.js';
import { startStack, type TestStack } from '../../lib/test/support/stack.js';
import { ExplanationCache, type Explanation } from '../src/explain-list.js';
import { decodeSession, encodeSession, type RecommendedMovie } from '../src/recommender.js';

describe('the cached list format', () => {
  const list = Array.from({ length: CACHED_LIST_LENGTH }, (_, i) => ({ movieId: `m${i}_x-${i * 7}`, score: Math.fround(1 / (i + 3)) - i * 1e-9 }));

  it('round-trips ids and scores exactly, and decodes only the first k when asked', () => {
    const encoded = encodeRecommendations(list);
    expect(decodeRecommendations(encoded)).toEqual(list);
    expect(decodeRecommendations(encoded, 10)).toEqual(list.slice(0, 10));
    expect(decodeRecommendations(encoded, 1000)).toEqual(list);
    expect(encoded.length).toBeLessThan(JSON.stringify(list.map((i) => [i.movieId, i.score])).length);
    expect(decodeRecommendations(encodeRecommendations([]))).toEqual([]);
    expect(decodeRecommendations(encodeRecommendations([{ movieId: 'm1', score: -0.5e-12 }]))).toEqual([{ movieId: 'm1', score: -0.5e-12 }]);
  });

  it('still reads the JSON form of earlier versions, and treats anything else as a miss', () => {
    expect(decodeRecommendations(JSON.stringify([['m1', 0.5], ['m2', 0.25]]), 1)).toEqual([{ movieId: 'm1', score: 0.5 }]);
    for (const bad of ['', 'r1;m1', 'r1;m1,', 'r1;m1,x', 'r1m1,1', 'r1;m 1,1', 'r1;m1,1;', '{"a":1}', '[["m1","1"]]', 'not json'])
      expect(decodeRecommendations(bad), bad).toBeNull();
  });
});

describe('the session record kept for feedback', () => {
  const doc: RecommendationLogDoc = {
    sessionId: '3b241101-e2bb-4255-8caf-4136c566a962',
    userId: 'u1',
    modelType: 'lightfm',
    modelVersion: '20261124T000000Z-3f9a1c',
    arm: 'forced',
    source: 'cache',
    items: Array.from({ length: 10 }, (_, i) => ({ movieId: `m${1000 + i * 37}`, score: 1.2345678 - i * 0.0123, rank: i + 1 })),
    createdAt: new Date('2026-11-29T21:00:00.123Z'),
  };

  it('keeps what feedback and the log write need in a third of the JSON document', () => {
    const value = encodeSession(doc);
    expect(decodeSession(doc.sessionId, value)).toEqual(doc);
    expect(value.length).toBeLessThan(JSON.stringify(doc).length / 2);
    expect(decodeSession(doc.sessionId, encodeSession({ ...doc, items: [] }))).toEqual({ ...doc, items: [] });
  });

  it('reads the whole-document JSON of earlier versions, and refuses malformed records', () => {
    expect(decodeSession(doc.sessionId, JSON.stringify(doc))).toEqual(doc);
    expect(decodeSession('another', JSON.stringify(doc))).toBeNull();
    for (const bad of ['', 'null', '[2,"u1"]', '[1,"u1","knn","v","a","cache",0,""]', '[1,"u1","als","v","a","cache","x",""]', '[1,"u1","als","v","a","cache",0,"m1"]'])
      expect(decodeSession(doc.sessionId, bad), bad).toBeNull();
  });
});

describe('ExplanationCache', () => {
  const item = (movieId: string, score: number): RecommendedMovie => ({ movie: { ...MOVIES[0], movieId }, score, rank: 1 });
  const explanation = (text: string): Explanation => ({ kind: 'features', text, contributions: [], genres: [] });

  it('answers only for the same items with the same scores, within its time, and evicts the least recently used', () => {
    let now = 0;
    const cache = new ExplanationCache(2, 1000, () => now);
    const a = [item('m1', 0.5), item('m2', 0.25)];
    cache.set('a', a, [explanation('a1'), explanation('a2')]);
    expect(cache.get('a', [item('m1', 0.5), item('m2', 0.25)])?.map((e) => e.text)).toEqual(['a1', 'a2']);
    // Other scores (the user's representation changed) or other items: computed afresh, the stale entry dropped.
    expect(cache.get('a', [item('m1', 0.5), item('m2', 0.26)])).toBeUndefined();
    expect(cache.get('a', a)).toBeUndefined();
    cache.set('a', a, [explanation('a1'), explanation('a2')]);
    expect(cache.get('a', a.slice(0, 1))).toBeUndefined();
    cache.set('a', a, [explanation('a1'), explanation('a2')]);
    cache.set('b', a, [explanation('b1'), explanation('b2')]);
    expect(cache.get('a', a)).toBeDefined(); // a is now the most recently used
    cache.set('c', a, [explanation('c1'), explanation('c2')]);
    expect(cache.size).toBe(2);
    expect(cache.get('b', a)).toBeUndefined();
    expect(cache.get('a', a)).toBeDefined();
    now = 1001;
    expect(cache.get('a', a)).toBeUndefined();
    const off = new ExplanationCache(0, 1000);
    off.set('a', a, [explanation('a1'), explanation('a2')]);
    expect(off.size).toBe(0);
  });
});

describe('cache misses: single flight and a concurrency cap', () => {
  let store: MemoryStore;
  let stack: TestStack;

  beforeAll(async () => {
    store = new MemoryStore();
    await seedServingWorld(store);
    // One miss at a time, one more waiting.
    stack = await startStack(store, { recsvcEnv: { RECOMMEND_MISS_CONCURRENCY: '1', RECOMMEND_MISS_QUEUE: '1' } });
    await publishServingModel(stack.objects, 'als', { second: 1 });
    await publishServingModel(stack.objects, 'lightfm', { second: 1 });
    await Promise.all([stack.recsvc.models.checkActive('als'), stack.recsvc.models.checkActive('lightfm')]);
  });
  afterAll(async () => closeServingWorld(stack, { store }));

  it('computes concurrent misses of one user once, queues past the cap, and answers 503 with Retry-After beyond the queue', async () => {
    const original = store.getUser.bind(store);
    const reads: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    store.getUser = async (userId: string) => {
      reads.push(userId);
      await gate;
      return original(userId);
    };
    try {
      const get = (user: string) => fetch(`${stack.baseUrl}/recommendations/${user}?model=als&k=2`);
      const sameUser = [get('u1'), get('u1'), get('u1')];
      await until(() => reads.length === 1);
      const queued = get('u2'); // waits for the slot
      await until(() => stack.recsvc.recommender.missLoad.waiting === 1);
      const refused = await get('u3');
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect((await json(refused)).error).toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/too many recommendations .* retry shortly/) });
      open();
      const answers = await Promise.all([...sameUser, queued]);
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const bodies = await Promise.all(answers.map(json));
      expect(new Set(bodies.slice(0, 3).map((b) => JSON.stringify(b.items))).size).toBe(1);
      expect(new Set(bodies.map((b) => b.session_id)).size).toBe(4);
      expect(reads).toEqual(['u1', 'u2']);
      expect(stack.recsvc.recommender.missLoad).toEqual({ running: 0, waiting: 0, distinct: 0 });
    } finally {
      store.getUser = original;
    }
  });

  it('does not serve a list computed before an event that landed while it was computed', async () => {
    const original = store.getUser.bind(store);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reads = 0;
    store.getUser = async (userId: string) => {
      reads++;
      await gate;
      return original(userId);
    };
    let stale: Promise<Response>;
    try {
      // The miss read the user's stamp (none) with the list; an event lands before its history read.
      stale = fetch(`${stack.baseUrl}/recommendations/u2?model=lightfm&k=2`);
      await until(() => reads === 1);
      await stampUsers(stack.cache, ['u2']);
      open();
      expect((await json(await stale)).source).toBe('model');
    } finally {
      store.getUser = original;
    }
    // The list was cached under the stamp read before the event: the next request is a miss.
    const key = recommendationKey('u2', 'lightfm', stack.recsvc.models.current('lightfm')!.version);
    for (let i = 0; i < 100 && (await stack.cache.get(key)) === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await stack.cache.get(key)).toMatch(/^r1;/);
    expect((await json(await fetch(`${stack.baseUrl}/recommendations/u2?model=lightfm&k=2`))).source).not.toBe('cache');
    // That request's list is cached under the current stamp and served from the cache.
    for (let i = 0; i < 100 && !(await stack.cache.get(key))?.startsWith('s'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(await stack.cache.get(key)).toMatch(/^s[0-9a-z]+\.[A-Za-z0-9_-]{12}\|r1;/);
    expect((await json(await fetch(`${stack.baseUrl}/recommendations/u2?model=lightfm&k=2`))).source).toBe('cache');
  });

  it('keeps a compact session record in the cache that feedback can use', async () => {
    const list = await json(await fetch(`${stack.baseUrl}/recommendations/u1?model=lightfm&k=2`));
    const record = await stack.cache.get(`session:${list.session_id}`);
    expect(record).not.toBeNull();
    expect(record!.length).toBeLessThan(200);
    expect(decodeSession(list.session_id, record!)).toMatchObject({ userId: 'u1', modelType: 'lightfm', items: [{ movieId: list.items[0].movie_id, rank: 1 }, { rank: 2 }] });
    expect(await stack.cache.get(recommendationKey('u1', 'lightfm', list.model_version))).toMatch(/^r1;/);
  });
});

describe('explanations kept beside the cached list', () => {
  let store: MemoryStore;
  let first: TestStack;
  let second: TestStack;

  beforeAll(async () => {
    store = new MemoryStore();
    await seedServingWorld(store);
    first = await startStack(store);
    // A second replica on the same cache, store and model files (its own in-process explanation cache, empty).
    second = await startStack(store, { cache: first.cache, objects: first.objects });
    await publishServingModel(first.objects, 'als', { second: 1 });
    await publishServingModel(first.objects, 'lightfm', { second: 1 });
    for (const stack of [first, second]) await Promise.all([stack.recsvc.models.checkActive('als'), stack.recsvc.models.checkActive('lightfm')]);
  });
  afterAll(async () => {
    await second.close();
    await closeServingWorld(first, { store });
  });

  it('lets another replica serve a cache hit with the same explanations without reading the user\'s interactions', async () => {
    const url = (stack: TestStack) => `${stack.baseUrl}/recommendations/u1?model=als&k=3`;
    const computed = await json(await fetch(url(first)));
    expect(computed.items.length).toBe(3);
    expect(computed.items.every((i: { explanation: Explanation }) => i.explanation.kind === 'similar_to_history')).toBe(true);
    const key = `explanations:u1:als:${computed.model_version}`;
    for (let i = 0; i < 100 && (await first.cache.get(key)) === null; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await first.cache.get(key)).not.toBeNull();
    for (let i = 0; i < 100 && (await first.cache.get(recommendationKey('u1', 'als', computed.model_version))) === null; i++) await new Promise((r) => setTimeout(r, 10));

    const reads: string[] = [];
    const originals = { weights: store.userInteractionWeights.bind(store), history: store.userInteractionHistory.bind(store) };
    store.userInteractionWeights = async (userId: string) => (reads.push(userId), originals.weights(userId));
    store.userInteractionHistory = async (userId: string) => (reads.push(userId), originals.history(userId));
    try {
      const hit = await json(await fetch(url(second)));
      expect(hit.source).toBe('cache');
      expect(hit.items.map((i: { explanation: Explanation }) => i.explanation)).toEqual(computed.items.map((i: { explanation: Explanation }) => i.explanation));
      expect(reads).toEqual([]);
      // Explanations kept for other items (another list, a stale copy) are not used for these: computed afresh.
      await first.cache.set(key, '{"f":"m1,0.5;","e":[]}', 600);
      const third = await startStack(store, { cache: first.cache, objects: first.objects });
      try {
        await third.recsvc.models.checkActive('als');
        const afresh = await json(await fetch(url(third)));
        expect(afresh.source).toBe('cache');
        expect(afresh.items.map((i: { explanation: Explanation }) => i.explanation)).toEqual(computed.items.map((i: { explanation: Explanation }) => i.explanation));
        expect(reads).toEqual(['u1']);
      } finally {
        await third.close();
      }
    } finally {
      store.userInteractionWeights = originals.weights;
      store.userInteractionHistory = originals.history;
    }
  });
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
}
