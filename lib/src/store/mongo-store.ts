import { MongoBulkWriteError, MongoClient, type AnyBulkWriteOperation, type Db, type Document, type IndexDescription } from 'mongodb';
import type { CollectionDocs, CollectionName, MovieDoc, Store, TopMoviesQuery, UserDoc } from './types.js';
import { COLLECTION_NAMES } from './types.js';
import { INTERACTION_WEIGHTS } from '../domain.js';
import { popularityScore } from './popularity.js';

const DUPLICATE_KEY = 11000;

/** Indexes created at start-up (idempotent). Only features FerretDB v1 has: no transactions, no change streams. */
export const INDEXES: { [C in CollectionName]: IndexDescription[] } = {
  users: [{ key: { userId: 1 }, name: 'userId_unique', unique: true }],
  movies: [
    { key: { movieId: 1 }, name: 'movieId_unique', unique: true },
    { key: { popularity: -1, movieId: 1 }, name: 'popularity' },
    { key: { genres: 1, popularity: -1 }, name: 'genres_popularity' },
  ],
  watched_movies: [
    { key: { userId: 1, movieId: 1 }, name: 'user_movie' },
    { key: { movieId: 1 }, name: 'movie' },
  ],
  likes: [
    { key: { userId: 1, movieId: 1 }, name: 'user_movie' },
    { key: { movieId: 1 }, name: 'movie' },
  ],
  bookmarks: [
    { key: { userId: 1, movieId: 1 }, name: 'user_movie' },
    { key: { movieId: 1 }, name: 'movie' },
  ],
  recommendation_logs: [
    { key: { sessionId: 1 }, name: 'sessionId_unique', unique: true },
    { key: { createdAt: 1 }, name: 'createdAt' },
    { key: { userId: 1, createdAt: -1 }, name: 'user_createdAt' },
  ],
  feedback: [
    { key: { sessionId: 1, movieId: 1 }, name: 'session_movie_unique', unique: true },
    { key: { userId: 1, liked: 1 }, name: 'user_liked' },
  ],
};

/** Hides MongoDB's _id from the documents the rest of the code sees. */
const withoutId = { projection: { _id: 0 } } as const;

export class MongoStore implements Store {
  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
  ) {}

  static async connect(url: string, dbName: string): Promise<MongoStore> {
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000, connectTimeoutMS: 5_000, retryWrites: false });
    await client.connect();
    return new MongoStore(client, client.db(dbName));
  }

  private col<C extends CollectionName>(name: C) {
    return this.db.collection<CollectionDocs[C]>(name);
  }

  async init(): Promise<void> {
    for (const name of COLLECTION_NAMES) await this.db.collection(name).createIndexes(INDEXES[name]);
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async getUser(userId: string): Promise<UserDoc | null> {
    return this.col('users').findOne({ userId }, withoutId);
  }

  async setFavoriteGenres(userId: string, genres: readonly string[], now = new Date()): Promise<{ created: boolean }> {
    const result = await this.col('users').updateOne(
      { userId },
      { $set: { favoriteGenres: [...genres], updatedAt: now }, $setOnInsert: { userId, createdAt: now } },
      { upsert: true },
    );
    return { created: result.upsertedCount > 0 };
  }

  async getMovies(movieIds: readonly string[]): Promise<Map<string, MovieDoc>> {
    const movies = await this.col('movies').find({ movieId: { $in: [...movieIds] } }, withoutId).toArray();
    return new Map(movies.map((m) => [m.movieId, m]));
  }

  async topMovies(query: TopMoviesQuery): Promise<MovieDoc[]> {
    const filter: Document = {};
    if (query.genres) filter.genres = { $in: [...query.genres] };
    if (query.excludeMovieIds?.length) filter.movieId = { $nin: [...query.excludeMovieIds] };
    return this.col('movies').find(filter, withoutId).sort({ popularity: -1, movieId: 1 }).limit(query.limit).toArray();
  }

  async refreshPopularity(): Promise<number> {
    const weights = new Map<string, number>();
    const add = (rows: { _id: string; w: number }[]) => {
      for (const row of rows) weights.set(row._id, (weights.get(row._id) ?? 0) + row.w);
    };
    const groupWeights = (collection: string, weight: Document | number) =>
      this.db
        .collection(collection)
        .aggregate<{ _id: string; w: number }>([{ $group: { _id: '$movieId', w: { $sum: weight } } }])
        .toArray();
    add(
      await groupWeights('watched_movies', {
        $cond: [{ $eq: ['$completed', true] }, INTERACTION_WEIGHTS.watchedCompleted, INTERACTION_WEIGHTS.watchedPartly],
      }),
    );
    add(await groupWeights('likes', { $multiply: ['$rating', INTERACTION_WEIGHTS.likePerRatingPoint] }));
    add(await groupWeights('bookmarks', INTERACTION_WEIGHTS.bookmark));

    let updated = 0;
    let batch: AnyBulkWriteOperation<MovieDoc>[] = [];
    const flush = async () => {
      if (batch.length) await this.col('movies').bulkWrite(batch, { ordered: false });
      updated += batch.length;
      batch = [];
    };
    for await (const movie of this.col('movies').find({}, { projection: { _id: 0, movieId: 1, rating: 1 } })) {
      const popularity = popularityScore(weights.get(movie.movieId) ?? 0, movie.rating);
      batch.push({ updateOne: { filter: { movieId: movie.movieId }, update: { $set: { popularity } } } });
      if (batch.length === 1000) await flush();
    }
    await flush();
    return updated;
  }

  async interactedMovieIds(userId: string): Promise<string[]> {
    const lists = await Promise.all(
      (['watched_movies', 'likes', 'bookmarks'] as const).map((name) =>
        this.db.collection(name).distinct('movieId', { userId }),
      ),
    );
    return [...new Set(lists.flat() as string[])];
  }

  async watchedMovieIds(userId: string): Promise<string[]> {
    return (await this.col('watched_movies').distinct('movieId', { userId })) as string[];
  }

  async insertMany<C extends CollectionName>(collection: C, docs: readonly CollectionDocs[C][]): Promise<void> {
    if (docs.length === 0) return;
    try {
      // Copies: the driver adds _id to the objects it inserts.
      await this.db.collection(collection).insertMany(docs.map((d) => ({ ...d })), { ordered: false });
    } catch (err) {
      // Unordered: everything but the duplicates of unique keys was written; duplicates are skipped on purpose.
      const onlyDuplicates =
        err instanceof MongoBulkWriteError &&
        (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]).every((e) => e.code === DUPLICATE_KEY);
      if (!onlyDuplicates) throw err;
    }
  }

  async *scan<C extends CollectionName>(collection: C, batchSize = 10_000): AsyncIterable<CollectionDocs[C][]> {
    const cursor = this.db.collection(collection).find({}, { ...withoutId, batchSize });
    let batch: CollectionDocs[C][] = [];
    for await (const doc of cursor) {
      batch.push(doc as unknown as CollectionDocs[C]);
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  async count(collection: CollectionName): Promise<number> {
    return this.db.collection(collection).countDocuments();
  }

  async clear(): Promise<void> {
    for (const name of COLLECTION_NAMES) await this.db.collection(name).deleteMany({});
  }
}
