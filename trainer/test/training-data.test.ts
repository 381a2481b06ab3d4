import { describe, expect, it } from 'vitest';
import { GENRES } from '../../lib/src/domain.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import type { MovieDoc } from '../../lib/src/store/types.js';
import { rowData, rowIndices } from '../../lib/src/sparse.js';
import { BadTrainingDataError, buildTrainingData, csrToCoo, readTrainingData, removePairs, type TrainingData } from '../src/training-data.js';
import { timeSplit } from '../../lib/src/evaluation.js';
import { PermanentJobError } from '../src/queue/types.js';

const movie = (movieId: string, genres: string[]): MovieDoc => ({ movieId, title: movieId, year: 2000, genres, rating: 7, popularity: 0 });
const at = (day: number) => new Date(Date.UTC(2026, 0, day));
const feedback = (sessionId: string, userId: string, movieId: string, liked: boolean, modelType: 'als' | 'lightfm' = 'als') =>
  ({ sessionId, userId, movieId, liked, modelType, modelVersion: 'v', rank: 1, sessionCreatedAt: at(1) });

async function build(store: MemoryStore, maxRejectedFraction = 0.01): Promise<TrainingData> {
  return buildTrainingData(await readTrainingData(store, { batchSize: 2 }), { maxRejectedFraction });
}

/** The weight of (user, movie) in the training matrix, 0 when absent. */
function weight(data: TrainingData, userId: string, movieId: string): number {
  const u = data.users.indexOf(userId);
  const i = data.items.indexOf(movieId);
  const at = [...rowIndices(data.interactions, u)].indexOf(i);
  return at === -1 ? 0 : rowData(data.interactions, u)[at];
}

describe('training data', () => {
  it('sums the interaction weights per (user, movie) and removes pairs whose latest feedback is a dislike', async () => {
    const store = new MemoryStore();
    await store.insertMany('movies', [movie('m1', ['Drama', 'Comedy']), movie('m2', ['Horror']), movie('m3', ['Unknown genre']), movie('m4', [])]);
    await store.insertMany('watched_movies', [
      { userId: 'a', movieId: 'm1', completed: true, watchedAt: at(1) },
      { userId: 'a', movieId: 'm2', completed: false, watchedAt: at(1) },
      { userId: 'b', movieId: 'm1', completed: false, watchedAt: at(2) },
      { userId: 'b', movieId: 'm3', completed: true, watchedAt: at(2) },
      { userId: 'c', movieId: 'm2', completed: true, watchedAt: at(2) },
    ]);
    await store.insertMany('likes', [{ userId: 'a', movieId: 'm1', rating: 8, likedAt: at(1) }]);
    await store.insertMany('bookmarks', [
      { userId: 'a', movieId: 'm1', createdAt: at(1) },
      { userId: 'b', movieId: 'm2', createdAt: at(1) },
    ]);
    // b disliked m3 (removed); a disliked m2, then liked it in a later session (kept); c's dislike of m4 has no pair.
    await store.upsertFeedback(feedback('s1', 'b', 'm3', false, 'als'), at(3));
    await store.upsertFeedback(feedback('s2', 'a', 'm2', false, 'als'), at(3));
    await store.upsertFeedback(feedback('s3', 'a', 'm2', true, 'als'), at(4));
    await store.upsertFeedback(feedback('s4', 'c', 'm4', false, 'lightfm'), at(4));
    await store.setFavoriteGenres('a', ['Comedy', 'Horror']);
    await store.setFavoriteGenres('zed', ['Drama']); // no interactions: not a row of the model

    const data = await build(store);
    expect(data.users).toEqual(['a', 'b', 'c']);
    expect(data.items).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(weight(data, 'a', 'm1')).toBeCloseTo(1.0 + 0.8 + 0.3, 6);
    expect(weight(data, 'a', 'm2')).toBeCloseTo(0.5, 6);
    expect(weight(data, 'b', 'm1')).toBeCloseTo(0.5, 6);
    expect(weight(data, 'b', 'm2')).toBeCloseTo(0.3, 6);
    expect(weight(data, 'b', 'm3')).toBe(0);
    expect(weight(data, 'c', 'm2')).toBeCloseTo(1.0, 6);
    expect(data.interactions.indices).toHaveLength(5);
    expect(data.stats).toMatchObject({
      users: 3,
      items: 4,
      interactions: 5,
      records: 8,
      dislikedPairs: 2,
      dislikedPairsRemoved: 1,
      rejectedRecords: 0,
      itemsWithoutInteractions: 2,
      usersWithFavoriteGenres: 1,
    });
    expect(data.stats.density).toBeCloseTo(5 / 12, 10);
    // Genre features: the MovieLens 100k genres in GENRES order, then the catalogue's other genres (from the data,
    // not a fixed list: an own catalogue's or ml-latest's IMAX gets a column too); weight 1.
    expect(data.genres).toEqual([...GENRES, 'Unknown genre']);
    const col = (g: string) => data.genres.indexOf(g);
    expect([...rowIndices(data.itemGenres, 0)]).toEqual([col('Comedy'), col('Drama')].sort((x, y) => x - y));
    expect([...rowIndices(data.itemGenres, 2)]).toEqual([GENRES.length]);
    expect([...rowIndices(data.userGenres, 0)]).toEqual([col('Comedy'), col('Horror')].sort((x, y) => x - y));
    expect([...rowData(data.userGenres, 0)]).toEqual([1, 1]);
  });

  it('keeps when each user first met each movie, for the temporal holdout', async () => {
    const store = new MemoryStore();
    await store.insertMany('movies', [movie('m1', []), movie('m2', []), movie('m3', [])]);
    await store.insertMany('watched_movies', [
      { userId: 'u1', movieId: 'm1', completed: true, watchedAt: at(5) },
      { userId: 'u1', movieId: 'm2', completed: true, watchedAt: at(9) },
    ]);
    await store.insertMany('likes', [{ userId: 'u1', movieId: 'm1', rating: 8, likedAt: at(3) }]);
    await store.insertMany('bookmarks', [{ userId: 'u1', movieId: 'm3', createdAt: at(7) }]);
    const data = await build(store);
    const u = data.users.indexOf('u1');
    const items = [...rowIndices(data.interactions, u)].map((i) => data.items[i]);
    const times = [...data.pairTimes.subarray(data.interactions.indptr[u], data.interactions.indptr[u + 1])];
    expect(Object.fromEntries(items.map((id, j) => [id, times[j]]))).toEqual({ m1: at(3).getTime(), m2: at(9).getTime(), m3: at(7).getTime() });
    const split = timeSplit(csrToCoo(data.interactions), data.pairTimes, { testFraction: 0.34 });
    expect([...rowIndices(split.test, u)].map((i) => data.items[i])).toEqual(['m2']); // the latest
  });

  it('refuses data that cannot be trained on, without retry', async () => {
    const empty = new MemoryStore();
    await expect(build(empty)).rejects.toThrow('the movies collection is empty: there is nothing to train on');
    await empty.insertMany('movies', [movie('m1', ['Drama'])]);
    await expect(build(empty)).rejects.toThrow(/no interactions to train on/);

    const orphans = new MemoryStore();
    await orphans.insertMany('movies', [movie('m1', ['Drama'])]);
    await orphans.insertMany('watched_movies', [
      ...Array.from({ length: 97 }, (_, i) => ({ userId: `u${i}`, movieId: 'm1', completed: true, watchedAt: at(1) })),
      { userId: 'x', movieId: 'gone', completed: true, watchedAt: at(1) },
      { userId: 'y', movieId: 'gone', completed: true, watchedAt: at(1) },
    ]);
    await orphans.insertMany('likes', [{ userId: 'z', movieId: 'm1', rating: 42, likedAt: at(1) }]);
    const error = await build(orphans).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadTrainingDataError);
    expect(error).toBeInstanceOf(PermanentJobError);
    expect((error as Error).message).toBe(
      "3 of 100 interaction records (3.0%) do not map to the data (2 name a movie missing from the movies collection, 1 have invalid fields; " +
        "e.g. movieId 'gone' in watched_movies, movieId 'gone' in watched_movies, an invalid record in likes (userId \"z\", movieId \"m1\")): " +
        'more than TRAIN_MAX_REJECTED_FRACTION=0.01 allows',
    );
    // Within the allowed share, the records are skipped and counted.
    const data = await build(orphans, 0.05);
    expect(data.stats).toMatchObject({ interactions: 97, rejectedRecords: 3, unknownMovieRecords: 2, invalidRecords: 1 });

    const allDisliked = new MemoryStore();
    await allDisliked.insertMany('movies', [movie('m1', ['Drama'])]);
    await allDisliked.insertMany('watched_movies', [{ userId: 'a', movieId: 'm1', completed: true, watchedAt: at(1) }]);
    await allDisliked.upsertFeedback(feedback('s', 'a', 'm1', false));
    await expect(build(allDisliked)).rejects.toThrow('no interactions left to train on after removing the disliked pairs');
  });

  it('removes (row, col) pairs from a CSR matrix, ignoring pairs that are absent', () => {
    const m = { nRows: 2, nCols: 3, indptr: Int32Array.of(0, 2, 3), indices: Int32Array.of(0, 2, 1), data: Float32Array.of(1, 2, 3) };
    const { matrix, removed } = removePairs(m, Int32Array.of(0, 1, 1), Int32Array.of(2, 0, 1));
    expect(removed).toBe(2);
    expect([...matrix.indptr]).toEqual([0, 1, 1]);
    expect([...matrix.indices]).toEqual([0]);
    expect([...matrix.data]).toEqual([1]);
  });
});
