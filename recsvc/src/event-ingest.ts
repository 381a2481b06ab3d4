import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../lib/src/errors.js';
import type { EventApplier } from '../../lib/src/events/applier.js';
import { MAX_EVENT_BATCH, validateEvent, type EventProblem, type ValidEvent } from '../../lib/src/events/interaction-event.js';
import type { EventProducer } from '../../lib/src/events/kafka.js';
import type { InteractionEvent } from '../../lib/src/proto.js';
import type { Store } from '../../lib/src/store/types.js';

/** One like or dislike of POST /feedback on a movie of a served list (session). */
export interface FeedbackVerdict {
  userId: string;
  sessionId: string;
  movieId: string;
  liked: boolean;
}

export interface EventError extends EventProblem {
  index: number;
  eventId: string;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  errors: EventError[];
  mode: 'kafka' | 'direct';
}

/** Where accepted events go: the Kafka topic (consumed by the events deployable) or applied in this process. */
export type IngestTarget = { mode: 'kafka'; producer: EventProducer } | { mode: 'direct'; applier: EventApplier };

export interface EventIngestMetrics {
  onIngested?: (mode: 'kafka' | 'direct', accepted: number, duplicates: number, refused: number) => void;
}

/**
 * IngestEvents (gRPC) and POST /events (REST, through the gateway): validates a batch of 1 to 1,000 events, reports
 * every refused one with its index, field and reason, and takes the others. With Kafka configured they are produced
 * to the event topic (after checking their movies against the catalogue); on embedded defaults they are applied at
 * once (EventApplier). Also records the likes and dislikes of POST /feedback as interaction events.
 */
export class EventIngest {
  constructor(
    private readonly target: IngestTarget,
    private readonly store: Store,
    private readonly metrics: EventIngestMetrics = {},
    private readonly clock: () => Date = () => new Date(),
  ) {}

  get mode(): 'kafka' | 'direct' {
    return this.target.mode;
  }

  async ingest(events: readonly InteractionEvent[]): Promise<IngestResult> {
    if (events.length === 0) throw new InvalidArgumentError('events must hold 1 to 1000 events, got none');
    if (events.length > MAX_EVENT_BATCH) {
      throw new InvalidArgumentError(`events must hold 1 to ${MAX_EVENT_BATCH} events, got ${events.length}: split the batch`);
    }
    const now = this.clock();
    const errors: EventError[] = [];
    const valid: { index: number; event: ValidEvent }[] = [];
    events.forEach((raw, index) => {
      const check = validateEvent(raw, now);
      if (check.ok) valid.push({ index, event: check.event });
      else errors.push({ index, eventId: raw.eventId ?? '', ...check.problem });
    });
    const indexOf = new Map(valid.map((v) => [v.event, v.index]));
    const refuse = (event: ValidEvent, problem: EventProblem) => errors.push({ index: indexOf.get(event) ?? -1, eventId: event.eventId, ...problem });
    let accepted = 0;
    let duplicates = 0;
    if (this.target.mode === 'kafka') {
      const movieIds = [...new Set(valid.map((v) => v.event.movieId))];
      const known = movieIds.length ? await this.store.getMovies(movieIds) : new Map();
      const toSend: ValidEvent[] = [];
      for (const { event } of valid) {
        if (known.has(event.movieId)) toSend.push(event);
        else refuse(event, { field: 'movie_id', message: `movie '${event.movieId}' is not in the catalogue` });
      }
      await this.target.producer.send(toSend);
      accepted = toSend.length;
    } else {
      const result = await this.target.applier.apply(
        valid.map((v) => v.event),
        now,
      );
      for (const { event, problem } of result.rejected) refuse(event, problem);
      accepted = result.applied.length + result.duplicates.length;
      duplicates = result.duplicates.length;
    }
    errors.sort((a, b) => a.index - b.index);
    this.metrics.onIngested?.(this.target.mode, accepted, duplicates, errors.length);
    return { accepted, duplicates, errors, mode: this.target.mode };
  }

  /**
   * Likes and dislikes from POST /feedback, as interaction events (liked: weight 1.0, as a rating of 10; disliked:
   * the pair leaves the models' input), written as one batch (the verdicts of concurrent requests: group commit in
   * recsvc/src/recommender.ts). Each event id is derived from (session, movie, verdict), so repeating the same
   * feedback is one event. The movies are not checked against the catalogue: they were in the sessions' served lists.
   */
  async recordFeedback(verdicts: readonly FeedbackVerdict[]): Promise<void> {
    if (verdicts.length === 0) return;
    const occurredAt = this.clock();
    const events: ValidEvent[] = verdicts.map(({ userId, sessionId, movieId, liked }) => ({
      eventId: `fb-${createHash('sha256').update(`${sessionId}\u0000${movieId}\u0000${liked}`).digest('hex').slice(0, 40)}`,
      userId,
      movieId,
      type: liked ? 'liked' : 'disliked',
      occurredAt,
    }));
    if (this.target.mode === 'kafka') await this.target.producer.send(events);
    // The verdicts themselves are the feedback documents the caller writes (upsertFeedbackMany): no decision documents besides.
    else await this.target.applier.apply(events, occurredAt, { moviesKnown: true, decisionsStored: true });
  }
}
