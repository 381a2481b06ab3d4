import { afterAll, beforeEach, expect, it } from 'vitest';
import type { MovieDoc, Store } from '../src/store/types.js';
import { dropTestDatabase } from './support/servers.js';

function movie(movieId: string, genres: string[], rating = 8): MovieDoc {
  return { movieId, title: `Movie ${movieId}`, year: 2000, genres, rating, popularity: 0 };
}

/** The one contract every Store implementation passes. */
export function storeContract(makeStore: () => Promise<Store>): void {
  let store: Store;
  beforeEach(async () => {
    store ??= await makeStore();
    await store.clear();
  });
  afterAll(async () => {
    await dropTestDatabase(store);
    await store?.close();
  });

  it('creates a user with favourite genres, then replaces them', async () => {
    expect(await store.getUser('u1')).toBeNull();
    expect(await store.setFavoriteGenres('u1', ['Comedy', 'Drama'])).toEqual({ created: true });
    expect((await store.getUser('u1'))?.favoriteGenres).toEqual(['Comedy', 'Drama']);
    expect(await store.setFavoriteGenres('u1', ['Horror'])).toEqual({ created: false });
    const user = await store.getUser('u1');
    expect(user?.favoriteGenres).toEqual(['Horror']);
    expect(user?.userId).toBe('u1');
    expect(user?.createdAt).toBeInstanceOf(Date);
    expect(await store.count('users')).toBe(1);
  });

  it('ranks movies by popularity from interactions and rating, by genre, excluding given ids', async () => {
    await store.insertMany('movies', [
      movie('m1', ['Comedy'], 10),
      movie('m2', ['Comedy', 'Drama'], 2),
      movie('m3', ['Horror'], 8),
      movie('m4', ['Drama'], 8),
    ]);
    const at = new Date('2026-01-01T00:00:00Z');
    await store.insertMany('watched_movies', [
      { userId: 'a', movieId: 'm2', completed: true, watchedAt: at },
      { userId: 'b', movieId: 'm2', completed: false, watchedAt: at },
      { userId: 'a', movieId: 'm1', completed: true, watchedAt: at },
      { userId: 'a', movieId: 'm3', completed: true, watchedAt: at },
    ]);
    await store.insertMany('likes', [{ userId: 'c', movieId: 'm3', rating: 10, likedAt: at }]);
    await store.insertMany('bookmarks', [{ userId: 'c', movieId: 'm4', createdAt: at }]);
    expect(await store.refreshPopularity()).toBe(4);
    // m3: (1 + 1.0) * (0.5 + 0.4) = 1.8; m2: 1.5 * 0.6 = 0.9; m1: 1 * 1.0 = 1.0; m4: 0.3 * 0.9 = 0.27
    const all = await store.topMovies({ limit: 10 });
    expect(all.map((m) => m.movieId)).toEqual(['m3', 'm1', 'm2', 'm4']);
    expect(all[0].popularity).toBeCloseTo(1.8, 6);
    expect(await store.setPopularityFromWeights(new Map([['m4', 10]]))).toBe(4);
    expect((await store.topMovies({ limit: 1 }))[0]).toMatchObject({ movieId: 'm4', popularity: 9 });
    await store.refreshPopularity();
    const comedyDrama = await store.topMovies({ genres: ['Comedy', 'Drama'], limit: 10, excludeMovieIds: ['m1'] });
    expect(comedyDrama.map((m) => m.movieId)).toEqual(['m2', 'm4']);
    expect((await store.topMovies({ limit: 2 })).length).toBe(2);
    const found = await store.getMovies(['m1', 'nope']);
    expect([...found.keys()]).toEqual(['m1']);
    expect(found.get('m1')).toMatchObject({ title: 'Movie m1', genres: ['Comedy'], rating: 10 });
  });

  it('looks movies up by id for a few ids and for many (every id once, unknown ids left out)', async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `k${i}`);
    await store.insertMany('movies', ids.map((id) => movie(id, ['Drama'])));
    // 3 ids and 150 ids take different query shapes in the MongoDB store (equality per id, or one $in).
    const few = await store.getMovies(['k1', 'k2', 'k1', 'none']);
    expect([...few.keys()].sort()).toEqual(['k1', 'k2']);
    const many = await store.getMovies([...ids, ...ids.slice(0, 10), 'none']);
    expect([...many.keys()].sort()).toEqual([...ids].sort());
    expect(many.get('k149')).toMatchObject({ movieId: 'k149', title: 'Movie k149' });
  });

  it('lists the distinct genres of the catalogue', async () => {
    expect(await store.distinctGenres()).toEqual([]);
    await store.insertMany('movies', [movie('m1', ['Comedy', 'IMAX']), movie('m2', ['Comedy', 'Drama']), movie('m3', [])]);
    expect((await store.distinctGenres()).sort()).toEqual(['Comedy', 'Drama', 'IMAX']);
  });

  it('lists the movies a user interacted with', async () => {
    const at = new Date();
    await store.insertMany('watched_movies', [{ userId: 'a', movieId: 'm1', completed: true, watchedAt: at }]);
    await store.insertMany('likes', [{ userId: 'a', movieId: 'm2', rating: 7, likedAt: at }]);
    await store.insertMany('bookmarks', [
      { userId: 'a', movieId: 'm1', createdAt: at },
      { userId: 'b', movieId: 'm3', createdAt: at },
    ]);
    const weights = await store.userInteractionWeights('a');
    expect([...weights.keys()].sort()).toEqual(['m1', 'm2']);
    expect(weights.get('m1')).toBeCloseTo(1.3, 6); // watched to the end + bookmark
    expect(weights.get('m2')).toBeCloseTo(0.7, 6); // like with rating 7
    expect((await store.userInteractionWeights('nobody')).size).toBe(0);
    expect(await store.watchedMovieIds('a')).toEqual(['m1']);
  });

  it('skips duplicate users and movies on bulk insert and streams collections in batches', async () => {
    await store.insertMany('movies', [movie('m1', ['Comedy']), movie('m2', ['Drama'])]);
    await store.insertMany('movies', [movie('m1', ['Comedy']), movie('m3', ['War'])]);
    expect(await store.count('movies')).toBe(3);
    const batches: number[] = [];
    const ids: string[] = [];
    for await (const batch of store.scan('movies', 2)) {
      batches.push(batch.length);
      ids.push(...batch.map((m) => m.movieId));
    }
    expect(batches).toEqual([2, 1]);
    expect(ids.sort()).toEqual(['m1', 'm2', 'm3']);
    expect(Object.keys((await store.getMovies(['m1'])).get('m1')!)).not.toContain('_id');
  });

  it('stores served lists idempotently by session id', async () => {
    const log = {
      sessionId: 's1',
      userId: 'u1',
      modelType: 'als' as const,
      modelVersion: 'v1',
      arm: 'als',
      source: 'model' as const,
      items: [
        { movieId: 'm1', score: 0.9, rank: 1 },
        { movieId: 'm2', score: 0.5, rank: 2 },
      ],
      createdAt: new Date('2026-11-01T10:00:00Z'),
    };
    await store.insertRecommendationLogs([log]);
    await store.insertRecommendationLogs([log, { ...log, sessionId: 's2' }]);
    expect(await store.count('recommendation_logs')).toBe(2);
    expect(await store.getRecommendationLog('s1')).toEqual(log);
    expect(await store.getRecommendationLog('nope')).toBeNull();
  });

  it('upserts feedback per (session, movie) and lists dislikes', async () => {
    const base = { sessionId: 's1', userId: 'u1', modelType: 'als' as const, modelVersion: 'v1', sessionCreatedAt: new Date() };
    expect(await store.upsertFeedback({ ...base, movieId: 'm1', liked: true, rank: 1 })).toEqual({ created: true });
    expect(await store.upsertFeedback({ ...base, movieId: 'm1', liked: false, rank: 1 })).toEqual({ created: false });
    expect(await store.upsertFeedback({ ...base, movieId: 'm2', liked: true, rank: 2 })).toEqual({ created: true });
    expect(await store.count('feedback')).toBe(2);
    expect(await store.dislikedMovieIds('u1')).toEqual(['m1']);
    expect(await store.dislikedMovieIds('u2')).toEqual([]);
  });

  it('writes a batch of verdicts in order: first ones inserted, repeated ones (also within the batch) replacing the earlier', async () => {
    const base = { sessionId: 's-batch', userId: 'u-batch', modelType: 'als' as const, modelVersion: 'v1', sessionCreatedAt: new Date() };
    expect(await store.upsertFeedbackMany([])).toEqual([]);
    await store.upsertFeedback({ ...base, movieId: 'm1', liked: true, rank: 1 });
    const results = await store.upsertFeedbackMany([
      { ...base, movieId: 'm1', liked: false, rank: 1 },
      { ...base, movieId: 'm2', liked: false, rank: 2 },
      { ...base, movieId: 'm3', liked: false, rank: 3 },
      { ...base, movieId: 'm3', liked: true, rank: 3 },
    ]);
    expect(results).toEqual([{ created: false }, { created: true }, { created: true }, { created: false }]);
    expect(await store.count('feedback')).toBe(3);
    expect((await store.dislikedMovieIds('u-batch')).sort()).toEqual(['m1', 'm2']);
  });

  it('computes the experiment totals per model within a time window', async () => {
    const day = (d: number) => new Date(Date.UTC(2026, 10, d, 12));
    const log = (sessionId: string, modelType: 'als' | 'lightfm', createdAt: Date) => ({
      sessionId, userId: 'u', modelType, modelVersion: 'v', arm: modelType, source: 'model' as const, items: [], createdAt,
    });
    await store.insertRecommendationLogs([
      log('a1', 'als', day(2)), log('a2', 'als', day(2)), log('a3', 'als', day(2)), log('old', 'als', day(1)),
      log('l1', 'lightfm', day(2)), log('l2', 'lightfm', day(3)),
    ]);
    const fb = async (sessionId: string, modelType: 'als' | 'lightfm', movieId: string, liked: boolean, rank: number, at: Date) =>
      store.upsertFeedback({ sessionId, userId: 'u', modelType, modelVersion: 'v', movieId, liked, rank, sessionCreatedAt: at });
    // a1: likes at ranks 1 and 5, a dislike at 2 -> P@3 = 1/3, R@3 = 1/2
    await fb('a1', 'als', 'm1', true, 1, day(2));
    await fb('a1', 'als', 'm5', true, 5, day(2));
    await fb('a1', 'als', 'm2', false, 2, day(2));
    // a2: only a dislike -> P@3 = 0, no recall
    await fb('a2', 'als', 'm1', false, 1, day(2));
    // old: outside the window
    await fb('old', 'als', 'm1', true, 1, day(1));
    // l1: likes at 2 and 3 -> P@3 = 2/3, R@3 = 1; l2: like at 1 changed to dislike -> P = 0
    await fb('l1', 'lightfm', 'm2', true, 2, day(2));
    await fb('l1', 'lightfm', 'm3', true, 3, day(2));
    await fb('l2', 'lightfm', 'm1', true, 1, day(3));
    await fb('l2', 'lightfm', 'm1', false, 1, day(3));
    const totals = await store.experimentTotals({ k: 3, since: day(2), until: day(4) });
    const als = totals.find((t) => t.modelType === 'als')!;
    const lightfm = totals.find((t) => t.modelType === 'lightfm')!;
    expect(als).toMatchObject({ sessions: 3, sessionsWithFeedback: 2, feedbackCount: 4, likes: 2, sessionsWithLikes: 1 });
    expect(als.precisionSum).toBeCloseTo(1 / 3, 9);
    expect(als.recallSum).toBeCloseTo(0.5, 9);
    expect(lightfm).toMatchObject({ sessions: 2, sessionsWithFeedback: 2, feedbackCount: 3, likes: 2, sessionsWithLikes: 1 });
    expect(lightfm.precisionSum).toBeCloseTo(2 / 3, 9);
    expect(lightfm.recallSum).toBeCloseTo(1, 9);
    const all = await store.experimentTotals({ k: 3 });
    expect(all.find((t) => t.modelType === 'als')).toMatchObject({ sessions: 4, sessionsWithFeedback: 3, likes: 3 });
  });

  it('reports sessions with a forced model apart from the experiment', async () => {
    const at = new Date(Date.UTC(2026, 10, 5, 9, 30));
    const log = (sessionId: string, modelType: 'als' | 'lightfm', arm: string) => ({
      sessionId, userId: 'u', modelType, modelVersion: 'v', arm, source: 'model' as const, items: [], createdAt: at,
    });
    await store.insertRecommendationLogs([log('e1', 'als', 'als'), log('f1', 'als', 'forced'), log('f2', 'lightfm', 'forced')]);
    const fb = (sessionId: string, modelType: 'als' | 'lightfm', arm: string | undefined, liked: boolean) =>
      store.upsertFeedback({ sessionId, userId: 'u', modelType, modelVersion: 'v', movieId: 'm1', liked, rank: 1, sessionCreatedAt: at, ...(arm ? { arm } : {}) });
    await fb('e1', 'als', 'als', true);
    await fb('f1', 'als', 'forced', false);
    await fb('f2', 'lightfm', 'forced', true);
    const experiment = await store.experimentTotals({ k: 3 });
    const forced = await store.experimentTotals({ k: 3, forced: true });
    expect(experiment.find((t) => t.modelType === 'als')).toMatchObject({ sessions: 1, feedbackCount: 1, likes: 1 });
    expect(experiment.find((t) => t.modelType === 'lightfm')).toMatchObject({ sessions: 0, feedbackCount: 0 });
    expect(forced.find((t) => t.modelType === 'als')).toMatchObject({ sessions: 1, sessionsWithFeedback: 1, feedbackCount: 1, likes: 0 });
    expect(forced.find((t) => t.modelType === 'lightfm')).toMatchObject({ sessions: 1, feedbackCount: 1, likes: 1 });
  });

  it('groups the experiment\'s feedback by model and UTC hour or day of the served list', async () => {
    const t = (day: number, hour: number, minute = 0) => new Date(Date.UTC(2026, 10, day, hour, minute));
    const fb = (sessionId: string, movieId: string, modelType: 'als' | 'lightfm', liked: boolean, at: Date, arm: string = modelType) =>
      store.upsertFeedback({ sessionId, userId: 'u', modelType, modelVersion: 'v', movieId, liked, rank: 1, sessionCreatedAt: at, arm });
    await fb('a', 'm1', 'als', true, t(3, 10, 5));
    await fb('a', 'm2', 'als', false, t(3, 10, 5));
    await fb('b', 'm1', 'als', true, t(3, 11, 59));
    await fb('c', 'm1', 'lightfm', false, t(3, 10, 30));
    await fb('d', 'm1', 'lightfm', true, t(4, 0, 0));
    await fb('f', 'm1', 'als', true, t(3, 10, 0), 'forced');
    const hourly = await store.likeRateSeries({}, 'hour');
    expect(hourly).toEqual([
      { modelType: 'als', start: t(3, 10), feedbackCount: 2, likes: 1 },
      { modelType: 'lightfm', start: t(3, 10), feedbackCount: 1, likes: 0 },
      { modelType: 'als', start: t(3, 11), feedbackCount: 1, likes: 1 },
      { modelType: 'lightfm', start: t(4, 0), feedbackCount: 1, likes: 1 },
    ]);
    expect(await store.likeRateSeries({}, 'day')).toEqual([
      { modelType: 'als', start: t(3, 0), feedbackCount: 3, likes: 2 },
      { modelType: 'lightfm', start: t(3, 0), feedbackCount: 1, likes: 0 },
      { modelType: 'lightfm', start: t(4, 0), feedbackCount: 1, likes: 1 },
    ]);
    expect(await store.likeRateSeries({ since: t(3, 11), until: t(4, 0) }, 'hour')).toEqual([
      { modelType: 'als', start: t(3, 11), feedbackCount: 1, likes: 1 },
    ]);
  });

  it('creates a movie once, updates and clears its fields, and reads it back', async () => {
    const createdAt = new Date('2026-03-01T10:00:00Z');
    const doc: MovieDoc = { ...movie('c1', ['Drama', 'Anime']), imdbId: 'tt0114709', imdbUrl: 'https://www.imdb.com/title/tt0114709/', createdAt, updatedAt: createdAt };
    expect(await store.createMovie(doc)).toEqual({ created: true });
    expect(await store.createMovie({ ...doc, title: 'Another' })).toEqual({ created: false });
    expect((await store.getMovies(['c1'])).get('c1')).toEqual(doc);
    const later = new Date('2026-03-02T10:00:00Z');
    const updated = await store.updateMovie('c1', { set: { title: 'Renamed', sourceTitle: 'Movie c1', genres: ['Comedy'], year: 1999, updatedAt: later }, unset: ['imdbId', 'imdbUrl'] });
    expect(updated).toEqual({ movieId: 'c1', title: 'Renamed', sourceTitle: 'Movie c1', year: 1999, genres: ['Comedy'], rating: 8, popularity: 0, createdAt, updatedAt: later });
    expect((await store.getMovies(['c1'])).get('c1')).toEqual(updated);
    expect(await store.updateMovie('nope', { set: { title: 'x' } })).toBeNull();
    expect(await store.updateMovie('nope', { set: {}, unset: ['tmdbId'] })).toBeNull();
    expect(await store.count('movies')).toBe(1);
  });

  it('hides movies from the top lists, lists hidden ids, and pages the catalogue by id with filters', async () => {
    await store.insertMany('movies', ['m1', 'm2', 'm3', 'm4', 'm5'].map((id) => movie(id, ['Comedy'])));
    await store.setPopularityFromWeights(new Map([['m1', 5], ['m2', 4], ['m3', 3], ['m4', 2]]));
    expect(await store.hiddenMovieIds()).toEqual([]);
    await store.updateMovie('m1', { set: { hidden: true } });
    await store.updateMovie('m3', { set: { hidden: true } });
    expect((await store.hiddenMovieIds()).sort()).toEqual(['m1', 'm3']);
    expect((await store.topMovies({ limit: 10 })).map((m) => m.movieId)).toEqual(['m2', 'm4', 'm5']);
    expect((await store.topMovies({ genres: ['Comedy'], limit: 10, excludeMovieIds: ['m2'] })).map((m) => m.movieId)).toEqual(['m4', 'm5']);
    const ids = (docs: MovieDoc[]) => docs.map((m) => m.movieId);
    expect(ids(await store.listMovies({ limit: 2 }))).toEqual(['m1', 'm2']);
    expect(ids(await store.listMovies({ limit: 2, afterMovieId: 'm2' }))).toEqual(['m3', 'm4']);
    expect(ids(await store.listMovies({ limit: 10, hidden: true }))).toEqual(['m1', 'm3']);
    expect(ids(await store.listMovies({ limit: 10, hidden: false, afterMovieId: 'm2' }))).toEqual(['m4', 'm5']);
    await store.updateMovie('m1', { set: { hidden: false } });
    expect(await store.hiddenMovieIds()).toEqual(['m3']);
    expect((await store.topMovies({ limit: 1 }))[0].movieId).toBe('m1');
    await store.createMovie({ ...movie('n1', ['Drama']), createdAt: new Date('2026-05-01T00:00:00Z') });
    await store.createMovie({ ...movie('n2', ['Drama']), createdAt: new Date('2026-05-03T00:00:00Z') });
    expect(ids(await store.listMovies({ limit: 10, createdSince: new Date('2026-05-02T00:00:00Z') }))).toEqual(['n2']);
    expect(ids(await store.listMovies({ limit: 10, createdSince: new Date(0) }))).toEqual(['n1', 'n2']);
    // Movies written after a top list was read are in the next one (the embedded store's ordered catalogue is rebuilt),
    // and a caller changing what it got changes nothing stored.
    const drama = await store.topMovies({ genres: ['Drama'], limit: 10 });
    expect(ids(drama)).toEqual(['n1', 'n2']);
    drama[0].genres.push('Horror');
    drama[0].title = 'changed by a caller';
    await store.createMovie({ ...movie('n3', ['Drama']), createdAt: new Date('2026-05-04T00:00:00Z') });
    await store.setPopularityFromWeights(new Map([['n3', 1]]));
    expect(ids(await store.topMovies({ genres: ['Drama'], limit: 10 }))).toEqual(['n3', 'n1', 'n2']);
    expect(await store.topMovies({ genres: ['Horror'], limit: 10 })).toEqual([]);
    expect((await store.getMovies(['n1'])).get('n1')?.title).toBe('Movie n1');
  });

  it('answers eight concurrent first writes of the same key with one insert and seven updates, never an error', async () => {
    const genres = await Promise.all(Array.from({ length: 8 }, () => store.setFavoriteGenres('race', ['Drama'])));
    expect(genres.filter((r) => r.created)).toHaveLength(1);
    expect((await store.getUser('race'))?.favoriteGenres).toEqual(['Drama']);
    expect(await store.count('users')).toBe(1);

    const doc = { sessionId: 's-race', userId: 'race', movieId: 'm1', liked: true, modelType: 'als' as const, modelVersion: 'v1', rank: 1, sessionCreatedAt: new Date() };
    const feedback = await Promise.all(Array.from({ length: 8 }, () => store.upsertFeedback(doc)));
    expect(feedback.filter((r) => r.created)).toHaveLength(1);
    expect(await store.count('feedback')).toBe(1);

    const log = { sessionId: 's-race', userId: 'race', modelType: 'als' as const, modelVersion: 'v1', arm: 'als', source: 'model' as const, items: [], createdAt: new Date() };
    await Promise.all(Array.from({ length: 8 }, () => store.insertRecommendationLogs([log])));
    expect(await store.count('recommendation_logs')).toBe(1);
  });

  it('clears every collection', async () => {
    await store.setFavoriteGenres('u1', ['Comedy']);
    await store.insertMany('movies', [movie('m1', ['Comedy'])]);
    await store.clear();
    expect(await store.count('users')).toBe(0);
    expect(await store.count('movies')).toBe(0);
  });
}

