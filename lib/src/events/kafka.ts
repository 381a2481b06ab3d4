import { Admin, Producer } from '@platformatic/kafka';
import { UnavailableError } from '../errors.js';
import { encodeEvent, type ValidEvent } from './interaction-event.js';

/** Kafka settings shared by the producers (recsvc) and the consumer group (events deployable). */
export interface KafkaSettings {
  /** host:port list. */
  brokers: string[];
  topic: string;
  dlqTopic: string;
  clientId: string;
  /** Partitions of the topics when this service creates them. */
  partitions?: number;
}

export function parseBrokers(value: string): string[] {
  return value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** Creates the event and dead-letter topics if they are missing (replication factor 1 unless configured). */
export async function ensureTopics(settings: KafkaSettings, replicas = 1): Promise<void> {
  const admin = new Admin({ clientId: `${settings.clientId}-admin`, bootstrapBrokers: settings.brokers, retries: 5, retryDelay: 500 });
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [settings.topic, settings.dlqTopic].filter((t) => !existing.has(t));
    if (missing.length) {
      try {
        await admin.createTopics({ topics: missing, partitions: settings.partitions ?? 4, replicas });
      } catch (err) {
        // Another replica created them at the same time.
        if (!/already exists/i.test(String((err as Error)?.message) + JSON.stringify((err as { errors?: unknown }).errors ?? ''))) throw err;
      }
    }
  } finally {
    await admin.close();
  }
}

/**
 * Produces interaction events: key = user id (one user's events stay in order on one partition), value = protobuf
 * binary recsys.v1.InteractionEvent, acks from all in-sync replicas, idempotent producer (no duplicates from its own
 * retries). send() resolves once the broker has the batch; it rejects with UnavailableError when the broker cannot be
 * reached within the retries (the caller may resend: consumers apply each event id once).
 */
export class EventProducer {
  private readonly producer: Producer;

  constructor(private readonly settings: KafkaSettings) {
    this.producer = new Producer({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      idempotent: true,
      acks: -1,
      retries: 10,
      retryDelay: 300,
      autocreateTopics: false,
    });
  }

  async send(events: readonly ValidEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      await this.producer.send({
        messages: events.map((e) => ({ topic: this.settings.topic, key: Buffer.from(e.userId), value: encodeEvent(e) })),
      });
    } catch (err) {
      throw new UnavailableError(`the event stream is unreachable (${(err as Error).message}); send the batch again`);
    }
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
