import { MongoBulkWriteError, MongoClient, MongoNetworkError, MongoOperationTimeoutError, MongoServerError, MongoServerSelectionError, type AnyBulkWriteOperation, type Db, type Document, type IndexDescription } from 'mongodb';
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
import { bucketStart, COLLECTION_NAMES, eventDecisionSessionId, FORCED_ARM, NON_EXPERIMENT_ARMS } from './types.js';
import { INTERACTION_WEIGHTS, MODEL_TYPES } from '../domain.js';
import { UnavailableError } from '../errors.js';
import { CallAbortedError, currentCall, remainingMs } from '../call-scope.js';
import { CircuitBreaker } from '../circuit-breaker.js';
import { bookmarkWeight, likeWeight, popularityScore, watchedWeight } from './popularity.js';
import { CatalogueSnapshot, coversVersion, type CatalogueVersion } from './catalogue-snapshot.js';
import { randomUUID } from 'node:crypto';

const DUPLICATE_KEY = 11000;
/**
 * Up to this many keys, a lookup by a set of keys is one equality query per key, in parallel (findByKeys): FerretDB v1
 * pushes an equality filter down to its backend's index but evaluates `$in` itself after reading the whole collection
 * (FerretDB on PostgreSQL, 5,000 events: one id by `$in` 300 ms, by equality 2 ms; 20 ids in parallel 36 ms).
 */
const KEYED_LOOKUP_MAX = 64;
/** MongoDB's "operation exceeded time limit" (maxTimeMS), the server's side of the time budget. */
const MAX_TIME_EXPIRED = 50;

/** True for a write that lost a race on a unique key (E11000): the document exists now. */
export function isDuplicateKeyError(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/** Default time budget of one store operation, ms (MONGO_TIMEOUT_MS): below the gateway's 5 s gRPC deadline. */
export const DEFAULT_MONGO_TIMEOUT_MS = 4_000;

export interface MongoStoreOptions {
  /**
   * Time budget of one request-path operation in ms: server selection, pool checkout and each answer's wait
   * (serverSelectionTimeoutMS, waitQueueTimeoutMS, socketTimeoutMS), and a hard bound on the whole call. A store that
   * is down or stalled rejects with UnavailableError within this long. Bulk work (imports, scans, reports, index
   * builds, popularity) runs on a second client with `bulkTimeoutMS`. The services pass MONGO_TIMEOUT_MS (default
   * DEFAULT_MONGO_TIMEOUT_MS, lib/src/backends.ts); without it, 60 s applies to every request-path call.
   */
  timeoutMS?: number;
  /**
   * Budget of bulk operations (insertMany, scan per batch, popularity, reports, init), ms; 0 (the default) sets none:
   * two training runs writing popularity at once on FerretDB v1 (SQLite) took over 60 s per bulkWrite, and a socket
   * timeout then failed both runs on every retry (compose smoke, step 6).
   */
  bulkTimeoutMS?: number;
  /** Request-path connections per server (default 50). A timed-out call closes its connection: a freeze cannot pin them. */
  maxPoolSize?: number;
  /**
   * Consecutive request-path failures (unreachable, stalled, or out of time with no answer of the server within 1.5 x
   * the stall probe period: a busy server's slow answers never count) that open the circuit (default 3): then every
   * request-path call rejects with UnavailableError at once, without I/O, until a trial call after
   * `breakerCoolDownMs` (default 1000) succeeds. A stopped or frozen database then costs a request nothing.
   */
  breakerFailures?: number;
  breakerCoolDownMs?: number;
  /**
   * A request-path call still waiting after this long (default STALL_PROBE_MS, 500, or timeoutMS / 8 if longer) makes the store ping the server
   * on a connection of its own; no answer to the ping within twice this long (at least 1 s), and no other call answered meanwhile,
   * means the server is stalled (frozen, a dead host): the call rejects with UnavailableError then (about 1.5 s), not
   * after its whole budget. A server that answers is busy, not stalled: the call keeps its full budget, and a call
   * that runs out of it on such a server does not count towards opening the circuit.
   */
  stallProbeMs?: number;
  /**
   * Catalogue reads (topMovies, getMovies, distinctGenres) from an in-process snapshot of the catalogue, reloaded when
   * the catalogue version record changes (default true; see "Catalogue reads" below). false: every call queries.
   */
  catalogueSnapshot?: boolean;
  /**
   * A snapshot older than this (ms, default DEFAULT_CATALOGUE_MAX_AGE_MS) is re-read in the background while it keeps
   * answering: it bounds how long a catalogue write whose version bump was lost (the writer died between the two)
   * can go unseen. Every other write is seen by the next call.
   */
  catalogueMaxAgeMs?: number;
  /** Clock of the breaker and of the catalogue snapshot's age (tests). */
  now?: () => number;
}

/** Default MongoStoreOptions.catalogueMaxAgeMs: 60 s. */
export const DEFAULT_CATALOGUE_MAX_AGE_MS = 60_000;
/** The collection and document id of the catalogue version record ({ _id, epoch, rev }). */
export const CATALOGUE_VERSION_COLLECTION = 'catalogue_version';
const CATALOGUE_VERSION_ID = 'movies';
interface CatalogueVersionDoc {
  _id: string;
  epoch: string;
  rev: number;
}
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
  // eventId: not a unique index (imported records have none and FerretDB v1 has no partial or sparse indexes). An
  // event's effect document is written with _id = its eventId instead, so the primary key (unique in every server)
  // makes it exactly-once; interaction_events.eventId is the unique idempotency record.
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
    /** The same database through a second client with the bulk budget (imports, scans, reports, index builds). */
    private readonly bulkDb: Db,
    private readonly bulkClient: MongoClient,
    /** The request path's circuit breaker: open after consecutive failures (unreachable, out of time, stalled). */
    readonly breaker?: CircuitBreaker,
    private readonly probe?: StallProbe,
    private readonly catalogueOptions: { enabled: boolean; maxAgeMs: number; now: () => number } = {
      enabled: true,
      maxAgeMs: DEFAULT_CATALOGUE_MAX_AGE_MS,
      now: Date.now,
    },
  ) {}

  private snapshot: CatalogueSnapshot | undefined;
  private snapshotLoad: Promise<CatalogueSnapshot | null> | undefined;

  /**
   * Connects (rejects with UnavailableError when the server cannot be reached within the budget). Every operation has
   * a time budget (see MongoStoreOptions); past it the call rejects with UnavailableError (gRPC UNAVAILABLE, HTTP 503).
   */
  static async connect(url: string, dbName: string, options: MongoStoreOptions = {}): Promise<MongoStore> {
    // Without a budget (scripts, tests on a shared loaded server) request-path calls are bounded by 60 s.
    const bulkTimeoutMS = options.bulkTimeoutMS ?? 0;
    const timeoutMS = options.timeoutMS ?? 60_000;
    // A server that is down is down for bulk work too: finding it is bounded by the request budget, or 5 s.
    const selectionMS = options.timeoutMS ?? 5_000;
    // mongodb 7 ignores CSOT timeoutMS: the budget is made of its parts. socketTimeoutMS closes a connection whose
    // answer does not come (MongoNetworkTimeoutError, and the pool replaces the connection, so a freeze cannot pin
    // the pool); waitQueueTimeoutMS bounds the wait for a free connection; serverSelectionTimeoutMS a server that is
    // down. The Proxy below also rejects a request-path call at timeoutMS whatever the driver is doing.
    const settings = (budget: number) => ({
      serverSelectionTimeoutMS: selectionMS,
      connectTimeoutMS: selectionMS,
      socketTimeoutMS: budget,
      waitQueueTimeoutMS: budget,
      maxPoolSize: options.maxPoolSize ?? 50,
      retryWrites: false,
    });
    const client = new MongoClient(url, settings(timeoutMS));
    const bulkClient = new MongoClient(url, { ...settings(bulkTimeoutMS), maxPoolSize: 10 });
    const breaker = new CircuitBreaker({
      name: 'the database',
      failureThreshold: options.breakerFailures ?? 3,
      coolDownMs: options.breakerCoolDownMs ?? 1_000,
      now: options.now,
    });
    // The stall probe's pings go over a connection of their own, so that they never wait behind the pool's queries.
    // Scaled with a longer budget (the trainer's 10 s: 1.25 s), so that background jobs are not failed by a busy server.
    const probeMs = options.stallProbeMs ?? Math.max(STALL_PROBE_MS, Math.round(timeoutMS / 8));
    const probe = new StallProbe(new MongoClient(url, { serverSelectionTimeoutMS: selectionMS, connectTimeoutMS: selectionMS, socketTimeoutMS: 4 * probeMs, maxPoolSize: 1 }), probeMs);
    const catalogue = {
      enabled: options.catalogueSnapshot ?? true,
      maxAgeMs: options.catalogueMaxAgeMs ?? DEFAULT_CATALOGUE_MAX_AGE_MS,
      now: options.now ?? Date.now,
    };
    const store = withUnavailableErrors(new MongoStore(client, client.db(dbName), bulkClient.db(dbName), bulkClient, breaker, probe, catalogue), timeoutMS, breaker, probe);
    await store.connectClients();
    return store;
  }

  private async connectClients(): Promise<void> {
    await Promise.all([this.client.connect(), this.bulkClient.connect(), this.probe?.connect()]);
  }

  private col<C extends CollectionName>(name: C) {
    return this.db.collection<CollectionDocs[C]>(name);
  }

  /** Creates the missing indexes (FerretDB v1 drops the connection when createIndexes repeats an existing set). */
  async init(): Promise<void> {
    const existing = new Set((await this.bulkDb.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of COLLECTION_NAMES) {
      const collection = this.bulkDb.collection(name);
      const present = existing.has(name) ? new Set((await collection.indexes()).map((i) => i.name)) : new Set<string>();
      const missing = INDEXES[name].filter((index) => !present.has(index.name));
      if (missing.length) await collection.createIndexes(missing);
    }
    // The catalogue version record (created once; writes before this version of the code made none).
    await upsertOnce(
      this.bulkDb.collection<CatalogueVersionDoc>(CATALOGUE_VERSION_COLLECTION),
      { _id: CATALOGUE_VERSION_ID },
      { $setOnInsert: { epoch: randomUUID(), rev: 0 } },
    );
  }

  // ------------------------------------------------------------------ Catalogue reads
  //
  // FerretDB v1 cannot push a sort by a field, a limit after a filter, or an $in down to its backend: on PostgreSQL,
  // topMovies, getMovies and distinctGenres each read and decode the whole movies table in Go (about 230 ms for
  // ML-100k's 1,682 movies). They are on the request path (cold-start and genre top lists, movie info, the events'
  // movie check), so each process keeps the catalogue in memory (CatalogueSnapshot: ordered by popularity, indexed
  // by id) and reads it only when it changed. "Changed" is the catalogue version record
  // ({_id: 'movies', epoch, rev} in CATALOGUE_VERSION_COLLECTION): every catalogue write of this store (createMovie,
  // updateMovie, hide/unhide, setPopularityFromWeights, insertMany of movies, clear) increments rev AFTER its write,
  // and every catalogue read first reads the record (one lookup by _id, a primary-key read on every server) and
  // answers from the snapshot only if the snapshot was read at that version or later. So a movie hidden by any
  // process (the trainer's catalogue API) is out of the next top list of every replica, as with a direct query; a
  // popularity update shows at once too. Without the record (a database written before it existed, or dropped), the
  // reads query directly. Cost on MongoDB: one _id lookup instead of one indexed query, plus one full catalogue read
  // per process after each catalogue write.

  private async readCatalogueVersion(): Promise<CatalogueVersion | null> {
    const doc = await this.db.collection<CatalogueVersionDoc>(CATALOGUE_VERSION_COLLECTION).findOne({ _id: CATALOGUE_VERSION_ID });
    return doc && typeof doc.epoch === 'string' && typeof doc.rev === 'number' ? { epoch: doc.epoch, rev: doc.rev } : null;
  }

  /** Counts a catalogue write, after it was made: every process's next catalogue read re-reads the catalogue. */
  private async bumpCatalogueVersion(db: Db = this.db): Promise<void> {
    await upsertOnce(
      db.collection<CatalogueVersionDoc>(CATALOGUE_VERSION_COLLECTION),
      { _id: CATALOGUE_VERSION_ID },
      { $inc: { rev: 1 }, $setOnInsert: { epoch: randomUUID() } },
    );
  }

  /**
   * The snapshot that holds every catalogue write made before this call, or null: no version record, the snapshot
   * disabled, or the catalogue changed under three reloads in a row (then the caller queries directly).
   */
  private async currentCatalogue(): Promise<CatalogueSnapshot | null> {
    if (!this.catalogueOptions.enabled) return null;
    const want = await this.readCatalogueVersion();
    if (!want) return null;
    for (let attempt = 0; attempt < 3; attempt++) {
      const have = this.snapshot;
      if (have && coversVersion(have.version, want)) {
        if (this.catalogueOptions.now() - have.loadedAt > this.catalogueOptions.maxAgeMs && !this.snapshotLoad) {
          this.loadCatalogue().catch(() => undefined); // re-read in the background; this one still answers
        }
        return have;
      }
      if (!(await this.loadCatalogue())) return null;
    }
    return null;
  }

  /** Reads the version record, then the whole catalogue (so the snapshot holds at least that version); shared by concurrent callers. */
  private loadCatalogue(): Promise<CatalogueSnapshot | null> {
    this.snapshotLoad ??= (async () => {
      try {
        const version = await this.readCatalogueVersion();
        if (!version) return null;
        const movies = await this.col('movies').find({}, withoutId).toArray();
        const loaded = new CatalogueSnapshot(movies, version, this.catalogueOptions.now());
        const current = this.snapshot;
        if (!current || current.version.epoch !== version.epoch || current.version.rev <= version.rev) this.snapshot = loaded;
        return loaded;
      } finally {
        this.snapshotLoad = undefined;
      }
    })();
    return this.snapshotLoad;
  }

  async ping(): Promise<void> {
    await this.db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    await Promise.all([this.client.close(), this.bulkClient.close(), this.probe?.close()]);
  }

  /** Drops the whole database (tests clean up after themselves with it). */
  async dropDatabase(): Promise<void> {
    await this.bulkDb.dropDatabase();
  }

  async getUser(userId: string): Promise<UserDoc | null> {
    return this.col('users').findOne({ userId }, withoutId);
  }

  async setFavoriteGenres(userId: string, genres: readonly string[], now = new Date()): Promise<{ created: boolean }> {
    const result = await upsertOnce(
      this.col('users'),
      { userId },
      { $set: { favoriteGenres: [...genres], updatedAt: now }, $setOnInsert: { userId, createdAt: now } },
    );
    return { created: result.upsertedCount > 0 };
  }

  async getMovies(movieIds: readonly string[]): Promise<Map<string, MovieDoc>> {
    if (movieIds.length === 0) return new Map();
    const snapshot = await this.currentCatalogue();
    if (snapshot) return snapshot.get(movieIds);
    const movies = await this.findByKeys('movies', 'movieId', movieIds, withoutId.projection);
    return new Map(movies.map((m) => [m.movieId, m]));
  }

  async createMovie(doc: MovieDoc): Promise<{ created: boolean }> {
    // An upsert that only inserts: atomic on the unique movieId, and FerretDB v1 has it.
    const result = await this.col('movies').updateOne({ movieId: doc.movieId }, { $setOnInsert: { ...doc } }, { upsert: true });
    if (result.upsertedCount > 0) await this.bumpCatalogueVersion();
    return { created: result.upsertedCount > 0 };
  }

  async updateMovie(movieId: string, change: MovieChange): Promise<MovieDoc | null> {
    const update: Document = {};
    if (Object.keys(change.set).length) update.$set = change.set;
    if (change.unset?.length) update.$unset = Object.fromEntries(change.unset.map((field) => [field, '']));
    if (Object.keys(update).length) {
      const result = await this.col('movies').updateOne({ movieId }, update);
      if (result.matchedCount === 0) return null;
      await this.bumpCatalogueVersion();
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
    const snapshot = await this.currentCatalogue();
    if (snapshot) return snapshot.top(query);
    const filter: Document = { hidden: { $ne: true } };
    if (query.genres) filter.genres = { $in: [...query.genres] };
    if (query.excludeMovieIds?.length) filter.movieId = { $nin: [...query.excludeMovieIds] };
    return this.col('movies').find(filter, withoutId).sort({ popularity: -1, movieId: 1 }).limit(query.limit).toArray();
  }

  async distinctGenres(): Promise<string[]> {
    const snapshot = await this.currentCatalogue();
    if (snapshot) return snapshot.genres();
    // MongoDB unwinds array fields in distinct; flattening as well keeps any server that returns whole arrays right.
    const values = ((await this.col('movies').distinct('genres')) as unknown[]).flat();
    return [...new Set(values.filter((g): g is string => typeof g === 'string'))];
  }

  async refreshPopularity(): Promise<number> {
    // FerretDB v1 has $match, $group and $sum of a field or constant only ($cond/$multiply are not implemented):
    // one grouping per weight class, multiplied here.
    const weights = new Map<string, number>();
    const addGrouped = async (collection: string, filter: Document, sum: string | number, factor: number) => {
      const rows = await this.bulkDb
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
    // One read of the catalogue, then its updates as bulkWrites of UPDATE_BATCH statements, one at a time: concurrent
    // bulkWrites deadlock FerretDB v1 on SQLite (the bootstrap test hung until its timeout with four in flight).
    // Only movies whose popularity changed are written: a nightly run on nearly the same data writes little, so the
    // training job does not hold the database busy (FerretDB v1 took 28 s for 200 updates under load, and serving
    // requests that missed the cache waited behind it).
    const ops: AnyBulkWriteOperation<MovieDoc>[] = [];
    const movies = this.bulkDb.collection<MovieDoc>('movies');
    let count = 0;
    for await (const movie of movies.find({}, { projection: { _id: 0, movieId: 1, rating: 1, popularity: 1 } })) {
      count++;
      const popularity = popularityScore(weights.get(movie.movieId) ?? 0, movie.rating);
      if (movie.popularity === popularity) continue;
      ops.push({ updateOne: { filter: { movieId: movie.movieId }, update: { $set: { popularity } } } });
    }
    const chunks: AnyBulkWriteOperation<MovieDoc>[][] = [];
    for (let i = 0; i < ops.length; i += UPDATE_BATCH) chunks.push(ops.slice(i, i + UPDATE_BATCH));
    try {
      for (const chunk of chunks) await movies.bulkWrite(chunk, { ordered: false });
    } finally {
      if (chunks.length) await this.bumpCatalogueVersion(this.bulkDb);
    }
    return count;
  }

  async userInteractionWeights(userId: string): Promise<Map<string, number>> {
    return (await this.userInteractionHistory(userId)).interactions;
  }

  /** Four indexed reads at once (watched, likes, bookmarks, the user's decisions), each collection once. */
  async userInteractionHistory(userId: string): Promise<{ interactions: Map<string, number>; disliked: string[] }> {
    const projection = { _id: 0, movieId: 1, completed: 1, rating: 1 };
    const [watched, likes, bookmarks, verdicts] = await Promise.all([
      this.col('watched_movies').find({ userId }, { projection }).toArray(),
      this.col('likes').find({ userId }, { projection }).toArray(),
      this.col('bookmarks').find({ userId }, { projection }).toArray(),
      this.latestVerdicts(userId),
    ]);
    const weights = new Map<string, number>();
    const add = (movieId: string, w: number) => weights.set(movieId, (weights.get(movieId) ?? 0) + w);
    for (const d of watched) add(d.movieId, watchedWeight(d));
    for (const d of likes) add(d.movieId, likeWeight(d));
    for (const d of bookmarks) add(d.movieId, bookmarkWeight(d));
    const disliked: string[] = [];
    for (const [movieId, liked] of verdicts) {
      if (liked) continue;
      weights.delete(movieId);
      disliked.push(movieId);
    }
    return { interactions: weights, disliked };
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
   * A few statements per batch, never one per event: (1) the idempotency records of the batch's bookmark events are
   * looked up (applied ids are duplicates; see below); (2) the effects are inserted with _id = eventId (the primary key makes each effect
   * exactly-once: an effect written before a crash, or by a concurrent call with the same event, is a duplicate key
   * and skipped), decisions and bookmark removals (idempotent) are applied; (3) the idempotency records are inserted,
   * last. Redelivery after a crash anywhere therefore writes nothing twice. Of concurrent calls with the same event,
   * the one whose idempotency record is written reports it applied, the others report it a duplicate.
   */
  async applyInteractionEvents(events: readonly ValidEvent[], now = new Date(), options: { decisionsStored?: boolean } = {}): Promise<AppliedEvents> {
    const result: AppliedEvents = { applied: [], duplicates: [] };
    if (events.length === 0) return result;
    // Only bookmark events need the lookup: their effects can be undone (a removal deletes the bookmark), so a
    // redelivered bookmark or removal must not be applied again. Every other effect is exactly-once by itself (its
    // _id is the eventId; decisions are conditional on their time) and the idempotency records written last tell
    // applied from duplicate, so a batch without bookmarks (a POST /feedback verdict) reads nothing.
    const ids = [...new Set(events.filter((e) => e.type === 'bookmarked' || e.type === 'bookmark_removed').map((e) => e.eventId))];
    const done = new Set((await this.findByKeys('interaction_events', 'eventId', ids, { _id: 0, eventId: 1 })).map((d) => d.eventId));
    const fresh: ValidEvent[] = [];
    for (const e of events) {
      if (done.has(e.eventId)) result.duplicates.push(e);
      else {
        done.add(e.eventId);
        fresh.push(e);
      }
    }
    if (fresh.length === 0) return result;
    type WithId<T> = T & { _id: string };
    const watched: WithId<WatchedDoc>[] = [];
    const likes: WithId<LikeDoc>[] = [];
    const bookmarkSteps: ({ insert: WithId<BookmarkDoc>[] } | { remove: { userId: string; movieId: string } })[] = [];
    const decisions: AnyBulkWriteOperation<Document>[] = [];
    for (const e of fresh) {
      const { userId, movieId, eventId, occurredAt } = e;
      const _id = eventId;
      if (e.type === 'watched') watched.push({ _id, userId, movieId, completed: e.completed === true, watchedAt: occurredAt, eventId });
      if (e.type === 'rated' || e.type === 'liked') likes.push({ _id, userId, movieId, rating: e.type === 'liked' ? LIKE_AS_RATING : (e.rating ?? 0), likedAt: occurredAt, eventId });
      if (e.type === 'bookmarked') {
        const last = bookmarkSteps.at(-1);
        if (last && 'insert' in last) last.insert.push({ _id, userId, movieId, createdAt: occurredAt, eventId });
        else bookmarkSteps.push({ insert: [{ _id, userId, movieId, createdAt: occurredAt, eventId }] });
      }
      if (e.type === 'bookmark_removed') bookmarkSteps.push({ remove: { userId, movieId } });
      if ((e.type === 'liked' || e.type === 'disliked') && !options.decisionsStored) {
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
        if ('insert' in step) await this.insertNew('bookmarks', step.insert);
        else await this.col('bookmarks').deleteMany(step.remove);
      }
    };
    await Promise.all([this.insertNew('watched_movies', watched), this.insertNew('likes', likes), bookmarks(), this.bulk('feedback', decisions, false)]);
    // Last: the idempotency records. A crash before this line re-applies the batch without writing anything twice.
    const lost = await this.insertNew(
      'interaction_events',
      fresh.map((e) => ({ eventId: e.eventId, userId: e.userId, movieId: e.movieId, type: e.type, occurredAt: e.occurredAt, appliedAt: now })),
    );
    fresh.forEach((e, i) => (lost.has(i) ? result.duplicates : result.applied).push(e));
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
    await this.insertNew('recommendation_logs', docs);
  }

  async getRecommendationLog(sessionId: string): Promise<RecommendationLogDoc | null> {
    return this.col('recommendation_logs').findOne({ sessionId }, withoutId);
  }

  async upsertFeedback(doc: Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>, now = new Date()): Promise<{ created: boolean }> {
    const [result] = await this.upsertFeedbackMany([doc], now);
    return result;
  }

  async upsertFeedbackMany(docs: readonly Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>[], now = new Date()): Promise<{ created: boolean }[]> {
    // Nothing read: the report computes its per-session figures itself (experimentTotals). The bucket starts let
    // likeRateSeries group with $group alone (FerretDB v1 has no date operators).
    const withBuckets = (doc: Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>) => ({
      ...doc,
      sessionHour: bucketStart(doc.sessionCreatedAt, 'hour'),
      sessionDay: bucketStart(doc.sessionCreatedAt, 'day'),
      updatedAt: now,
    });
    // First verdicts (the usual case) are one insertMany: on FerretDB v1 + PostgreSQL a batched insert costs ~0.05-0.1
    // ms of database CPU per document, an upsert ~1 ms each (README "Serving", 2026-11-30). A (session, movie) that has a verdict
    // already (the unique key refuses the insert, also the second of one pair in this batch) is updated, in order.
    const refused = await this.insertNew('feedback', docs.map((doc) => ({ ...withBuckets(doc), createdAt: now })));
    for (const index of [...refused].sort((a, b) => a - b)) {
      const doc = withBuckets(docs[index]);
      await upsertOnce(this.col('feedback'), { sessionId: doc.sessionId, movieId: doc.movieId }, { $set: doc, $setOnInsert: { createdAt: now } });
    }
    return docs.map((_, index) => ({ created: !refused.has(index) }));
  }

  /**
   * Computed in the database with $match/$group/$sum only (FerretDB v1 has no $cond, $divide or $lookup): counts per
   * model, and per session (grouped by sessionId, one row per session of the window) the feedback, likes and likes
   * ranked within K, whose ratios are summed here (sessions with feedback, sessions with likes, the sum of per-session
   * recall). Feedback documents carry only their own facts, so POST /feedback writes one document and reads nothing.
   */
  async experimentTotals(window: ExperimentWindow): Promise<ExperimentArmTotals[]> {
    const timeFilter = (field: string): Document => {
      const range: Document = {};
      if (window.since) range.$gte = window.since;
      if (window.until) range.$lt = window.until;
      return Object.keys(range).length ? { [field]: range } : {};
    };
    const grouped = async (collection: string, filter: Document, by: string) => {
      const rows = await this.bulkDb
        .collection(collection)
        .aggregate<{ _id: string; total: number }>([{ $match: filter }, { $group: { _id: by, total: { $sum: 1 } } }])
        .toArray();
      return new Map(rows.map((r) => [r._id, r.total]));
    };
    // Forced sessions (arm "forced") are reported apart, fallback lists (arm "fallback") nowhere; feedback written
    // before `arm` existed counts as experiment.
    const population: Document = window.forced ? { arm: FORCED_ARM } : { arm: { $nin: [...NON_EXPERIMENT_ARMS] } };
    const inWindow = { ...timeFilter('sessionCreatedAt'), ...population };
    const sessions = await grouped('recommendation_logs', { ...timeFilter('createdAt'), ...population }, '$modelType');
    const totals: ExperimentArmTotals[] = [];
    for (const modelType of MODEL_TYPES) {
      const mine = { ...inWindow, modelType };
      const [feedbackBySession, likesBySession, likesTopKBySession] = await Promise.all([
        grouped('feedback', mine, '$sessionId'),
        grouped('feedback', { ...mine, liked: true }, '$sessionId'),
        grouped('feedback', { ...mine, liked: true, rank: { $lte: window.k } }, '$sessionId'),
      ]);
      let feedbackCount = 0;
      for (const n of feedbackBySession.values()) feedbackCount += n;
      let likes = 0;
      for (const n of likesBySession.values()) likes += n;
      let likesTopK = 0;
      let recallSum = 0;
      for (const [sessionId, n] of likesTopKBySession) {
        likesTopK += n;
        recallSum += n / (likesBySession.get(sessionId) ?? n);
      }
      totals.push({
        modelType,
        sessions: sessions.get(modelType) ?? 0,
        sessionsWithFeedback: feedbackBySession.size,
        feedbackCount,
        likes,
        precisionSum: likesTopK / window.k,
        recallSum,
        sessionsWithLikes: likesBySession.size,
      });
    }
    return totals;
  }

  /** One $match/$group/$sum per model and figure (FerretDB v1: a single-field _id and one sum per $group). */
  async likeRateSeries(window: Omit<ExperimentWindow, 'k' | 'forced'>, bucket: TimeBucketName): Promise<LikeRateBucket[]> {
    const range: Document = {};
    if (window.since) range.$gte = window.since;
    if (window.until) range.$lt = window.until;
    const base: Document = { arm: { $nin: [...NON_EXPERIMENT_ARMS] }, ...(Object.keys(range).length ? { sessionCreatedAt: range } : {}) };
    const field = bucket === 'hour' ? '$sessionHour' : '$sessionDay';
    const byBucket = async (filter: Document) => {
      const rows = await this.bulkDb
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
    try {
      await this.insertNew(collection, docs, this.bulkDb);
    } finally {
      if (collection === 'movies' && docs.length) await this.bumpCatalogueVersion(this.bulkDb);
    }
  }

  /**
   * Unordered insert of copies (the driver adds _id to the objects it inserts); documents whose unique key exists are
   * skipped on purpose. Returns the indexes of the skipped ones. Anything else (the server unreachable mid-write
   * included) is an error: the caller retries the batch.
   */
  /**
   * The documents of `collection` whose `field` equals one of `keys` (duplicates in `keys` are looked up once). Up to
   * KEYED_LOOKUP_MAX keys: one indexed equality query per key, in parallel, which every MongoDB-wire server serves from
   * the index; more keys: one `$in` query (MongoDB serves it from the index, FerretDB v1 with one scan per call, cheaper
   * than thousands of round trips).
   */
  private async findByKeys<C extends CollectionName>(
    collection: C,
    field: string,
    keys: readonly string[],
    projection: Document,
  ): Promise<CollectionDocs[C][]> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return [];
    const col = this.db.collection(collection);
    if (unique.length > KEYED_LOOKUP_MAX) return (await col.find({ [field]: { $in: unique } }, { projection }).toArray()) as unknown as CollectionDocs[C][];
    const found = await Promise.all(unique.map((key) => col.find({ [field]: key }, { projection }).toArray()));
    return found.flat() as unknown as CollectionDocs[C][];
  }

  private async insertNew(collection: CollectionName, docs: readonly object[], db: Db = this.db): Promise<Set<number>> {
    const duplicates = new Set<number>();
    if (docs.length === 0) return duplicates;
    try {
      await db.collection(collection).insertMany(docs.map((d) => ({ ...d })), { ordered: false });
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
      const accountedFor = err.result.insertedCount + writeErrors.length === docs.length;
      if (!accountedFor || !writeErrors.every((e) => e.code === DUPLICATE_KEY)) throw err;
      for (const e of writeErrors) duplicates.add(e.index);
    }
    return duplicates;
  }

  async *scan<C extends CollectionName>(collection: C, batchSize = 10_000): AsyncIterable<CollectionDocs[C][]> {
    const cursor = this.bulkDb.collection(collection).find({}, { ...withoutId, batchSize });
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
    return this.bulkDb.collection(collection).countDocuments({});
  }

  async clear(): Promise<void> {
    for (const name of COLLECTION_NAMES) await this.bulkDb.collection(name).deleteMany({});
    await this.bumpCatalogueVersion(this.bulkDb);
  }
}

/**
 * The error and what it wraps: its `cause`, and the `errorResponse` of a bulk write error (MongoBulkWriteError keeps
 * the error that stopped the batch there, e.g. a PoolClearedError when the server froze mid-insert).
 */
function* errorChain(err: unknown): Generator<unknown> {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    yield e;
    e = (e as { cause?: unknown }).cause ?? (e instanceof MongoBulkWriteError ? (e as { errorResponse?: unknown }).errorResponse : undefined);
  }
}

/** True for errors that mean the database cannot be reached (as opposed to a bad query). */
export function isConnectivityError(err: unknown): boolean {
  for (const e of errorChain(err)) {
    if (e instanceof MongoNetworkError || e instanceof MongoServerSelectionError) return true;
    const code = (e as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || code === 'ECONNRESET') return true;
    if (e instanceof Error && /ECONNREFUSED|ECONNRESET|connection .* closed/.test(e.message)) return true;
  }
  return false;
}

/** True for an operation that ran out of its time budget (CSOT timeoutMS on the client, maxTimeMS on the server). */
export function isTimeoutError(err: unknown): boolean {
  for (const e of errorChain(err)) {
    if (e instanceof MongoOperationTimeoutError) return true;
    if (e instanceof MongoServerError && e.code === MAX_TIME_EXPIRED) return true;
  }
  return false;
}

/**
 * An upsert that never loses a race: two first writes of the same unique key may both find no document and both
 * insert; the loser gets E11000 and is retried once as a plain update (the document exists now), so concurrent
 * first writes give one insert and idempotent updates, never a duplicate-key error.
 */
async function upsertOnce<T extends Document>(
  collection: import('mongodb').Collection<T>,
  filter: import('mongodb').Filter<T>,
  update: import('mongodb').UpdateFilter<T>,
): Promise<import('mongodb').UpdateResult<T>> {
  try {
    return await collection.updateOne(filter, update, { upsert: true });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return collection.updateOne(filter, update, { upsert: true });
  }
}

/**
 * Every async method of the store rejects with UnavailableError (gRPC UNAVAILABLE, HTTP 503) when MongoDB cannot
 * be reached or does not answer within the operation's time budget, so callers see a clear status quickly instead
 * of an internal error or the caller's deadline.
 */
/** Default MongoStoreOptions.stallProbeMs. */
export const STALL_PROBE_MS = 500;

/**
 * Tells a stalled server (frozen, a dead host: nothing answers) from a busy one (answers come, late): any answer of the
 * server within the last `periodMs` counts (a request-path call that returned, or a ping); without one, a `ping` on a
 * connection of its own that gets no answer within 2 x `periodMs` (at least 1 s) means stalled. One ping at a time is shared by every
 * waiting call. A busy FerretDB on SQLite answered pings within 50-400 ms under 32 concurrent writers while a call
 * waited seconds: one late ping must not fail every waiting call (it did with a single `periodMs` window and no
 * regard for the calls answered meanwhile: bench:serve's POST /feedback got 668 of 687 answers 503).
 */
class StallProbe {
  private inflight: Promise<boolean> | undefined;
  private answeredAt = -Infinity;

  /** How long a ping may take before the server counts as stalled: twice the period, at least 1 s. */
  private readonly pingWaitMs: number;

  constructor(
    private readonly client: MongoClient,
    readonly periodMs: number,
  ) {
    this.pingWaitMs = Math.max(2 * periodMs, 1_000);
  }

  /** Records an answer of the server (a request-path call that returned, with a result or an error of its own). */
  answered(): void {
    this.answeredAt = Date.now();
  }

  /**
   * True if the server answered anything (a call, or the pings sent every periodMs while a call waits) within the last
   * 1.5 x periodMs: a call that ran out of time on such a server met a busy server, not a stalled one.
   */
  get vouches(): boolean {
    return Date.now() - this.answeredAt < 1.5 * this.periodMs;
  }

  /** Connects the probe's own connection up front (its first ping must not pay the handshake on a busy server). */
  async connect(): Promise<void> {
    await this.client.connect();
  }

  alive(): Promise<boolean> {
    if (Date.now() - this.answeredAt < this.periodMs) return Promise.resolve(true);
    this.inflight ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer')), this.pingWaitMs);
        });
        await Promise.race([this.client.db('admin').command({ ping: 1 }), timeout]);
        this.answeredAt = Date.now();
        return true;
      } catch {
        // A call answered while the ping waited (the ping's connection may be the slow one): alive.
        return Date.now() - this.answeredAt < this.pingWaitMs;
      } finally {
        clearTimeout(timer);
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** Milliseconds kept back from a call's deadline, so that a store error still reaches the caller in time (503, not 504). */
export const DEADLINE_MARGIN_MS = 300;

/**
 * Every request-path call: rejected at once with UnavailableError while the circuit is open (the database failed
 * `breakerFailures` calls in a row: unreachable or out of time), bounded by the smaller of the store's budget and the
 * time left before the gRPC call's deadline (lib/src/call-scope.ts; minus DEADLINE_MARGIN_MS), and driver errors
 * mapped to UnavailableError. Bulk methods are only mapped.
 */
function withUnavailableErrors(store: MongoStore, timeoutMS: number, breaker: CircuitBreaker, probe: StallProbe): MongoStore {
  const outOfTime = new WeakSet<Error>();
  const isOutOfTime = (err: Error) => outOfTime.has(err);
  const timedOut = (ms: number) => {
    const err = new UnavailableError(`the database did not answer within its time budget (${ms} ms); try again shortly`);
    outOfTime.add(err);
    return err;
  };
  const mapError = (err: unknown, ms: number) => {
    if (isConnectivityError(err)) return new UnavailableError('the database is unreachable; try again shortly');
    if (isTimeoutError(err)) return timedOut(ms);
    return err;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || property === 'constructor' || property === 'scan') return value;
      const bounded = typeof property === 'string' && !BULK_METHODS.has(property);
      if (!bounded) {
        return (...args: unknown[]) => {
          const result = value.apply(target, args);
          return result instanceof Promise ? result.catch((err: unknown) => Promise.reject(mapError(err, timeoutMS))) : result;
        };
      }
      return async (...args: unknown[]) => {
        // The gRPC call this work is for (lib/src/call-scope.ts): cancelled by its client, nothing is asked, and a call
        // in flight is given up at once (the driver finishes the round trip on its own, bounded by socketTimeoutMS).
        const signal = currentCall()?.signal;
        if (signal?.aborted) throw new CallAbortedError();
        const budget = Math.min(timeoutMS, remainingMs() - DEADLINE_MARGIN_MS);
        if (budget <= 0) throw new UnavailableError('no time was left before the call\'s deadline to ask the database; try again shortly');
        // Only the database failing (unreachable, out of time) counts for the breaker; a duplicate key or a refused
        // document is an answer.
        let answerError: { err: unknown } | undefined;
        const result = await breaker.run(async () => {
          let timer: NodeJS.Timeout | undefined;
          let stallCheck: NodeJS.Timeout | undefined;
          let onAbort: (() => void) | undefined;
          // A hard bound on the whole call (several round trips included); the driver closes a stalled connection
          // at socketTimeoutMS. Writes are idempotent, so a caller that retries after this error writes nothing twice.
          // While the call waits, the server is pinged every probe period: no answer, and the call gives up at once.
          const deadline = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(timedOut(budget)), budget);
            stallCheck = setInterval(() => {
              void probe.alive().then((alive) => alive || reject(new UnavailableError('the database does not answer (stalled); try again shortly')));
            }, probe.periodMs);
            onAbort = () => reject(new CallAbortedError());
            if (signal?.aborted) onAbort();
            else signal?.addEventListener('abort', onAbort, { once: true });
          });
          try {
            const answer = await Promise.race([Promise.resolve(value.apply(target, args)), deadline]);
            probe.answered();
            return answer;
          } catch (err) {
            // The client gave up: neither an answer of the database nor a failure of it (the circuit does not count it).
            if (err instanceof CallAbortedError) {
              answerError = { err };
              return undefined;
            }
            const mapped = mapError(err, budget);
            if (!(mapped instanceof UnavailableError)) {
              probe.answered();
              answerError = { err: mapped };
              return undefined;
            }
            // Out of time on a server that answers (busy, not stalled): the call fails, but the circuit does not
            // open for it, so the requests after it are slower, never refused without being tried.
            if (isOutOfTime(mapped) && probe.vouches) {
              answerError = { err: mapped };
              return undefined;
            }
            throw mapped;
          } finally {
            clearTimeout(timer);
            clearInterval(stallCheck);
            if (onAbort) signal?.removeEventListener('abort', onAbort);
          }
        });
        if (answerError) throw answerError.err;
        return result;
      };
    },
  });
}

/** Store methods that run on the bulk client with its longer budget (not bounded by MONGO_TIMEOUT_MS). */
const BULK_METHODS = new Set([
  'connectClients', 'init', 'close', 'dropDatabase', 'refreshPopularity', 'setPopularityFromWeights', 'experimentTotals',
  'likeRateSeries', 'insertMany', 'count', 'clear',
]);
