import type { MovieDoc, Store } from '../../lib/src/store/types.js';

/**
 * Titles and genres of movies for the responses, kept in process so a warm-cache request needs no MongoDB
 * round trip. Entries are fetched on first use and forgotten after `ttlMs` (catalogue edits show up then).
 */
export class MovieInfoCache {
  private movies = new Map<string, MovieDoc>();
  private loadedAt = Date.now();

  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
  ) {}

  async get(movieIds: readonly string[]): Promise<Map<string, MovieDoc>> {
    if (Date.now() - this.loadedAt > this.ttlMs) {
      this.movies = new Map();
      this.loadedAt = Date.now();
    }
    const missing = movieIds.filter((id) => !this.movies.has(id));
    if (missing.length) for (const [id, movie] of await this.store.getMovies(missing)) this.movies.set(id, movie);
    const found = new Map<string, MovieDoc>();
    for (const id of movieIds) {
      const movie = this.movies.get(id);
      if (movie) found.set(id, movie);
    }
    return found;
  }

  /** Movies served from another source (the top lists) are remembered too. */
  remember(movies: readonly MovieDoc[]): void {
    for (const movie of movies) this.movies.set(movie.movieId, movie);
  }
}
