import { Consumer, Producer, type Message, type MessagesStream } from '@platformatic/kafka';
import type { EventApplier } from '../../../lib/src/events/applier.js';
import { decodeEvent, type EventProblem, type ValidEvent } from '../../../lib/src/events/interaction-event.js';
import { ensureTopics, type KafkaSettings } from '../../../lib/src/events/kafka.js';
import type { Logger } from '../../../lib/src/logger.js';
import type { ConsumerMetrics } from './metrics.js';

export interface EventConsumerOptions {
  settings: KafkaSettings;
  groupId: string;
  applier: EventApplier;
  metrics: ConsumerMetrics;
  log: Logger;
  maxBatch: number;
  maxWaitMs: number;
  sessionTimeoutMs: number;
  /** The receiving clock for occurred_at checks (injected by tests). */
  clock?: () => Date;
  /** A batch not applied and committed after this many ms makes the member unhealthy (default 60,000). */
  stallAfterMs?: number;
  /** The clock of health(), in ms (injected by tests). */
  now?: () => number;
}

/** What the container healthcheck reads (GET /health on the metrics port). */
export interface ConsumerHealth {
  healthy: boolean;
  /** Why not healthy: not in the group, no heartbeat answered lately, or a batch stuck (MongoDB or Redis down or hung). */
  reason?: string;
  memberId: string | null;
  /** Partitions assigned to this member. */
  partitions: number;
  /** ms since the group coordinator last answered a heartbeat (null before the first). */
  lastHeartbeatAgoMs: number | null;
  /** ms the batch in hand has been applying, retries included (null when idle). */
  batchAgeMs: number | null;
}

type Record = Message<Buffer, Buffer, Buffer, Buffer>;
const TIMEOUT = Symbol('timeout');
const sleep = (ms: number) => new Promise<typeof TIMEOUT>((resolve) => setTimeout(() => resolve(TIMEOUT), Math.max(0, ms)));

/**
 * One member of the interaction-event consumer group. Records are taken in batches (up to maxBatch, waiting at most
 * maxWaitMs for more); each batch is decoded and validated, its valid events applied durably (MongoDB, idempotent by
 * event id, cached lists dropped), its malformed or invalid records copied to the dead-letter topic with the reason,
 * and only then are the offsets committed (at-least-once: a crash before the commit redelivers the batch, which is
 * applied once). A failed write is retried with back-off without committing, so nothing is skipped; a record that
 * can never be applied goes to the dead-letter topic and never blocks its partition. stop() finishes the batch in
 * hand, commits it, and leaves the group so its partitions move to the other members at once.
 */
export class EventConsumer {
  private consumer: Consumer<Buffer, Buffer, Buffer, Buffer> | undefined;
  private dlq: Producer | undefined;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private crashed = false;
  private readonly clock: () => Date;
  private readonly now: () => number;
  /** When the batch in hand was taken (undefined when idle). */
  private batchStartedAt: number | undefined;

  constructor(private readonly options: EventConsumerOptions) {
    this.clock = options.clock ?? (() => new Date());
    this.now = options.now ?? Date.now;
  }

  /**
   * Healthy when the member is in its consumer group (joined, with a member id and a running heartbeat), the group
   * coordinator answered a heartbeat within the session timeout, and no batch has been applying (retries included)
   * for longer than stallAfterMs: a member cut off from Kafka, or hung on MongoDB or Redis, reports unhealthy.
   */
  health(): ConsumerHealth {
    const consumer = this.consumer;
    const now = this.now();
    const lastHeartbeat = consumer?.lastHeartbeat ?? null;
    const lastHeartbeatAgoMs = lastHeartbeat ? Math.max(0, now - lastHeartbeat.getTime()) : null;
    const batchAgeMs = this.batchStartedAt === undefined ? null : Math.max(0, now - this.batchStartedAt);
    const base = {
      memberId: consumer?.memberId ?? null,
      partitions: (consumer?.assignments ?? []).reduce((n, a) => n + a.partitions.length, 0),
      lastHeartbeatAgoMs,
      batchAgeMs,
    };
    let reason: string | undefined;
    if (!consumer || this.stopping) reason = 'stopped';
    else if (!consumer.isActive()) reason = 'not in the consumer group';
    else if (lastHeartbeatAgoMs === null || lastHeartbeatAgoMs > this.options.sessionTimeoutMs) reason = 'no heartbeat answered within the session timeout';
    else if (batchAgeMs !== null && batchAgeMs > (this.options.stallAfterMs ?? 60_000)) reason = `a batch has been applying for ${Math.round(batchAgeMs / 1000)} s (MongoDB or Redis down or hung?)`;
    return reason ? { healthy: false, reason, ...base } : { healthy: true, ...base };
  }

  async start(): Promise<void> {
    const { settings, groupId, metrics, log } = this.options;
    await ensureTopics(settings);
    this.dlq = new Producer({
      clientId: `${settings.clientId}-dlq`,
      bootstrapBrokers: settings.brokers,
      idempotent: true,
      acks: -1,
      retries: 10,
      retryDelay: 300,
    });
    this.consumer = new Consumer({
      clientId: settings.clientId,
      groupId,
      bootstrapBrokers: settings.brokers,
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(this.options.sessionTimeoutMs / 5)),
      rebalanceTimeout: Math.max(this.options.sessionTimeoutMs, 30_000),
      retries: 10,
      retryDelay: 500,
    });
    this.consumer.on('consumer:group:join', (payload) => {
      metrics.rebalances.inc();
      // A member reports lag only for the partitions it owns now: the ones it lost belong to another member.
      metrics.lag.reset();
      log.info({ memberId: payload.memberId, assignments: payload.assignments }, 'joined the event consumer group');
    });
    this.stream = await this.consumer.consume({
      topics: [settings.topic],
      autocommit: false,
      mode: 'committed',
      fallbackMode: 'earliest',
      maxWaitTime: 200,
    });
    this.consumer.on('consumer:lag', (lag) => {
      for (const [topic, partitions] of lag) partitions.forEach((l, p) => l >= 0n && metrics.lag.set({ topic, partition: String(p) }, Number(l)));
    });
    this.consumer.startLagMonitoring({ topics: [settings.topic] }, 5_000);
    this.loop = this.run(this.stream).catch((err: unknown) => log.error({ err }, 'event consumer loop stopped'));
    log.info({ topic: settings.topic, groupId }, 'event consumer started');
  }

  /**
   * As a crash: drops the batch in hand without committing and closes the connections without leaving the group
   * (tests use it; the partitions move after the session timeout and their records are redelivered).
   */
  async abort(): Promise<void> {
    this.stopping = true;
    this.crashed = true;
    this.consumer?.stopLagMonitoring();
    await this.consumer?.close(true).catch(() => undefined);
    await this.dlq?.close(true).catch(() => undefined);
  }

  /** Finishes the batch in hand (applied and committed), leaves the group, closes the clients. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.consumer?.stopLagMonitoring();
    await this.stream?.close().catch(() => undefined);
    if (!this.crashed) await this.loop; // an aborted member's batch is abandoned, not awaited
    await this.consumer?.close(true).catch(() => undefined);
    await this.dlq?.close().catch(() => undefined);
  }

  private async run(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    const iterator = stream[Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<Record>> | undefined;
    let ended = false;
    while (!ended && !this.stopping) {
      pending ??= iterator.next();
      const first = await pending;
      pending = undefined;
      if (first.done) break;
      const batch: Record[] = [first.value];
      const until = Date.now() + this.options.maxWaitMs;
      while (batch.length < this.options.maxBatch) {
        pending ??= iterator.next();
        const next = await Promise.race([pending, sleep(until - Date.now())]);
        if (next === TIMEOUT) break;
        pending = undefined;
        if (next.done) {
          ended = true;
          break;
        }
        batch.push(next.value);
      }
      await this.handle(batch);
    }
  }

  /** Applies a batch until it succeeds (back-off up to 5 s), then commits; gives up only when stopping. */
  private async handle(batch: Record[]): Promise<void> {
    const { metrics, log } = this.options;
    const started = process.hrtime.bigint();
    this.batchStartedAt = this.now();
    try {
      await this.applyAndCommit(batch);
    } finally {
      this.batchStartedAt = undefined;
    }
    metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }

  private async applyAndCommit(batch: Record[]): Promise<void> {
    const { metrics, log } = this.options;
    log.debug({ records: batch.length }, 'event batch');
    for (let attempt = 0; ; attempt++) {
      try {
        await this.apply(batch);
        break;
      } catch (err) {
        metrics.applyFailures.inc();
        log.warn({ err: String(err), attempt, records: batch.length }, 'applying an event batch failed: retrying (offsets not committed)');
        if (this.stopping) return; // not committed: the next owner of the partitions gets the batch again
        await sleep(Math.min(5_000, 200 * 2 ** attempt));
      }
    }
    if (this.crashed) return;
    // Commit the next offset of each partition's last record.
    const last = new Map<string, Record>();
    for (const record of batch) last.set(`${record.topic}:${record.partition}`, record);
    try {
      await Promise.all([...last.values()].map((record) => record.commit()));
    } catch (err) {
      metrics.commitFailures.inc();
      log.warn({ err: String(err) }, 'offset commit failed (rebalance?): the batch will be redelivered and applied once');
    }
  }

  private async apply(batch: Record[]): Promise<void> {
    const { applier, metrics, settings } = this.options;
    const now = this.clock();
    const valid: { record: Record; event: ValidEvent }[] = [];
    const dead: { record: Record; problem: EventProblem }[] = [];
    for (const record of batch) {
      const check = decodeEvent(record.value, now);
      if (!check.ok) dead.push({ record, problem: check.problem });
      else if (!record.key || record.key.toString('utf8') !== check.event.userId) {
        dead.push({ record, problem: { field: 'user_id', message: 'the record key must be the event user_id (UTF-8)' } });
      } else valid.push({ record, event: check.event });
    }
    const result = await applier.apply(
      valid.map((v) => v.event),
      now,
    );
    const recordOf = new Map(valid.map((v) => [v.event, v.record]));
    for (const { event, problem } of result.rejected) dead.push({ record: recordOf.get(event)!, problem });
    if (dead.length) {
      await this.dlq!.send({
        messages: dead.map(({ record, problem }) => ({
          topic: settings.dlqTopic,
          key: record.key ?? undefined,
          value: record.value ?? Buffer.alloc(0),
          headers: new Map([
            [Buffer.from('x-dlq-reason'), Buffer.from(`${problem.field}: ${problem.message}`)],
            [Buffer.from('x-dlq-topic'), Buffer.from(record.topic)],
            [Buffer.from('x-dlq-partition'), Buffer.from(String(record.partition))],
            [Buffer.from('x-dlq-offset'), Buffer.from(String(record.offset))],
          ]),
        })),
      });
    }
    metrics.consumed.inc({ result: 'applied' }, result.applied.length);
    metrics.consumed.inc({ result: 'duplicate' }, result.duplicates.length);
    metrics.consumed.inc({ result: 'dead_letter' }, dead.length);
    for (const { problem } of dead) metrics.deadLetters.inc({ field: problem.field });
  }
}
