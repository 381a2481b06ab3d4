import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MongoStore } from '../../lib/src/store/mongo-store.js';
import { describeWithServers, serverUrl } from '../../lib/test/support/servers.js';
import { demoDataDir, demoTimeout, startDemo } from './support/demo-process.js';

/** The demo on a MongoDB that keeps its data between runs: never a half-written data set, never two mixed. */
describeWithServers(['MONGO_URL'], 'the demo on MongoDB (real MongoDB-wire server)', () => {
  let dataDir: string;
  const database = `demo_test_${randomUUID().slice(0, 8)}`;
  const env = { MONGO_DB: database };
  let store: MongoStore;
  beforeAll(async () => {
    dataDir = demoDataDir(); // here, not at collection: a skipped suite makes no folder
    store = await MongoStore.connect(serverUrl('MONGO_URL')!, database);
  });
  afterAll(async () => {
    await store?.dropDatabase();
    await store?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('stopped while generating the data, leaves no partial data set behind', async () => {
    const demo = startDemo(['--users', '300', '--movies', '400', '--interactions', '20000'], { dataDir, env, servers: true });
    await demo.waitFor(/generating demo data/);
    expect(await demo.interrupt()).toBe(0);
    expect(demo.stderr()).not.toMatch(/unexpected error|\n\s+at /);
    const generated = /generated (\d+) users, (\d+) movies, (\d+) views/.exec(demo.stdout());
    if (generated) {
      // The signal came after the data was complete: it is kept whole.
      expect([await store.count('users'), await store.count('movies'), await store.count('watched_movies')]).toEqual(generated.slice(1, 4).map(Number));
    } else {
      expect(demo.stdout()).toContain('removed the partly written demo data');
      for (const collection of ['users', 'movies', 'watched_movies', 'likes', 'bookmarks'] as const) expect(await store.count(collection)).toBe(0);
    }
  }, demoTimeout(1));

  it('refuses --movielens into a store that holds other data, saying how to start over', async () => {
    await store.insertMany('movies', [{ movieId: 'm1', title: 'Kept', year: 2000, genres: ['Drama'], rating: 7, popularity: 0 }]);
    const demo = startDemo(['--movielens', '/nonexistent/ml-100k'], { dataDir, env, servers: true });
    expect(await demo.exited).toBe(2);
    expect(demo.stderr()).toMatch(/the store already holds \d+ movies, and --movielens imports only into an empty store: start over with npm start -- --reset --movielens \/nonexistent\/ml-100k/);
    expect(await store.count('movies')).toBeGreaterThan(0);
  }, demoTimeout(1));
});
