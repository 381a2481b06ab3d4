import { ID_PATTERN, INTERACTION_WEIGHTS } from '../domain.js';
import { InteractionEvent, InteractionType } from '../proto.js';

/** Kafka topic of the interaction events and its dead-letter topic (defaults of EVENTS_TOPIC / EVENTS_DLQ_TOPIC). */
export const DEFAULT_EVENTS_TOPIC = 'recsys.interactions.v1';
export const DEFAULT_EVENTS_DLQ_TOPIC = 'recsys.interactions.v1.dlq';
/** Largest batch of POST /events and IngestEvents. */
export const MAX_EVENT_BATCH = 1000;
/** How far in the future of the receiving clock occurred_at may be. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export type InteractionTypeName = 'watched' | 'rated' | 'bookmarked' | 'bookmark_removed' | 'liked' | 'disliked';

export const INTERACTION_TYPE_NAMES: readonly InteractionTypeName[] = ['watched', 'rated', 'bookmarked', 'bookmark_removed', 'liked', 'disliked'];

const fromProtoType: Partial<Record<InteractionType, InteractionTypeName>> = {
  [InteractionType.INTERACTION_TYPE_WATCHED]: 'watched',
  [InteractionType.INTERACTION_TYPE_RATED]: 'rated',
  [InteractionType.INTERACTION_TYPE_BOOKMARKED]: 'bookmarked',
  [InteractionType.INTERACTION_TYPE_BOOKMARK_REMOVED]: 'bookmark_removed',
  [InteractionType.INTERACTION_TYPE_LIKED]: 'liked',
  [InteractionType.INTERACTION_TYPE_DISLIKED]: 'disliked',
};

export function interactionTypeToProto(name: InteractionTypeName): InteractionType {
  const entry = Object.entries(fromProtoType).find(([, v]) => v === name);
  return Number(entry![0]) as InteractionType;
}

/** A validated interaction event (the domain form of recsys.v1.InteractionEvent). */
export interface ValidEvent {
  eventId: string;
  userId: string;
  movieId: string;
  type: InteractionTypeName;
  occurredAt: Date;
  /** watched only. */
  completed?: boolean;
  /** watched only, 0-1, informational. */
  progress?: number;
  /** rated only, 1-10. */
  rating?: number;
}

/** Why an event was refused: the field at fault and a message naming what is allowed. */
export interface EventProblem {
  field: 'event_id' | 'user_id' | 'movie_id' | 'type' | 'occurred_at' | 'rating' | 'progress' | 'value';
  message: string;
}

export type EventCheck = { ok: true; event: ValidEvent } | { ok: false; problem: EventProblem };

const idProblem = (field: 'event_id' | 'user_id' | 'movie_id', value: unknown): EventCheck => ({
  ok: false,
  problem: {
    field,
    message: `${field} must be 1 to 64 characters of letters, digits, '_' or '-'${typeof value === 'string' && value.length ? `, got '${value.slice(0, 70)}'` : ' (missing)'}`,
  },
});

/**
 * Checks one event as decoded from protobuf (or mapped from REST JSON). Movie existence is checked later, against the
 * catalogue (see applyEvents). `now` is the receiving clock (injected by tests).
 */
export function validateEvent(e: InteractionEvent, now: Date): EventCheck {
  if (!ID_PATTERN.test(e.eventId)) return idProblem('event_id', e.eventId);
  if (!ID_PATTERN.test(e.userId)) return idProblem('user_id', e.userId);
  if (!ID_PATTERN.test(e.movieId)) return idProblem('movie_id', e.movieId);
  const type = fromProtoType[e.type];
  if (!type) {
    return { ok: false, problem: { field: 'type', message: `type must be one of ${INTERACTION_TYPE_NAMES.join(', ')}, got ${String(e.type)}` } };
  }
  const at = e.occurredAt;
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
    return { ok: false, problem: { field: 'occurred_at', message: 'occurred_at is required (a timestamp)' } };
  }
  if (at.getTime() <= 0) {
    return { ok: false, problem: { field: 'occurred_at', message: `occurred_at must be after 1970-01-01T00:00:00Z, got ${at.toISOString()}` } };
  }
  if (at.getTime() > now.getTime() + MAX_CLOCK_SKEW_MS) {
    return { ok: false, problem: { field: 'occurred_at', message: 'occurred_at is more than 5 minutes in the future' } };
  }
  const event: ValidEvent = { eventId: e.eventId, userId: e.userId, movieId: e.movieId, type, occurredAt: at };
  if (type === 'watched') {
    if (!Number.isFinite(e.progress) || e.progress < 0 || e.progress > 1) {
      return { ok: false, problem: { field: 'progress', message: 'progress must be a fraction from 0 to 1' } };
    }
    event.completed = e.completed;
    if (e.progress > 0) event.progress = e.progress;
  } else if (e.progress !== 0 || e.completed) {
    return { ok: false, problem: { field: 'progress', message: 'completed and progress belong to watched events only' } };
  }
  if (type === 'rated') {
    if (!Number.isInteger(e.rating) || e.rating < 1 || e.rating > 10) {
      return { ok: false, problem: { field: 'rating', message: `rating must be an integer from 1 to 10, got ${e.rating}` } };
    }
    event.rating = e.rating;
  } else if (e.rating !== 0) {
    return { ok: false, problem: { field: 'rating', message: 'rating belongs to rated events only' } };
  }
  return { ok: true, event };
}

/** The rating a liked event stands for: a like is the top of the scale (weight 1.0). */
export const LIKE_AS_RATING = 10;

/** The weight an event adds to the models' input (0 for bookmark_removed and disliked, which remove instead). */
export function eventWeight(event: ValidEvent): number {
  switch (event.type) {
    case 'watched':
      return event.completed ? INTERACTION_WEIGHTS.watchedCompleted : INTERACTION_WEIGHTS.watchedPartly;
    case 'rated':
      return (event.rating ?? 0) * INTERACTION_WEIGHTS.likePerRatingPoint;
    case 'liked':
      return LIKE_AS_RATING * INTERACTION_WEIGHTS.likePerRatingPoint;
    case 'bookmarked':
      return INTERACTION_WEIGHTS.bookmark;
    default:
      return 0;
  }
}

export function toProtoEvent(event: ValidEvent): InteractionEvent {
  return {
    eventId: event.eventId,
    userId: event.userId,
    movieId: event.movieId,
    type: interactionTypeToProto(event.type),
    occurredAt: event.occurredAt,
    completed: event.completed ?? false,
    progress: event.progress ?? 0,
    rating: event.rating ?? 0,
  };
}

/** The Kafka record value: protobuf binary of recsys.v1.InteractionEvent. */
export function encodeEvent(event: ValidEvent): Buffer {
  return Buffer.from(InteractionEvent.encode(toProtoEvent(event)).finish());
}

/** Decodes and validates a record value; a value that is not an InteractionEvent is a problem of field 'value'. */
export function decodeEvent(value: Uint8Array | null | undefined, now: Date): EventCheck {
  if (!value || value.length === 0) return { ok: false, problem: { field: 'value', message: 'empty record value' } };
  let decoded: InteractionEvent;
  try {
    decoded = InteractionEvent.decode(value);
  } catch (err) {
    return { ok: false, problem: { field: 'value', message: `not a protobuf recsys.v1.InteractionEvent: ${(err as Error).message}` } };
  }
  return validateEvent(decoded, now);
}
