import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStore } from '../src/backends.js';
import { GENRES, ID_PATTERN } from '../src/domain.js';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { CollectionDocs, Store } from '../src/store/types.js';
import { generateData, type GenerateSummary } from '../src/data/generate.js';
import { importMovieLens, titleAndYear } from '../src/data/movielens.js';
import {
  createSyntheticWorld,
  movieIndexOf,
  Rng,
  userIndexOf,
  type InteractionBatch,
  type WorldParams,
} from '../src/data/synthetic.js';
import { main as generateMain, parseGenerateArgs, UsageError } from '../../scripts/generate-data.js';
import { main as importMain, parseImportArgs } from '../../scripts/import-movielens.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NOW = Date.UTC(2026, 0, 15);
const DAY = 86_400_000;

async function all<C extends 'users' | 'movies' | 'watched_movies' | 'likes' | 'bookmarks'>(
  store: Store,
  collection: C,
): Promise<CollectionDocs[C][]> {
  const out: CollectionDocs[C][] = [];
  for await (const batch of store.scan(collection, 5000)) out.push(...batch);
  return out;
}

async function dump(store: Store) {
  return {
    users: await all(store, 'users'),
    movies: await all(store, 'movies'),
    watched: await all(store, 'watched_movies'),
    likes: await all(store, 'likes'),
    bookmarks: await all(store, 'bookmarks'),
  };
}

function concat(batches: Iterable<InteractionBatch>): InteractionBatch {
  const out: InteractionBatch = { watched: [], likes: [], bookmarks: [] };
  for (const b of batches) {
    out.watched.push(...b.watched);
    out.likes.push(...b.likes);
    out.bookmarks.push(...b.bookmarks);
  }
  return out;
}

function io(store?: Store) {
  let stdout = '';
  let stderr = '';
  return {
    io: {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: {},
      store,
    },
    out: () => stdout,
    err: () => stderr,
  };
}

describe('synthetic data generator', () => {
  const small: WorldParams = { seed: 7, users: 150, movies: 300, interactions: 6000, now: NOW };
  let store: MemoryStore;
  let summary: GenerateSummary;
  let data: Awaited<ReturnType<typeof dump>>;

  beforeAll(async () => {
    store = new MemoryStore();
    summary = await generateData(store, { ...small, batchSize: 700 });
    data = await dump(store);
  });

  it('is deterministic: the same parameters give identical documents, whatever the batch size', async () => {
    const again = new MemoryStore();
    await generateData(again, { ...small, batchSize: 5000 });
    expect(await dump(again)).toEqual(data);
  });

  it('gives different data for a different seed', async () => {
    const other = new MemoryStore();
    await generateData(other, { ...small, seed: 8 });
    const otherData = await dump(other);
    expect(otherData.movies.map((m) => m.title)).not.toEqual(data.movies.map((m) => m.title));
    expect(otherData.watched).not.toEqual(data.watched);
  });

  it('writes exactly the requested users, movies and watched records; likes and bookmarks come on top', async () => {
    expect(await store.count('users')).toBe(150);
    expect(await store.count('movies')).toBe(300);
    expect(await store.count('watched_movies')).toBe(6000);
    expect(summary).toMatchObject({ users: 150, movies: 300, watched: 6000, popularityUpdated: 300 });
    expect(summary.likes).toBe(data.likes.length);
    expect(summary.bookmarks).toBe(data.bookmarks.length);
    expect(summary.likes).toBeGreaterThan(6000 * 0.2);
    expect(summary.likes).toBeLessThan(6000 * 0.7);
    expect(summary.bookmarks).toBeGreaterThan(6000 * 0.05);
    expect(summary.bookmarks).toBeLessThan(6000 * 0.3);
    expect(summary.completed / 6000).toBeGreaterThan(0.5);
    expect(summary.completed / 6000).toBeLessThan(0.95);

    expect(data.users.map((u) => u.userId)).toEqual(Array.from({ length: 150 }, (_, i) => `u${i + 1}`));
    expect(data.movies.map((m) => m.movieId)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i + 1}`));
  });

  it('makes well-formed documents', () => {
    const from = NOW - 365 * DAY;
    for (const m of data.movies) {
      expect(m.title).toMatch(/^\S.*\S$/);
      expect(m.genres.length).toBeGreaterThanOrEqual(1);
      expect(m.genres.length).toBeLessThanOrEqual(3);
      expect(new Set(m.genres).size).toBe(m.genres.length);
      for (const g of m.genres) expect(GENRES).toContain(g);
      expect(m.rating).toBeGreaterThanOrEqual(1);
      expect(m.rating).toBeLessThanOrEqual(10);
      expect(m.year).toBeGreaterThanOrEqual(1930);
      expect(m.year).toBeLessThanOrEqual(2026);
      expect(m.popularity).toBeGreaterThanOrEqual(0);
    }
    const withGenres = data.users.filter((u) => u.favoriteGenres.length > 0);
    expect(withGenres.length / data.users.length).toBeGreaterThan(0.55);
    expect(withGenres.length / data.users.length).toBeLessThan(0.85);
    for (const u of withGenres) {
      expect(u.favoriteGenres.length).toBeLessThanOrEqual(3);
      expect(u.favoriteGenres).toEqual(summary.world.favoriteGenres(userIndexOf(u.userId)));
    }
    const watchedPairs = new Set<string>();
    for (const w of data.watched) {
      expect(w.userId).toMatch(ID_PATTERN);
      const pair = `${w.userId}/${w.movieId}`;
      expect(watchedPairs.has(pair), `duplicate ${pair}`).toBe(false);
      watchedPairs.add(pair);
      expect(w.watchedAt.getTime()).toBeGreaterThanOrEqual(from);
      expect(w.watchedAt.getTime()).toBeLessThanOrEqual(NOW);
    }
    for (const l of data.likes) {
      expect(watchedPairs.has(`${l.userId}/${l.movieId}`)).toBe(true);
      expect(Number.isInteger(l.rating) && l.rating >= 1 && l.rating <= 10).toBe(true);
      expect(l.likedAt.getTime()).toBeLessThanOrEqual(NOW);
    }
    for (const b of data.bookmarks) {
      expect(watchedPairs.has(`${b.userId}/${b.movieId}`)).toBe(true);
      expect(b.createdAt.getTime()).toBeGreaterThanOrEqual(from);
    }
  });

  it('plants visible structure: cluster genres, long-tail movies and users, likes follow affinity', () => {
    const world = createSyntheticWorld({ seed: 11, users: 500, movies: 1000, interactions: 20_000, now: NOW });
    const { watched, likes } = concat(world.interactionBatches(5000));
    expect(watched).toHaveLength(20_000);

    // Users watch their cluster's genres about twice as often as a random choice of movies would.
    const movieGenres = Array.from({ length: 1000 }, (_, m) => world.movieGenres(m));
    let inFavourite = 0;
    let expected = 0;
    const perUser = new Map<number, number>();
    for (const w of watched) {
      const u = userIndexOf(w.userId);
      const favourite = new Set(world.favoriteGenres(u));
      if (movieGenres[movieIndexOf(w.movieId)].some((g) => favourite.has(g))) inFavourite++;
      perUser.set(u, (perUser.get(u) ?? 0) + 1);
    }
    for (const [u, n] of perUser) {
      const favourite = new Set(world.favoriteGenres(u));
      expected += (n * movieGenres.filter((gs) => gs.some((g) => favourite.has(g))).length) / 1000;
    }
    expect(inFavourite / expected).toBeGreaterThan(1.5);

    // Long tail: the top 10% of movies get more than 40% of the views; the top 10% of users make more than 30%.
    const perMovie = new Map<string, number>();
    for (const w of watched) perMovie.set(w.movieId, (perMovie.get(w.movieId) ?? 0) + 1);
    const topShare = (counts: number[], n: number) =>
      counts
        .sort((a, b) => b - a)
        .slice(0, n)
        .reduce((a, b) => a + b, 0) / watched.length;
    expect(topShare([...perMovie.values()], 100)).toBeGreaterThan(0.4);
    expect(topShare([...perUser.values()], 50)).toBeGreaterThan(0.3);

    // Affinity is standardised over random pairs; watched pairs sit well above, liked ones higher still.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const affinity = (d: { userId: string; movieId: string }) => world.affinity(userIndexOf(d.userId), movieIndexOf(d.movieId));
    const rng = new Rng(1);
    const random = Array.from({ length: 5000 }, () => world.affinity(rng.int(500), rng.int(1000)));
    expect(Math.abs(mean(random))).toBeLessThan(0.1);
    expect(mean(watched.map(affinity))).toBeGreaterThan(0.7);
    expect(mean(likes.map(affinity))).toBeGreaterThan(mean(watched.map(affinity)) + 0.2);
  });

  it('rebuilds the planted tastes from the parameters, for simulations', () => {
    const a = createSyntheticWorld(small);
    const b = summary.world;
    expect(a.affinity(3, 17)).toBe(b.affinity(3, 17));
    expect(a.favoriteGenres(42)).toEqual(b.favoriteGenres(42));
    expect(a.favoriteGenres(42).length).toBeGreaterThanOrEqual(1);
    expect(a.userInteractions(5)).toEqual(b.userInteractions(5));
    // wouldLike draws from likeProbability: users like what they have high affinity for.
    const pairs = Array.from({ length: 150 * 300 }, (_, i) => [Math.floor(i / 300), i % 300] as const);
    pairs.sort((p, q) => a.affinity(q[0], q[1]) - a.affinity(p[0], p[1]));
    const likeRate = (ps: (readonly [number, number])[], seed: number) => {
      const rng = new Rng(seed);
      return ps.filter(([u, m]) => a.wouldLike(u, m, rng)).length / ps.length;
    };
    expect(likeRate(pairs.slice(0, 2000), 1)).toBeGreaterThan(0.7);
    expect(likeRate(pairs.slice(-2000), 2)).toBeLessThan(0.05);
    expect(a.wouldLike(0, 0, () => 0)).toBe(true);
    expect(a.wouldLike(0, 0, () => 0.999_999_999)).toBe(false);
    expect(() => a.affinity(150, 0)).toThrow(RangeError);
  });

  it('rejects impossible sizes with a clear error, before touching the store', async () => {
    const target = new MemoryStore();
    await target.insertMany('users', [{ userId: 'keep', favoriteGenres: [], createdAt: new Date(), updatedAt: new Date() }]);
    await expect(generateData(target, { seed: 1, users: 10, movies: 10, interactions: 51, reset: true })).rejects.toThrow(
      /interactions must be an integer from 0 to 50 .*each user watches at most 5 movies/,
    );
    await expect(generateData(target, { seed: 1, users: 0, movies: 10, interactions: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(generateData(target, { seed: 1, users: 1, movies: 1, interactions: 0, batchSize: 0 })).rejects.toThrow(
      /batchSize must be an integer from 1/,
    );
    expect(await target.getUser('keep')).not.toBeNull();
  });

  it('refuses a store that holds data unless reset, which replaces it', async () => {
    const target = new MemoryStore();
    await target.insertMany('users', [{ userId: 'keep', favoriteGenres: [], createdAt: new Date(), updatedAt: new Date() }]);
    const params = { seed: 1, users: 5, movies: 20, interactions: 30, now: NOW };
    await expect(generateData(target, params)).rejects.toThrow(FailedPreconditionError);
    await expect(generateData(target, params)).rejects.toThrow(/already holds data \(1 users\).*--reset/);
    expect(await target.count('users')).toBe(1);
    await generateData(target, { ...params, reset: true });
    expect(await target.getUser('keep')).toBeNull();
    expect(await target.count('users')).toBe(5);
  });

  it('reports progress up to the total of users + movies + watched records', async () => {
    const seen: number[] = [];
    await generateData(new MemoryStore(), { seed: 1, users: 20, movies: 40, interactions: 300, batchSize: 50 }, (p) => {
      expect(p.total).toBe(360);
      seen.push(p.done);
    });
    expect(seen.at(-1)).toBe(360);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });
});

describe('generate-data CLI', () => {
  it('parses flags, with defaults', () => {
    expect(parseGenerateArgs([]).options).toEqual({
      users: 1000,
      movies: 1700,
      interactions: 100_000,
      seed: 42,
      batchSize: 5000,
      reset: false,
    });
    expect(parseGenerateArgs(['--users', '10_000', '--movies', '500', '--interactions', '0', '--reset']).options).toMatchObject({
      users: 10_000,
      interactions: 0,
      reset: true,
    });
  });

  it.each([
    [['--users', 'many'], "--users must be a whole number, got 'many'"],
    [['--users=-5'], "--users must be a whole number, got '-5'"],
    [['--movies', '0'], '--movies must be an integer from 1 to 20,000, got 0'],
    [['--users', '2', '--movies', '4', '--interactions', '5'], '--interactions must be an integer from 0 to 4'],
    [['--batch-size', '0'], '--batch-size must be an integer from 1 to 100,000, got 0'],
    [['--seed', '4294967296'], '--seed must be an integer from 0 to 4,294,967,295'],
    [['--colour'], "Unknown option '--colour'"],
    [['extra'], "Unexpected argument 'extra'"],
  ])('rejects %j', (argv, message) => {
    expect(() => parseGenerateArgs(argv)).toThrow(UsageError);
    expect(() => parseGenerateArgs(argv)).toThrow(message);
  });

  it('refuses without MONGO_URL (exit code 2, naming MONGO_URL and the demo) unless --embedded', async () => {
    const refused = io();
    expect(await generateMain(['--users', '10', '--movies', '20', '--interactions', '50'], refused.io)).toBe(2);
    expect(refused.err()).toContain('MONGO_URL is not set');
    expect(refused.err()).toContain('npm start');
    expect(refused.err()).toContain('--embedded');
    expect(refused.out()).toBe('');
    const embedded = io();
    expect(await generateMain(['--users', '10', '--movies', '20', '--interactions', '50', '--embedded'], embedded.io)).toBe(0);
    expect(embedded.err()).toContain('store: embedded in-process');
    expect(embedded.out()).toMatch(/users\s+10 /);
  });

  it('exits 2 on bad flags, 0 with help, and runs into a store it is given', async () => {
    const bad = io();
    expect(await generateMain(['--users', 'x'], bad.io)).toBe(2);
    expect(bad.err()).toContain("--users must be a whole number, got 'x'\nRun 'generate-data --help' for usage.");
    const help = io();
    expect(await generateMain(['--help'], help.io)).toBe(0);
    expect(help.out()).toContain('--interactions N');

    const target = new MemoryStore();
    const run = io(target);
    expect(await generateMain(['--users', '30', '--movies', '60', '--interactions', '500', '--seed', '3'], run.io)).toBe(0);
    expect(run.out()).toMatch(/watched_movies\s+500/);
    expect(run.err()).not.toContain('embedded');
    expect(await target.count('watched_movies')).toBe(500);
    const again = io(target);
    expect(await generateMain(['--users', '30', '--movies', '60', '--interactions', '500'], again.io)).toBe(1);
    expect(again.err()).toContain('already holds data');
  });

  it('parses the importer flags', () => {
    expect(parseImportArgs(['/data/ml'])).toMatchObject({ dir: '/data/ml', reset: false, batchSize: 5000 });
    expect(parseImportArgs(['--dir', '/data/ml', '--reset'])).toMatchObject({ dir: '/data/ml', reset: true });
    expect(() => parseImportArgs([])).toThrow('the MovieLens folder is required');
    expect(() => parseImportArgs(['a', 'b'])).toThrow('expected one folder');
  });
});

describe('MovieLens import', () => {
  it('parses titles and years', () => {
    expect(titleAndYear('Toy Story (1995)', '01-Jan-1995')).toEqual({ title: 'Toy Story', year: 1995 });
    expect(titleAndYear('Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)', '')).toEqual({
      title: 'Shanghai Triad (Yao a yao yao dao waipo qiao)',
      year: 1995,
    });
    expect(titleAndYear('Some Film', '12-Mar-1997')).toEqual({ title: 'Some Film', year: 1997 });
    expect(titleAndYear('unknown', '')).toEqual({ title: 'unknown', year: 0 });
  });

  it('rejects a missing folder or a malformed file, leaving the store untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recsys-ml-'));
    try {
      const target = new MemoryStore();
      await target.insertMany('users', [{ userId: 'keep', favoriteGenres: [], createdAt: new Date(), updatedAt: new Date() }]);
      await expect(importMovieLens(target, join(dir, 'absent'), { reset: true })).rejects.toThrow(NotFoundError);
      const flags = (on: number[]) => Array.from({ length: 19 }, (_, i) => (on.includes(i) ? '1' : '0')).join('|');
      writeFileSync(join(dir, 'u.item'), `1|Toy Story (1995)|01-Jan-1995||http://x|${flags([3, 4, 5])}\n`, 'latin1');
      writeFileSync(join(dir, 'u.data'), '1\t1\t5\t881250949\n2\t1\t9\t881250950\n');
      await expect(importMovieLens(target, dir, { reset: true })).rejects.toThrow('u.data line 2: rating must be 1 to 5, got 9');
      expect(await target.count('users')).toBe(1);
      expect(await target.count('likes')).toBe(0);

      writeFileSync(join(dir, 'u.data'), '1\t1\t5\t881250949\n2\t1\t3\t881250950\n');
      const result = await importMovieLens(target, dir, { reset: true });
      expect(result).toMatchObject({ users: 2, movies: 1, likes: 2, watched: 2 });
      const movie = (await target.getMovies(['m1'])).get('m1');
      expect(movie).toMatchObject({ title: 'Toy Story', year: 1995, genres: ['Animation', "Children's", 'Comedy'], rating: 8 });
      expect((await target.getUser('u1'))?.favoriteGenres).toEqual(['Animation', "Children's", 'Comedy']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // ML100K_DIR, or the shared data set next to the checkout (/work/main → /work/shared), one level up from a worktree,
  // or where the machines keep it (/work/shared) for a clone elsewhere (CI's clean clone).
  const ml100k =
    process.env.ML100K_DIR ??
    [resolve(repoRoot, '../shared/datasets/ml-100k'), resolve(repoRoot, '../../shared/datasets/ml-100k'), '/work/shared/datasets/ml-100k'].find((d) =>
      existsSync(d),
    ) ??
    resolve(repoRoot, '../shared/datasets/ml-100k');
  const present = existsSync(join(ml100k, 'u.data')) && existsSync(join(ml100k, 'u.item'));
  (present ? describe : describe.skip)(
    present ? 'MovieLens 100k' : `MovieLens 100k — skipped: ${ml100k} not found`,
    () => {
      const target = new MemoryStore();
      let result: Awaited<ReturnType<typeof importMovieLens>>;
      beforeAll(async () => {
        result = await importMovieLens(target, ml100k, { reset: true, batchSize: 10_000 });
      });

      it('imports every user, movie and rating', async () => {
        // u.item holds 1682 ids: 18 films twice (e.g. Chasing Amy (1997) as 246 and 268) and one placeholder
        // ('unknown', id 267). Those are merged / left out, with the ratings on them (catalogue hygiene).
        expect(Object.keys(result.aliases)).toHaveLength(18);
        expect(result.aliases).toMatchObject({ m268: 'm246', m1606: 'm309', m865: 'm305', m670: 'm573' });
        expect(result.placeholders).toEqual(['m267']);
        const ratings = 100_000 - result.droppedOnPlaceholders - result.mergedDuplicates;
        const lines = readFileSync(join(ml100k, 'u.data'), 'latin1').trim().split('\n').map((l) => l.split('\t'));
        expect(result.droppedOnPlaceholders).toBe(lines.filter(([, item]) => item === '267').length);
        // A user who rated both ids of a film keeps one rating (the higher): the others are merged away.
        const perPair = new Map<string, number>();
        for (const [user, item] of lines) {
          const canonical = result.aliases[`m${item}`] ?? `m${item}`;
          if (Object.values(result.aliases).includes(canonical)) perPair.set(`${user}/${canonical}`, (perPair.get(`${user}/${canonical}`) ?? 0) + 1);
        }
        const merged = [...perPair.values()].reduce((sum, n) => sum + n - 1, 0);
        expect(merged).toBeGreaterThan(0);
        expect(result.mergedDuplicates).toBe(merged);
        expect(result).toMatchObject({ layout: '100k', users: 943, movies: 1663, likes: ratings, watched: ratings, bookmarks: 0, popularityUpdated: 1663 });
        expect(await target.count('users')).toBe(943);
        expect(await target.count('movies')).toBe(1663);
        expect(await target.count('likes')).toBe(ratings);
        expect(await target.count('watched_movies')).toBe(ratings);
        expect(await target.count('bookmarks')).toBe(0);
      });

      it('maps movies, ratings and favourite genres', async () => {
        const ratings = readFileSync(join(ml100k, 'u.data'), 'latin1')
          .trim()
          .split('\n')
          .map((l) => l.split('\t').map(Number))
          .filter(([, item]) => item === 1)
          .map(([, , r]) => r);
        const toyStory = (await target.getMovies(['m1'])).get('m1');
        expect(toyStory).toMatchObject({ title: 'Toy Story', year: 1995, genres: ['Animation', "Children's", 'Comedy'] });
        expect(toyStory?.rating).toBeCloseTo((2 * ratings.reduce((a, b) => a + b, 0)) / ratings.length, 2);
        expect((await target.getMovies(['m267'])).size).toBe(0);
        expect((await target.getMovies(['m543'])).get('m543')).toMatchObject({ title: 'Misérables, Les', year: 1995 });
        expect((await target.getMovies(['m246'])).get('m246')).toMatchObject({ title: 'Chasing Amy', aliasIds: ['m268'] });
        expect((await target.getMovies(['m268'])).size).toBe(0);

        const likes = await all(target, 'likes');
        const first = likes.find((l) => l.userId === 'u196' && l.movieId === 'm242');
        expect(first).toEqual({ userId: 'u196', movieId: 'm242', rating: 6, likedAt: new Date(881250949 * 1000) });
        const watched = await all(target, 'watched_movies');
        expect(watched.every((w) => w.completed)).toBe(true);

        const users = await all(target, 'users');
        for (const u of users) {
          expect(u.favoriteGenres.length).toBeGreaterThanOrEqual(1);
          expect(u.favoriteGenres.length).toBeLessThanOrEqual(3);
        }
        // Star Wars (1977) has the most ratings, and high ones: the most popular movie.
        expect((await target.topMovies({ limit: 1 }))[0].movieId).toBe('m50');
      });
    },
  );
});

describeWithServers(['MONGO_URL'], 'generate-data into MongoDB (real MongoDB-wire server)', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore(realStorageEnv(), createLogger('test', 'silent'));
  });
  afterAll(async () => {
    await store?.clear();
    await store?.close();
  });

  it('writes the generated world with unordered bulk writes and refreshes popularity', async () => {
    const summary = await generateData(store, { seed: 5, users: 60, movies: 150, interactions: 1500, batchSize: 400, now: NOW });
    expect(await store.count('users')).toBe(60);
    expect(await store.count('movies')).toBe(150);
    expect(await store.count('watched_movies')).toBe(1500);
    expect(await store.count('likes')).toBe(summary.likes);
    expect(await store.count('bookmarks')).toBe(summary.bookmarks);
    expect(summary.popularityUpdated).toBe(150);
    const top = await store.topMovies({ limit: 3 });
    expect(top[0].popularity).toBeGreaterThan(0);
    const memory = new MemoryStore();
    await generateData(memory, { seed: 5, users: 60, movies: 150, interactions: 1500, now: NOW });
    const [inMongo, inMemory] = [(await store.getMovies(['m7'])).get('m7')!, (await memory.getMovies(['m7'])).get('m7')!];
    expect({ ...inMongo, popularity: 0 }).toEqual({ ...inMemory, popularity: 0 });
    expect(inMongo.popularity).toBeCloseTo(inMemory.popularity, 9);
    await expect(generateData(store, { seed: 5, users: 1, movies: 1, interactions: 0 })).rejects.toThrow(FailedPreconditionError);
  });
});

describe('import-movielens CLI', () => {
  it('exits 1 with the reason when the folder is missing', async () => {
    const run = io(new MemoryStore());
    expect(await importMain(['/nonexistent/ml-100k'], run.io)).toBe(1);
    expect(run.err()).toContain('/nonexistent/ml-100k does not exist');
  });
});
