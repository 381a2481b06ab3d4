import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { createLogger } from '../../lib/src/logger.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { buildGateway } from '../../gateway/src/app.js';
import type { GatewayApp } from '../../gateway/src/routes/types.js';
import { Upstreams } from '../../gateway/src/upstreams.js';
import { AUTH, type TestStack } from '../../lib/test/support/stack.js';
import { connectRealBackends, describeWithServers } from '../../lib/test/support/servers.js';
import { closeServingWorld, ids, json, startServingWorld, type ServingBackends } from '../../lib/test/support/serving-world.js';

const INGEST_KEY = 'catalogue-test-ingest-key-0123456789abcdef';

/**
 * The movie catalogue end to end (REST gateway -> Trainer catalogue RPCs -> store; recsvc following the changes):
 * routes, auth and validation, hidden movies leaving every list (cached ones included) and coming back, and item
 * cold start through the hybrid model's genre embeddings (the serving world of lib/test/support/fixtures.ts: m1-m3
 * comedies, m4-m6 horror; u1 a comedy fan known to both models, u4 new with favourite genre Comedy).
 */
function catalogueSuite(makeBackends: () => Promise<ServingBackends>) {
  let stack: TestStack;
  let backends: ServingBackends;
  const url = (path: string) => `${stack.baseUrl}${path}`;
  const get = (path: string) => fetch(url(path), { headers: AUTH });
  const send = (method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) =>
    fetch(url(path), {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const list = async (path: string) => {
    const response = await fetch(url(path));
    expect(response.status, path).toBe(200);
    return json(response);
  };
  /** The recsvc replica applies a change when its pub/sub message arrives (right after the write is answered). */
  const eventually = (path: string, check: (body: { items: { movie_id: string }[]; source: string }) => boolean) =>
    expect.poll(async () => check(await list(path)), { interval: 20, timeout: 5_000 }).toBe(true);

  beforeAll(async () => {
    backends = await makeBackends();
    ({ stack } = await startServingWorld(backends));
  });
  afterAll(() => closeServingWorld(stack, backends));

  it('creates, reads, updates and lists movies; 409 for a taken id, 404 for an unknown one', async () => {
    let response = await send('POST', '/movies', { movie_id: 'c1', title: ' Brand New ', year: 2026, genres: ['Drama', 'Slow Cinema', 'Drama'], rating: 7.5, imdb_id: '114709', tmdb_id: '862' });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/movies/c1');
    const created = await json(response);
    expect(created).toMatchObject({
      movie_id: 'c1',
      title: 'Brand New',
      year: 2026,
      genres: ['Drama', 'Slow Cinema'],
      rating: 7.5,
      imdb_id: 'tt0114709',
      imdb_url: 'https://www.imdb.com/title/tt0114709/',
      tmdb_id: '862',
      hidden: false,
      popularity: 0,
    });
    expect(Date.parse(created.created_at)).not.toBeNaN();
    response = await send('POST', '/movies', { movie_id: 'c1', title: 'Again' });
    expect(response.status).toBe(409);
    expect((await json(response)).error).toMatchObject({ code: 'ALREADY_EXISTS', message: expect.stringMatching(/movie 'c1' already exists/) });
    expect(await json(await get('/movies/c1'))).toEqual(created);

    response = await send('PATCH', '/movies/c1', { title: 'Renamed', genres: [], imdb_id: '', rating: 0 });
    expect(response.status).toBe(200);
    const updated = await json(response);
    expect(updated).toMatchObject({ movie_id: 'c1', title: 'Renamed', year: 2026, genres: [], rating: 0, imdb_id: null, imdb_url: null, tmdb_id: '862' });
    expect(await json(await get('/movies/c1'))).toEqual(updated);
    // The store keeps the title the movie was created with for the model fingerprint.
    expect((await backends.store.getMovies(['c1'])).get('c1')?.sourceTitle).toBe('Brand New');

    for (const [method, path, body] of [
      ['GET', '/movies/nope', undefined],
      ['PATCH', '/movies/nope', { title: 'x' }],
      ['PUT', '/movies/nope/hidden', undefined],
      ['DELETE', '/movies/nope/hidden', undefined],
    ] as const) {
      response = await send(method, path, body);
      expect(response.status, `${method} ${path}`).toBe(404);
      expect((await json(response)).error).toMatchObject({ code: 'NOT_FOUND', message: "movie 'nope' not found" });
    }

    const page1 = await json(await get('/movies?page_size=4'));
    expect(page1.movies.map((m: { movie_id: string }) => m.movie_id)).toEqual(['c1', 'm1', 'm2', 'm3']);
    expect(page1.next_page_token).toBe('m3');
    const page2 = await json(await get(`/movies?page_size=4&page_token=${page1.next_page_token}`));
    expect(page2.movies.map((m: { movie_id: string }) => m.movie_id)).toEqual(['m4', 'm5', 'm6']);
    expect(page2.next_page_token).toBeNull();
    expect((await json(await send('PUT', '/movies/c1/hidden'))).hidden).toBe(true);
    expect((await json(await get('/movies?hidden=true'))).movies.map((m: { movie_id: string }) => m.movie_id)).toEqual(['c1']);
    expect((await json(await get('/movies?hidden=false&page_size=1'))).movies.map((m: { movie_id: string }) => m.movie_id)).toEqual(['m1']);
  });

  it('refuses bad input with 400 naming what is allowed', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/movies', { movie_id: 'c2', title: 'T', year: 1500 }, /year must be a whole year from 1870 to 2200, or 0 when unknown/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', rating: 11 }, /rating must be a number from 1 to 10, or 0 when unknown/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', rating: 0.5 }, /rating must be a number from 1 to 10/],
      ['POST', '/movies', { movie_id: 'c2', title: '   ' }, /title must be a text of 1 to 500 characters/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', genres: [''] }, /genres must be names of 1 to 64 characters/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', genres: Array.from({ length: 21 }, (_, i) => `g${i}`) }, /genres/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', imdb_id: 'imdb-1' }, /imdb_id must be "tt" and digits/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', tmdb_id: 'x1' }, /tmdb_id must be digits/],
      ['POST', '/movies', { movie_id: 'bad id', title: 'T' }, /movie_id/],
      ['POST', '/movies', { title: 'T' }, /movie_id/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', popularity: 5 }, /popularity/],
      ['POST', '/movies', { movie_id: 'c2', title: 'T', year: '2020' }, /year/],
      ['PATCH', '/movies/m1', {}, /at least 1|fewer than 1|minProperties|properties/],
      ['PATCH', '/movies/m1', { hidden: 'yes' }, /hidden/],
      ['PATCH', '/movies/m1', { year: 3000 }, /year must be a whole year from 1870 to 2200/],
      ['GET', '/movies?page_size=0', undefined, /page_size/],
      ['GET', '/movies?hidden=maybe', undefined, /hidden/],
      ['GET', '/movies/bad%20id', undefined, /movie_id/],
    ];
    for (const [method, path, body, message] of cases) {
      const response = await send(method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      const error = (await json(response)).error;
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message, `${method} ${path} ${JSON.stringify(body)}`).toMatch(message);
    }
    expect((await backends.store.getMovies(['c2'])).size).toBe(0);
    expect((await backends.store.getMovies(['m1'])).get('m1')).toMatchObject({ year: 2001, title: 'Laugh One' });
  });

  it('needs a key with scope admin: 401 without one, 403 with a key of another scope', async () => {
    for (const [method, path, body] of [
      ['POST', '/movies', { movie_id: 'c3', title: 'T' }],
      ['PATCH', '/movies/m1', { title: 'x' }],
      ['PUT', '/movies/m1/hidden', undefined],
      ['DELETE', '/movies/m1/hidden', undefined],
      ['GET', '/movies/m1', undefined],
      ['GET', '/movies', undefined],
    ] as const) {
      const response = await send(method, path, body, {});
      expect(response.status, `${method} ${path}`).toBe(401);
      expect((await json(response)).error).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(/scope 'admin' is required/) });
    }
    // A gateway whose only key has scope ingest, in front of the same services.
    const upstreams = new Upstreams(stack.recsvcAddress, stack.trainerAddress, 5_000);
    let gateway: GatewayApp | undefined;
    try {
      gateway = await buildGateway({ upstreams, log: createLogger('test', 'silent'), apiKeys: new ApiKeyStore({ inline: `feed:ingest:${INGEST_KEY}` }) });
      const response = await gateway.inject({ method: 'PUT', url: '/movies/m1/hidden', headers: { authorization: `Bearer ${INGEST_KEY}` } });
      expect(response.statusCode).toBe(403);
      expect(response.json().error).toMatchObject({ code: 'PERMISSION_DENIED', message: expect.stringMatching(/lacks scope 'admin'/) });
    } finally {
      await gateway?.close();
      upstreams.close();
    }
    expect((await backends.store.getMovies(['m1'])).get('m1')?.hidden).toBeFalsy();
    expect((await backends.store.getMovies(['c3'])).size).toBe(0);
  });

  it('a hidden movie leaves a cached list at once and the list still has k items; unhiding brings it back', async () => {
    const first = await list('/recommendations/u1?model=als&k=3');
    expect(first.source).toBe('model');
    expect(ids(first)).toEqual(['m2', 'm3', 'm4']);
    expect((await list('/recommendations/u1?model=als&k=3')).source).toBe('cache');

    expect((await json(await send('PUT', '/movies/m2/hidden'))).hidden).toBe(true);
    await eventually('/recommendations/u1?model=als&k=3', (b) => !ids(b).includes('m2'));
    const hidden = await list('/recommendations/u1?model=als&k=3');
    expect(hidden.source).toBe('cache');
    expect(ids(hidden)).toEqual(['m3', 'm4', 'm5']);
    // Every other list too: the hybrid model's, a fold-in, the genre top and the global top.
    expect(ids(await list('/recommendations/u1?model=lightfm&k=5'))).not.toContain('m2');
    const foldIn = await list('/recommendations/u4?model=lightfm&k=5');
    expect(foldIn.source).toBe('fold_in');
    expect(ids(foldIn)).not.toContain('m2');
    expect((await list('/genres_top?user_id=u4&limit=100')).items.map((m: { movie_id: string }) => m.movie_id)).not.toContain('m2');
    const globalTop = await list('/recommendations/newcomer?model=als&k=100');
    expect(globalTop.source).toBe('global_top');
    expect(ids(globalTop)).not.toContain('m2');
    expect(ids(globalTop).length).toBeGreaterThan(0);

    expect((await json(await send('DELETE', '/movies/m2/hidden'))).hidden).toBe(false);
    await eventually('/recommendations/u1?model=als&k=3', (b) => ids(b).includes('m2'));
    const back = await list('/recommendations/u1?model=als&k=3');
    expect(back.source).toBe('cache');
    expect(ids(back)).toEqual(['m2', 'm3', 'm4']);
    expect((await list('/genres_top?user_id=u4&limit=100')).items.map((m: { movie_id: string }) => m.movie_id)).toContain('m2');
  });

  it('a movie created with genres after training is scored by the hybrid model through its genres, not by ALS, and joins the genre top', async () => {
    const response = await send('POST', '/movies', { movie_id: 'n1', title: 'Laugh New', year: 2026, genres: ['Comedy', 'Musical'], rating: 8 });
    expect(response.status).toBe(201);
    // u1 (a comedy fan the model knows) and u4 (new, favourite genre Comedy: fold-in) get it from the hybrid model.
    await eventually('/recommendations/u1?model=lightfm&k=100', (b) => ids(b).includes('n1'));
    // Lists cached before the movie existed keep their items until they are replaced: the miss above replaces u1's
    // cached list right after answering, so the short list follows shortly after.
    await eventually('/recommendations/u1?model=lightfm&k=3', (b) => ids(b).includes('n1'));
    const known = await list('/recommendations/u1?model=lightfm&k=3');
    const n1 = known.items.find((i: { movie_id: string }) => i.movie_id === 'n1');
    // Comedy's item embedding is the comedy axis (1, 0) and the user vector (1, 0): score 1 (Musical is unknown to the model).
    expect(n1).toMatchObject({ title: 'Laugh New', genres: ['Comedy', 'Musical'] });
    expect(Number.isFinite(n1.score)).toBe(true);
    expect(n1.score).toBeCloseTo(1, 5);
    expect(ids(known)[0]).toBe('n1');
    // Explained by its genres, the only features it has (no identity part); Musical is unknown to the model.
    expect(n1.explanation).toMatchObject({ kind: 'features', text: 'New in the catalogue: its genre Comedy matches your taste' });
    expect(n1.explanation.contributions[0]).toMatchObject({ kind: 'genre', id: 'Comedy', value: expect.closeTo(1, 5) });
    expect(n1.explanation.contributions.map((c: { kind: string }) => c.kind)).not.toContain('item_identity');
    // u4's fold-in list, cached before the movie existed (the test above), follows the same way.
    await eventually('/recommendations/u4?model=lightfm&k=100', (b) => b.source === 'fold_in' && ids(b).includes('n1'));
    await eventually('/recommendations/u4?model=lightfm&k=3', (b) => ids(b).includes('n1'));
    const foldIn = await list('/recommendations/u4?model=lightfm&k=3');
    expect(foldIn.source).toBe('cache');
    expect(ids(foldIn)).toContain('n1');
    // ALS has no item features: it cannot score a movie it was not trained on.
    expect(ids(await list('/recommendations/u1?model=als&k=100'))).not.toContain('n1');
    // Genre top: popularity 0 until it has interactions, so after the comedies that have some (ties by id).
    expect((await list('/genres_top?user_id=u4&limit=100')).items.map((m: { movie_id: string }) => m.movie_id)).toEqual(['m1', 'm2', 'm3', 'n1']);

    // Hidden, it leaves the hybrid model's lists as well.
    await send('PUT', '/movies/n1/hidden');
    await eventually('/recommendations/u4?model=lightfm&k=100', (b) => !ids(b).includes('n1'));
    expect((await list('/genres_top?user_id=u4&limit=100')).items.map((m: { movie_id: string }) => m.movie_id)).not.toContain('n1');
  });
}

describe('movie catalogue (embedded backends)', () => catalogueSuite(async () => ({ store: new MemoryStore() })));

describeWithServers(['MONGO_URL', 'REDIS_URL', 'S3_ENDPOINT'], 'movie catalogue (real MongoDB-wire, Redis, S3)', () =>
  catalogueSuite(async () => {
    const { store, cache, objects } = await connectRealBackends();
    return { store, cache, objects };
  }),
);
