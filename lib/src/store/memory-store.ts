import type {
  CollectionDocs,
  CollectionName,
  MovieDoc,
  Store,
  TopMoviesQuery,
  UserDoc,
} from './types.js';
import { COLLECTION_NAMES } from './types.js';
import { bookmarkWeight, byPopularity, likeWeight, popularityScore, watchedWeight } from './popularity.js';

type Rows = { [C in CollectionName]: CollectionDocs[C][] };

/** In-process store: the embedded default for the one-command demo and for unit tests. */
export class MemoryStore implements Store {
  private rows: Rows = emptyRows();
  private users = new Map<string, UserDoc>();
  private movies = new Map<string, MovieDoc>();

  async init(): Promise<void> {}
  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  async getUser(userId: string): Promise<UserDoc | null> {
    const user = this.users.get(userId);
    return user ? structuredClone(user) : null;
  }

  async setFavoriteGenres(userId: string, genres: readonly string[], now = new Date()): Promise<{ created: boolean }> {
    const existing = this.users.get(userId);
    if (existing) {
      existing.favoriteGenres = [...genres];
      existing.updatedAt = now;
      return { created: false };
    }
    const user: UserDoc = { userId, favoriteGenres: [...genres], createdAt: now, updatedAt: now };
    this.users.set(userId, user);
    this.rows.users.push(user);
    return { created: true };
  }

  async getMovies(movieIds: readonly string[]): Promise<Map<string, MovieDoc>> {
    const found = new Map<string, MovieDoc>();
    for (const id of movieIds) {
      const movie = this.movies.get(id);
      if (movie) found.set(id, structuredClone(movie));
    }
    return found;
  }

  async topMovies(query: TopMoviesQuery): Promise<MovieDoc[]> {
    const genres = query.genres ? new Set(query.genres) : undefined;
    const excluded = new Set(query.excludeMovieIds ?? []);
    return this.rows.movies
      .filter((m) => !excluded.has(m.movieId) && (!genres || m.genres.some((g) => genres.has(g))))
      .sort(byPopularity)
      .slice(0, query.limit)
      .map((m) => structuredClone(m));
  }

  async refreshPopularity(): Promise<number> {
    const weights = new Map<string, number>();
    const add = (movieId: string, w: number) => weights.set(movieId, (weights.get(movieId) ?? 0) + w);
    for (const d of this.rows.watched_movies) add(d.movieId, watchedWeight(d));
    for (const d of this.rows.likes) add(d.movieId, likeWeight(d));
    for (const d of this.rows.bookmarks) add(d.movieId, bookmarkWeight(d));
    for (const movie of this.rows.movies) movie.popularity = popularityScore(weights.get(movie.movieId) ?? 0, movie.rating);
    return this.rows.movies.length;
  }

  async interactedMovieIds(userId: string): Promise<string[]> {
    const ids = new Set<string>();
    for (const c of ['watched_movies', 'likes', 'bookmarks'] as const) {
      for (const d of this.rows[c]) if (d.userId === userId) ids.add(d.movieId);
    }
    return [...ids];
  }

  async watchedMovieIds(userId: string): Promise<string[]> {
    return [...new Set(this.rows.watched_movies.filter((d) => d.userId === userId).map((d) => d.movieId))];
  }

  async insertMany<C extends CollectionName>(collection: C, docs: readonly CollectionDocs[C][]): Promise<void> {
    for (const doc of docs) {
      const copy = structuredClone(doc);
      if (collection === 'users') {
        const user = copy as UserDoc;
        if (this.users.has(user.userId)) continue;
        this.users.set(user.userId, user);
      } else if (collection === 'movies') {
        const movie = copy as MovieDoc;
        if (this.movies.has(movie.movieId)) continue;
        this.movies.set(movie.movieId, movie);
      }
      (this.rows[collection] as CollectionDocs[C][]).push(copy);
    }
  }

  async *scan<C extends CollectionName>(collection: C, batchSize = 10_000): AsyncIterable<CollectionDocs[C][]> {
    const rows = this.rows[collection] as CollectionDocs[C][];
    for (let i = 0; i < rows.length; i += batchSize) yield rows.slice(i, i + batchSize).map((d) => structuredClone(d));
  }

  async count(collection: CollectionName): Promise<number> {
    return this.rows[collection].length;
  }

  async clear(): Promise<void> {
    this.rows = emptyRows();
    this.users.clear();
    this.movies.clear();
  }
}

function emptyRows(): Rows {
  return Object.fromEntries(COLLECTION_NAMES.map((name) => [name, []])) as unknown as Rows;
}
