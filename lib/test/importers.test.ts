import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStore } from '../src/backends.js';
import { InvalidArgumentError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { CollectionDocs, Store } from '../src/store/types.js';
import { importMovieLens, titleAndYear, splitGenres } from '../src/data/movielens.js';
import { importCatalogue, parseTimestamp } from '../src/data/catalogue-import.js';
import { isPlaceholderTitle, normaliseTitle } from '../src/data/catalogue-builder.js';
import { firstInvalidUtf8Line } from '../src/data/text-files.js';
import { main as importMain } from '../../scripts/import-movielens.js';
import { main as catalogueMain } from '../../scripts/import-catalogue.js';
import { progressPrinter } from '../../scripts/import-common.js';
import { describeWithServers, dropTestDatabase, realStorageEnv } from './support/servers.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const mlLatest = join(fixtures, 'ml-latest-mini');
const ml100k = join(fixtures, 'ml-100k-mini');
const own = join(fixtures, 'own-catalogue');

async function all<C extends 'users' | 'movies' | 'watched_movies' | 'likes' | 'bookmarks'>(store: Store, collection: C): Promise<CollectionDocs[C][]> {
  const out: CollectionDocs[C][] = [];
  for await (const batch of store.scan(collection, 1000)) out.push(...batch);
  return out;
}

/** Every data collection, sorted, for comparing two stores. */
async function dump(store: Store) {
  const key = (d: object) => JSON.stringify(d);
  const sorted = <T extends object>(docs: T[]) => docs.map((d) => ({ ...d })).sort((a, b) => (key(a) < key(b) ? -1 : 1));
  return {
    users: sorted(await all(store, 'users')),
    movies: sorted((await all(store, 'movies')).map((m) => ({ ...m, popularity: Math.round(m.popularity * 1e6) / 1e6 }))),
    watched: sorted(await all(store, 'watched_movies')),
    likes: sorted(await all(store, 'likes')),
    bookmarks: sorted(await all(store, 'bookmarks')),
  };
}

function cliIo(env: NodeJS.ProcessEnv, store?: Store) {
  let stdout = '';
  let stderr = '';
  return {
    io: { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, env, store },
    out: () => stdout,
    err: () => stderr,
  };
}

function tempDir() {
  return mkdtempSync(join(tmpdir(), 'recsys-import-'));
}

describe('title, genre and text helpers', () => {
  it('reads titles with and without a year, year ranges and trailing spaces', () => {
    expect(titleAndYear('Toy Story (1995)', '')).toEqual({ title: 'Toy Story', year: 1995 });
    expect(titleAndYear('Black Mirror', '')).toEqual({ title: 'Black Mirror', year: 0 });
    expect(titleAndYear('Cosmos (1980-1981)', '')).toEqual({ title: 'Cosmos', year: 1980 });
    expect(titleAndYear('Fawlty Towers (1975-)', '')).toEqual({ title: 'Fawlty Towers', year: 1975 });
    expect(titleAndYear('Babylon 5 ', '')).toEqual({ title: 'Babylon 5', year: 0 });
    expect(titleAndYear('Café au lait', '12-Mar-1994')).toEqual({ title: 'Café au lait', year: 1994 });
  });

  it('splits genres, keeping every name the data uses', () => {
    expect(splitGenres('Action|Adventure|Sci-Fi|IMAX', 'x')).toEqual(['Action', 'Adventure', 'Sci-Fi', 'IMAX']);
    expect(splitGenres('(no genres listed)', 'x')).toEqual([]);
    expect(splitGenres('', 'x')).toEqual([]);
    expect(() => splitGenres('Action||Drama', 'movies.csv line 3')).toThrow("movies.csv line 3: genres must be '|'-separated names");
  });

  it('tells placeholders and duplicate titles', () => {
    for (const t of ['unknown', ' Unknown ', '', 'N/A', 'TBD', '?']) expect(isPlaceholderTitle(t)).toBe(true);
    for (const t of ['Unknown Soldier', 'Heat', 'It']) expect(isPlaceholderTitle(t)).toBe(false);
    expect(normaliseTitle('Ice Storm, The')).toBe(normaliseTitle('The  Ice Storm'));
    expect(normaliseTitle('Misérables, Les')).toBe(normaliseTitle('Les Misérables'));
    expect(normaliseTitle('Ｈｅａｔ')).toBe(normaliseTitle('heat'));
    expect(normaliseTitle('Heat')).not.toBe(normaliseTitle('Heat 2'));
  });

  it('parses timestamps: unix seconds or ISO 8601 with a zone', () => {
    expect(parseTimestamp('1714600000', 'x')).toBe(1714600000_000);
    expect(parseTimestamp(1714600000, 'x')).toBe(1714600000_000);
    expect(parseTimestamp('2024-05-01T22:20:00+02:00', 'x')).toBe(Date.UTC(2024, 4, 1, 20, 20));
    expect(parseTimestamp('2024-05-03', 'x')).toBe(Date.UTC(2024, 4, 3));
    for (const bad of ['2024-05-01T20:15:00', 'yesterday', '-5', '1.5', '', null, true]) {
      expect(() => parseTimestamp(bad, 'f line 2')).toThrow(/f line 2: timestamp must be unix seconds or ISO 8601 with a zone/);
    }
  });

  it('finds the line of the first byte that is not UTF-8', async () => {
    expect(await firstInvalidUtf8Line(join(mlLatest, 'movies.csv'))).toBeNull();
    expect(await firstInvalidUtf8Line(join(ml100k, 'u.item'))).toBe(2);
  });
});

describe('MovieLens CSV layout (ml-latest-small, ml-25m, ml-32m)', () => {
  const store = new MemoryStore();
  let summary: Awaited<ReturnType<typeof importMovieLens>>;
  const progress: string[] = [];
  beforeAll(async () => {
    summary = await importMovieLens(store, mlLatest, { reset: true, batchSize: 4, progressEvery: 5, onProgress: (p) => progress.push(`${p.phase}:${p.done}/${p.total}`) });
  });

  it('imports movies with UTF-8 titles, quoted titles with commas and quotes, every genre, missing years, ids and tags', async () => {
    const movies = await store.getMovies(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm13']);
    expect(movies.get('m1')).toMatchObject({
      title: 'Toy Story',
      year: 1995,
      genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'],
      imdbId: 'tt0114709',
      imdbUrl: 'https://www.imdb.com/title/tt0114709/',
      tmdbId: '862',
      tags: ['pixar', 'fun'],
    });
    expect(movies.get('m2')).toMatchObject({ title: 'American President, The', year: 1995, genres: ['Comedy', 'Drama', 'Romance'] });
    expect(movies.get('m3')).toMatchObject({ title: 'Misérables, Les', year: 1995, imdbId: 'tt0113828' });
    expect(movies.get('m3')?.tmdbId).toBeUndefined();
    expect(movies.get('m4')).toMatchObject({ title: 'Avatar', genres: ['Action', 'Adventure', 'Sci-Fi', 'IMAX'], tags: ['visually stunning, long'] });
    expect(movies.get('m5')).toMatchObject({ title: 'Black Mirror', year: 0, genres: [], imdbId: 'tt2085059' });
    expect(movies.get('m6')).toMatchObject({ title: 'Crow: City of Angels, The "Part 2"', year: 1996 });
    expect(movies.get('m7')).toMatchObject({ title: 'Cosmos', year: 1980, genres: ['Documentary'] });
    expect(movies.get('m13')).toMatchObject({ title: "Amélie (Fabuleux destin d'Amélie Poulain, Le)", year: 2001 });
  });

  it('turns half stars into the 1-10 scale: a like and a completed view per rating, at its time', async () => {
    const likes = await all(store, 'likes');
    expect(likes.find((l) => l.userId === 'u1' && l.movieId === 'm4')).toEqual({ userId: 'u1', movieId: 'm4', rating: 1, likedAt: new Date(964982224_000) });
    expect(likes.find((l) => l.userId === 'u1' && l.movieId === 'm3')?.rating).toBe(9);
    expect(likes.find((l) => l.userId === 'u2' && l.movieId === 'm13')?.rating).toBe(7);
    const watched = await all(store, 'watched_movies');
    expect(watched.find((w) => w.userId === 'u1' && w.movieId === 'm4')).toEqual({ userId: 'u1', movieId: 'm4', completed: true, watchedAt: new Date(964982224_000) });
    expect((await store.getMovies(['m4'])).get('m4')?.rating).toBe(5); // (0.5 + 4.5) / 2 stars × 2
    // Favourite genres: u3 rated Avatar 4.5 stars (9/10) and the War of the Worlds twins 3 and 4 stars.
    expect((await store.getUser('u3'))?.favoriteGenres).toEqual(['Action', 'Sci-Fi', 'Adventure']);
  });

  it('merges the same film under two ids into its first id, keeping one rating per user (the higher)', async () => {
    expect(summary.aliases).toEqual({ m9: 'm8', m15: 'm14' });
    const movies = await store.getMovies(['m8', 'm9', 'm14', 'm15', 'm10', 'm11']);
    expect(movies.get('m8')).toMatchObject({ title: 'Emma', genres: ['Romance', 'Comedy'], aliasIds: ['m9'], tmdbId: '3573', rating: 10 });
    expect(movies.has('m9')).toBe(false);
    expect(movies.get('m14')).toMatchObject({ title: 'Ice Storm, The', aliasIds: ['m15'], rating: 8 });
    expect(movies.has('m15')).toBe(false);
    // Same title and year, different IMDb ids: two films (War of the Worlds 2005 and its namesake).
    expect(movies.get('m10')?.aliasIds).toBeUndefined();
    expect(movies.get('m11')).toBeDefined();
    const likes = await all(store, 'likes');
    expect(likes.filter((l) => l.userId === 'u1' && (l.movieId === 'm8' || l.movieId === 'm9'))).toEqual([
      { userId: 'u1', movieId: 'm8', rating: 10, likedAt: new Date(964982931_000) },
    ]);
    expect(likes.filter((l) => l.userId === 'u2' && l.movieId === 'm14').map((l) => l.rating)).toEqual([8]);
    expect(summary.mergedDuplicates).toBe(2);
  });

  it('leaves placeholders out, with their ratings; never serves them', async () => {
    expect(summary.placeholders).toEqual(['m12']);
    expect(summary.droppedOnPlaceholders).toBe(3);
    expect((await store.getMovies(['m12'])).size).toBe(0);
    expect(await store.getUser('u4')).toBeNull(); // rated nothing but the placeholder
    const top = await store.topMovies({ limit: 100 });
    expect(top.map((m) => m.movieId)).not.toContain('m12');
    expect(new Set(top.map((m) => `${normaliseTitle(m.title)}/${m.year}/${m.imdbId ?? ''}`)).size).toBe(top.length);
  });

  it('counts what it wrote and reports progress per N ratings', async () => {
    expect(summary).toMatchObject({ layout: 'csv', users: 3, movies: 12, likes: 10, watched: 10, bookmarks: 0, interactions: 15, popularityUpdated: 12 });
    expect(await store.count('likes')).toBe(10);
    // Reported after the read batch (64 KB of the file) that passes each multiple of progressEvery: one batch here.
    expect(progress).toEqual(['checking:15/0', 'checking:15/15', 'writing:15/15', 'writing:15/15', 'movies:15/15', 'users:15/15', 'popularity:15/15']);
  });

  it('reports progress every N ratings on a larger file, streaming it in batches', async () => {
    const dir = tempDir();
    try {
      copyFileSync(join(mlLatest, 'movies.csv'), join(dir, 'movies.csv'));
      const lines = ['userId,movieId,rating,timestamp'];
      // 1,500 users (past the user table's first 1,024 slots), each rating the same 20 movies the same way.
      for (let i = 0; i < 30_000; i++) {
        const j = Math.floor(i / 1500);
        lines.push(`${1 + (i % 1500)},${1 + (j % 7)},${1 + (j % 9) / 2},${1_000_000_000 + i}`);
      }
      writeFileSync(join(dir, 'ratings.csv'), `${lines.join('\n')}\n`);
      const reports: { phase: string; done: number; total: number }[] = [];
      const target = new MemoryStore();
      const s = await importMovieLens(target, dir, { progressEvery: 10_000, onProgress: (p) => reports.push({ ...p }) });
      expect(s).toMatchObject({ interactions: 30_000, likes: 30_000, users: 1500 });
      const users = await all(target, 'users');
      expect(users[0].favoriteGenres).toHaveLength(3);
      expect(new Set(users.map((u) => u.favoriteGenres.join('|')))).toEqual(new Set([users[0].favoriteGenres.join('|')]));
      for (const phase of ['checking', 'writing']) {
        const done = reports.filter((r) => r.phase === phase).map((r) => r.done);
        expect(done.length).toBeGreaterThanOrEqual(3); // after ~10k, ~20k, ~30k (a 64 KB batch is ~3,000 lines)
        expect(done).toEqual([...done].sort((a, b) => a - b));
        expect(done[0]).toBeGreaterThanOrEqual(10_000);
        expect(done[0]).toBeLessThan(20_000);
        expect(done.at(-1)).toBe(30_000);
      }
      expect(reports.filter((r) => r.phase === 'writing').every((r) => r.total === 30_000)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('imports every movie as it is with hygiene off', async () => {
    const plain = new MemoryStore();
    const s = await importMovieLens(plain, mlLatest, { hygiene: false });
    expect(s).toMatchObject({ movies: 15, likes: 15, aliases: {}, placeholders: [] });
  });

  it('names the file and line of a bad record and writes nothing', async () => {
    const dir = tempDir();
    try {
      for (const f of ['movies.csv', 'links.csv']) copyFileSync(join(mlLatest, f), join(dir, f));
      const target = new MemoryStore();
      const cases: [string, string, string][] = [
        ['ratings.csv', 'userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,4.3,964982703\n', 'ratings.csv line 3: rating must be 0.5 to 5 in half stars, got \'4.3\''],
        ['ratings.csv', 'userId,movieId,rating,timestamp\n1,1,0,964982703\n', "ratings.csv line 2: rating must be 0.5 to 5 in half stars, got '0'"],
        ['ratings.csv', 'userId,movieId,rating,timestamp\n1,99,4,964982703\n', 'ratings.csv line 2: movie m99 is not in the movie file'],
        ['ratings.csv', 'userId,movieId,rating\n1,1,4\n', 'ratings.csv line 1: the header must name the columns userId, movieId, rating, timestamp; missing timestamp'],
        ['ratings.csv', 'userId,movieId,rating,timestamp\n1,1,4,964982703,7\n', 'ratings.csv line 2: malformed CSV'],
        ['ratings.csv', 'userId,movieId,rating,timestamp\nx,1,4,964982703\n', "ratings.csv line 2: userId must be a positive integer, got 'x'"],
      ];
      for (const [file, text, message] of cases) {
        writeFileSync(join(dir, file), text);
        await expect(importMovieLens(target, dir)).rejects.toThrow(message);
        expect(await target.count('movies')).toBe(0);
        expect(await target.count('likes')).toBe(0);
      }
      // Quoted fields in ratings.csv read as CSV does (the fast path splits plain lines only).
      writeFileSync(join(dir, 'ratings.csv'), 'userId,movieId,rating,timestamp\r\n"1","1","4.5","964982703"\r\n2,2,3,964982704\r\n');
      const quoted = new MemoryStore();
      expect(await importMovieLens(quoted, dir)).toMatchObject({ likes: 2, users: 2 });
      expect((await all(quoted, 'likes')).map((l) => l.rating).sort()).toEqual([6, 9]);
      writeFileSync(join(dir, 'ratings.csv'), 'userId,movieId,rating,timestamp\n"1,1,4,964982703\n');
      await expect(importMovieLens(target, dir)).rejects.toThrow('ratings.csv line 2: malformed CSV');
      writeFileSync(join(dir, 'ratings.csv'), 'userId,movieId,rating,timestamp\n1,1,4,964982703\n');
      writeFileSync(join(dir, 'movies.csv'), 'movieId,title,genres\n1,"Toy Story (1995),Comedy\n2,Heat (1995),Action\n');
      await expect(importMovieLens(target, dir)).rejects.toThrow(/movies\.csv line \d+: malformed CSV/);
      writeFileSync(join(dir, 'movies.csv'), 'movieId,title,genres\n1,Toy Story (1995),Comedy\n1,Heat (1995),Action\n');
      await expect(importMovieLens(target, dir)).rejects.toThrow('movies.csv line 3: duplicate movie id m1');
      writeFileSync(join(dir, 'movies.csv'), 'movieId,title,genres\n1,Toy Story (1995),Comedy\n');
      await expect(importMovieLens(target, dir)).rejects.toThrow('links.csv line 3: movie 2 is not in movies.csv');
      expect(await target.count('users')).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('MovieLens 100k layout', () => {
  it('detects Latin-1 u.item ("Misérables" comes through), merges duplicates, drops placeholders', async () => {
    const store = new MemoryStore();
    const s = await importMovieLens(store, ml100k);
    expect(s).toMatchObject({ layout: '100k', movies: 4, aliases: { m4: 'm3' }, placeholders: ['m5'], droppedOnPlaceholders: 2, mergedDuplicates: 2 });
    const movies = await store.getMovies(['m1', 'm2', 'm3', 'm6']);
    expect(movies.get('m2')).toMatchObject({ title: 'Misérables, Les', year: 1995, genres: ['Drama', 'Musical'] });
    expect(movies.get('m6')).toMatchObject({ title: 'Café au lait', year: 1994, genres: ['Comedy'] });
    expect(movies.get('m3')).toMatchObject({ title: 'Chasing Amy', genres: ['Drama', 'Romance', 'Comedy'], aliasIds: ['m4'] });
    const likes = await all(store, 'likes');
    // u1 rated m3 2 stars and its twin m4 5 stars: one like, 10. u2 rated both 3 stars: the later one is kept.
    expect(likes.filter((l) => l.movieId === 'm3').map((l) => [l.userId, l.rating, l.likedAt.getTime() / 1000])).toEqual([
      ['u1', 10, 881250952],
      ['u2', 6, 881250954],
    ]);
    expect(likes.some((l) => l.movieId === 'm4' || l.movieId === 'm5')).toBe(false);
    expect(await store.getUser('u3')).toMatchObject({ favoriteGenres: ['Comedy'] });
  });

  it('declared latin1 reads it right; declared utf8 refuses the Latin-1 file naming the line, never garbling it', async () => {
    const store = new MemoryStore();
    await importMovieLens(store, ml100k, { encoding: 'latin1' });
    expect((await store.getMovies(['m2'])).get('m2')?.title).toBe('Misérables, Les');
    const other = new MemoryStore();
    await expect(importMovieLens(other, ml100k, { encoding: 'utf8' })).rejects.toThrow(
      'u.item line 2: not valid UTF-8 (declared --encoding utf8); the file looks like Latin-1: use --encoding latin1 or auto',
    );
    expect(await other.count('movies')).toBe(0);
  });

  it('reads a UTF-8 u.item as UTF-8 under auto', async () => {
    const dir = tempDir();
    try {
      for (const f of ['u.data', 'u.genre']) copyFileSync(join(ml100k, f), join(dir, f));
      writeFileSync(join(dir, 'u.item'), readFileSync(join(ml100k, 'u.item'), 'latin1'), 'utf8');
      const store = new MemoryStore();
      await importMovieLens(store, dir);
      expect((await store.getMovies(['m2', 'm6'])).get('m6')?.title).toBe('Café au lait');
      expect((await store.getMovies(['m2'])).get('m2')?.title).toBe('Misérables, Les');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('own catalogue (CSV and JSONL)', () => {
  it('imports the CSV and the JSONL fixtures to the same store contents', async () => {
    const fromCsv = new MemoryStore();
    const s = await importCatalogue(fromCsv, { movies: join(own, 'movies.csv'), interactions: join(own, 'interactions.csv') });
    const fromJsonl = new MemoryStore();
    const t = await importCatalogue(fromJsonl, { movies: join(own, 'movies.jsonl'), interactions: join(own, 'interactions.jsonl') });
    expect(t).toEqual(s);
    expect(await dump(fromJsonl)).toEqual(await dump(fromCsv));

    expect(s).toMatchObject({ movies: 3, users: 2, likes: 2, watched: 3, bookmarks: 1, aliases: { 'amelie-dup': 'amelie' }, placeholders: ['tbd-1'], droppedOnPlaceholders: 1, mergedDuplicates: 1 });
    const movies = await fromCsv.getMovies(['heat-1995', 'amelie', 'docu-7']);
    expect(movies.get('heat-1995')).toMatchObject({ title: 'Heat', year: 1995, genres: ['Action', 'Crime', 'Thriller'], imdbId: 'tt0113277', imdbUrl: 'https://www.imdb.com/title/tt0113277/', tmdbId: '949', rating: 9 });
    expect(movies.get('amelie')).toMatchObject({ title: "Le Fabuleux Destin d'Amélie Poulain, extended", genres: ['Comedy', 'Romance'], aliasIds: ['amelie-dup'] });
    expect(movies.get('docu-7')).toMatchObject({ title: 'Planet Earth: "Pole to Pole"', year: 0, genres: ['Documentary', 'Nature'] });
    const watched = await all(fromCsv, 'watched_movies');
    expect(watched.find((w) => w.userId === 'alice' && w.movieId === 'amelie')).toEqual({ userId: 'alice', movieId: 'amelie', completed: false, watchedAt: new Date(1714600000_000) });
    expect(await all(fromCsv, 'bookmarks')).toEqual([{ userId: 'alice', movieId: 'amelie', createdAt: new Date(Date.UTC(2024, 4, 3)) }]);
    // bob liked amelie (10) and rated its duplicate 6: one like, the higher.
    expect((await all(fromCsv, 'likes')).filter((l) => l.userId === 'bob')).toEqual([
      { userId: 'bob', movieId: 'amelie', rating: 10, likedAt: new Date(Date.UTC(2024, 4, 4, 10)) },
    ]);
    expect(await fromCsv.getUser('carol')).toBeNull();
    expect((await fromCsv.getUser('alice'))?.favoriteGenres).toEqual(['Action', 'Crime', 'Thriller']);
  });

  it('reports every bad line with its number and what is wrong, and writes nothing', async () => {
    const dir = tempDir();
    try {
      const store = new MemoryStore();
      const movies = join(dir, 'movies.csv');
      const interactions = join(dir, 'interactions.jsonl');
      writeFileSync(movies, 'id,title,year,genres\nm1,Heat,1995,Action\nbad id,Heat 2,1999,\nm3,,2000,Drama\nm4,Solaris,19x2,Drama\nm1,Again,2001,\n');
      await expect(importCatalogue(store, { movies })).rejects.toThrow(
        [
          '4 invalid lines, nothing imported:',
          `${movies} line 3: id must be 1 to 64 characters of letters, digits, '_' or '-', got "bad id"`,
          `${movies} line 4: missing title`,
          `${movies} line 5: year must be a number, got "19x2"`,
          `${movies} line 6: duplicate movie id m1`,
        ].join('\n'),
      );
      writeFileSync(movies, 'id,title,year,genres\nm1,Heat,1995,Action\n');
      writeFileSync(
        interactions,
        [
          '{"user_id": "a", "movie_id": "m1", "type": "rated", "value": 8, "timestamp": 1714600000}',
          '{"user_id": "a", "movie_id": "m1", "type": "loved", "timestamp": 1714600000}',
          '{"user_id": "a", "movie_id": "m1", "type": "rated", "value": 11, "timestamp": 1714600000}',
          '{"user_id": "a", "movie_id": "m2", "type": "watched", "timestamp": 1714600000}',
          '{"user_id": "a", "movie_id": "m1", "type": "watched", "timestamp": "yesterday"}',
          '{"user_id": "a", "movie_id": "m1", "type": "bookmarked", "value": 1, "timestamp": 1714600000}',
          '{"user_id": "a", "movie_id": "m1", "type": "rated", "timestamp": 1714600000}',
          '{"user_id": "a", "movie_id": "m1", "kind": "watched", "timestamp": 1714600000}',
          '{"user_id": "a", "movie_id": "m1", "type": "watched", "timestamp": 1714600000',
          '[1, 2]',
        ].join('\n'),
      );
      const err = await importCatalogue(store, { movies, interactions }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidArgumentError);
      const lines = (err as Error).message.split('\n');
      expect(lines[0]).toBe('9 invalid lines, nothing imported:');
      expect(lines.slice(1).map((l) => l.replace(`${interactions} `, ''))).toEqual([
        'line 2: type must be one of watched, rated, liked, bookmarked, got "loved"',
        'line 3: value of a rated interaction is the rating, 1 to 10, got 11',
        'line 4: movie m2 is not in the movie file',
        'line 5: timestamp must be unix seconds or ISO 8601 with a zone (e.g. 2024-05-01T20:15:00Z), got "yesterday"',
        'line 6: a bookmarked interaction takes no value, got 1',
        'line 7: value of a rated interaction is required: the rating, 1 to 10',
        "line 8: unknown field 'kind'; allowed: user_id, movie_id, type, value, timestamp",
        expect.stringMatching(/^line 9: not valid JSON/),
        'line 10: expected a JSON object with the fields user_id, movie_id, type, value, timestamp',
      ]);
      expect(await store.count('movies')).toBe(0);
      expect(await store.count('likes')).toBe(0);

      writeFileSync(movies, 'id,name,genres\nm1,Heat,Action\n');
      await expect(importCatalogue(store, { movies })).rejects.toThrow(`${movies} line 1: the header must name the columns id, title (optional: year, genres, imdb_id, tmdb_id); missing title; unknown 'name'`);
      await expect(importCatalogue(store, { movies: join(dir, 'movies.txt') })).rejects.toThrow('not found');
      writeFileSync(join(dir, 'movies.txt'), 'x');
      await expect(importCatalogue(store, { movies: join(dir, 'movies.txt') })).rejects.toThrow("cannot tell the format from the extension '.txt'");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a store that holds data unless reset', async () => {
    const store = new MemoryStore();
    const files = { movies: join(own, 'movies.csv'), interactions: join(own, 'interactions.csv') };
    await importCatalogue(store, files);
    await expect(importCatalogue(store, files)).rejects.toThrow('already holds');
    await importCatalogue(store, files, { reset: true });
    expect(await store.count('movies')).toBe(3);
  });
});

describe('import CLIs', () => {
  it('print one progress line per report with the rate and ETA of the phase (injected clock)', () => {
    let out = '';
    let now = 0;
    const print = progressPrinter({ write: (t: string) => (out += t) }, 'ratings', 'ratings.csv', () => now);
    now = 2000;
    print({ phase: 'checking', done: 100_000, total: 0 });
    now = 4000;
    print({ phase: 'checking', done: 150_000, total: 150_000 });
    print({ phase: 'checking', done: 150_000, total: 150_000 });
    now = 5000;
    print({ phase: 'writing', done: 0, total: 150_000 });
    now = 6000;
    print({ phase: 'writing', done: 100_000, total: 150_000 });
    print({ phase: 'movies', done: 150_000, total: 150_000 });
    expect(out.split('\n')).toEqual([
      'checking ratings.csv: 100,000 ratings read (50,000/s)',
      'checking ratings.csv: 150,000 ratings read (37,500/s)',
      'writing: 0/150,000 ratings (0.0%)',
      'writing: 100,000/150,000 ratings (66.7%, 100,000/s, ETA 1 s)',
      'writing movies',
      '',
    ]);
  });


  it('refuse to run without MONGO_URL (exit 2), unless --embedded', async () => {
    const run = cliIo({});
    expect(await importMain([mlLatest], run.io)).toBe(2);
    expect(run.err()).toContain(
      'import-movielens: MONGO_URL is not set: this tool writes to MongoDB; start the stack or set MONGO_URL; to try MovieLens in the demo use `npm start -- --movielens DIR`',
    );
    const cat = cliIo({ MONGO_URL: '' });
    expect(await catalogueMain(['--movies', join(own, 'movies.csv')], cat.io)).toBe(2);
    expect(cat.err()).toContain('import-catalogue: MONGO_URL is not set');

    const dry = cliIo({});
    expect(await importMain([mlLatest, '--embedded', '--progress-every', '5'], dry.io)).toBe(0);
    expect(dry.out()).toContain('imported');
    expect(dry.out()).toContain('3 users, 12 movies, 10 likes');
    expect(dry.out()).toContain('catalogue hygiene: 2 duplicate ids merged into their canonical id (m9→m8, m15→m14)');
    expect(dry.out()).toContain('catalogue hygiene: 1 placeholder movies left out (m12) with their 3 interactions');
    expect(dry.err()).toMatch(/checking ratings: 15 ratings read/);
    expect(dry.err()).toMatch(/writing: 15\/15 ratings \(100\.0%/);
    expect(dry.err()).toContain('embedded store');
  });

  it('import into a store they are given; bad flags exit 2, bad data 1', async () => {
    const store = new MemoryStore();
    const run = cliIo({}, store);
    expect(await importMain(['--dir', ml100k, '--encoding', 'latin1', '--keep-duplicates'], run.io)).toBe(0);
    expect(await store.count('movies')).toBe(6);
    const bad = cliIo({}, new MemoryStore());
    expect(await importMain([ml100k, '--encoding', 'ebcdic'], bad.io)).toBe(2);
    expect(bad.err()).toContain('--encoding must be one of auto, utf8, latin1');
    const wrong = cliIo({}, new MemoryStore());
    expect(await importMain([ml100k, '--encoding', 'utf8'], wrong.io)).toBe(1);
    expect(wrong.err()).toContain('u.item line 2: not valid UTF-8');

    const cat = cliIo({}, new MemoryStore());
    expect(await catalogueMain(['--movies', join(own, 'movies.jsonl'), '--interactions', join(own, 'interactions.jsonl')], cat.io)).toBe(0);
    expect(cat.out()).toContain('2 users, 3 movies');
    const noMovies = cliIo({}, new MemoryStore());
    expect(await catalogueMain(['--interactions', join(own, 'interactions.jsonl')], noMovies.io)).toBe(2);
    expect(noMovies.err()).toContain('--movies FILE is required');
  });
});

describeWithServers(['MONGO_URL'], 'importers into MongoDB (real MongoDB-wire server)', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createStore(realStorageEnv(), createLogger('test', 'silent'));
  });
  afterAll(async () => {
    await dropTestDatabase(store);
    await store?.close();
  });

  it('writes the same documents as the embedded store, for every layout', async () => {
    const imports: [string, (s: Store) => Promise<unknown>][] = [
      ['ml-latest', (s) => importMovieLens(s, mlLatest, { reset: true, batchSize: 3 })],
      ['ml-100k', (s) => importMovieLens(s, ml100k, { reset: true, batchSize: 3 })],
      ['own', (s) => importCatalogue(s, { movies: join(own, 'movies.csv'), interactions: join(own, 'interactions.csv') }, { reset: true, batchSize: 3 })],
    ];
    for (const [, run] of imports) {
      const memory = new MemoryStore();
      const [inMongo, inMemory] = [await run(store), await run(memory)];
      expect(inMongo).toEqual(inMemory);
      expect(await dump(store)).toEqual(await dump(memory));
    }
    expect((await store.getMovies(['amelie'])).get('amelie')).toMatchObject({ aliasIds: ['amelie-dup'], imdbId: 'tt0211915' });
  });
});
