import type { ModelTypeName } from '../domain.js';
import type { InteractionTypeName, ValidEvent } from '../events/interaction-event.js';

/** Documents of the MongoDB collections (MISSION.md §5). Ids are strings of ID_PATTERN. */
export interface UserDoc {
  userId: string;
  favoriteGenres: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface MovieDoc {
  movieId: string;
  title: string;
  year: number;
  genres: string[];
  /** Average rating on the 1-10 scale. */
  rating: number;
  /** Popularity score (see refreshPopularity); 0 until computed. */
  popularity: number;
  /** IMDb title id, e.g. "tt0114709" (MovieLens links.csv, own catalogue imdb_id). */
  imdbId?: string;
  /** The Movie Database id, e.g. "862". */
  tmdbId?: string;
  /** https://www.imdb.com/title/{imdbId}/, derived from imdbId. */
  imdbUrl?: string;
  /** The most applied user tags (MovieLens tags.csv), most frequent first, at most 10. */
  tags?: string[];
  /** Other ids of the same film in the source catalogue, merged into this one at import (catalogue hygiene). */
  aliasIds?: string[];
  /** Hidden movies are never recommended nor listed in top lists (lib/src/catalogue.ts); absent means false. */
  hidden?: boolean;
  /**
   * The title the movie had before the catalogue API first retitled it: the catalogue fingerprint of model versions
   * (lib/src/models/fingerprint.ts) hashes it, so a retitled movie is still the film those versions were trained on.
   */
  sourceTitle?: string;
  /** When the catalogue API created the movie (absent for imported or generated movies). */
  createdAt?: Date;
  /** When the catalogue API last changed the movie. */
  updatedAt?: Date;
}

/** The optional MovieDoc fields an update may clear. */
export type ClearableMovieField = 'imdbId' | 'tmdbId' | 'imdbUrl';

/** A change of one movie: fields to set, and optional fields to remove. */
export interface MovieChange {
  set: Partial<Omit<MovieDoc, 'movieId' | 'createdAt'>>;
  unset?: readonly ClearableMovieField[];
}

export interface ListMoviesQuery {
  /** true: only hidden movies; false: only visible ones; absent: all. */
  hidden?: boolean;
  /** Only movies the catalogue API created at or after this time. */
  createdSince?: Date;
  /** Movies with an id greater than this (paging); ids compare as strings. */
  afterMovieId?: string;
  limit: number;
}

export interface WatchedDoc {
  userId: string;
  movieId: string;
  /** Watched to the end (weight 1.0) or partly (0.5). */
  completed: boolean;
  watchedAt: Date;
  /** The interaction event that wrote it (absent for imported or generated data). */
  eventId?: string;
}

export interface LikeDoc {
  userId: string;
  movieId: string;
  /** 1 to 10. */
  rating: number;
  likedAt: Date;
  eventId?: string;
}

export interface BookmarkDoc {
  userId: string;
  movieId: string;
  createdAt: Date;
  eventId?: string;
}

/**
 * One applied interaction event (the idempotency record: an event whose id is here is never applied again).
 * Written after the event's effect, so a crash in between re-applies the (idempotent) effect on redelivery.
 */
export interface InteractionEventDoc {
  eventId: string;
  userId: string;
  movieId: string;
  type: InteractionTypeName;
  occurredAt: Date;
  appliedAt: Date;
}

/**
 * Like and dislike decisions of interaction events live in the feedback collection too, one document per
 * (user, movie) with this sessionId and no modelType (the experiment report groups by modelType and so ignores
 * them); updatedAt is the decision's occurred_at. The latest verdict on a (user, movie) over all feedback
 * documents wins, in serving and in training (trainer/src/training-data.ts).
 */
export function eventDecisionSessionId(userId: string): string {
  return `events:${userId}`;
}

/** What applying a batch of events did: events applied now, and events whose id had been applied before. */
export interface AppliedEvents {
  applied: ValidEvent[];
  duplicates: ValidEvent[];
}

export type RecommendationSourceName = 'cache' | 'model' | 'fold_in' | 'genres_top' | 'global_top';

/** Sources that are not a model's output (popularity lists for a user the model cannot score). */
export const FALLBACK_SOURCES: ReadonlySet<RecommendationSourceName> = new Set(['genres_top', 'global_top']);
/** The arm of a list the caller's ?model= chose: reported apart from the experiment. */
export const FORCED_ARM = 'forced';
/**
 * The arm of a list served from a fallback source (FALLBACK_SOURCES): no model made it, so it is no impression of
 * either model, neither in the experiment nor among the forced lists; the A/B report counts it nowhere.
 */
export const FALLBACK_ARM = 'fallback';
/** Arms outside the experiment's comparison. */
export const NON_EXPERIMENT_ARMS: readonly string[] = [FORCED_ARM, FALLBACK_ARM];

export interface RecommendationLogDoc {
  sessionId: string;
  userId: string;
  modelType: ModelTypeName;
  modelVersion: string;
  arm: string;
  source: RecommendationSourceName;
  items: { movieId: string; score: number; rank: number }[];
  createdAt: Date;
}

export interface FeedbackDoc {
  sessionId: string;
  userId: string;
  movieId: string;
  liked: boolean;
  modelType: ModelTypeName;
  modelVersion: string;
  /** 1-based position of the movie in the session's list (for Precision@K without a join). */
  rank: number;
  /** When the session's list was served (the report's time window applies to it). */
  sessionCreatedAt: Date;
  /**
   * The session's experiment arm ("als", "lightfm"), "forced" when the caller chose the model (reported apart from the
   * experiment), or "fallback" for a popularity list no model made (counted nowhere). Absent on feedback written
   * before the field existed (counted as experiment).
   */
  arm?: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface CollectionDocs {
  users: UserDoc;
  movies: MovieDoc;
  watched_movies: WatchedDoc;
  likes: LikeDoc;
  bookmarks: BookmarkDoc;
  recommendation_logs: RecommendationLogDoc;
  feedback: FeedbackDoc;
  interaction_events: InteractionEventDoc;
}
export type CollectionName = keyof CollectionDocs;
export const COLLECTION_NAMES: readonly CollectionName[] = [
  'users',
  'movies',
  'watched_movies',
  'likes',
  'bookmarks',
  'recommendation_logs',
  'feedback',
  'interaction_events',
];
export type InteractionCollection = 'watched_movies' | 'likes' | 'bookmarks';

/** Raw per-model sums from which the experiment report is computed (see recsvc/src/experiment-report.ts). */
export interface ExperimentArmTotals {
  modelType: ModelTypeName;
  /** Lists served in the window. */
  sessions: number;
  sessionsWithFeedback: number;
  feedbackCount: number;
  likes: number;
  /** Σ over sessions with feedback of (likes among the first K) / K. */
  precisionSum: number;
  /** Σ over sessions with at least one like of (likes among the first K) / (likes in the session). */
  recallSum: number;
  sessionsWithLikes: number;
}

export interface ExperimentWindow {
  k: number;
  since?: Date;
  until?: Date;
  /** True: only sessions whose model the caller forced (arm "forced"); false/absent: only the experiment's. */
  forced?: boolean;
}

/** UTC buckets of the like-rate time series. */
export type TimeBucketName = 'hour' | 'day';

/** Feedback and likes of one model in one time bucket (by when the lists were served). */
export interface LikeRateBucket {
  modelType: ModelTypeName;
  /** Start of the bucket (UTC). */
  start: Date;
  feedbackCount: number;
  likes: number;
}

/** The start of the UTC hour or day holding `at`. */
export function bucketStart(at: Date, bucket: TimeBucketName): Date {
  const ms = bucket === 'hour' ? 3_600_000 : 86_400_000;
  return new Date(Math.floor(at.getTime() / ms) * ms);
}

export interface TopMoviesQuery {
  /** Only movies with at least one of these genres; all movies when absent. */
  genres?: readonly string[];
  excludeMovieIds?: readonly string[];
  limit: number;
}

/**
 * The document store (MongoDB in production, an in-process map for the demo and unit tests).
 * Both implementations pass the contract suite in lib/test/store.contract.ts.
 */
export interface Store {
  /** Creates indexes (idempotent). */
  init(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  getUser(userId: string): Promise<UserDoc | null>;
  /** Replaces the user's favourite genres, creating the user if new. */
  setFavoriteGenres(userId: string, genres: readonly string[], now?: Date): Promise<{ created: boolean }>;

  getMovies(movieIds: readonly string[]): Promise<Map<string, MovieDoc>>;
  /** Inserts a movie unless one with its movieId exists (then nothing is written and created is false). */
  createMovie(doc: MovieDoc): Promise<{ created: boolean }>;
  /** Applies a change to one movie and returns it as stored afterwards; null when no movie has the id. */
  updateMovie(movieId: string, change: MovieChange): Promise<MovieDoc | null>;
  /** Movies ordered by movieId (string order), filtered and paged by `query`. */
  listMovies(query: ListMoviesQuery): Promise<MovieDoc[]>;
  /** The ids of the hidden movies. */
  hiddenMovieIds(): Promise<string[]>;
  /** Visible movies (never hidden ones) by popularity, highest first (ties by movieId). */
  topMovies(query: TopMoviesQuery): Promise<MovieDoc[]>;
  /** The distinct genres of the movies in the catalogue (unordered; computed in the database). */
  distinctGenres(): Promise<string[]>;
  /**
   * Recomputes every movie's popularity from the interactions and its rating:
   * popularity = (Σ interaction weights over all users) × (0.5 + rating / 20). Returns the number of movies updated.
   */
  refreshPopularity(): Promise<number>;
  /**
   * Sets every movie's popularity from given interaction weight sums (movies absent from the map get 0), as
   * refreshPopularity does after aggregating them; the training job passes the sums of the matrix it built.
   */
  setPopularityFromWeights(weights: ReadonlyMap<string, number>): Promise<number>;

  /**
   * The movies the user watched, rated/liked or bookmarked, with the model-input weight summed per movie, without
   * the movies whose latest like/dislike decision (feedback and events) is a dislike (as the training job does).
   */
  userInteractionWeights(userId: string): Promise<Map<string, number>>;
  watchedMovieIds(userId: string): Promise<string[]>;

  /** Movies whose latest like/dislike decision by the user (feedback or events) is a dislike. */
  dislikedMovieIds(userId: string): Promise<string[]>;

  /**
   * userInteractionWeights and dislikedMovieIds of one user from one read of each collection (the user's decisions are
   * read once): what a cache miss needs (recsvc/src/seen-rule.ts).
   */
  userInteractionHistory(userId: string): Promise<{ interactions: Map<string, number>; disliked: string[] }>;

  /**
   * Applies interaction events in order, each at most once per eventId (ids applied before, or repeated in the
   * batch, come back as duplicates and change nothing). Effects: watched -> watched_movies, rated/liked -> likes
   * (liked as rating 10), bookmarked -> bookmarks, bookmark_removed deletes the user's bookmarks of the movie,
   * liked/disliked -> the user's decision document in feedback (the later occurred_at wins). The caller checks that the movies exist. Safe to repeat after a crash mid-way.
   * `options.decisionsStored`: the caller stored the likes/dislikes as feedback documents already (POST /feedback:
   * upsertFeedback), which are decisions too, so no decision document is written for them.
   */
  applyInteractionEvents(events: readonly ValidEvent[], now?: Date, options?: { decisionsStored?: boolean }): Promise<AppliedEvents>;
  /** When an interaction event of the user was last applied (serving recomputes the user after it); null if never. */
  lastInteractionEventAt(userId: string): Promise<Date | null>;

  /** Writes served lists; a list whose sessionId is already stored is skipped (so retries are idempotent). */
  insertRecommendationLogs(docs: readonly RecommendationLogDoc[]): Promise<void>;
  getRecommendationLog(sessionId: string): Promise<RecommendationLogDoc | null>;
  /** Inserts or replaces the feedback on one (session, movie); never duplicates it. */
  upsertFeedback(doc: Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>, now?: Date): Promise<{ created: boolean }>;
  /**
   * upsertFeedback of several verdicts at once, in order (a later verdict on the same session and movie, also in this
   * batch, replaces an earlier one): one `created` per document. POST /feedback writes its concurrent requests'
   * verdicts together with it (recsvc/src/recommender.ts, group commit).
   */
  upsertFeedbackMany(docs: readonly Omit<FeedbackDoc, 'createdAt' | 'updatedAt'>[], now?: Date): Promise<{ created: boolean }[]>;
  /** Per-model totals for the experiment report, computed in the database. */
  experimentTotals(window: ExperimentWindow): Promise<ExperimentArmTotals[]>;
  /**
   * The experiment's (never forced sessions') feedback and likes per model and UTC hour or day of the served list,
   * oldest first, buckets without feedback left out; computed in the database with $match/$group/$sum.
   */
  likeRateSeries(window: Omit<ExperimentWindow, 'k' | 'forced'>, bucket: TimeBucketName): Promise<LikeRateBucket[]>;

  /** Unordered bulk insert (data generator, importer); documents whose unique key exists are skipped. */
  insertMany<C extends CollectionName>(collection: C, docs: readonly CollectionDocs[C][]): Promise<void>;
  /** Streams a whole collection in batches (training job); never materialises it. */
  scan<C extends CollectionName>(collection: C, batchSize?: number): AsyncIterable<CollectionDocs[C][]>;
  count(collection: CollectionName): Promise<number>;
  /** Deletes every document of every collection (data generator --reset, tests). */
  clear(): Promise<void>;
}
