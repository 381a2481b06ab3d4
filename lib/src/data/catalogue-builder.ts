import { MAX_FAVORITE_GENRES } from '../domain.js';
import { InvalidArgumentError } from '../errors.js';
import type { BookmarkDoc, LikeDoc, MovieDoc, Store, UserDoc, WatchedDoc } from '../store/types.js';
import { prepareStore } from './generate.js';

/**
 * The part every importer shares (MovieLens 100k, MovieLens CSV, the own-catalogue format): the movie table, catalogue
 * hygiene, the two passes over the interactions and the writes.
 *
 * 1. The source's movies are added (`addMovie`), then `finishMovies()` applies the hygiene rules:
 *    - **placeholders** (a title that is empty, "unknown", "n/a", "tba", "tbd" or "?") are not imported, nor are the
 *      interactions on them (counted in the summary);
 *    - **duplicates**: movies with the same normalised title (Unicode NFKC, case, spacing, a trailing ", The"-style
 *      article) and the same year are one film, unless both carry different IMDb ids; movies with the same IMDb id are
 *      one film whatever their titles. The film keeps its first id in file order (the **canonical id**), the others
 *      become `aliasIds` on the movie document; their genres are merged into it. Interactions on an alias are stored
 *      under the canonical id; a user's interactions of one type on several ids of one film become one (the highest
 *      value, then the latest). So a user is never offered a film they rated under its other id, and no list can show
 *      a film twice.
 * 2. Pass 1 (`check`) reads every interaction (in batches: one await per batch, not per line), validates it (the source throws InvalidArgumentError with file and line)
 *    and gathers per-movie rating sums and per-user totals. Nothing is written before pass 1 ended.
 * 3. `prepare(store, reset)` clears the store (reset) or checks it is empty.
 * 4. Pass 2 (`write`) reads the interactions again and writes them in unordered bulk batches; then the movies, the users
 *    (favourite genres: the up to 3 genres with the most movies the user rated 8-10 of 10 or liked, ties by the number
 *    of the user's interactions in the genre, then by the genre's first appearance in the movie file) and popularity.
 *
 * Memory: the movie table, per user a first time and two counters per genre, and the (user, film) pairs of films that
 * have aliases; never the interactions (see UserTable; measured by bench/import.ts).
 */

export type InteractionType = 'watched' | 'rated' | 'liked' | 'bookmarked';
export const INTERACTION_TYPES: readonly InteractionType[] = ['watched', 'rated', 'liked', 'bookmarked'];

export interface SourceMovie {
  movieId: string;
  title: string;
  year: number;
  genres: readonly string[];
  imdbId?: string;
  tmdbId?: string;
  tags?: string[];
}

/** One interaction as read from a source; `where` is "file line N" for messages. */
export interface SourceInteraction {
  lineNo: number;
  userId: string;
  movieId: string;
  type: InteractionType;
  /** watched: 1 = to the end, below 1 = partly; rated/liked: 1-10; bookmarked: ignored. */
  value: number;
  /** Milliseconds since the epoch. */
  at: number;
  /** MovieLens: a rating also counts as a completed view (a watched record besides the like). */
  alsoWatched?: boolean;
}

export interface ImportProgress {
  phase: 'checking' | 'writing' | 'movies' | 'users' | 'popularity';
  /** Interactions read in this phase so far (reported after the batch that passes each multiple of progressEvery). */
  done: number;
  /** Interactions in total (known after the checking phase; 0 during it). */
  total: number;
}

export interface ImportSummary {
  users: number;
  movies: number;
  likes: number;
  watched: number;
  bookmarks: number;
  popularityUpdated: number;
  /** Interactions read (lines). */
  interactions: number;
  /** Movies not imported because they are placeholders. */
  placeholders: string[];
  /** alias id → canonical id, for every duplicate merged. */
  aliases: Record<string, string>;
  /** Interactions dropped: on placeholders, or merged into another of the same user on another id of the film. */
  droppedOnPlaceholders: number;
  mergedDuplicates: number;
}

export interface CatalogueHygieneOptions {
  /** Merge duplicates and drop placeholders (default true). False imports every movie as it is. */
  hygiene?: boolean;
}

const PLACEHOLDER_TITLES = new Set(['', 'unknown', 'n/a', 'na', 'tba', 'tbd', '?', '-']);

export function isPlaceholderTitle(title: string): boolean {
  return PLACEHOLDER_TITLES.has(title.trim().toLowerCase());
}

/** "Ice Storm, The" and "The Ice Storm" → "the ice storm"; NFKC, lower case, single spaces. */
export function normaliseTitle(title: string): string {
  let t = title.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
  const article = /^(.*), (the|a|an|les|la|le|l'|il|el|der|die|das|los|las)$/.exec(t);
  if (article) t = `${article[2]}${article[2].endsWith("'") ? '' : ' '}${article[1]}`;
  return t;
}

interface MovieRow {
  movie: SourceMovie;
  genreIdx: number[];
  aliasIds: string[];
  ratingSum: number;
  ratingCount: number;
  hasAliases: boolean;
}

/**
 * Per user: the first interaction time and, per genre, the number of interactions and of positive ones (rated 8-10
 * or liked), in flat typed arrays indexed by the user's number (a Map entry, a string and 8 bytes per genre per user:
 * ml-32m's 200k users × 20 genres ≈ 32 MB of counters, not a pair of small typed arrays per user).
 */
class UserTable {
  private readonly index = new Map<string, number>();
  readonly ids: string[] = [];
  private firstAt = new Float64Array(1024);
  /** [user × genres × 2]: (any, positive) per genre. */
  private counts = new Int32Array(0);

  constructor(private readonly genres: number) {
    this.counts = new Int32Array(1024 * genres * 2);
  }

  get size(): number {
    return this.ids.length;
  }

  /** The user's number, created on first sight; `at` lowers the first time. */
  touch(userId: string, at: number): number {
    let u = this.index.get(userId);
    if (u === undefined) {
      u = this.ids.length;
      if (u === this.firstAt.length) {
        const firstAt = new Float64Array(u * 2);
        firstAt.set(this.firstAt);
        this.firstAt = firstAt;
        const counts = new Int32Array(u * 2 * this.genres * 2);
        counts.set(this.counts);
        this.counts = counts;
      }
      this.index.set(userId, u);
      this.ids.push(userId);
      this.firstAt[u] = at;
    } else if (at < this.firstAt[u]) {
      this.firstAt[u] = at;
    }
    return u;
  }

  add(u: number, genre: number, positive: boolean): void {
    const k = (u * this.genres + genre) * 2;
    this.counts[k]++;
    if (positive) this.counts[k + 1]++;
  }

  any(u: number, genre: number): number {
    return this.counts[(u * this.genres + genre) * 2];
  }

  positive(u: number, genre: number): number {
    return this.counts[(u * this.genres + genre) * 2 + 1];
  }

  first(u: number): number {
    return this.firstAt[u];
  }
}

interface PairChoice {
  lineNo: number;
  type: InteractionType;
  value: number;
  at: number;
  count: number;
}

/** The collection an interaction type is stored in: one kept per (user, film, kind) when a film has aliases. */
function docKind(type: InteractionType): 'watched' | 'like' | 'bookmark' {
  return type === 'watched' ? 'watched' : type === 'bookmarked' ? 'bookmark' : 'like';
}

export class CatalogueBuilder {
  private readonly rows = new Map<string, MovieRow>();
  /** Every source id → its row (aliases → the canonical row); placeholders → null. */
  private readonly resolved = new Map<string, MovieRow | null>();
  private readonly genreNames: string[] = [];
  private readonly genreIndex = new Map<string, number>();
  private users = new UserTable(0);
  /** `${user}\0${canonical}\0${type}` → the interaction kept, for films with aliases only. */
  private readonly pairs = new Map<string, PairChoice>();
  private readonly order: MovieRow[] = [];
  private finished = false;
  private interactions = 0;
  private droppedOnPlaceholders = 0;
  private mergedDuplicates = 0;
  readonly placeholders: string[] = [];
  readonly aliases: Record<string, string> = {};

  constructor(private readonly options: CatalogueHygieneOptions = {}) {}

  /** Adds a movie of the source file; a repeated id is an error naming `where`. */
  addMovie(movie: SourceMovie, where: string): void {
    if (this.finished) throw new Error('addMovie after finishMovies');
    if (this.resolved.has(movie.movieId)) throw new InvalidArgumentError(`${where}: duplicate movie id ${movie.movieId}`);
    const genreIdx: number[] = [];
    for (const g of movie.genres) {
      let i = this.genreIndex.get(g);
      if (i === undefined) {
        i = this.genreNames.length;
        this.genreNames.push(g);
        this.genreIndex.set(g, i);
      }
      if (!genreIdx.includes(i)) genreIdx.push(i);
    }
    const row: MovieRow = { movie, genreIdx, aliasIds: [], ratingSum: 0, ratingCount: 0, hasAliases: false };
    this.resolved.set(movie.movieId, row);
    this.order.push(row);
  }

  get movieCount(): number {
    return this.resolved.size;
  }

  /** The genres in order of first appearance. */
  get genres(): readonly string[] {
    return this.genreNames;
  }

  /** Applies the hygiene rules (placeholders, duplicates); call once, after the last addMovie. */
  finishMovies(): void {
    if (this.finished) return;
    this.finished = true;
    this.users = new UserTable(this.genreNames.length);
    const hygiene = this.options.hygiene ?? true;
    const byTitle = new Map<string, MovieRow[]>();
    const byImdb = new Map<string, MovieRow>();
    for (const row of this.order) {
      const m = row.movie;
      if (hygiene && isPlaceholderTitle(m.title)) {
        this.resolved.set(m.movieId, null);
        this.placeholders.push(m.movieId);
        continue;
      }
      if (hygiene) {
        const sameImdb = m.imdbId ? byImdb.get(m.imdbId) : undefined;
        const key = `${normaliseTitle(m.title)}\u0000${m.year}`;
        const candidates = byTitle.get(key) ?? [];
        const sameTitle = candidates.find((c) => !c.movie.imdbId || !m.imdbId || c.movie.imdbId === m.imdbId);
        const canonical = sameImdb ?? sameTitle;
        if (canonical) {
          this.mergeInto(canonical, row);
          continue;
        }
        candidates.push(row);
        byTitle.set(key, candidates);
        if (m.imdbId) byImdb.set(m.imdbId, row);
      }
      this.rows.set(m.movieId, row);
    }
  }

  private mergeInto(canonical: MovieRow, alias: MovieRow): void {
    canonical.aliasIds.push(alias.movie.movieId);
    canonical.hasAliases = true;
    for (const g of alias.genreIdx) if (!canonical.genreIdx.includes(g)) canonical.genreIdx.push(g);
    if (!canonical.movie.imdbId && alias.movie.imdbId) canonical.movie = { ...canonical.movie, imdbId: alias.movie.imdbId };
    if (!canonical.movie.tmdbId && alias.movie.tmdbId) canonical.movie = { ...canonical.movie, tmdbId: alias.movie.tmdbId };
    this.resolved.set(alias.movie.movieId, canonical);
    this.aliases[alias.movie.movieId] = canonical.movie.movieId;
  }

  /** Attaches extra data (links.csv ids, tags) to a movie read earlier; false when the id is unknown. */
  updateMovie(movieId: string, patch: Partial<Pick<SourceMovie, 'imdbId' | 'tmdbId' | 'tags'>>): boolean {
    if (this.finished) throw new Error('updateMovie after finishMovies');
    const row = this.resolved.get(movieId);
    if (!row) return false;
    row.movie = { ...row.movie, ...patch };
    return true;
  }

  /**
   * The canonical row of a movie id: undefined when the id is not in the movie file (the caller reports the line),
   * null for a placeholder.
   */
  private resolve(movieId: string): MovieRow | null | undefined {
    return this.resolved.get(movieId);
  }

  /**
   * Pass 1: checks every interaction (the source validates fields) and gathers the totals. An interaction on a movie
   * id the movie file does not hold is an InvalidArgumentError, or passed to `onError` (and skipped) when given.
   */
  async check(
    interactions: AsyncIterable<readonly SourceInteraction[]>,
    label: string,
    onProgress?: (p: ImportProgress) => void,
    progressEvery = 100_000,
    onError?: (message: string) => void,
  ): Promise<number> {
    this.finishMovies();
    let n = 0;
    let nextReport = progressEvery;
    for await (const batch of interactions) {
      for (const it of batch) {
        n++;
        const row = this.resolve(it.movieId);
        if (row === undefined) {
          const message = `${label} line ${it.lineNo}: movie ${it.movieId} is not in the movie file`;
          if (!onError) throw new InvalidArgumentError(message);
          onError(message);
          continue;
        }
        if (row === null) {
          this.droppedOnPlaceholders++;
          continue;
        }
        if (row.hasAliases) {
          // Decided after the pass (the kept interaction of a pair is known only then); tallied in tallyPairs().
          const key = `${it.userId}\u0000${row.movie.movieId}\u0000${docKind(it.type)}`;
          const prev = this.pairs.get(key);
          if (!prev) this.pairs.set(key, { lineNo: it.lineNo, type: it.type, value: it.value, at: it.at, count: 1 });
          else {
            prev.count++;
            if (it.value > prev.value || (it.value === prev.value && it.at > prev.at)) {
              Object.assign(prev, { lineNo: it.lineNo, type: it.type, value: it.value, at: it.at });
            }
          }
          this.users.touch(it.userId, it.at);
          continue;
        }
        this.tally(row, it.userId, it.type, it.value, it.at);
      }
      if (onProgress && n >= nextReport) {
        onProgress({ phase: 'checking', done: n, total: 0 });
        nextReport = (Math.floor(n / progressEvery) + 1) * progressEvery;
      }
    }
    this.tallyPairs();
    this.interactions = n;
    onProgress?.({ phase: 'checking', done: n, total: n });
    return n;
  }

  private tallyPairs(): void {
    for (const [key, choice] of this.pairs) {
      const [userId, movieId] = key.split('\u0000');
      this.mergedDuplicates += choice.count - 1;
      this.tally(this.rows.get(movieId)!, userId, choice.type, choice.value, choice.at);
    }
  }

  private tally(row: MovieRow, userId: string, type: InteractionType, value: number, at: number): void {
    const u = this.users.touch(userId, at);
    const rated = type === 'rated' || type === 'liked';
    if (rated) {
      row.ratingSum += value;
      row.ratingCount++;
    }
    const positive = rated && value >= 8;
    for (const g of row.genreIdx) this.users.add(u, g, positive);
  }

  /** Clears the store (reset) or checks it is empty (FailedPreconditionError): after pass 1, before pass 2. */
  async prepare(store: Store, reset: boolean): Promise<void> {
    await prepareStore(store, reset);
  }

  /** Pass 2: the interactions again (the same sequence as pass 1), written in batches. */
  async write(
    store: Store,
    interactions: AsyncIterable<readonly SourceInteraction[]>,
    batchSize: number,
    onProgress?: (p: ImportProgress) => void,
    progressEvery = 100_000,
  ): Promise<ImportSummary> {
    let likes: LikeDoc[] = [];
    let watched: WatchedDoc[] = [];
    let bookmarks: BookmarkDoc[] = [];
    const counts = { likes: 0, watched: 0, bookmarks: 0 };
    const flush = async () => {
      await store.insertMany('watched_movies', watched);
      await store.insertMany('likes', likes);
      await store.insertMany('bookmarks', bookmarks);
      counts.watched += watched.length;
      counts.likes += likes.length;
      counts.bookmarks += bookmarks.length;
      watched = [];
      likes = [];
      bookmarks = [];
    };
    let n = 0;
    let nextReport = progressEvery;
    for await (const batch of interactions) {
      for (const it of batch) {
        n++;
        const row = this.resolve(it.movieId);
        if (!row) continue; // placeholders (pass 1 rejected unknown ids)
        const movieId = row.movie.movieId;
        if (row.hasAliases) {
          const choice = this.pairs.get(`${it.userId}\u0000${movieId}\u0000${docKind(it.type)}`);
          if (!choice || choice.lineNo !== it.lineNo) continue;
        }
        const at = new Date(it.at);
        switch (it.type) {
          case 'watched':
            watched.push({ userId: it.userId, movieId, completed: it.value >= 1, watchedAt: at });
            break;
          case 'rated':
          case 'liked':
            likes.push({ userId: it.userId, movieId, rating: it.value, likedAt: at });
            if (it.alsoWatched) watched.push({ userId: it.userId, movieId, completed: true, watchedAt: at });
            break;
          case 'bookmarked':
            bookmarks.push({ userId: it.userId, movieId, createdAt: at });
            break;
        }
        if (watched.length + likes.length + bookmarks.length >= batchSize) await flush();
      }
      if (onProgress && n >= nextReport) {
        onProgress({ phase: 'writing', done: n, total: this.interactions });
        nextReport = (Math.floor(n / progressEvery) + 1) * progressEvery;
      }
    }
    await flush();
    onProgress?.({ phase: 'writing', done: n, total: this.interactions });

    onProgress?.({ phase: 'movies', done: n, total: this.interactions });
    const movieDocs = this.movieDocs();
    for (let i = 0; i < movieDocs.length; i += batchSize) await store.insertMany('movies', movieDocs.slice(i, i + batchSize));

    onProgress?.({ phase: 'users', done: n, total: this.interactions });
    let users = 0;
    for (const docs of this.userDocBatches(batchSize)) {
      await store.insertMany('users', docs);
      users += docs.length;
    }

    onProgress?.({ phase: 'popularity', done: n, total: this.interactions });
    const popularityUpdated = await store.refreshPopularity();
    return {
      users,
      movies: movieDocs.length,
      likes: counts.likes,
      watched: counts.watched,
      bookmarks: counts.bookmarks,
      popularityUpdated,
      interactions: this.interactions,
      placeholders: [...this.placeholders],
      aliases: { ...this.aliases },
      droppedOnPlaceholders: this.droppedOnPlaceholders,
      mergedDuplicates: this.mergedDuplicates,
    };
  }

  /** The movie documents (canonical movies only), in file order. */
  movieDocs(): MovieDoc[] {
    return [...this.rows.values()].map((row) => {
      const m = row.movie;
      const doc: MovieDoc = {
        movieId: m.movieId,
        title: m.title,
        year: m.year,
        genres: row.genreIdx.map((g) => this.genreNames[g]),
        rating: row.ratingCount ? Math.round((row.ratingSum / row.ratingCount) * 1000) / 1000 : 0,
        popularity: 0,
      };
      if (m.imdbId) {
        doc.imdbId = m.imdbId;
        doc.imdbUrl = `https://www.imdb.com/title/${m.imdbId}/`;
      }
      if (m.tmdbId) doc.tmdbId = m.tmdbId;
      if (m.tags?.length) doc.tags = m.tags;
      if (row.aliasIds.length) doc.aliasIds = [...row.aliasIds];
      return doc;
    });
  }

  /**
   * Users who have at least one imported interaction, with favourite genres from their interactions, in batches
   * (never all user documents at once: 200k in ml-32m).
   */
  *userDocBatches(batchSize: number): Generator<UserDoc[]> {
    let docs: UserDoc[] = [];
    for (let u = 0; u < this.users.size; u++) {
      const at = new Date(this.users.first(u));
      docs.push({ userId: this.users.ids[u], favoriteGenres: this.favoriteGenres(u), createdAt: at, updatedAt: at });
      if (docs.length === batchSize) {
        yield docs;
        docs = [];
      }
    }
    if (docs.length) yield docs;
  }

  private favoriteGenres(u: number): string[] {
    const any = (g: number) => this.users.any(u, g);
    const positive = (g: number) => this.users.positive(u, g);
    return this.genreNames
      .map((_, g) => g)
      .filter((g) => any(g) > 0)
      .sort((a, b) => positive(b) - positive(a) || any(b) - any(a) || a - b)
      .slice(0, MAX_FAVORITE_GENRES)
      .map((g) => this.genreNames[g]);
  }
}
