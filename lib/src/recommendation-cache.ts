import type { ModelTypeName } from './domain.js';
import type { Cache } from './cache/types.js';

/**
 * The recommendation cache shared by the recommendation service (read, fill on miss, invalidate on dislike) and
 * the trainer's refresh jobs (bulk fill). Keys carry the model version, so a list computed by an older model is never
 * served after a swap: recommendations:{user_id}:{model_type}:{model_version}.
 */
export function recommendationKey(userId: string, modelType: ModelTypeName, modelVersion: string): string {
  return `recommendations:${userId}:${modelType}:${modelVersion}`;
}

export interface CachedRecommendation {
  movieId: string;
  score: number;
}

/** How many items a cached list holds (the largest k a request may ask for). */
export const CACHED_LIST_LENGTH = 100;

export function encodeRecommendations(items: readonly CachedRecommendation[]): string {
  return JSON.stringify(items.map((i) => [i.movieId, i.score]));
}

/** Returns null for anything that is not a list written by encodeRecommendations (treated as a miss). */
export function decodeRecommendations(value: string): CachedRecommendation[] | null {
  try {
    const parsed: unknown = JSON.parse(value);
    if (!Array.isArray(parsed)) return null;
    const items: CachedRecommendation[] = [];
    for (const entry of parsed) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') return null;
      items.push({ movieId: entry[0], score: entry[1] });
    }
    return items;
  } catch {
    return null;
  }
}

/** Writes many users' lists in one pipelined round trip. */
export async function writeRecommendations(
  cache: Cache,
  modelType: ModelTypeName,
  modelVersion: string,
  lists: readonly { userId: string; items: readonly CachedRecommendation[] }[],
  ttlSeconds: number,
): Promise<void> {
  await cache.setMany(
    lists.map((l) => [recommendationKey(l.userId, modelType, modelVersion), encodeRecommendations(l.items)] as const),
    ttlSeconds,
  );
}
