import { GENRES, assertId, boundedInt, validateFavoriteGenres } from '../../lib/src/domain.js';
import { NotFoundError } from '../../lib/src/errors.js';
import type { MovieDoc, Store } from '../../lib/src/store/types.js';
import { userHistory } from './seen-rule.js';

export const DEFAULT_TOP_LIMIT = 10;
export const MAX_TOP_LIMIT = 100;
/** How long the known genres are cached. */
export const DEFAULT_GENRE_REFRESH_MS = 60_000;
/** An unknown genre in a request re-reads the catalogue first when the cache is older than this. */
export const DEFAULT_GENRE_RECHECK_MS = 1_000;

export interface GenresTop {
  userId: string;
  genres: string[];
  /** 'global' when the user has no favourite genres and the global top list is returned. */
  fallback: 'global' | null;
  movies: MovieDoc[];
}

export interface GenreCatalogOptions {
  /** Cache lifetime of the known genres, ms (default 60 s). */
  refreshMs?: number;
  /** Minimum age of the cache before an unknown genre triggers a re-read, ms (default 1 s). */
  recheckMs?: number;
  /** Clock (ms since the epoch); tests inject one. */
  now?: () => number;
  /**
   * Called after a user's favourite genres were stored: they are the LightFM-style model's user features and the
   * fold-in's start, so the user's cached lists must go (recsvc: Recommender.userChanged, a new interactions stamp).
   */
  onGenresChanged?: (userId: string) => Promise<void>;
}

/**
 * Favourite genres (cold-start onboarding) and the genre top lists; no model involved.
 *
 * The known genres are those of the movies in the catalogue (`Store.distinctGenres`: "IMAX", "Children" or a genre
 * of one's own catalogue as the data spells it), sorted, cached for `refreshMs` (default 60 s). A genre the cache
 * does not know makes the catalogue re-read it once (at most once per `recheckMs`), so genres of movies imported a
 * moment ago are accepted at once. A catalogue without movies with genres offers the 18 MovieLens 100k genres
 * (GENRES), so onboarding works before the first import.
 */
export class GenreCatalog {
  private cached: string[] | null = null;
  private cachedAt = 0;
  private loading: Promise<string[]> | null = null;
  private readonly refreshMs: number;
  private readonly recheckMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly options: GenreCatalogOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? DEFAULT_GENRE_REFRESH_MS;
    this.recheckMs = options.recheckMs ?? DEFAULT_GENRE_RECHECK_MS;
    this.now = options.now ?? Date.now;
  }

  /** The genres a user can choose from, sorted. */
  async listGenres(): Promise<string[]> {
    if (this.cached && this.now() - this.cachedAt < this.refreshMs) return [...this.cached];
    return [...(await this.reload())];
  }

  /** Re-reads the genres from the store (concurrent callers share one read). */
  private async reload(): Promise<string[]> {
    this.loading ??= (async () => {
      try {
        const fromData = (await this.store.distinctGenres()).filter((g) => g.trim() !== '');
        const genres = fromData.length ? [...new Set(fromData)].sort() : [...GENRES];
        this.cached = genres;
        this.cachedAt = this.now();
        return genres;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  async setFavoriteGenres(userIdInput: unknown, genresInput: readonly unknown[]): Promise<{ userId: string; genres: string[]; created: boolean }> {
    const userId = assertId(userIdInput, 'user_id');
    let known = await this.listGenres();
    const unknown = genresInput.some((g) => typeof g === 'string' && !known.includes(g));
    if (unknown && this.now() - this.cachedAt >= this.recheckMs) known = await this.reload();
    const genres = validateFavoriteGenres(genresInput, known);
    const { created } = await this.store.setFavoriteGenres(userId, genres);
    await this.options.onGenresChanged?.(userId);
    return { userId, genres, created };
  }

  /** The most popular movies in the user's favourite genres, without the movies the user has seen (seen-rule.ts). */
  async genresTop(userIdInput: unknown, limitInput: number | undefined): Promise<GenresTop> {
    const userId = assertId(userIdInput, 'user_id');
    const limit = boundedInt(limitInput, 'limit', 1, MAX_TOP_LIMIT, DEFAULT_TOP_LIMIT);
    const user = await this.store.getUser(userId);
    if (!user) throw new NotFoundError(`user '${userId}' not found`);
    const excludeMovieIds = [...(await userHistory(this.store, userId)).seen];
    const genres = user.favoriteGenres;
    const movies = await this.store.topMovies({ genres: genres.length ? genres : undefined, excludeMovieIds, limit });
    return { userId, genres, fallback: genres.length ? null : 'global', movies };
  }
}
