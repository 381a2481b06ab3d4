/**
 * What a model artifact holds, for both model types, so that the trainer (which writes it and refreshes the cache
 * from it) and the recommendation service (which serves from it) read it the same way.
 *
 * Scores are always dot(userVectors[u], itemVectors[i]) + userBiases[u] + itemBiases[i].
 * - ALS: the vectors are the user and item factors; biases are zeros. params carry `alpha` and `regularization`
 *   for fold-in of users the model has not seen.
 * - LightFM-style WARP: the vectors and biases are the representations (sums of feature embeddings: identity plus
 *   genres); the genre feature embeddings are stored too, so a new user known only by favourite genres, or a movie
 *   known only by its genres, can be scored: genreUserVectors/Biases and genreItemVectors/Biases, rows in the order
 *   of the `genres` id map.
 */
export const ARTIFACT_ARRAYS = {
  userVectors: 'userVectors',
  userBiases: 'userBiases',
  itemVectors: 'itemVectors',
  itemBiases: 'itemBiases',
  genreUserVectors: 'genreUserVectors',
  genreUserBiases: 'genreUserBiases',
  genreItemVectors: 'genreItemVectors',
  genreItemBiases: 'genreItemBiases',
} as const;

export const ARTIFACT_ID_MAPS = {
  /** Row r of userVectors is the user with id users[r]. */
  users: 'users',
  /** Row i of itemVectors is the movie with id items[i]. */
  items: 'items',
  /** Row g of the genre arrays is genre genres[g] (WARP only). */
  genres: 'genres',
} as const;

/** manifest.dimensions keys. */
export const ARTIFACT_DIMENSIONS = ['users', 'items', 'factors', 'genres'] as const;
