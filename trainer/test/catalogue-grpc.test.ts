import * as grpc from '@grpc/grpc-js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../../lib/src/api-keys.js';
import { MemoryCache } from '../../lib/src/cache/memory-cache.js';
import { CATALOGUE_CHANNEL, parseCatalogueChange } from '../../lib/src/catalogue.js';
import { sendApiKey } from '../../lib/src/grpc/auth.js';
import { callUnary } from '../../lib/src/grpc/client.js';
import { createLogger } from '../../lib/src/logger.js';
import { DirectoryObjectStore } from '../../lib/src/objectstore/directory-object-store.js';
import { HiddenFilter, TrainerServiceClient } from '../../lib/src/proto.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { loadTrainerConfig } from '../src/config.js';
import { startTrainerApi } from '../src/server.js';

const ADMIN = 'catalogue-admin-key-0123456789';
const CLIENT = 'catalogue-client-key-0123456789';

async function statusOf(promise: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await promise;
    return { code: grpc.status.OK, details: '' };
  } catch (err) {
    return { code: (err as grpc.ServiceError).code, details: (err as grpc.ServiceError).details };
  }
}

/** The Trainer's catalogue RPCs: scope admin, domain errors as gRPC codes, changes announced on CATALOGUE_CHANNEL. */
describe('Trainer catalogue RPCs', () => {
  const store = new MemoryStore();
  const cache = new MemoryCache();
  const announced: string[] = [];
  let trainer: Awaited<ReturnType<typeof startTrainerApi>>;
  const clients: TrainerServiceClient[] = [];
  const client = (secret?: string) => {
    const c = new TrainerServiceClient(`127.0.0.1:${trainer.port}`, grpc.credentials.createInsecure(), { interceptors: secret ? [sendApiKey(secret)] : [] });
    clients.push(c);
    return c;
  };
  const movie = (movieId: string, extra: object = {}) => ({ movieId, title: 'T', year: 0, genres: ['Drama'], rating: 0, imdbId: '', tmdbId: '', imdbUrl: '', hidden: false, popularity: 0, ...extra });

  beforeAll(async () => {
    await cache.subscribe(CATALOGUE_CHANNEL, (m) => announced.push(m));
    trainer = await startTrainerApi(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0' }), createLogger('test', 'silent'), {
      store,
      cache,
      objects: new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-catalogue-'))),
      apiKeys: new ApiKeyStore({ inline: `ops:admin:${ADMIN};app:client:${CLIENT}` }),
    });
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await trainer?.shutdown(1_000);
  });

  it('need scope admin for every catalogue call, reads included', async () => {
    for (const secret of [undefined, CLIENT]) {
      const c = client(secret);
      const expected = secret ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED;
      expect((await statusOf(callUnary(c, c.createMovie, { movie: movie('a1') }, { timeoutMs: 5_000 }))).code).toBe(expected);
      expect((await statusOf(callUnary(c, c.updateMovie, { movieId: 'a1', hidden: true }, { timeoutMs: 5_000 }))).code).toBe(expected);
      expect((await statusOf(callUnary(c, c.getMovie, { movieId: 'a1' }, { timeoutMs: 5_000 }))).code).toBe(expected);
      expect((await statusOf(callUnary(c, c.listMovies, { pageSize: 0, pageToken: '', hidden: 0 }, { timeoutMs: 5_000 }))).code).toBe(expected);
    }
    expect(await store.count('movies')).toBe(0);
  });

  it('create, update, get and list with an admin key; ALREADY_EXISTS, NOT_FOUND and INVALID_ARGUMENT as codes', async () => {
    const c = client(ADMIN);
    const created = await callUnary(c, c.createMovie, { movie: movie('a1', { genres: ['Drama', 'New Wave'], imdbId: '114709' }) }, { timeoutMs: 5_000 });
    expect(created.movie).toMatchObject({ movieId: 'a1', genres: ['Drama', 'New Wave'], imdbId: 'tt0114709', imdbUrl: 'https://www.imdb.com/title/tt0114709/', hidden: false });
    expect(created.movie?.createdAt).toBeInstanceOf(Date);
    await expect.poll(() => announced.map((m) => parseCatalogueChange(m)?.movieId)).toEqual(['a1']);
    expect((await statusOf(callUnary(c, c.createMovie, { movie: movie('a1') }, { timeoutMs: 5_000 }))).code).toBe(grpc.status.ALREADY_EXISTS);
    expect(await statusOf(callUnary(c, c.createMovie, {}, { timeoutMs: 5_000 }))).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: 'movie is required' });
    const updated = await callUnary(c, c.updateMovie, { movieId: 'a1', hidden: true, genres: { genres: [] }, imdbId: '' }, { timeoutMs: 5_000 });
    expect(updated.movie).toMatchObject({ movieId: 'a1', hidden: true, genres: [], imdbId: '', imdbUrl: '', title: 'T' });
    await expect.poll(() => parseCatalogueChange(announced.at(-1)!)?.hidden).toBe(true);
    expect((await callUnary(c, c.getMovie, { movieId: 'a1' }, { timeoutMs: 5_000 })).movie).toEqual(updated.movie);
    expect((await statusOf(callUnary(c, c.getMovie, { movieId: 'zz' }, { timeoutMs: 5_000 }))).code).toBe(grpc.status.NOT_FOUND);
    expect((await statusOf(callUnary(c, c.updateMovie, { movieId: 'zz', title: 'x' }, { timeoutMs: 5_000 }))).code).toBe(grpc.status.NOT_FOUND);
    expect(await statusOf(callUnary(c, c.updateMovie, { movieId: 'a1', year: 99 }, { timeoutMs: 5_000 }))).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'year must be a whole year from 1870 to 2200, or 0 when unknown, got 99',
    });
    await callUnary(c, c.createMovie, { movie: movie('a2') }, { timeoutMs: 5_000 });
    const hidden = await callUnary(c, c.listMovies, { pageSize: 0, pageToken: '', hidden: HiddenFilter.HIDDEN_FILTER_HIDDEN }, { timeoutMs: 5_000 });
    expect(hidden.movies.map((m) => m.movieId)).toEqual(['a1']);
    const page = await callUnary(c, c.listMovies, { pageSize: 1, pageToken: '', hidden: HiddenFilter.HIDDEN_FILTER_UNSPECIFIED }, { timeoutMs: 5_000 });
    expect(page).toMatchObject({ movies: [{ movieId: 'a1' }], nextPageToken: 'a1' });
    const last = await callUnary(c, c.listMovies, { pageSize: 1, pageToken: 'a1', hidden: HiddenFilter.HIDDEN_FILTER_VISIBLE }, { timeoutMs: 5_000 });
    expect(last).toMatchObject({ movies: [{ movieId: 'a2' }], nextPageToken: '' });
    expect((await statusOf(callUnary(c, c.listMovies, { pageSize: 1001, pageToken: '', hidden: 0 }, { timeoutMs: 5_000 }))).details).toMatch(/page_size must be an integer from 1 to 1000/);
    expect((await statusOf(callUnary(c, c.listMovies, { pageSize: 1, pageToken: '', hidden: 7 as HiddenFilter }, { timeoutMs: 5_000 }))).details).toMatch(/hidden must be HIDDEN_FILTER_UNSPECIFIED/);
  });
});
