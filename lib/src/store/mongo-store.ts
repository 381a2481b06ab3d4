import { MongoBulkWriteError, MongoClient, MongoNetworkError, MongoServerSelectionError, type AnyBulkWriteOperation, type Db, type Document, type IndexDescription } from 'mongodb';
import type { ValidEvent } from '../events/interaction-event.js';
import { LIKE_AS_RATING } from '../events/interaction-event.js';
import type {
  AppliedEvents,
  BookmarkDoc,
  CollectionDocs,
  LikeDoc,
  WatchedDoc,
  CollectionName,
  ExperimentArmTotals,
  ExperimentWindow,
  FeedbackDoc,
  LikeRateBucket,
  ListMoviesQuery,
  TimeBucketName,
  MovieChange,
  MovieDoc,
  RecommendationLogDoc,
  Store,
  TopMoviesQuery,
  UserDoc,
} from './types.js';
import { bucketStart, COLLECTION_NAMES, eventDecisionSessionId } from './types.js';
import { INTERACTION_WEIGHTS, MODEL_TYPES } from '../domain.js';
import { UnavailableError } from '../errors.js';
import { bookmarkWeight, likeWeight, popularityScore, watchedWeight } from './popularity.js';

const DUPLICATE_KEY = 11000;
/** Updates per bulkWrite: FerretDB v1 never answers an update command of 100 or more statements. */
const UPDATE_BATCH = 50;

/** Indexes created at start-up (idempotent). Only features FerretDB v1 has: no transactions, no change streams. */
export const INDEXES: { [C in CollectionName]: IndexDescription[] } = {
  users: [{ key: { userId: 1 }, name: 'userId_unique', unique: true }],
  movies: [
    { key: { movieId: 1 }, name: 'movieId_unique', unique: true },
    { key: { popularity: -1, movieId: 1 }, name: 'popularity' },
    { key: { genres: 1, popularity: -1 }, name: 'genres_popularity' },
  ],
  // eventId: not unique (imported records have none and FerretDB v1 has no partial indexes); the event's effect is
  // an upsert on it, and interaction_events.eventId is the unique idempotency record.
  watched_movies: [
    { key: { userId: 1, movieId: 1 }, name: 'user_movie' },
    { key: { movieId: 1 }, name: 'movie' },
    { key: { eventId: 1 }, name: 'eventId' },
  ],
  likes: [
    { key: { userId: 1, movieId: 1 }, name: 'user_movie' },
    { key: { movieId: 1 }, name: 'movie' },
    { key: { eventId: 1 }, name: 'eventId' },
  ],
  bookmarks: [
    { key: { userId: 1, movieId: 1 }, name: 'user_movie' },
    { key: { movieId: 1 }, name: 'movie' },
    { key: { eventId: 1 }, name: 'eventId' },
  ],
  recommendation_logs: [
    { key: { sessionId: 1 }, name: 'sessionId_unique', unique: true },
    { key: { createdAt: 1 }, name: 'createdAt' },
    { key: { userId: 1, createdAt: -1 }, name: 'user_createdAt' },
  ],
  feedback: [
    { key: { sessionId: 1, movieId: 1 }, name: 'session_movie_unique', unique: true },
    { key: { userId: 1, liked: 1 }, name: 'user_liked' },
    { key: { sessionCreatedAt: 1 }, name: 'sessionCreatedAt' },
  ],
  interaction_events: [
    { key: { eventId: 1 }, name: 'eventId_unique', unique: true },
    { key: { userId: 1, appliedAt: -1 }, name: 'user_appliedAt' },
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
    return withUnavailableErrors(new MongoStore(client, client.db(dbName)));
  }

  private col<C extends CollectionName>(name: C) {
    return this.db.collection<CollectionDocs[C]>(name);
  }

  /** Creates the missing indexes (FerretDB v1 drops the connection when createIndexes repeats an existing set). */
  async init(): Promise<void> {
    const existing = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of COLLECTION_NAMES) {
      const collection = this.db.collection(name);
      const present = existing.has(name) ? new Set((await collection.indexes()).map((i) => i.name)) : new Set<string>();
      const missing = INDEXES[name].filter((index) => !present.has(index.name));
      if (missing.length) await collection.createIndexes(missing);
    }
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Drops the whole database (tests clean up after themselves with it). */
  async dropDatabase(): Promise<void> {
    await this.db.dropDatabase();
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

  async createMovie(doc: MovieDoc): Promise<{ created: boolean }> {
    // An upsert that only inserts: atomic on the unique movieId, and FerretDB v1 has it.
    const result = await this.col('movies').updateOne({ movieId: doc.movieId }, { $setOnInsert: { ...doc } }, { upsert: true });
    return { created: result.upsertedCount > 0 };
  }

  async updateMovie(movieId: string, change: MovieChange): Promise<MovieDoc | null> {
    const update: Document = {};
    if (Object.keys(change.set).length) update.$set = change.set;
    if (change.unset?.length) update.$unset = Object.fromEntries(change.unset.map((field) => [field, '']));
    if (Object.keys(update).length) {
      const result = await this.col('movies').updateOne({ movieId }, update);
      if (result.matchedCount === 0) return null;
    }
    return this.col('movies').findOne({ movieId }, withoutId);
  }

  async listMovies(query: ListMoviesQuery): Promise<MovieDoc[]> {
    const filter: Document = {};
    if (query.hidden === true) filter.hidden = true;
    if (query.hidden === false) filter.hidden = { $ne: true };
    if (query.createdSince) filter.createdAt = { $gte: query.createdSince };
    if (query.afterMovieId !== undefined) filter.movieId = { $gt: query.afterMovieId };
    return this.col('movies').find(filter, withoutId).sort({ movieId: 1 }).limit(query.limit).toArray();
  }

  async hiddenMovieIds(): Promise<string[]> {
    const docs = await this.col('movies').find({ hidden: true }, { projection: { _id: 0, movieId: 1 } }).toArray();
    return docs.map((d) => d.movieId);
  }

  async topMovies(query: TopMoviesQuery): Promise<MovieDoc[]> {
    const filter: Document = { hidden: { $ne: true } };
    if (query.genres) filter.genres = { $in: [...query.genres] };
    if (query.excludeMovieIds?.length) filter.movieId = { $nin: [...query.excludeMovieIds] };
    return this.col('movies').find(filter, withoutId).sort({ popularity: -1, movieId: 1 }).limit(query.limit).toArray();
  }

  async distinctGenres(): Promise<string[]> {
    // MongoDB unwinds array fields in distinct; flattening as well keeps any server that returns whole arrays right.
    const values = ((await this.col('movies').distinct('genres')) as unknown[]).flat();
    return [...new Set(values.filter((g): g is string => typeof g === 'string'))];
  }

  async refreshPopularity(): Promise<number> {
    // FerretDB v1 has $match, $group and $sum of a field or constant only ($cond/$multiply are not implemented):
    // one grouping per weight class, multiplied here.
    const weights = new Map<string, number>();
    const addGrouped = async (collection: string, filter: Document, sum: string | number, factor: number) => {
      const rows = await this.db
        .collection(collection)
        .aggregate<{ _id: string; w: number }>([{ $match: filter }, { $group: { _id: '$movieId', w: { $sum: sum } } }])
        .toArray();
      for (const row of rows) weights.set(row._id, (weights.get(row._id) ?? 0) + row.w * factor);
    };
    await addGrouped('watched_movies', { completed: true }, 1, INTERACTION_WEIGHTS.watchedCompleted);
    await addGrouped('watched_movies', { completed: false }, 1, INTERACTION_WEIGHTS.watchedPartly);
    await addGrouped('likes', {}, '$rating', INTERACTION_WEIGHTS.likePerRatingPoint);
    await addGrouped('bookmarks', {}, 1, INTERACTION_WEIGHTS.bookmark);

    return this.setPopularityFromWeights(weights);
  }

  async setPopularityFromWeights(weights: ReadonlyMap<string, number>): Promise<number> {
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
      if (batch.length === UPDATE_BATCH) await flush();
    }
    await flush();
    return updated;
  }

  async userInteractionWeights(userId: string): Promise<Map<string, number>> {
    const projection = { _id: 0, movieId: 1, completed: 1, rating: 1 };
    const [watched, likes, bookmarks] = await Promise.all([
      this.col('watched_movies').find({ userId }, { projection }).toArray(),
      this.col('likes').find({ userId }, { projection }).toArray(),
      this.col('bookmarks').find({ userId }, { projection }).toArray(),
    ]);
    const weights = new Map<string, number>();
    const add = (movieId: string, w: number) => weights.set(movieId, (weights.get(movieId) ?? 0) + w);
    for (const d of watched) add(d.movieId, watchedWeight(d));
    for (const d of likes) add(d.movieId, likeWeight(d));
    for (const d of bookmarks) add(d.movieId, bookmarkWeight(d));
    for (const [movieId, liked] of await this.latestVerdicts(userId)) if (!liked) weights.delete(movieId);
    return weights;
  }

  /** movieId -> liked of the user's latest decision per movie (session feedback and event decisions). */
  private async latestVerdicts(userId: string): Promise<Map<string, boolean>> {
    const docs = await this.col('feedback')
      .find({ userId }, { projection: { _id: 0, movieId: 1, liked: 1, updatedAt: 1, createdAt: 1 } })
      .toArray();
    const latest = new Map<string, { at: number; liked: boolean }>();
    for (const f of docs) {
      const at = new Date(f.updatedAt ?? f.createdAt ?? 0).getTime() || 0;
      const seen = latest.get(f.movieId);
      if (!seen || at >= seen.at) latest.set(f.movieId, { at, liked: f.liked });
    }
    return new Map([...latest].map(([movieId, v]) => [movieId, v.liked]));
  }

  /**
   * A few statements per batch, never one per event (FerretDB v1 scans a collection for every filtered update, so
   * per-event upserts grow quadratically): (1) the idempotency records of the batch's ids are looked up (applied
   * ids are duplicates), (2) effects already written under the other ids are looked up (a crash after writing them
   * and before (4)), (3) the missing effects are inserted with their eventId, decisions and users updated, (4) the
   * idempotency records inserted. Redelivery after a crash anywhere therefore writes nothing twice.
   */
  async applyInteractionEvents(events: readonly ValidEvent[], now = new Date()): Promise<AppliedEvents> {
    const result: AppliedEvents = { applied: [], duplicates: [] };
    if (events.length === 0) return result;
    const ids = [...new Set(events.map((e) => e.eventId))];
    const done = new Set((await this.col('interaction_events').distinct('eventId', { eventId: { $in: ids } })) as string[]);
    for (const e of events) {
      if (done.has(e.eventId)) result.duplicates.push(e);
      else {
        done.add(e.eventId);
        result.applied.push(e);
      }
    }
    if (result.applied.length === 0) return result;
    // Effects written before a crash (same ids, no idempotency record yet) are not written again.
    const fresh = { eventId: { $in: result.applied.map((e) => e.eventId) } };
    const written = new Set(
      (
        await Promise.all(['watched_movies', 'likes', 'bookmarks'].map((c) => this.db.collection(c).distinct('eventId', fresh)))
      ).flat() as string[],
    );
    const watched: WatchedDoc[] = [];
    const likes: LikeDoc[] = [];
    const bookmarkSteps: ({ insert: BookmarkDoc[] } | { remove: { userId: string; movieId: string } })[] = [];
    const decisions: AnyBulkWriteOperation<Document>[] = [];
    for (const e of result.applied) {
      const { userId, movieId, eventId, occurredAt } = e;
      const write = !written.has(eventId); // decisions and bookmark removals are idempotent: always (re)done
      if (write && e.type === 'watched') watched.push({ userId, movieId, completed: e.completed === true, watchedAt: occurredAt, eventId });
      if (write && (e.type === 'rated' || e.type === 'liked')) likes.push({ userId, movieId, rating: e.type === 'liked' ? LIKE_AS_RATING : (e.rating ?? 0), likedAt: occurredAt, eventId });
      if (write && e.type === 'bookmarked') {
        const last = bookmarkSteps.at(-1);
        if (last && 'insert' in last) last.insert.push({ userId, movieId, createdAt: occurredAt, eventId });
        else bookmarkSteps.push({ insert: [{ userId, movieId, createdAt: occurredAt, eventId }] });
      }
      if (e.type === 'bookmark_removed') bookmarkSteps.push({ remove: { userId, movieId } });
      if (e.type === 'liked' || e.type === 'disliked') {
        // Only a decision at least as recent as the stored one replaces it; an older one finds no document, tries to
        // insert and hits the unique (sessionId, movieId) key: ignored in bulk().
        decisions.push({
          updateOne: {
            filter: { sessionId: eventDecisionSessionId(userId), movieId, updatedAt: { $lte: occurredAt } },
            update: { $set: { userId, liked: e.type === 'liked', eventId, updatedAt: occurredAt }, $setOnInsert: { createdAt: now } },
            upsert: true,
          },
        });
      }
    }
    const bookmarks = async () => {
      for (const step of bookmarkSteps) {
        if ('insert' in step) await this.insertMany('bookmarks', step.insert);
        else await this.col('bookmarks').deleteMany(step.remove);
      }
    };
    await Promise.all([
      this.insertMany('watched_movies', watched),
      this.insertMany('likes', likes),
      bookmarks(),
      this.bulk('feedback', decisions, false),
    ]);
    // Last: the idempotency records. A crash before this line re-applies the batch without writing anything twice.
    await this.insertMany(
      'interaction_events',
      result.applied.map((e) => ({ eventId: e.eventId, userId: e.userId, movieId: e.movieId, type: e.type, occurredAt: e.occurredAt, appliedAt: now })),
    );
    return result;
  }

  async lastInteractionEventAt(userId: string): Promise<Date | null> {
    const last = await this.col('interaction_events').find({ userId }, { projection: { _id: 0, appliedAt: 1 } }).sort({ appliedAt: -1 }).limit(1).toArray();
    return last[0]?.appliedAt ?? null;
  }

  /** bulkWrite in chunks FerretDB v1 answers; duplicate-key errors (lost races of conditional upserts) are ignored. */
  private async bulk(collection: CollectionName, ops: AnyBulkWriteOperation<Document>[], ordered: boolean): Promise<void> {
    for (let i = 0; i < ops.length; i += UPDATE_BATCH) {
      try {
        await this.db.collection(collection).bulkWrite(ops.slice(i, i + UPDATE_BATCH), { ordered });
      } catch (err) {
        if (!(err instanceof MongoBulkWriteError)) throw err;
        const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
        if (ordered || !writeErrors.every((e) => e.code === DUPLICATE_KEY)) throw err;
      }
    }
  }

  async watchedMovieIds(userId: string): Promise<string[]> {
    return (await this.col('watched_movies').distinct('movieId', { userId })) as string[];
  }

  async dislikedMovieIds(userId: string): Promise<string[]> {
    return [...(await this.latestVerdicts(userId))].filter(([, liked]) => !liked).map(([movieId]) => movieId);
  }

  async insertRecommendationLogs(docs: readonly RecommendationLogDoc[]): Promise<void> {
    await this.insertMany('recommendation_logs', docs);
  }

  async getRecommendationLog(sessionId: string): Promise<RecommendationLogDoc | null> {
    return this.col('recommendation_logs').findOne({ sessionId }, withoutId);
  }

  async upsertFeedback(doc: Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>, now = new Date()): Promise<{ created: boolean }> {
    const feedback = this.col('feedback');
    // The bucket starts let likeRateSeries group with $group alone (FerretDB v1 has no date operators).
    const buckets = { sessionHour: bucketStart(doc.sessionCreatedAt, 'hour'), sessionDay: bucketStart(doc.sessionCreatedAt, 'day') };
    const result = await feedback.updateOne(
      { sessionId: doc.sessionId, movieId: doc.movieId },
      { $set: { ...doc, ...buckets, updatedAt: now }, $setOnInsert: { createdAt: now } },
      { upsert: true },
    );
    // Per-session shares that let the report sum per-session ratios with $group/$sum alone (see experimentTotals).
    const [likes, total] = await Promise.all([
      feedback.countDocuments({ sessionId: doc.sessionId, liked: true }),
      feedback.countDocuments({ sessionId: doc.sessionId }),
    ]);
    await feedback.updateMany(
      { sessionId: doc.sessionId },
      { $set: { sessionLikesShare: likes ? 1 / likes : 0, sessionFeedbackShare: total ? 1 / total : 0 } },
    );
    return { created: result.upsertedCount > 0 };
  }

  /**
   * Computed in the database with $match/$group/$sum only (FerretDB v1 has no $cond, $divide or $lookup).
   * Each feedback document carries its session's shares 1/likes and 1/feedback, so that summing them over a
   * model's documents counts sessions, and summing 1/likes over liked documents ranked within K gives the
   * sum of per-session recall.
   */
  async experimentTotals(window: ExperimentWindow): Promise<ExperimentArmTotals[]> {
    const timeFilter = (field: string): Document => {
      const range: Document = {};
      if (window.since) range.$gte = window.since;
      if (window.until) range.$lt = window.until;
      return Object.keys(range).length ? { [field]: range } : {};
    };
    // One accumulator per $group: FerretDB v1 computes only the first field-sum of a $group correctly.
    const byModel = async (collection: string, filter: Document, sum: string | number) => {
      const rows = await this.db
        .collection(collection)
        .aggregate<{ _id: string; total: number }>([{ $match: filter }, { $group: { _id: '$modelType', total: { $sum: sum } } }])
        .toArray();
      return new Map(rows.map((r) => [r._id, r.total]));
    };
    // Forced sessions (arm "forced") are reported apart; feedback written before `arm` existed counts as experiment.
    const population: Document = window.forced ? { arm: 'forced' } : { arm: { $ne: 'forced' } };
    const inWindow = { ...timeFilter('sessionCreatedAt'), ...population };
    const liked = { ...inWindow, liked: true };
    const likedTopK = { ...liked, rank: { $lte: window.k } };
    const [sessions, feedback, feedbackSessions, likes, likeSessions, likesTopK, recall] = await Promise.all([
      byModel('recommendation_logs', { ...timeFilter('createdAt'), ...population }, 1),
      byModel('feedback', inWindow, 1),
      byModel('feedback', inWindow, '$sessionFeedbackShare'),
      byModel('feedback', liked, 1),
      byModel('feedback', liked, '$sessionLikesShare'),
      byModel('feedback', likedTopK, 1),
      byModel('feedback', likedTopK, '$sessionLikesShare'),
    ]);
    return MODEL_TYPES.map((modelType) => ({
      modelType,
      sessions: sessions.get(modelType) ?? 0,
      sessionsWithFeedback: Math.round(feedbackSessions.get(modelType) ?? 0),
      feedbackCount: feedback.get(modelType) ?? 0,
      likes: likes.get(modelType) ?? 0,
      precisionSum: (likesTopK.get(modelType) ?? 0) / window.k,
      recallSum: recall.get(modelType) ?? 0,
      sessionsWithLikes: Math.round(likeSessions.get(modelType) ?? 0),
    }));
  }

  /** One $match/$group/$sum per model and figure (FerretDB v1: a single-field _id and one sum per $group). */
  async likeRateSeries(window: Omit<ExperimentWindow, 'k' | 'forced'>, bucket: TimeBucketName): Promise<LikeRateBucket[]> {
    const range: Document = {};
    if (window.since) range.$gte = window.since;
    if (window.until) range.$lt = window.until;
    const base: Document = { arm: { $ne: 'forced' }, ...(Object.keys(range).length ? { sessionCreatedAt: range } : {}) };
    const field = bucket === 'hour' ? '$sessionHour' : '$sessionDay';
    const byBucket = async (filter: Document) => {
      const rows = await this.db
        .collection('feedback')
        .aggregate<{ _id: Date | null; total: number }>([{ $match: filter }, { $group: { _id: field, total: { $sum: 1 } } }])
        .toArray();
      return new Map(rows.filter((r) => r._id instanceof Date).map((r) => [(r._id as Date).getTime(), r.total]));
    };
    const result: LikeRateBucket[] = [];
    for (const modelType of MODEL_TYPES) {
      const [feedback, likes] = await Promise.all([byBucket({ ...base, modelType }), byBucket({ ...base, modelType, liked: true })]);
      for (const [start, feedbackCount] of feedback) {
        result.push({ modelType, start: new Date(start), feedbackCount, likes: likes.get(start) ?? 0 });
      }
    }
    return result.sort((a, b) => a.start.getTime() - b.start.getTime() || a.modelType.localeCompare(b.modelType));
  }

  async insertMany<C extends CollectionName>(collection: C, docs: readonly CollectionDocs[C][]): Promise<void> {
    if (docs.length === 0) return;
    try {
      // Copies: the driver adds _id to the objects it inserts.
      await this.db.collection(collection).insertMany(docs.map((d) => ({ ...d })), { ordered: false });
    } catch (err) {
      // Unordered: everything but the duplicates of unique keys was written; duplicates are skipped on purpose.
      // Anything else (the server unreachable mid-write included) is an error: the caller retries the batch.
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
      const accountedFor = err.result.insertedCount + writeErrors.length === docs.length;
      if (!accountedFor || !writeErrors.every((e) => e.code === DUPLICATE_KEY)) throw err;
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

/** True for errors that mean the database cannot be reached (as opposed to a bad query). */
export function isConnectivityError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof MongoNetworkError || e instanceof MongoServerSelectionError) return true;
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return true;
    if (e instanceof Error && /ECONNREFUSED|ECONNRESET|connection .* closed/.test(e.message)) return true;
  }
  return false;
}

/**
 * Every async method of the store rejects with UnavailableError (gRPC UNAVAILABLE, HTTP 503) when MongoDB cannot
 * be reached, so callers see a clear status instead of an internal error.
 */
function withUnavailableErrors(store: MongoStore): MongoStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'constructor' || property === 'scan') return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((err: unknown) => {
          throw isConnectivityError(err) ? new UnavailableError('the database is unreachable; try again shortly') : err;
        });
      };
    },
  });
}
