import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { Type } from 'typebox';
import { INTERACTION_TYPE_NAMES, interactionTypeToProto, MAX_EVENT_BATCH, type InteractionTypeName } from '../../../lib/src/events/interaction-event.js';
import { InteractionType, type InteractionEvent } from '../../../lib/src/proto.js';
import { errorBody } from '../http-errors.js';
import { Int32 } from '../enums.js';
import { ErrorResponse, errorResponses, REST_ENUMS, StringEnum } from '../schemas.js';
import type { RouteModule } from './types.js';

const EventErrorSchema = Type.Object({
  index: Type.Integer({ description: '0-based position of the event in the request' }),
  event_id: Type.String(),
  field: Type.String({ description: 'event_id, user_id, movie_id, type, occurred_at, completed, progress, rating or the unknown field' }),
  message: Type.String(),
});

const ID = '1 to 64 characters of [A-Za-z0-9_-]';

/**
 * One event: recsys.v1.InteractionEvent in JSON (snake_case fields, the type in lower case without its prefix, the
 * timestamp as RFC 3339). The fields and types are exact; value rules (id pattern, ranges, the catalogue, the clock)
 * are checked per event by recsvc, so a batch with a bad value still takes its good events.
 */
export const EventItem = Type.Object(
  {
    event_id: Type.String({ description: `${ID}; unique per event (applied once)` }),
    user_id: Type.String({ description: `${ID}; the Kafka record key` }),
    movie_id: Type.String({ description: `${ID}; a movie of the catalogue` }),
    type: StringEnum<InteractionTypeName>(REST_ENUMS.interactionType, { description: 'What happened (recsys.v1.InteractionType)' }),
    occurred_at: Type.String({ format: 'date-time', description: 'When it happened, RFC 3339; at most 5 minutes ahead of the receiving clock' }),
    completed: Type.Optional(Type.Boolean({ description: 'watched only: watched to the end (weight 1.0; partly: 0.5)' })),
    progress: Type.Optional(Type.Number({ description: 'watched only: the fraction watched, 0 to 1 (informational)' })),
    rating: Type.Optional(Int32({ description: 'rated only: an integer from 1 to 10 (weight rating/10); the proto field is an int32' })),
  },
  { additionalProperties: false, description: 'recsys.v1.InteractionEvent (proto/recsys/v1/events.proto) in JSON' },
);

export const EventsBody = Type.Object(
  {
    events: Type.Array(EventItem, {
      minItems: 1,
      maxItems: MAX_EVENT_BATCH,
      description:
        'Interaction events (1 to 1,000). An event of the wrong shape (unknown or missing field, wrong JSON type, unknown ' +
        'type, occurred_at not a date-time) refuses the batch (400, every such event listed in `errors`); an event with a ' +
        'bad value (id, range, unknown movie, future time) is refused alone and the others are taken',
    }),
  },
  { additionalProperties: false },
);

/**
 * The route validates only the envelope ({events: 1 to 1,000 objects}); the handler checks each event against EventItem
 * so that every event of the wrong shape is reported with its index, not only the first one ajv meets.
 */
const EnvelopeBody = Type.Object(
  { events: Type.Array(Type.Object({}, { additionalProperties: true }), { minItems: 1, maxItems: MAX_EVENT_BATCH }) },
  { additionalProperties: false },
);
const ajv = addFormats.default(new Ajv({ allErrors: false, strict: false, coerceTypes: false }));
const validateEnvelope = ajv.compile(EnvelopeBody);
const validateItem = ajv.compile(EventItem);

export const EventsResponse = Type.Object({
  accepted: Type.Integer({ description: 'Events taken (produced to Kafka, or applied)' }),
  duplicates: Type.Integer({ description: 'Of the accepted, events whose id was applied before (direct mode)' }),
  mode: Type.String({ description: '"kafka" (applied asynchronously by the consumer group) or "direct" (applied before answering)' }),
  errors: Type.Array(EventErrorSchema),
});

const EventsRefused = Type.Object({ error: ErrorResponse.properties.error, errors: Type.Optional(Type.Array(EventErrorSchema)) });

const FIELDS = new Set(['event_id', 'user_id', 'movie_id', 'type', 'occurred_at', 'completed', 'progress', 'rating']);
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

type EventError = { index: number; event_id: string; field: string; message: string };

/** JSON event -> protobuf InteractionEvent, or the first problem with its shape (values are checked by recsvc). */
function toProto(raw: Record<string, unknown>, index: number): InteractionEvent | EventError {
  const eventId = typeof raw.event_id === 'string' ? raw.event_id : '';
  const problem = (field: string, message: string): EventError => ({ index, event_id: eventId, field, message });
  for (const key of Object.keys(raw)) if (!FIELDS.has(key)) return problem(key, `unknown field '${key.slice(0, 64)}'; allowed: ${[...FIELDS].join(', ')}`);
  for (const field of ['event_id', 'user_id', 'movie_id'] as const) {
    if (typeof raw[field] !== 'string') return problem(field, `${field} must be a string`);
  }
  if (typeof raw.type !== 'string' || !INTERACTION_TYPE_NAMES.includes(raw.type as InteractionTypeName)) {
    return problem('type', `type must be one of ${INTERACTION_TYPE_NAMES.join(', ')}`);
  }
  if (typeof raw.occurred_at !== 'string' || !ISO_DATE_TIME.test(raw.occurred_at) || Number.isNaN(Date.parse(raw.occurred_at))) {
    return problem('occurred_at', 'occurred_at must be an RFC 3339 date-time, e.g. 2026-11-29T18:00:00Z');
  }
  if (raw.completed !== undefined && typeof raw.completed !== 'boolean') return problem('completed', 'completed must be a boolean');
  if (raw.progress !== undefined && typeof raw.progress !== 'number') return problem('progress', 'progress must be a number from 0 to 1');
  // rating is an int32 in the proto: anything else could not even be sent to recsvc (a serialisation error, not a 400).
  if (raw.rating !== undefined && !(Number.isInteger(raw.rating) && Math.abs(raw.rating as number) <= 2_147_483_647)) {
    return problem('rating', 'rating must be an integer from 1 to 10');
  }
  if (!validateItem(raw)) {
    // What the checks above do not name (e.g. a date-time ajv-formats refuses): ajv's first error.
    const e = validateItem.errors?.[0];
    return problem(e?.instancePath.slice(1) || 'event', `${e?.instancePath.slice(1) || 'the event'} ${e?.message ?? 'does not match the event schema'}`);
  }
  return {
    eventId: raw.event_id as string,
    userId: raw.user_id as string,
    movieId: raw.movie_id as string,
    type: interactionTypeToProto(raw.type as InteractionTypeName) ?? InteractionType.INTERACTION_TYPE_UNSPECIFIED,
    occurredAt: new Date(raw.occurred_at),
    completed: (raw.completed as boolean | undefined) ?? false,
    progress: (raw.progress as number | undefined) ?? 0,
    rating: (raw.rating as number | undefined) ?? 0,
  };
}

export const eventRoutes: RouteModule = (app, upstreams) => {
  const recsvc = upstreams.recommendations;
  app.post(
    '/events',
    {
      // Producers hold an `ingest` key (README "Security"); a batch of 1,000 events needs the batch body limit.
      config: { scope: 'ingest', bodyLimit: 'batch' },
      schema: {
        summary: 'Interaction events (watched, rated, bookmarked, bookmark_removed, liked, disliked): a batch of up to 1,000',
        description:
          'Every event is checked on its own: refused ones are listed in `errors` with their index, the others are taken ' +
          '(200). When no event of the batch is taken the answer is 400 with the same `errors`. With Kafka configured the ' +
          'events are produced to the event topic; on embedded defaults they are applied before the answer. Each event_id is ' +
          'applied once, so a batch can be sent again safely.',
        tags: ['events'],
        body: EventsBody,
        response: { 200: EventsResponse, ...errorResponses, 400: EventsRefused },
      },
      // EventsBody is what OpenAPI publishes; the envelope is what is checked before the handler (see EnvelopeBody).
      validatorCompiler: ({ httpPart }) =>
        httpPart === 'body' ? validateEnvelope : () => true,
    },
    async (request, reply) => {
      const errors: EventError[] = [];
      const events: InteractionEvent[] = [];
      const originalIndex: number[] = [];
      request.body.events.forEach((raw, index) => {
        const mapped = toProto(raw as Record<string, unknown>, index);
        if ('field' in mapped) errors.push(mapped);
        else {
          events.push(mapped);
          originalIndex.push(index);
        }
      });
      if (errors.length) {
        // Schema violations refuse the whole batch: nothing is taken, every malformed event is listed.
        const first = errors[0];
        return reply.status(400).send({
          ...errorBody('INVALID_ARGUMENT', `${errors.length} event(s) do not match the event schema, nothing was taken; first: events[${first.index}].${first.field}: ${first.message}`),
          errors,
        });
      }
      let accepted = 0;
      let duplicates = 0;
      let mode = '';
      if (events.length) {
        const res = await upstreams.call(recsvc, recsvc.ingestEvents, { events }, request.id);
        accepted = res.accepted;
        duplicates = res.duplicates;
        mode = res.mode;
        for (const e of res.errors) errors.push({ index: originalIndex[e.index] ?? e.index, event_id: e.eventId, field: e.field, message: e.message });
      }
      errors.sort((a, b) => a.index - b.index);
      if (accepted === 0) {
        const first = errors[0];
        return reply.status(400).send({
          ...errorBody('INVALID_ARGUMENT', `no event was accepted (${errors.length} refused); first: events[${first.index}].${first.field}: ${first.message}`),
          errors,
        });
      }
      return { accepted, duplicates, mode, errors };
    },
  );
};
