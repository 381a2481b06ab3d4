import type { MovieDoc, Store } from '../../lib/src/store/types.js';

/**
 * Titles and genres of movies for the responses, kept in process so a warm-cache request needs no MongoDB
 * round trip. Entries are fetched on first use; every `ttlMs` the known entries are re-read in the background
 * (catalogue edits show up then) while the old ones keep serving, so an expiry never sends every request to MongoDB.
 */
export class MovieInfoCache {
  private readonly movies = new Map<string, MovieDoc>();
  private loadedAt: number;
  private reloading: Promise<void> | undefined;

  /** `now` is the clock in milliseconds (injected by tests). */
  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.loadedAt = now();
  }

  async get(movieIds: readonly string[]): Promise<Map<string, MovieDoc>> {
    if (this.now() - this.loadedAt > this.ttlMs && !this.reloading) {
      this.loadedAt = this.now();
      this.reloading = this.reloadKnown().finally(() => (this.reloading = undefined));
    }
    const missing = movieIds.filter((id) => !this.movies.has(id));
    if (missing.length) this.remember([...(await this.store.getMovies(missing)).values()]);
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

  /** Re-reads every known movie in chunks; movies gone from the catalogue are forgotten. */
  private async reloadKnown(): Promise<void> {
    const ids = [...this.movies.keys()];
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      try {
        const fresh = await this.store.getMovies(chunk);
        for (const id of chunk) {
          const movie = fresh.get(id);
          if (movie) this.movies.set(id, movie);
          else this.movies.delete(id);
        }
      } catch {
        return; // MongoDB unreachable: keep serving what is known, retry at the next expiry
      }
    }
  }
}
