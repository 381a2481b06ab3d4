import type { Store } from '../../lib/src/store/types.js';

export interface UserHistory {
  /** Positive model-input weights per movie (latest-decision dislikes removed), for fold-in. */
  interactions: Map<string, number>;
  /** Movies never offered to the user again. */
  seen: Set<string>;
}

/**
 * The one rule for what a user has seen, applied to every list the service returns (model, cache fill, fold-in,
 * genre top, global top): a movie the user watched (partly or to the end), rated, liked, bookmarked (and not
 * un-bookmarked) or disliked is not offered again. Likes and dislikes are decisions: the latest one on a movie wins,
 * so a like after a dislike makes the movie a positive interaction again (it stays seen, as liked).
 */
export async function userHistory(store: Store, userId: string): Promise<UserHistory> {
  // One read of the user's decisions (userInteractionWeights and dislikedMovieIds would each read them).
  const { interactions, disliked } = await store.userInteractionHistory(userId);
  return { interactions, seen: new Set([...interactions.keys(), ...disliked]) };
}
