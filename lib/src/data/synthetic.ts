import { GENRES, type Genre } from '../domain.js';
import { InvalidArgumentError } from '../errors.js';
import type { BookmarkDoc, LikeDoc, MovieDoc, UserDoc, WatchedDoc } from '../store/types.js';

/**
 * A deterministic synthetic world of users, movies and interactions with planted structure (see README.md in this
 * folder). Everything is a pure function of the parameters: the same { seed, users, movies, interactions, now }
 * rebuilds the same world, so a simulation can ask it later whether a user would like a movie.
 *
 * Indices are 0-based; ids are `u{index + 1}` and `m{index + 1}`.
 */

// ---------------------------------------------------------------------------------------------------------------
// Random numbers: sfc32 seeded through a 32-bit hash, one independent stream per (seed, purpose, index), so any
// user's or movie's draws can be replayed without replaying everything before them.
// ---------------------------------------------------------------------------------------------------------------

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes 32-bit integers into one (murmur3 finaliser over a running sum). */
export function hash32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) h = fmix32((h ^ (part >>> 0)) + 0x6d2b79f5);
  return h;
}

/** A small, fast, seedable generator (sfc32). `next()` is uniform in [0, 1). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;

  constructor(...seedParts: number[]) {
    const h = hash32(...seedParts);
    this.a = hash32(h, 1);
    this.b = hash32(h, 2);
    this.c = hash32(h, 3);
    for (let i = 0; i < 12; i++) this.next();
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A function form, for callers that take `() => number`. */
  readonly random = (): number => this.next();
}

/** Anything that gives uniform numbers in [0, 1): an Rng, or a function such as Math.random. */
export type RandomSource = Rng | (() => number);

function draw(source: RandomSource): number {
  return typeof source === 'function' ? source() : source.next();
}

/** Walker/Vose alias table: O(1) draws from a fixed discrete distribution. */
class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: Float64Array) {
    const n = weights.length;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      (scaled[i] < 1 ? small : large).push(i);
    }
    while (small.length && large.length) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of large) this.prob[i] = 1;
    for (const i of small) this.prob[i] = 1;
  }

  sample(rng: Rng): number {
    const i = rng.int(this.prob.length);
    return rng.next() < this.prob[i] ? i : this.alias[i];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------------------

export interface WorldParams {
  seed: number;
  users: number;
  movies: number;
  /** Number of watched records. Likes and bookmarks come on top (each is on a watched movie). */
  interactions: number;
  /**
   * End of the 365-day window of timestamps. Default: the start of the current UTC day, so runs on the same day
   * with the same parameters produce identical documents.
   */
  now?: Date | number;
}

export interface ResolvedWorldParams {
  seed: number;
  users: number;
  movies: number;
  interactions: number;
  /** Milliseconds since the epoch. */
  now: number;
}

/** The sizes the generator is built and tested for. */
export const WORLD_LIMITS = { users: 100_000, movies: 20_000, interactions: 10_000_000 } as const;

/** No user watches more than half of the catalogue (at least 1 movie). */
export function maxInteractionsPerUser(movies: number): number {
  return Math.max(1, Math.floor(movies / 2));
}

/** The largest `interactions` for the given sizes. */
export function maxInteractions(users: number, movies: number): number {
  return Math.min(WORLD_LIMITS.interactions, users * maxInteractionsPerUser(movies));
}

const DAY_MS = 86_400_000;
const WINDOW_MS = 365 * DAY_MS;

/**
 * Checks the parameters and fills in defaults; throws InvalidArgumentError naming the offending parameter.
 * `name` turns a parameter name into the caller's spelling (a CLI passes `n => '--' + n`).
 */
export function validateWorldParams(params: WorldParams, name: (param: string) => string = (p) => p): ResolvedWorldParams {
  const intIn = (value: unknown, param: string, min: number, max: number): number => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        `${name(param)} must be an integer from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}, got ${String(value)}`,
      );
    }
    return value;
  };
  const seed = intIn(params.seed, 'seed', 0, 0xffffffff);
  const users = intIn(params.users, 'users', 1, WORLD_LIMITS.users);
  const movies = intIn(params.movies, 'movies', 1, WORLD_LIMITS.movies);
  const limit = maxInteractions(users, movies);
  if (
    typeof params.interactions !== 'number' ||
    !Number.isInteger(params.interactions) ||
    params.interactions < 0 ||
    params.interactions > limit
  ) {
    const why =
      limit < WORLD_LIMITS.interactions
        ? ` (with ${users.toLocaleString('en-US')} users and ${movies.toLocaleString('en-US')} movies: each user watches at most ` +
          `${maxInteractionsPerUser(movies).toLocaleString('en-US')} movies, half the catalogue)`
        : '';
    throw new InvalidArgumentError(
      `${name('interactions')} must be an integer from 0 to ${limit.toLocaleString('en-US')}${why}, got ${String(params.interactions)}`,
    );
  }
  let now: number;
  if (params.now === undefined) {
    now = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  } else {
    now = params.now instanceof Date ? params.now.getTime() : params.now;
    if (!Number.isFinite(now)) throw new InvalidArgumentError(`${name('now')} must be a valid date`);
  }
  return { seed, users, movies, interactions: params.interactions, now };
}

// ---------------------------------------------------------------------------------------------------------------
// Model constants (README.md describes the model)
// ---------------------------------------------------------------------------------------------------------------

/** Latent dimensions of users and movies. */
export const LATENT_DIMS = 12;
/** Taste clusters. */
export const CLUSTER_COUNT = 8;
/** Share of users whose user document states favourite genres. */
export const FAVORITE_GENRES_SHARE = 0.7;

/** Relative frequency of each genre among movies (as in MovieLens 100k), in GENRES order. */
const GENRE_FREQUENCY = [251, 135, 42, 122, 505, 109, 50, 725, 22, 24, 92, 56, 61, 247, 101, 251, 71, 27];
const MOVIE_NOISE = 0.6; // movie latent = genre embeddings + noise of this norm
const CENTRE_NOISE = 0.3; // cluster centre = genre embeddings + noise
const USER_NOISE = 0.5; // user latent = cluster centre + noise
const GENRE_MATCH_WEIGHT = 3; // affinity weight of the cluster's preference for the movie's genres
const QUALITY_WEIGHT = 0.35; // affinity weight of the movie's quality (its rating)
const SAMPLING_TEMPERATURE = 2; // logit = 2 × affinity + log popularity
const ZIPF_EXPONENT = 1.2; // popularity ∝ rank^-1.2
const ACTIVITY_SIGMA = 1.2; // user activity ∝ lognormal(0, 1.2)
const HEAVY_SHARE = 32; // users with more than 1/32 of the catalogue are sampled by Gumbel-top-n

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Probability that a user likes a movie, given the standardised affinity: 0.5 at z = 1.5. */
export function likeProbability(z: number): number {
  return sigmoid(2 * (z - 1.5));
}
/** Probability that a watched movie is watched to the end. */
function completedProbability(z: number): number {
  return sigmoid(0.5 + z);
}
/** Probability that a watched movie is also bookmarked. */
function bookmarkProbability(z: number): number {
  return 0.05 + 0.15 * sigmoid(z);
}

enum Stream {
  World = 1,
  Movie = 2,
  Title = 3,
  User = 4,
  Interactions = 5,
  Calibration = 6,
}

export interface TasteCluster {
  index: number;
  /** Preference over GENRES (same order), sums to 1. */
  genreWeights: readonly number[];
  /** The cluster's genres, most preferred first. */
  topGenres: readonly Genre[];
  /** Share of users in the cluster (expected). */
  share: number;
}

/** One user's records: watched records, and the likes and bookmarks on some of those movies. */
export interface InteractionBatch {
  watched: WatchedDoc[];
  likes: LikeDoc[];
  bookmarks: BookmarkDoc[];
}

export const userIdOf = (index: number): string => `u${index + 1}`;
export const movieIdOf = (index: number): string => `m${index + 1}`;
/** The 0-based index of `u{n}` (or -1 if the id has another shape). */
export function userIndexOf(userId: string): number {
  return /^u[1-9][0-9]*$/.test(userId) ? Number(userId.slice(1)) - 1 : -1;
}
export function movieIndexOf(movieId: string): number {
  return /^m[1-9][0-9]*$/.test(movieId) ? Number(movieId.slice(1)) - 1 : -1;
}

/** Builds the world (taste clusters, latent factors, popularity, activity); O(users + movies) memory. */
export function createSyntheticWorld(params: WorldParams): SyntheticWorld {
  return new SyntheticWorld(validateWorldParams(params));
}

export class SyntheticWorld {
  readonly params: ResolvedWorldParams;
  readonly clusters: readonly TasteCluster[];

  private readonly D = LATENT_DIMS;
  private readonly genreEmbedding: Float64Array;
  private readonly clusterCentre: Float64Array;
  private readonly movieGenreIdx: number[][];
  private readonly movieVec: Float64Array;
  private readonly movieQuality: Float64Array;
  private readonly movieRating: Float64Array;
  private readonly movieYear: Int32Array;
  private readonly popLog: Float64Array;
  private readonly maxMovieNorm: number;
  private readonly genreMatch: Float64Array; // [cluster * movies + movie]
  private readonly clusterAlias: AliasTable[];
  private readonly userCluster: Uint8Array;
  private readonly userVec: Float64Array;
  private readonly userFavoriteCount: Uint8Array; // 1-3
  private readonly userStatesFavorites: Uint8Array; // 0/1
  private readonly userJoinedAt: Float64Array;
  private readonly userCount: Int32Array;
  private readonly affinityMean: number;
  private readonly affinitySd: number;
  // Scratch for sampling without replacement (one user at a time).
  private readonly stamp: Int32Array;
  private stampValue = 0;
  private readonly eps: Float64Array;
  private keys: Float64Array | undefined;

  constructor(params: ResolvedWorldParams) {
    this.params = params;
    const { seed, users: U, movies: M } = params;
    const D = this.D;
    const G = GENRES.length;
    const K = CLUSTER_COUNT;
    const world = new Rng(seed, Stream.World);
    const freqTotal = GENRE_FREQUENCY.reduce((a, b) => a + b, 0);

    // Genre embeddings.
    this.genreEmbedding = new Float64Array(G * D);
    for (let i = 0; i < G * D; i++) this.genreEmbedding[i] = world.normal() / Math.sqrt(D);

    // Taste clusters: a distinct primary genre each, two secondary ones, the rest spread by genre frequency.
    const major = GENRES.map((_, g) => g).filter((g) => GENRE_FREQUENCY[g] >= 50);
    shuffle(major, world);
    const clusters: TasteCluster[] = [];
    const shares = Array.from({ length: K }, () => 0.5 + world.next());
    const shareTotal = shares.reduce((a, b) => a + b, 0);
    this.clusterCentre = new Float64Array(K * D);
    for (let k = 0; k < K; k++) {
      const weights = GENRE_FREQUENCY.map((f) => (0.28 * f) / freqTotal);
      const primary = major[k % major.length];
      const chosen = [primary];
      while (chosen.length < 3) {
        const g = weightedPick(GENRE_FREQUENCY, world, chosen);
        chosen.push(g);
      }
      weights[chosen[0]] += 0.4;
      weights[chosen[1]] += 0.2;
      weights[chosen[2]] += 0.12;
      const order = weights.map((_, g) => g).sort((a, b) => weights[b] - weights[a] || a - b);
      clusters.push({
        index: k,
        genreWeights: weights,
        topGenres: order.map((g) => GENRES[g]),
        share: shares[k] / shareTotal,
      });
      const centre = this.clusterCentre.subarray(k * D, (k + 1) * D);
      for (let g = 0; g < G; g++) for (let d = 0; d < D; d++) centre[d] += weights[g] * this.genreEmbedding[g * D + d];
      const norm = Math.hypot(...centre) || 1;
      for (let d = 0; d < D; d++) centre[d] = centre[d] / norm + (CENTRE_NOISE * world.normal()) / Math.sqrt(D);
    }
    this.clusters = clusters;

    // Movies: 1-3 genres by genre frequency, latent = mean genre embedding + noise, quality → rating.
    this.movieGenreIdx = new Array(M);
    this.movieVec = new Float64Array(M * D);
    this.movieQuality = new Float64Array(M);
    this.movieRating = new Float64Array(M);
    this.movieYear = new Int32Array(M);
    const nowYear = new Date(params.now).getUTCFullYear();
    let maxNorm = 0;
    for (let m = 0; m < M; m++) {
      const rng = new Rng(seed, Stream.Movie, m);
      const r = rng.next();
      const count = r < 0.45 ? 1 : r < 0.85 ? 2 : 3;
      const genres: number[] = [];
      while (genres.length < count) genres.push(weightedPick(GENRE_FREQUENCY, rng, genres));
      genres.sort((a, b) => a - b);
      this.movieGenreIdx[m] = genres;
      const v = this.movieVec.subarray(m * D, (m + 1) * D);
      for (const g of genres) for (let d = 0; d < D; d++) v[d] += this.genreEmbedding[g * D + d] / Math.sqrt(count);
      for (let d = 0; d < D; d++) v[d] += (MOVIE_NOISE * rng.normal()) / Math.sqrt(D);
      // Unit length: the latent part of the affinity is then the user's taste along the movie's direction, and the
      // rejection sampler's bound (user deviation × longest movie vector) stays tight.
      const norm = Math.hypot(...v) || 1;
      for (let d = 0; d < D; d++) v[d] /= norm;
      maxNorm = Math.max(maxNorm, Math.hypot(...v));
      const q = rng.normal();
      this.movieQuality[m] = q;
      this.movieRating[m] = Math.min(10, Math.max(1, Math.round((6.4 + 1.3 * q) * 10) / 10));
      this.movieYear[m] = nowYear - Math.floor(90 * rng.next() ** 2);
    }
    this.maxMovieNorm = maxNorm;

    // Long-tail popularity: Zipf over a ranking that slightly favours better movies.
    const key = new Float64Array(M);
    for (let m = 0; m < M; m++) key[m] = 0.6 * this.movieQuality[m] + world.normal();
    const byKey = Array.from({ length: M }, (_, m) => m).sort((a, b) => key[b] - key[a] || a - b);
    this.popLog = new Float64Array(M);
    byKey.forEach((m, rank) => (this.popLog[m] = -ZIPF_EXPONENT * Math.log(rank + 1)));

    // Per cluster: genre match of every movie, and the sampling proposal (the cluster centre's logits).
    this.genreMatch = new Float64Array(K * M);
    this.clusterAlias = [];
    for (let k = 0; k < K; k++) {
      const w = clusters[k].genreWeights;
      const logits = new Float64Array(M);
      let max = -Infinity;
      for (let m = 0; m < M; m++) {
        let match = 0;
        for (const g of this.movieGenreIdx[m]) match += w[g];
        this.genreMatch[k * M + m] = match;
        logits[m] = SAMPLING_TEMPERATURE * this.rawAffinityOf(this.clusterCentre, k * D, k, m) + this.popLog[m];
        max = Math.max(max, logits[m]);
      }
      for (let m = 0; m < M; m++) logits[m] = Math.exp(logits[m] - max);
      this.clusterAlias.push(new AliasTable(logits));
    }

    // Users: cluster, latent = centre + noise, activity, favourite genres, when they joined.
    this.userCluster = new Uint8Array(U);
    this.userVec = new Float64Array(U * D);
    this.userFavoriteCount = new Uint8Array(U);
    this.userStatesFavorites = new Uint8Array(U);
    this.userJoinedAt = new Float64Array(U);
    const activity = new Float64Array(U);
    const cumulative: number[] = [];
    for (const c of clusters) cumulative.push((cumulative.at(-1) ?? 0) + c.share);
    for (let u = 0; u < U; u++) {
      const rng = new Rng(seed, Stream.User, u);
      const r = rng.next();
      let k = 0;
      while (k < K - 1 && r >= cumulative[k]) k++;
      this.userCluster[u] = k;
      for (let d = 0; d < D; d++) {
        this.userVec[u * D + d] = this.clusterCentre[k * D + d] + (USER_NOISE * rng.normal()) / Math.sqrt(D);
      }
      activity[u] = Math.exp(ACTIVITY_SIGMA * rng.normal());
      this.userStatesFavorites[u] = rng.next() < FAVORITE_GENRES_SHARE ? 1 : 0;
      this.userFavoriteCount[u] = 1 + rng.int(3);
      this.userJoinedAt[u] = Math.round(params.now - WINDOW_MS * Math.sqrt(rng.next()));
    }
    this.userCount = allocate(params.interactions, activity, maxInteractionsPerUser(M));

    // Standardise the affinity over random (user, movie) pairs.
    const cal = new Rng(seed, Stream.Calibration);
    const samples = 20_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < samples; i++) {
      const a = this.rawAffinity(cal.int(U), cal.int(M));
      sum += a;
      sumSq += a * a;
    }
    this.affinityMean = sum / samples;
    this.affinitySd = Math.sqrt(Math.max(sumSq / samples - this.affinityMean ** 2, 1e-12));

    this.stamp = new Int32Array(M);
    this.eps = new Float64Array(D);
  }

  // -------------------------------------------------------------------------------------------------------------
  // The planted tastes
  // -------------------------------------------------------------------------------------------------------------

  private rawAffinityOf(vectors: Float64Array, offset: number, cluster: number, m: number): number {
    const D = this.D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += vectors[offset + d] * this.movieVec[m * D + d];
    return (
      dot + GENRE_MATCH_WEIGHT * this.genreMatch[cluster * this.params.movies + m] + QUALITY_WEIGHT * this.movieQuality[m]
    );
  }

  private rawAffinity(u: number, m: number): number {
    return this.rawAffinityOf(this.userVec, u * this.D, this.userCluster[u], m);
  }

  private checkIndices(u: number, m: number): void {
    if (!Number.isInteger(u) || u < 0 || u >= this.params.users) throw new RangeError(`user index ${u} out of range`);
    if (!Number.isInteger(m) || m < 0 || m >= this.params.movies) throw new RangeError(`movie index ${m} out of range`);
  }

  /**
   * How much user `u` likes movie `m` (0-based indices): latent factors · + genre match + movie quality, standardised
   * so that random (user, movie) pairs have mean 0 and standard deviation 1. Popularity is not part of it.
   */
  affinity(u: number, m: number): number {
    this.checkIndices(u, m);
    return (this.rawAffinity(u, m) - this.affinityMean) / this.affinitySd;
  }

  /** Probability that `u` likes `m` if shown it: sigmoid(2 × (affinity − 1.5)). */
  likeProbability(u: number, m: number): number {
    return likeProbability(this.affinity(u, m));
  }

  /** Draws whether `u` likes `m` (the same model that made the generated likes). */
  wouldLike(u: number, m: number, rng: RandomSource): boolean {
    return draw(rng) < this.likeProbability(u, m);
  }

  clusterOf(u: number): number {
    this.checkIndices(u, 0);
    return this.userCluster[u];
  }

  /** The user's planted favourite genres: the top 1-3 genres of their cluster (also for users whose doc has none). */
  favoriteGenres(u: number): Genre[] {
    this.checkIndices(u, 0);
    return this.clusters[this.userCluster[u]].topGenres.slice(0, this.userFavoriteCount[u]);
  }

  /** Whether the user's document states the favourite genres (about 70% of users do). */
  statesFavoriteGenres(u: number): boolean {
    this.checkIndices(u, 0);
    return this.userStatesFavorites[u] === 1;
  }

  movieGenres(m: number): Genre[] {
    this.checkIndices(0, m);
    return this.movieGenreIdx[m].map((g) => GENRES[g]);
  }

  /** Number of watched records of user `u`. */
  interactionCount(u: number): number {
    this.checkIndices(u, 0);
    return this.userCount[u];
  }

  // -------------------------------------------------------------------------------------------------------------
  // Documents
  // -------------------------------------------------------------------------------------------------------------

  userDoc(u: number): UserDoc {
    const joined = new Date(this.userJoinedAt[u]);
    return {
      userId: userIdOf(u),
      favoriteGenres: this.statesFavoriteGenres(u) ? this.favoriteGenres(u) : [],
      createdAt: joined,
      updatedAt: joined,
    };
  }

  movieDoc(m: number): MovieDoc {
    this.checkIndices(0, m);
    return {
      movieId: movieIdOf(m),
      title: movieTitle(new Rng(this.params.seed, Stream.Title, m)),
      year: this.movieYear[m],
      genres: this.movieGenres(m),
      rating: this.movieRating[m],
      popularity: 0,
    };
  }

  *userBatches(batchSize: number): Generator<UserDoc[]> {
    yield* batches(this.params.users, batchSize, (u) => this.userDoc(u));
  }

  *movieBatches(batchSize: number): Generator<MovieDoc[]> {
    yield* batches(this.params.movies, batchSize, (m) => this.movieDoc(m));
  }

  /**
   * All of user `u`'s records. The user's movies are drawn without replacement with probability
   * ∝ exp(2 × affinity + log popularity); each becomes a watched record, some also a like and/or a bookmark.
   */
  userInteractions(u: number): InteractionBatch {
    this.checkIndices(u, 0);
    const out: InteractionBatch = { watched: [], likes: [], bookmarks: [] };
    const n = this.userCount[u];
    if (n === 0) return out;
    const rng = new Rng(this.params.seed, Stream.Interactions, u);
    const picks = this.sampleMovies(u, n, rng);
    const userId = userIdOf(u);
    const joined = this.userJoinedAt[u];
    const now = this.params.now;
    for (const m of picks) {
      const z = (this.rawAffinity(u, m) - this.affinityMean) / this.affinitySd;
      const movieId = movieIdOf(m);
      const watchedAt = Math.round(joined + rng.next() * (now - joined));
      out.watched.push({ userId, movieId, completed: rng.next() < completedProbability(z), watchedAt: new Date(watchedAt) });
      if (rng.next() < likeProbability(z)) {
        const rating = Math.min(10, Math.max(1, Math.round(4.5 + 1.6 * z + 1.2 * rng.normal())));
        const likedAt = Math.min(now, watchedAt + Math.round(rng.next() * 2 * 3_600_000));
        out.likes.push({ userId, movieId, rating, likedAt: new Date(likedAt) });
      }
      if (rng.next() < bookmarkProbability(z)) {
        const createdAt = Math.max(joined, watchedAt - Math.round(rng.next() * 14 * DAY_MS));
        out.bookmarks.push({ userId, movieId, createdAt: new Date(createdAt) });
      }
    }
    return out;
  }

  /**
   * Streams every interaction, users in order, in batches of exactly `batchSize` watched records (the last may be
   * smaller) with the likes and bookmarks of those records. The documents do not depend on the batch size.
   */
  *interactionBatches(batchSize: number): Generator<InteractionBatch> {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
    let batch: InteractionBatch = { watched: [], likes: [], bookmarks: [] };
    for (let u = 0; u < this.params.users; u++) {
      if (this.userCount[u] === 0) continue;
      const records = this.userInteractions(u);
      let li = 0;
      let bi = 0;
      for (const w of records.watched) {
        batch.watched.push(w);
        // Likes and bookmarks were made in watched order: move those of this movie along with it.
        while (li < records.likes.length && records.likes[li].movieId === w.movieId) batch.likes.push(records.likes[li++]);
        while (bi < records.bookmarks.length && records.bookmarks[bi].movieId === w.movieId) {
          batch.bookmarks.push(records.bookmarks[bi++]);
        }
        if (batch.watched.length === batchSize) {
          yield batch;
          batch = { watched: [], likes: [], bookmarks: [] };
        }
      }
    }
    if (batch.watched.length) yield batch;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Sampling without replacement
  // -------------------------------------------------------------------------------------------------------------

  /**
   * n distinct movies for user u, drawn one after another ∝ exp(logit) over the movies not yet drawn. Light users:
   * rejection sampling from the cluster's alias table (the proposal is the cluster centre's logits; the user's own
   * deviation ε is accepted with exp(2ε·v − bound), bound from Cauchy-Schwarz), O(n) per user. Heavy users (more
   * than 1/32 of the catalogue) or a rejection run that stalls: Gumbel-top-n over all movies, the same distribution.
   */
  private sampleMovies(u: number, n: number, rng: Rng): Int32Array {
    const M = this.params.movies;
    if (n * HEAVY_SHARE > M) return this.gumbelTopN(u, n, rng);
    const D = this.D;
    const k = this.userCluster[u];
    const eps = this.eps;
    let epsNorm2 = 0;
    for (let d = 0; d < D; d++) {
      eps[d] = this.userVec[u * D + d] - this.clusterCentre[k * D + d];
      epsNorm2 += eps[d] * eps[d];
    }
    const bound = SAMPLING_TEMPERATURE * Math.sqrt(epsNorm2) * this.maxMovieNorm;
    const alias = this.clusterAlias[k];
    const mark = ++this.stampValue;
    const picks = new Int32Array(n);
    const budget = 64 * n + 256;
    let got = 0;
    for (let attempts = 0; got < n; attempts++) {
      if (attempts > budget) return this.gumbelTopN(u, n, rng);
      const m = alias.sample(rng);
      if (this.stamp[m] === mark) continue;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += eps[d] * this.movieVec[m * D + d];
      if (rng.next() >= Math.exp(SAMPLING_TEMPERATURE * dot - bound)) continue;
      this.stamp[m] = mark;
      picks[got++] = m;
    }
    return picks;
  }

  private gumbelTopN(u: number, n: number, rng: Rng): Int32Array {
    const M = this.params.movies;
    const keys = (this.keys ??= new Float64Array(M));
    for (let m = 0; m < M; m++) {
      const gumbel = -Math.log(-Math.log(1 - rng.next()) || Number.MIN_VALUE);
      keys[m] = SAMPLING_TEMPERATURE * this.rawAffinity(u, m) + this.popLog[m] + gumbel;
    }
    // The n-th largest key by a native numeric sort, then only the n winners sorted by key (largest first).
    const threshold = keys.slice().sort()[M - n];
    const picks = new Int32Array(n);
    let got = 0;
    for (let m = 0; m < M && got < n; m++) if (keys[m] >= threshold) picks[got++] = m;
    return picks.sort((a, b) => keys[b] - keys[a] || a - b);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

function* batches<T>(count: number, batchSize: number, make: (i: number) => T): Generator<T[]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    const out: T[] = [];
    for (let i = start; i < end; i++) out.push(make(i));
    yield out;
  }
}

function shuffle<T>(items: T[], rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
}

/** An index drawn ∝ weights, skipping the excluded ones. */
function weightedPick(weights: readonly number[], rng: Rng, exclude: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) if (!exclude.includes(i)) total += weights[i];
  let r = rng.next() * total;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    if (exclude.includes(i)) continue;
    last = i;
    r -= weights[i];
    if (r < 0) return i;
  }
  return last;
}

/**
 * Splits `total` into integer counts ∝ weights with none above `cap` (water-filling, then largest remainders).
 * Requires total ≤ cap × weights.length.
 */
function allocate(total: number, weights: Float64Array, cap: number): Int32Array {
  const n = weights.length;
  const target = new Float64Array(n);
  const capped = new Uint8Array(n);
  let remaining = total;
  for (let round = 0; round < 64 && remaining > 1e-9; round++) {
    let free = 0;
    for (let i = 0; i < n; i++) if (!capped[i]) free += weights[i];
    if (free <= 0) break;
    let overflow = 0;
    for (let i = 0; i < n; i++) {
      if (capped[i]) continue;
      target[i] += (remaining * weights[i]) / free;
      if (target[i] >= cap) {
        overflow += target[i] - cap;
        target[i] = cap;
        capped[i] = 1;
      }
    }
    remaining = overflow;
  }
  const counts = new Int32Array(n);
  let assigned = 0;
  for (let i = 0; i < n; i++) {
    counts[i] = Math.min(cap, Math.floor(target[i] + 1e-9));
    assigned += counts[i];
  }
  const byFraction = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => target[b] - counts[b] - (target[a] - counts[a]) || a - b,
  );
  for (let i = 0; assigned < total; i = (i + 1) % n) {
    const idx = byFraction[i];
    if (counts[idx] < cap) {
      counts[idx]++;
      assigned++;
    }
  }
  return counts;
}

const ADJECTIVES = [
  'Silent', 'Broken', 'Golden', 'Last', 'Hidden', 'Crimson', 'Distant', 'Wild', 'Midnight', 'Frozen', 'Lost',
  'Electric', 'Secret', 'Burning', 'Quiet', 'Endless', 'Savage', 'Little', 'Iron', 'Velvet', 'Hollow', 'Shattered',
  'Forgotten', 'Restless', 'Scarlet', 'Blue', 'Dark', 'Brave', 'Lonely', 'Final', 'Paper', 'Glass', 'Eternal',
  'Northern', 'Stolen', 'Strange', 'Sweet', 'Bitter', 'Wandering', 'Falling',
];
const NOUNS = [
  'River', 'City', 'Heart', 'Road', 'Kingdom', 'Shadow', 'Storm', 'Garden', 'Empire', 'Promise', 'Harbor', 'Mirror',
  'Winter', 'Summer', 'Horizon', 'Dream', 'Machine', 'Ghost', 'Island', 'Tower', 'Frontier', 'Witness', 'Signal',
  'Orchard', 'Circus', 'Station', 'Letter', 'Crown', 'Forest', 'Voyage', 'Secret', 'Echo', 'Engine', 'Desert',
  'Lighthouse', 'Stranger', 'Night', 'Planet', 'Highway', 'Symphony', 'Canyon', 'Bridge', 'Moon', 'Outlaw', 'Detective',
];
const PLACES = [
  'Paris', 'Tokyo', 'the North', 'Avalon', 'Brooklyn', 'Casablanca', 'the Valley', 'Mars', 'Eden', 'Vienna',
  'the Deep', 'Santa Fe', 'Atlantis', 'Harlem', 'the Coast', 'Shanghai', 'Marrakesh', 'the Moor', 'Memphis', 'Lisbon',
];
const NAMES = [
  'Anna', 'Jack', 'Rosa', 'Victor', 'Clara', 'Leo', 'Maya', 'Oscar', 'Iris', 'Felix', 'Nora', 'Hugo', 'Ada', 'Max',
  'Vera', 'Theo', 'Lena', 'Sam', 'Mona', 'Ray',
];
const SEQUELS = ['II', 'III', 'IV', 'Returns', 'Reloaded', 'Rising'];

function movieTitle(rng: Rng): string {
  const pick = (words: readonly string[]) => words[rng.int(words.length)];
  let title: string;
  switch (rng.int(7)) {
    case 0:
      title = `The ${pick(ADJECTIVES)} ${pick(NOUNS)}`;
      break;
    case 1:
      title = `${pick(NOUNS)} of ${pick(PLACES)}`;
      break;
    case 2:
      title = `${pick(NAMES)}'s ${pick(NOUNS)}`;
      break;
    case 3:
      title = `${pick(ADJECTIVES)} ${pick(NOUNS)}s`;
      break;
    case 4:
      title = `The ${pick(NOUNS)} and the ${pick(NOUNS)}`;
      break;
    case 5:
      title = `${pick(ADJECTIVES)} in ${pick(PLACES)}`;
      break;
    default:
      title = `${pick(NOUNS)}`;
  }
  return rng.next() < 0.08 ? `${title} ${pick(SEQUELS)}` : title;
}
