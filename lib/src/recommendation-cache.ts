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

/**
 * The explanations of a served list, kept beside it in the cache (recsvc/src/explain-list.ts): any replica's cache
 * hit on the same list reads them instead of the user's interactions from MongoDB. Same user, model type and version
 * as the list's key (`recommendationKey`); the value names the items and scores it explains, so it answers only for them.
 */
export function explanationKey(listKey: string): string {
  return listKey.startsWith('recommendations:') ? `explanations:${listKey.slice('recommendations:'.length)}` : `explanations:${listKey}`;
}

export interface CachedRecommendation {
  movieId: string;
  score: number;
}

/** How many items a cached list holds (the largest k a request may ask for). */
export const CACHED_LIST_LENGTH = 100;

/**
 * The compact list format: `r1` then, per item, `;{movie_id},{score}` (ids are [A-Za-z0-9_-], so `;` and `,` never
 * occur in them; scores as JavaScript prints them, exact). About 40% of the JSON form's size, and a cache hit decodes
 * only the k items it serves (scanning the string, no JSON.parse of all 100 items).
 */
const COMPACT_PREFIX = 'r1';

export function encodeRecommendations(items: readonly CachedRecommendation[]): string {
  let out = COMPACT_PREFIX;
  for (const i of items) out += `;${i.movieId},${i.score}`;
  return out;
}

const ID_CHARS = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The first `limit` items (all by default) of a list written by encodeRecommendations, or of the JSON form
 * (`[[movie_id, score], ...]`, written by versions before the compact format; still read during a rolling update).
 * Returns null for anything else (treated as a miss); a list shorter than `limit` is returned as it is (callers
 * compare its length with what they need).
 */
export function decodeRecommendations(value: string, limit = Infinity): CachedRecommendation[] | null {
  if (value.startsWith(COMPACT_PREFIX)) return decodeCompact(value, limit);
  return decodeJson(value, limit);
}

function decodeCompact(value: string, limit: number): CachedRecommendation[] | null {
  const items: CachedRecommendation[] = [];
  if (value.length === COMPACT_PREFIX.length) return items;
  if (value.charCodeAt(COMPACT_PREFIX.length) !== 59 /* ; */) return null;
  let start = COMPACT_PREFIX.length + 1;
  while (items.length < limit && start <= value.length) {
    let end = value.indexOf(';', start);
    if (end === -1) end = value.length;
    const comma = value.indexOf(',', start);
    if (comma === -1 || comma > end) return null;
    const movieId = value.slice(start, comma);
    const scoreText = value.slice(comma + 1, end);
    const score = Number(scoreText);
    if (!ID_CHARS.test(movieId) || scoreText.length === 0 || Number.isNaN(score)) return null;
    items.push({ movieId, score });
    start = end + 1;
  }
  return items;
}

function decodeJson(value: string, limit: number): CachedRecommendation[] | null {
  try {
    const parsed: unknown = JSON.parse(value);
    if (!Array.isArray(parsed)) return null;
    const items: CachedRecommendation[] = [];
    for (const entry of parsed) {
      if (items.length >= limit) break;
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
