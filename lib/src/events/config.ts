import { z } from 'zod';
import { DEFAULT_EVENTS_DLQ_TOPIC, DEFAULT_EVENTS_TOPIC } from './interaction-event.js';

/** Event-stream settings (recsvc produces, the events deployable consumes). Unset KAFKA_BROKERS = no Kafka. */
export const eventsEnvShape = {
  /** Comma-separated host:port list of Kafka brokers. */
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'must be host:port[,host:port...]')
    .optional(),
  EVENTS_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name').default(DEFAULT_EVENTS_TOPIC),
  EVENTS_DLQ_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a Kafka topic name').default(DEFAULT_EVENTS_DLQ_TOPIC),
  /** Partitions when a service creates the topics (the most consumers of a group that get work). */
  EVENTS_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(4),
};
