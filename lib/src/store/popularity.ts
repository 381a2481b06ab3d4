import { INTERACTION_WEIGHTS } from '../domain.js';
import type { BookmarkDoc, LikeDoc, MovieDoc, WatchedDoc } from './types.js';

/** The weight one interaction adds to a (user, movie) pair and to the movie's popularity. */
export function watchedWeight(doc: Pick<WatchedDoc, 'completed'>): number {
  return doc.completed ? INTERACTION_WEIGHTS.watchedCompleted : INTERACTION_WEIGHTS.watchedPartly;
}
export function likeWeight(doc: Pick<LikeDoc, 'rating'>): number {
  return doc.rating * INTERACTION_WEIGHTS.likePerRatingPoint;
}
export function bookmarkWeight(_doc?: Pick<BookmarkDoc, 'movieId'>): number {
  return INTERACTION_WEIGHTS.bookmark;
}

/** popularity = interaction weight sum × (0.5 + rating / 20): the rating scales popularity by 0.55 to 1.0. */
export function popularityScore(interactionWeight: number, rating: number): number {
  const boundedRating = Math.min(10, Math.max(0, rating || 0));
  return interactionWeight * (0.5 + boundedRating / 20);
}

/** Orders movies by popularity, highest first, ties by id (both store implementations sort the same way). */
export function byPopularity(a: MovieDoc, b: MovieDoc): number {
  return b.popularity - a.popularity || (a.movieId < b.movieId ? -1 : a.movieId > b.movieId ? 1 : 0);
}
