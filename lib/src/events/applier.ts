import { MODEL_TYPES, type ModelTypeName } from '../domain.js';
import type { Cache } from '../cache/types.js';
import { recommendationKey } from '../recommendation-cache.js';
import type { Store } from '../store/types.js';
import type { EventProblem, ValidEvent } from './interaction-event.js';

/** The model versions whose cached lists are served now (recsvc: the loaded models; the consumer: the registry). */
export type ActiveVersions = () => Promise<Partial<Record<ModelTypeName, string>>>;

export interface ApplyResult {
  applied: ValidEvent[];
  duplicates: ValidEvent[];
  /** Events refused after decoding: a movie that is not in the catalogue. */
  rejected: { event: ValidEvent; problem: EventProblem }[];
}

/**
 * Applies validated interaction events: checks the movies against the catalogue, writes the events once per id
 * (Store.applyInteractionEvents), then drops the cached lists of every user whose interactions changed, so their
 * next request recomputes the list (recsvc/src/fresh-user.ts). Used directly by IngestEvents on embedded defaults and
 * by the Kafka consumer group. Throws when the store or the cache cannot be written: the caller retries the batch
 * (every step is idempotent).
 */
export class EventApplier {
  constructor(
    private readonly store: Store,
    private readonly cache: Cache,
    private readonly activeVersions: ActiveVersions,
  ) {}

  async apply(events: readonly ValidEvent[], now = new Date()): Promise<ApplyResult> {
    const movieIds = [...new Set(events.map((e) => e.movieId))];
    const known = movieIds.length ? await this.store.getMovies(movieIds) : new Map();
    const rejected: ApplyResult['rejected'] = [];
    const accepted: ValidEvent[] = [];
    for (const event of events) {
      if (known.has(event.movieId)) accepted.push(event);
      else rejected.push({ event, problem: { field: 'movie_id', message: `movie '${event.movieId}' is not in the catalogue` } });
    }
    const { applied, duplicates } = await this.store.applyInteractionEvents(accepted, now);
    await this.dropCachedLists(applied.map((e) => e.userId));
    return { applied, duplicates, rejected };
  }

  /** Deletes the cached lists of these users for the active version of each model. */
  async dropCachedLists(userIds: readonly string[]): Promise<void> {
    const users = [...new Set(userIds)];
    if (users.length === 0) return;
    const versions = await this.activeVersions();
    const keys = users.flatMap((userId) =>
      MODEL_TYPES.flatMap((type) => (versions[type] ? [recommendationKey(userId, type, versions[type])] : [])),
    );
    if (keys.length) await this.cache.del(keys);
  }
}
