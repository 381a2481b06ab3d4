import type { Cache } from '../cache/types.js';
import type { Store } from '../store/types.js';
import type { EventProblem, ValidEvent } from './interaction-event.js';
import { stampUsers } from './list-stamp.js';

export interface ApplyResult {
  applied: ValidEvent[];
  duplicates: ValidEvent[];
  /** Events refused after decoding: a movie that is not in the catalogue. */
  rejected: { event: ValidEvent; problem: EventProblem }[];
}

/**
 * Applies validated interaction events: checks the movies against the catalogue, writes the events once per id
 * (Store.applyInteractionEvents), then gives every user of the batch a new interactions stamp (lib/src/events/
 * list-stamp.ts), so each of their cached lists, of every model type and version, is a miss from then on and their next
 * request recomputes the list from their current interactions (ServingModel.refreshUser). Used directly by
 * IngestEvents on embedded defaults and by the Kafka consumer group. Throws when the store or the cache cannot be
 * written: the caller retries the batch (every step is idempotent). Duplicates are stamped too: a batch retried after
 * its stamp write failed finds its events applied already, and its users must still be stamped.
 */
export class EventApplier {
  constructor(
    private readonly store: Store,
    private readonly cache: Cache,
  ) {}

  /**
   * `options.moviesKnown`: the caller vouches that every event's movie is in the catalogue (POST /feedback: the movie
   * was in a served list), so the catalogue is not read (a `$in` query, which FerretDB v1 answers by reading the whole
   * collection). `options.decisionsStored`: see Store.applyInteractionEvents.
   */
  async apply(events: readonly ValidEvent[], now = new Date(), options: { moviesKnown?: boolean; decisionsStored?: boolean } = {}): Promise<ApplyResult> {
    const movieIds = [...new Set(events.map((e) => e.movieId))];
    const known: ReadonlySet<string> | ReadonlyMap<string, unknown> =
      options.moviesKnown ? new Set(movieIds) : movieIds.length ? await this.store.getMovies(movieIds) : new Map();
    const rejected: ApplyResult['rejected'] = [];
    const accepted: ValidEvent[] = [];
    for (const event of events) {
      if (known.has(event.movieId)) accepted.push(event);
      else rejected.push({ event, problem: { field: 'movie_id', message: `movie '${event.movieId}' is not in the catalogue` } });
    }
    const { applied, duplicates } = await this.store.applyInteractionEvents(accepted, now, { decisionsStored: options.decisionsStored });
    await stampUsers(
      this.cache,
      accepted.map((e) => e.userId),
      now,
    );
    return { applied, duplicates, rejected };
  }
}
