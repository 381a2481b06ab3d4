import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CatalogueSnapshot, coversVersion } from '../src/store/catalogue-snapshot.js';
import { CATALOGUE_VERSION_COLLECTION, MongoStore } from '../src/store/mongo-store.js';
import type { MovieDoc } from '../src/store/types.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

function movie(movieId: string, genres: string[], popularity: number, extra: Partial<MovieDoc> = {}): MovieDoc {
  return { movieId, title: `Movie ${movieId}`, year: 2000, genres, rating: 8, popularity, ...extra };
}

const ids = (docs: readonly MovieDoc[]) => docs.map((m) => m.movieId);

describe('CatalogueSnapshot', () => {
  const movies = [
    movie('b', ['Comedy'], 5),
    movie('a', ['Drama'], 5),
    movie('c', ['Comedy', 'Drama'], 9, { hidden: true }),
    movie('d', ['Horror'], 7),
    movie('e', [], 0),
    movie('f', ['Comedy'], 1, { hidden: false }),
  ];
  const snapshot = new CatalogueSnapshot(movies, { epoch: 'x', rev: 3 }, 0);

  it('orders by popularity, ties by movieId, without hidden movies; genre, exclusion and limit as topMovies', () => {
    expect(ids(snapshot.top({ limit: 10 }))).toEqual(['d', 'a', 'b', 'f', 'e']);
    expect(ids(snapshot.top({ limit: 2 }))).toEqual(['d', 'a']);
    expect(ids(snapshot.top({ limit: 10, genres: ['Comedy', 'Drama'] }))).toEqual(['a', 'b', 'f']);
    expect(ids(snapshot.top({ limit: 10, genres: ['Comedy'], excludeMovieIds: ['b', 'zz'] }))).toEqual(['f']);
    expect(snapshot.top({ limit: 10, genres: ['Western'] })).toEqual([]);
    expect(snapshot.top({ limit: 0 })).toEqual([]);
  });

  it('finds movies by id (hidden ones too) and lists every genre; answers are copies', () => {
    const found = snapshot.get(['c', 'nope', 'a', 'a']);
    expect([...found.keys()]).toEqual(['c', 'a']);
    expect(found.get('c')).toEqual(movies[2]);
    found.get('a')!.genres.push('Changed');
    expect(snapshot.get(['a']).get('a')!.genres).toEqual(['Drama']);
    snapshot.top({ limit: 1 })[0].title = 'changed';
    expect(snapshot.top({ limit: 1 })[0].title).toBe('Movie d');
    expect(snapshot.genres().sort()).toEqual(['Comedy', 'Drama', 'Horror']);
    expect(snapshot.size).toBe(6);
  });

  it('covers a version of the same epoch and a lower or equal rev only', () => {
    expect(coversVersion({ epoch: 'x', rev: 3 }, { epoch: 'x', rev: 3 })).toBe(true);
    expect(coversVersion({ epoch: 'x', rev: 4 }, { epoch: 'x', rev: 3 })).toBe(true);
    expect(coversVersion({ epoch: 'x', rev: 2 }, { epoch: 'x', rev: 3 })).toBe(false);
    expect(coversVersion({ epoch: 'y', rev: 9 }, { epoch: 'x', rev: 3 })).toBe(false);
  });
});

describeWithServers(['MONGO_URL'], 'MongoStore catalogue reads from the snapshot (two replicas on one real database)', () => {
  const env = realStorageEnv();
  let clock = 1_000_000;
  let a: MongoStore; // the serving replica that reads
  let b: MongoStore; // another process that writes the catalogue (the trainer's catalogue API, a training run)
  let direct: MongoStore; // the same database without the snapshot: what a query answers
  let raw: MongoClient;

  beforeAll(async () => {
    a = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB, { catalogueMaxAgeMs: 60_000, now: () => clock });
    b = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
    direct = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB, { catalogueSnapshot: false });
    raw = new MongoClient(env.MONGO_URL!);
    await a.init();
    await b.insertMany('movies', [
      movie('m1', ['Comedy'], 0),
      movie('m2', ['Comedy', 'Drama'], 0),
      movie('m3', ['Horror'], 0),
      movie('m4', ['Drama'], 0),
      movie('m5', ['Comedy'], 0),
      movie('m6', [], 0),
    ]);
    await b.setPopularityFromWeights(new Map([['m1', 5], ['m2', 4], ['m3', 4], ['m4', 2]]));
  });
  afterAll(async () => {
    await a?.dropDatabase();
    await Promise.all([a?.close(), b?.close(), direct?.close(), raw?.close()]);
  });

  const queries = [
    { limit: 10 },
    { limit: 2 },
    { limit: 10, genres: ['Comedy'] },
    { limit: 10, genres: ['Drama', 'Horror'], excludeMovieIds: ['m2'] },
    { limit: 3, excludeMovieIds: ['m1', 'm9'] },
  ];
  const sameAsQuery = async () => {
    for (const q of queries) expect(await a.topMovies(q)).toEqual(await direct.topMovies(q));
    expect(await a.getMovies(['m3', 'm1', 'nope'])).toEqual(await direct.getMovies(['m3', 'm1', 'nope']));
    expect((await a.distinctGenres()).sort()).toEqual((await direct.distinctGenres()).sort());
  };

  it('answers exactly what the query answers', async () => {
    expect(ids(await a.topMovies({ limit: 10 }))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    await sameAsQuery();
  });

  it('drops a movie hidden by another process from the very next top list, and brings it back when unhidden', async () => {
    expect(ids(await a.topMovies({ limit: 2 }))).toEqual(['m1', 'm2']);
    await b.updateMovie('m1', { set: { hidden: true } });
    expect(ids(await a.topMovies({ limit: 2 }))).toEqual(['m2', 'm3']);
    expect(ids(await a.topMovies({ limit: 10, genres: ['Comedy'] }))).toEqual(['m2', 'm5']);
    expect((await a.getMovies(['m1'])).get('m1')?.hidden).toBe(true);
    await sameAsQuery();
    await b.updateMovie('m1', { set: { hidden: false } });
    expect(ids(await a.topMovies({ limit: 2 }))).toEqual(['m1', 'm2']);
  });

  it('sees movies created, changed and re-ranked by another process at once', async () => {
    await a.topMovies({ limit: 1 });
    await b.createMovie(movie('n1', ['Documentary'], 0, { createdAt: new Date('2026-11-30T00:00:00Z') }));
    expect(await a.distinctGenres()).toContain('Documentary');
    expect((await a.getMovies(['n1'])).get('n1')?.title).toBe('Movie n1');
    await b.updateMovie('n1', { set: { title: 'Retitled' } });
    expect((await a.getMovies(['n1'])).get('n1')?.title).toBe('Retitled');
    await b.setPopularityFromWeights(new Map([['n1', 100], ['m6', 50]]));
    expect(ids(await a.topMovies({ limit: 3 }))).toEqual(['n1', 'm6', 'm1']);
    await sameAsQuery();
  });

  it('answers from memory until the version changes; a write that skipped the version shows after the maximum age', async () => {
    await a.topMovies({ limit: 1 });
    // A write straight to the collection (not through a store: no version bump) is not seen by the snapshot...
    await raw.db(env.MONGO_DB).collection('movies').updateOne({ movieId: 'm5' }, { $set: { title: 'Unannounced' } });
    expect((await a.getMovies(['m5'])).get('m5')?.title).toBe('Movie m5');
    expect((await direct.getMovies(['m5'])).get('m5')?.title).toBe('Unannounced');
    // ...until the snapshot is older than catalogueMaxAgeMs: that call re-reads it in the background.
    clock += 60_001;
    expect((await a.getMovies(['m5'])).get('m5')).toBeDefined();
    await vi.waitFor(async () => expect((await a.getMovies(['m5'])).get('m5')?.title).toBe('Unannounced'));
    // Any store write of the catalogue (here: another movie) makes every reader re-read it at once.
    await raw.db(env.MONGO_DB).collection('movies').updateOne({ movieId: 'm5' }, { $set: { title: 'Again' } });
    await b.updateMovie('m6', { set: { year: 2001 } });
    expect((await a.getMovies(['m5'])).get('m5')?.title).toBe('Again');
  });

  it('queries directly when the database has no version record (written before it existed, or dropped)', async () => {
    await raw.db(env.MONGO_DB).collection(CATALOGUE_VERSION_COLLECTION).deleteMany({});
    await raw.db(env.MONGO_DB).collection('movies').updateOne({ movieId: 'm4' }, { $set: { hidden: true } });
    expect(ids(await a.topMovies({ limit: 10, genres: ['Drama'] }))).toEqual(['m2']);
    await sameAsQuery();
    // The next catalogue write creates the record again (a new epoch): the snapshot is used and current.
    await b.updateMovie('m4', { set: { hidden: false } });
    expect(await raw.db(env.MONGO_DB).collection(CATALOGUE_VERSION_COLLECTION).countDocuments({})).toBe(1);
    expect(ids(await a.topMovies({ limit: 10, genres: ['Drama'] }))).toEqual(['m2', 'm4']);
    await sameAsQuery();
  });

  it('empties with clear()', async () => {
    await a.topMovies({ limit: 1 });
    await b.clear();
    expect(await a.topMovies({ limit: 10 })).toEqual([]);
    expect(await a.distinctGenres()).toEqual([]);
  });
});
