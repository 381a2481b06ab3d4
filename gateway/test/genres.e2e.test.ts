import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { MongoStore } from '../../lib/src/store/mongo-store.js';
import type { MovieDoc, Store } from '../../lib/src/store/types.js';
import { GENRES } from '../../lib/src/domain.js';
import { startStack, type TestStack } from '../../lib/test/support/stack.js';
import { describeWithServers, realStorageEnv, dropTestDatabase } from '../../lib/test/support/servers.js';

const movies: MovieDoc[] = [
  { movieId: 'm1', title: 'Laugh', year: 1999, genres: ['Comedy'], rating: 9, popularity: 0 },
  { movieId: 'm2', title: 'Cry', year: 2001, genres: ['Drama'], rating: 7, popularity: 0 },
  { movieId: 'm3', title: 'Both', year: 2005, genres: ['Comedy', 'Drama'], rating: 8, popularity: 0 },
  { movieId: 'm4', title: 'Scream', year: 1980, genres: ['Horror'], rating: 6, popularity: 0 },
  { movieId: 'm5', title: 'Trenches', year: 1930, genres: ['War'], rating: 6, popularity: 0 },
];

async function seed(store: Store): Promise<void> {
  await store.clear();
  await store.insertMany('movies', movies);
  const at = new Date('2026-01-01T00:00:00Z');
  const watched = [
    ['a', 'm1'], ['b', 'm1'], ['c', 'm1'],
    ['a', 'm3'], ['b', 'm3'],
    ['a', 'm2'],
    ['a', 'm4'], ['b', 'm4'], ['c', 'm4'], ['d', 'm4'],
    ['viewer', 'm1'],
  ].map(([userId, movieId]) => ({ userId, movieId, completed: true, watchedAt: at }));
  await store.insertMany('watched_movies', watched);
  await store.refreshPopularity();
}

function genresSuite(makeStore: () => Promise<Store>) {
  let stack: TestStack;
  let store: Store;
  beforeAll(async () => {
    store = await makeStore();
    await seed(store);
    stack = await startStack(store);
  });
  afterAll(async () => {
    await stack?.close();
    await dropTestDatabase(store);
    await store?.close();
  });

  const post = (path: string, body: unknown, contentType = 'application/json') =>
    fetch(`${stack.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const get = (path: string) => fetch(`${stack.baseUrl}${path}`);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json = (response: Response): Promise<any> => response.json();

  async function expectError(response: Response, status: number, code: string, message: RegExp) {
    expect(response.status).toBe(status);
    const body = await json(response);
    expect(body).toEqual({ error: { code, message: expect.any(String) } });
    expect(body.error.message).toMatch(message);
  }

  it('lists the genres of the catalogue (from its movies, not a fixed list)', async () => {
    const response = await get('/genres');
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ genres: ['Comedy', 'Drama', 'Horror', 'War'] });
    expect(GENRES).toContain('Western');
    await expectError(await post('/genres', { user_id: 'someone', genres: ['Western'] }), 400, 'INVALID_ARGUMENT', /unknown genre 'Western'; known genres: Comedy, Drama, Horror, War/);
  });

  it('sets favourite genres, creating the user, then replaces them', async () => {
    let response = await post('/genres', { user_id: 'new_user-1', genres: ['Comedy', 'Drama'] });
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ user_id: 'new_user-1', genres: ['Comedy', 'Drama'], created: true });
    response = await post('/genres', { user_id: 'new_user-1', genres: ['Horror'] });
    expect(await json(response)).toEqual({ user_id: 'new_user-1', genres: ['Horror'], created: false });
    expect((await store.getUser('new_user-1'))?.favoriteGenres).toEqual(['Horror']);
  });

  it('rejects every malformed genre choice with 400 and keeps what was stored', async () => {
    await post('/genres', { user_id: 'keeper', genres: ['War'] });
    const cases: [unknown, RegExp][] = [
      [{ user_id: 'keeper', genres: ['Comedy', 'Drama', 'Horror', 'War'] }, /more than 3 items/],
      [{ user_id: 'keeper', genres: [] }, /fewer than 1 items/],
      [{ user_id: 'keeper', genres: ['Comedy', 'Comedy'] }, /duplicate items/],
      [{ user_id: 'keeper', genres: ['Telenovela'] }, /unknown genre 'Telenovela'/],
      [{ genres: ['Comedy'] }, /must have required property 'user_id'/],
      [{ user_id: 'bad id!', genres: ['Comedy'] }, /user_id must match pattern/],
      [{ user_id: 'x'.repeat(65), genres: ['Comedy'] }, /user_id must match pattern/],
      [{ user_id: { $gt: '' }, genres: ['Comedy'] }, /user_id must be string/],
      [{ user_id: 12345, genres: ['Comedy'] }, /user_id must be string/],
      [{ user_id: 'keeper', genres: 'Comedy' }, /genres must be array/],
      [{ user_id: 'keeper', genres: [{ $ne: 1 }] }, /must be string/],
      [{ user_id: 'keeper', genres: ['Comedy'], admin: true }, /additional properties/],
      [[], /must be object/],
    ];
    for (const [body, message] of cases) {
      await expectError(await post('/genres', body), 400, 'INVALID_ARGUMENT', message);
    }
    await expectError(await post('/genres', '{"user_id": "keeper", '), 400, 'INVALID_ARGUMENT', /not valid JSON \(it did not parse/);
    await expectError(await post('/genres', 'user_id=keeper', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE', /JSON/);
    await expectError(await post('/genres', ''), 400, 'INVALID_ARGUMENT', /JSON|body must be object/);
    expect((await store.getUser('keeper'))?.favoriteGenres).toEqual(['War']);
  });

  it('returns the most popular unwatched movies in the favourite genres', async () => {
    await post('/genres', { user_id: 'viewer', genres: ['Comedy', 'Drama'] });
    const response = await get('/genres_top?user_id=viewer&limit=10');
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.user_id).toBe('viewer');
    expect(body.genres).toEqual(['Comedy', 'Drama']);
    expect(body.fallback).toBeNull();
    // m1 is watched by the viewer; m3 (2 views, rating 8) beats m2 (1 view); m4 is Horror.
    expect(body.items.map((i: { movie_id: string }) => i.movie_id)).toEqual(['m3', 'm2']);
    expect(body.items[0]).toMatchObject({ title: 'Both', genres: ['Comedy', 'Drama'], year: 2005, rating: 8, rank: 1 });
    expect(body.items[0].score).toBeGreaterThan(body.items[1].score);
    const limited = await json(await get('/genres_top?user_id=viewer&limit=1'));
    expect(limited.items).toHaveLength(1);
  });

  it('falls back to the global top list for a user without genres', async () => {
    await store.insertMany('users', [{ userId: 'plain', favoriteGenres: [], createdAt: new Date(), updatedAt: new Date() }]);
    const body = await json(await get('/genres_top?user_id=plain'));
    expect(body.fallback).toBe('global');
    expect(body.items.map((i: { movie_id: string }) => i.movie_id)).toEqual(['m1', 'm4', 'm3', 'm2', 'm5']);
  });

  it('answers 404 for an unknown user and 400 for bad query values', async () => {
    await expectError(await get('/genres_top?user_id=ghost'), 404, 'NOT_FOUND', /user 'ghost' not found/);
    await expectError(await get('/genres_top?user_id=viewer&limit=0'), 400, 'INVALID_ARGUMENT', /limit must be >= 1/);
    await expectError(await get('/genres_top?user_id=viewer&limit=101'), 400, 'INVALID_ARGUMENT', /limit must be <= 100/);
    await expectError(await get('/genres_top?user_id=viewer&limit=ten'), 400, 'INVALID_ARGUMENT', /limit must be integer/);
    await expectError(await get('/genres_top'), 400, 'INVALID_ARGUMENT', /user_id/);
    await expectError(await get('/genres_top?user_id=a%24b'), 400, 'INVALID_ARGUMENT', /pattern/);
  });

  it('answers unknown routes with the JSON error body and serves health, readiness and OpenAPI', async () => {
    await expectError(await get('/nope'), 404, 'NOT_FOUND', /no route/);
    expect((await get('/healthz')).status).toBe(200);
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', upstream: { recsvc: true, trainer: true } });
    const spec = await json(await get('/docs/json'));
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/genres', '/genres_top']));
    expect((await get('/docs')).status).toBeLessThan(400);
  });

  it('carries the request id back to the caller', async () => {
    const response = await fetch(`${stack.baseUrl}/genres`, { headers: { 'x-request-id': 'req-123' } });
    expect(response.headers.get('x-request-id')).toBe('req-123');
  });
}

describe('genre endpoints through the REST gateway (embedded store)', () => genresSuite(async () => new MemoryStore()));

describeWithServers(['MONGO_URL'], 'genre endpoints through the REST gateway (real MongoDB-wire server)', () =>
  genresSuite(async () => {
    const env = realStorageEnv();
    const store = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
    await store.init();
    return store;
  }),
);
