import { Admin, Producer } from '@platformatic/kafka';
import { remainingMs } from '../call-scope.js';
import { CircuitBreaker } from '../circuit-breaker.js';
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
  /**
   * A produce request waits at most this long (ms; default SEND_TIMEOUT_MS, and never past the gRPC call's
   * deadline), then rejects with UnavailableError; after `sendBreakerFailures` (3) such failures in a row sends
   * reject at once until a trial after `sendBreakerCoolDownMs` (1000) succeeds.
   */
  sendTimeoutMs?: number;
  sendBreakerFailures?: number;
  sendBreakerCoolDownMs?: number;
  /** Clock of the send breaker (tests). */
  now?: () => number;
}

/** Default bound of one produce request, ms: a broker that is down or stalled costs POST /events this much, not the 5 s deadline. */
export const SEND_TIMEOUT_MS = 1_500;
/** Milliseconds kept back from the call's deadline so that the 503 reaches the client before the gateway's 504. */
const DEADLINE_MARGIN_MS = 300;

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
 * reached within its time bound (`sendTimeoutMs`), or at once while its circuit is open after consecutive failures
 * (the caller may resend: consumers apply each event id once, so a batch the producer still delivers after giving
 * up on it is not applied twice).
 */
export class EventProducer {
  private readonly producer: Producer;
  readonly breaker: CircuitBreaker;

  constructor(private readonly settings: KafkaSettings) {
    this.breaker = new CircuitBreaker({
      name: 'the event stream',
      failureThreshold: settings.sendBreakerFailures ?? 3,
      coolDownMs: settings.sendBreakerCoolDownMs ?? 1_000,
      now: settings.now,
    });
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
    const budget = Math.min(this.settings.sendTimeoutMs ?? SEND_TIMEOUT_MS, remainingMs() - DEADLINE_MARGIN_MS);
    if (budget <= 0) throw new UnavailableError('no time was left before the call\'s deadline to send the events; send the batch again');
    await this.breaker.run(async () => {
      let timer: NodeJS.Timeout | undefined;
      const sent = this.producer.send({
        messages: events.map((e) => ({ topic: this.settings.topic, key: Buffer.from(e.userId), value: encodeEvent(e) })),
      });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new UnavailableError(`the event stream did not take the batch within ${budget} ms; send the batch again`)), budget);
      });
      try {
        await Promise.race([sent, timeout]);
      } catch (err) {
        // The producer may still deliver it after this: consumers apply each event id once.
        sent.catch(() => undefined);
        if (err instanceof UnavailableError) throw err;
        throw new UnavailableError(`the event stream is unreachable (${(err as Error).message}); send the batch again`);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
