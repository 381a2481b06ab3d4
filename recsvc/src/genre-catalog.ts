import { GENRES, assertId, boundedInt, validateFavoriteGenres, type Genre } from '../../lib/src/domain.js';
import { NotFoundError } from '../../lib/src/errors.js';
import type { MovieDoc, Store } from '../../lib/src/store/types.js';
import { userHistory } from './seen-rule.js';

export const DEFAULT_TOP_LIMIT = 10;
export const MAX_TOP_LIMIT = 100;

export interface GenresTop {
  userId: string;
  genres: string[];
  /** 'global' when the user has no favourite genres and the global top list is returned. */
  fallback: 'global' | null;
  movies: MovieDoc[];
}

/** Favourite genres (cold-start onboarding) and the genre top lists; no model involved. */
export class GenreCatalog {
  constructor(private readonly store: Store) {}

  listGenres(): readonly Genre[] {
    return GENRES;
  }

  async setFavoriteGenres(userIdInput: unknown, genresInput: readonly unknown[]): Promise<{ userId: string; genres: Genre[]; created: boolean }> {
    const userId = assertId(userIdInput, 'user_id');
    const genres = validateFavoriteGenres(genresInput);
    const { created } = await this.store.setFavoriteGenres(userId, genres);
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
