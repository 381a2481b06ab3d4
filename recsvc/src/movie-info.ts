import { CATALOGUE_CHANNEL, parseCatalogueChange } from '../../lib/src/catalogue.js';
import type { Cache } from '../../lib/src/cache/types.js';
import type { Logger } from '../../lib/src/logger.js';
import type { MovieDoc, Store } from '../../lib/src/store/types.js';
import type { CatalogueOverlay } from './serving-model.js';

/** Movies per read of the catalogue reload. */
const RELOAD_PAGE = 1000;

export interface CatalogueSyncOptions {
  /** Full catalogue state reload period, ms (the fallback when a pub/sub message is missed). */
  reloadMs: number;
  /**
   * Catalogue-API movies created at or after this time are cold-start candidates (recsvc passes the oldest data
   * snapshot of the models it serves: older movies are in the models). Default: every movie the API created.
   */
  coldSince?: () => Date;
  log?: Logger;
}

/**
 * Titles and genres of movies for the responses, kept in process so a warm-cache request needs no MongoDB
 * round trip. Entries are fetched on first use; every `ttlMs` the known entries are re-read in the background
 * (catalogue edits show up then) while the old ones keep serving, so an expiry never sends every request to MongoDB.
 *
 * It is also this replica's view of the catalogue state that changes lists (CatalogueOverlay): the hidden movies
 * and the movies the catalogue API created (item cold start). `startSync` loads both, then applies every change
 * announced on CATALOGUE_CHANNEL (lib/src/catalogue.ts) the moment it arrives, and reloads the whole state every
 * `reloadMs` in case a message was missed (Redis down or restarting). Reading it costs no round trip.
 */
export class MovieInfoCache implements CatalogueOverlay {
  private readonly movies = new Map<string, MovieDoc>();
  private loadedAt: number;
  private reloading: Promise<void> | undefined;
  private hidden = new Set<string>();
  private added = new Map<string, MovieDoc>();
  private addedList: readonly MovieDoc[] = [];
  private changes = 0;
  private syncTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  /** Changes applied while a reload runs: re-applied over its (possibly older) result. */
  private duringReload: MovieDoc[] | undefined;

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

  /** Counts catalogue changes applied (hidden set or cold-start movies); ServingModel memoises by it. */
  get revision(): number {
    return this.changes;
  }

  isHidden(movieId: string): boolean {
    return this.hidden.has(movieId);
  }

  /** How many movies are hidden (a cached list may lose at most this many entries). */
  get hiddenCount(): number {
    return this.hidden.size;
  }

  hiddenIds(): Iterable<string> {
    return this.hidden;
  }

  addedMovies(): readonly MovieDoc[] {
    return this.addedList;
  }

  /** The entries of a (cached) list without the hidden movies, in order; null stays null. */
  visible<T extends { movieId: string }>(list: T[] | null): T[] | null {
    if (!list || this.hidden.size === 0) return list;
    return list.filter((item) => !this.hidden.has(item.movieId));
  }

  /** Loads the catalogue state, then follows CATALOGUE_CHANNEL and reloads every `reloadMs`. */
  async startSync(cache: Cache, options: CatalogueSyncOptions): Promise<void> {
    try {
      this.unsubscribe = await cache.subscribe(CATALOGUE_CHANNEL, (raw) => {
        const movie = parseCatalogueChange(raw);
        if (movie) this.apply(movie);
        else options.log?.warn({ raw: raw.slice(0, 200) }, 'ignoring a malformed catalogue change message');
      });
    } catch (err) {
      options.log?.warn({ err: String(err) }, 'catalogue changes not followed (cache unavailable): reloading every period only');
    }
    await this.reloadCatalogue(options.coldSince?.() ?? new Date(0));
    this.syncTimer = setInterval(() => {
      this.reloadCatalogue(options.coldSince?.() ?? new Date(0)).catch((err: unknown) =>
        options.log?.warn({ err: String(err) }, 'catalogue reload failed; keeping the current state'),
      );
    }, options.reloadMs);
    this.syncTimer.unref();
  }

  async stopSync(): Promise<void> {
    clearInterval(this.syncTimer);
    await this.unsubscribe?.().catch(() => undefined);
  }

  /** Applies one changed movie (a CATALOGUE_CHANNEL message) at once. */
  apply(movie: MovieDoc): void {
    this.duringReload?.push(movie);
    this.movies.set(movie.movieId, movie);
    const hidden = new Set(this.hidden);
    if (movie.hidden) hidden.add(movie.movieId);
    else hidden.delete(movie.movieId);
    this.hidden = hidden;
    if (movie.createdAt !== undefined || this.added.has(movie.movieId)) {
      this.added.set(movie.movieId, movie);
      this.addedList = [...this.added.values()];
    }
    this.changes++;
  }

  /** Re-reads the hidden ids and the cold-start candidates (movies created at or after `coldSince`). */
  async reloadCatalogue(coldSince: Date): Promise<void> {
    const applied: MovieDoc[] = [];
    this.duringReload = applied;
    try {
      const hidden = new Set(await this.store.hiddenMovieIds());
      const added = new Map<string, MovieDoc>();
      let after: string | undefined;
      for (;;) {
        const page = await this.store.listMovies({ createdSince: coldSince, afterMovieId: after, limit: RELOAD_PAGE });
        for (const movie of page) added.set(movie.movieId, movie);
        if (page.length < RELOAD_PAGE) break;
        after = page[page.length - 1].movieId;
      }
      this.hidden = hidden;
      this.added = added;
      this.addedList = [...added.values()];
      this.remember(this.addedList);
      this.changes++;
    } finally {
      if (this.duringReload === applied) this.duringReload = undefined;
    }
    for (const movie of applied) this.apply(movie);
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
