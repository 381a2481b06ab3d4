import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Consumer, Producer } from '@platformatic/kafka';
import { Registry } from 'prom-client';
import { RedisCache } from '../../lib/src/cache/redis-cache.js';
import { EventApplier } from '../../lib/src/events/applier.js';
import { encodeEvent, type ValidEvent } from '../../lib/src/events/interaction-event.js';
import { CircuitOpenError } from '../../lib/src/circuit-breaker.js';
import { UnavailableError } from '../../lib/src/errors.js';
import { EventProducer, SEND_TIMEOUT_MS, type KafkaSettings } from '../../lib/src/events/kafka.js';
import { createLogger } from '../../lib/src/logger.js';
import { InteractionEvent, InteractionType } from '../../lib/src/proto.js';
import { currentList, stampKey, stampList } from '../../lib/src/events/list-stamp.js';
import { MongoStore } from '../../lib/src/store/mongo-store.js';
import type { Store } from '../../lib/src/store/types.js';
import { EventConsumer } from '../src/consumer/event-consumer.js';
import { ConsumerMetrics } from '../src/consumer/metrics.js';
import { ownedKafka, type OwnedKafka } from '../../lib/test/support/kafka.js';
import { describeWithServers, realStorageEnv, serverUrl } from '../../lib/test/support/servers.js';

const log = createLogger('test', (process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
const at = new Date('2026-11-01T12:00:00Z');
const movies = ['m1', 'm2', 'm3', 'm4', 'm5'].map((movieId) => ({ movieId, title: movieId, year: 2000, genres: ['Drama'], rating: 7, popularity: 0 }));
const watched = (eventId: string, userId: string, movieId = 'm1'): ValidEvent => ({ eventId, userId, movieId, type: 'watched', completed: true, occurredAt: at });

function settingsFor(brokers: string): KafkaSettings {
  const unique = randomUUID().slice(0, 8);
  return { brokers: [brokers], topic: `test-events-${unique}`, dlqTopic: `test-events-${unique}.dlq`, clientId: `test-${unique}`, partitions: 2 };
}

async function untilTrue(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every record of a topic from the start (the dead-letter topic). */
async function readAll(settings: KafkaSettings, topic: string, expected: number) {
  const consumer = new Consumer({ clientId: `${settings.clientId}-reader`, groupId: `reader-${randomUUID()}`, bootstrapBrokers: settings.brokers });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 200 });
  const records: { key?: string; reason?: string }[] = [];
  try {
    for await (const m of stream) {
      const reason = [...m.headers].find(([k]) => k.toString() === 'x-dlq-reason')?.[1]?.toString();
      records.push({ key: m.key?.toString(), reason });
      if (records.length >= expected) break;
    }
  } finally {
    await stream.close();
    await consumer.close(true);
  }
  return records;
}

describeWithServers(['KAFKA_BROKERS', 'MONGO_URL', 'REDIS_URL'], 'interaction events through a real Kafka broker into MongoDB', () => {
  let store: Store;
  let cache: RedisCache;
  const consumers: EventConsumer[] = [];
  const producers: EventProducer[] = [];
  let metrics: ConsumerMetrics;

  beforeAll(async () => {
    const env = realStorageEnv();
    store = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
    await store.init();
    await store.insertMany('movies', movies);
    cache = await RedisCache.connect(env.REDIS_URL!);
  });
  afterAll(async () => {
    for (const c of consumers) await c.stop();
    for (const p of producers) await p.close();
    await (store as MongoStore | undefined)?.dropDatabase();
    await store?.close();
    await cache?.close();
  });

  function startConsumer(settings: KafkaSettings, groupId: string, applier: EventApplier) {
    metrics = new ConsumerMetrics(new Registry());
    const consumer = new EventConsumer({ settings, groupId, applier, metrics, log, maxBatch: 100, maxWaitMs: 20, sessionTimeoutMs: 6_000, clock: () => at });
    consumers.push(consumer);
    return consumer;
  }
  const applier = () => new EventApplier(store, cache);
  const producerFor = (settings: KafkaSettings) => {
    const p = new EventProducer(settings);
    producers.push(p);
    return p;
  };
  const countFor = async (userId: string) => {
    let n = 0;
    for await (const batch of store.scan('interaction_events')) n += batch.filter((e) => e.userId === userId).length;
    return n;
  };
  const watchedFor = async (userId: string) => {
    let n = 0;
    for await (const batch of store.scan('watched_movies')) n += batch.filter((e) => e.userId === userId).length;
    return n;
  };

  it('applies a redelivered event once and sends poison and invalid records to the dead-letter topic without blocking', async () => {
    const settings = settingsFor(serverUrl('KAFKA_BROKERS')!);
    const consumer = startConsumer(settings, `g-${randomUUID()}`, applier());
    await consumer.start();
    const user = `u-${randomUUID().slice(0, 8)}`;
    const listBefore = stampList(null, 'r1;m1,1'); // a list the refresh job cached before any event
    const producer = producerFor(settings);
    const first = watched('e-1', user);
    await producer.send([first, { ...first }]); // the same event twice: a producer retry or a redelivery
    const raw = new Producer({ clientId: `${settings.clientId}-raw`, bootstrapBrokers: settings.brokers });
    const bad = InteractionEvent.encode({ eventId: 'e-bad', userId: user, movieId: 'm2', type: InteractionType.INTERACTION_TYPE_RATED, occurredAt: at, rating: 11, completed: false, progress: 0 }).finish();
    await raw.send({
      messages: [
        { topic: settings.topic, key: Buffer.from(user), value: Buffer.from('not protobuf at all') },
        { topic: settings.topic, key: Buffer.from(user), value: Buffer.from(bad) },
        { topic: settings.topic, key: Buffer.from(user), value: encodeEvent({ ...watched('e-unknown', user), movieId: 'm999' }) },
        { topic: settings.topic, key: Buffer.from('someone-else'), value: encodeEvent(watched('e-key', user)) },
      ],
    });
    await raw.close();
    await producer.send([{ eventId: 'e-2', userId: user, movieId: 'm2', type: 'rated', rating: 8, occurredAt: at }, first]);

    await untilTrue(async () => (await countFor(user)) === 2 && (await metrics.consumed.get()).values.reduce((s, v) => s + v.value, 0) >= 8, 30_000, 'the events');
    expect(await watchedFor(user)).toBe(1);
    expect(Object.fromEntries(await store.userInteractionWeights(user))).toEqual({ m1: 1, m2: expect.closeTo(0.8, 9) });
    const consumed = Object.fromEntries((await metrics.consumed.get()).values.map((v) => [v.labels.result, v.value]));
    expect(consumed).toEqual({ applied: 2, duplicate: 2, dead_letter: 4 });
    // The user has a stamp now: a list cached before the events (any version) is a miss.
    const stamp = await cache.get(stampKey(user));
    expect(stamp).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]{12}$/);
    expect(currentList(listBefore, stamp)).toBeNull();
    expect(currentList(stampList(stamp, 'r1;m3,1'), stamp)).toBe('r1;m3,1');

    const dead = await readAll(settings, settings.dlqTopic, 4);
    // (the record with the wrong key may land on another partition: compare without order)
    expect(dead.map((d) => d.reason).sort()).toEqual([
      expect.stringMatching(/^movie_id: movie 'm999' is not in the catalogue/),
      expect.stringMatching(/^rating: rating must be an integer from 1 to 10/),
      expect.stringMatching(/^user_id: the record key must be the event user_id/),
      expect.stringMatching(/^value: not a protobuf/),
    ]);
    await consumer.stop();
  }, 90_000);

  it('redelivers the batch of a consumer killed mid-batch to the next member, and stores every event once', async () => {
    const settings = settingsFor(serverUrl('KAFKA_BROKERS')!);
    const groupId = `g-${randomUUID()}`;
    const user = `u-${randomUUID().slice(0, 8)}`;
    // The first member writes its batch durably, then hangs before committing; the test kills it there.
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const real = applier();
    const hanging = Object.assign(Object.create(real) as EventApplier, {
      async apply(events: readonly ValidEvent[], now?: Date) {
        const result = await real.apply(events, now);
        wrote();
        await new Promise(() => undefined); // never returns: killed here
        return result;
      },
    });
    const first = startConsumer(settings, groupId, hanging);
    await first.start();
    const events = Array.from({ length: 20 }, (_, i) => watched(`k-${i}`, user, movies[i % movies.length].movieId));
    await producerFor(settings).send(events);
    await written;
    await first.abort();

    const second = startConsumer(settings, groupId, applier());
    await second.start();
    await untilTrue(async () => ((await metrics.consumed.get()).values.find((v) => v.labels.result === 'duplicate')?.value ?? 0) > 0, 60_000, 'the redelivery');
    await untilTrue(async () => (await countFor(user)) === 20, 30_000, 'all 20 events');
    expect(await watchedFor(user)).toBe(20);
    await second.stop();
  }, 120_000);

  it('applies an event produced by the README example of another service (docs/produce-event.mjs)', async () => {
    const settings = settingsFor(serverUrl('KAFKA_BROKERS')!);
    // The example stamps occurred_at with the wall clock: this member checks it against the wall clock too.
    metrics = new ConsumerMetrics(new Registry());
    const consumer = new EventConsumer({ settings, groupId: `g-${randomUUID()}`, applier: applier(), metrics, log, maxBatch: 100, maxWaitMs: 0, sessionTimeoutMs: 6_000 });
    consumers.push(consumer);
    await consumer.start();
    const user = `u-${randomUUID().slice(0, 8)}`;
    const { stdout } = await promisify(execFile)(process.execPath, ['docs/produce-event.mjs', user, 'm3'], {
      env: { ...process.env, KAFKA_BROKERS: settings.brokers.join(','), EVENTS_TOPIC: settings.topic },
    });
    expect(stdout).toMatch(new RegExp(`^produced [0-9a-f-]{36}: ${user} watched m3`));
    await untilTrue(async () => (await countFor(user)) === 1, 30_000, 'the example event');
    expect(Object.fromEntries(await store.userInteractionWeights(user))).toEqual({ m3: 1 });
    await consumer.stop();
  }, 90_000);

  it('reports healthy only while in its group with batches getting applied: a batch stuck on the store makes it unhealthy', async () => {
    const settings = settingsFor(serverUrl('KAFKA_BROKERS')!);
    const user = `u-${randomUUID().slice(0, 8)}`;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reached!: () => void;
    const stuck = new Promise<void>((resolve) => (reached = resolve));
    const real = applier();
    const hanging = Object.assign(Object.create(real) as EventApplier, {
      async apply(events: readonly ValidEvent[], now?: Date) {
        reached();
        await gate; // as a MongoDB that does not answer
        return real.apply(events, now);
      },
    });
    let skewMs = 0; // the health clock runs ahead of the wall clock by this much
    metrics = new ConsumerMetrics(new Registry());
    const consumer = new EventConsumer({
      settings,
      groupId: `g-${randomUUID()}`,
      applier: hanging,
      metrics,
      log,
      maxBatch: 100,
      maxWaitMs: 20,
      sessionTimeoutMs: 6_000,
      clock: () => at,
      stallAfterMs: 2_000,
      now: () => Date.now() + skewMs,
    });
    consumers.push(consumer);
    onTestFinished(() => open()); // a failed expectation must not leave the member hanging for afterAll
    expect(consumer.health()).toMatchObject({ healthy: false, reason: 'stopped' });
    await consumer.start();
    await untilTrue(async () => consumer.health().healthy, 30_000, 'the member to join its group');
    expect(consumer.health()).toMatchObject({ healthy: true, memberId: expect.any(String), partitions: 2, batchAgeMs: null });
    await producerFor(settings).send([watched('h-1', user)]);
    await stuck;
    expect(consumer.health()).toMatchObject({ healthy: true, batchAgeMs: expect.any(Number) });
    skewMs = 3_000; // past stallAfterMs, within the session timeout (heartbeats keep coming)
    expect(consumer.health()).toMatchObject({ healthy: false, reason: expect.stringMatching(/a batch has been applying for [34] s/) });
    skewMs = 0;
    open();
    await untilTrue(async () => (await countFor(user)) === 1, 30_000, 'the event');
    await untilTrue(async () => consumer.health().batchAgeMs === null, 30_000, 'the commit');
    expect(consumer.health().healthy).toBe(true);
    await consumer.stop();
    expect(consumer.health()).toMatchObject({ healthy: false, reason: 'stopped' });
  }, 90_000);
});

describeWithServers(['KAFKA_BROKERS', 'MONGO_URL', 'REDIS_URL'], 'interaction events across a broker outage (a broker of the test own)', () => {
  let kafka: OwnedKafka;
  let store: MongoStore;
  let cache: RedisCache;
  beforeAll(async () => {
    kafka = await ownedKafka();
    await kafka.start();
    const env = realStorageEnv();
    store = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
    await store.init();
    await store.insertMany('movies', movies);
    cache = await RedisCache.connect(env.REDIS_URL!);
  }, 120_000);
  afterAll(async () => {
    await kafka?.stop();
    await store?.dropDatabase();
    await store?.close();
    await cache?.close();
  });

  it('stores every event produced while the broker was stopped for 10 s exactly once', async () => {
    const settings = settingsFor(kafka.brokers);
    const metrics = new ConsumerMetrics(new Registry());
    const consumer = new EventConsumer({
      settings,
      groupId: `g-${randomUUID()}`,
      applier: new EventApplier(store, cache),
      metrics,
      log,
      maxBatch: 100,
      maxWaitMs: 20,
      sessionTimeoutMs: 6_000,
      clock: () => at,
    });
    await consumer.start();
    const producer = new EventProducer(settings);
    const user = 'outage-user';
    let failedSends = 0;
    const errors: unknown[] = [];
    /** A producing client: resends a batch until the broker takes it (consumers apply each event id once). */
    const send = async (event: ValidEvent) => {
      for (;;) {
        try {
          await producer.send([event]);
          return;
        } catch (err) {
          errors.push(err);
          failedSends++;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    };
    let i = 0;
    for (; i < 5; i++) await send(watched(`o-${i}`, user, movies[i % 5].movieId));
    await kafka.stop();
    const restart = new Promise<void>((resolve, reject) => setTimeout(() => kafka.start().then(resolve, reject), 10_000));
    for (; i < 15; i++) await send(watched(`o-${i}`, user, movies[i % 5].movieId)); // blocks until the broker is back
    await restart;
    for (; i < 20; i++) await send(watched(`o-${i}`, user, movies[i % 5].movieId));

    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 90_000;
      const poll = async () => {
        const n = await store.count('interaction_events');
        if (n >= 20) return resolve();
        if (Date.now() > deadline) return reject(new Error(`only ${n} of 20 events stored`));
        setTimeout(() => void poll(), 200);
      };
      void poll();
    });
    expect(await store.count('interaction_events')).toBe(20);
    expect(await store.count('watched_movies')).toBe(20);
    expect(failedSends).toBeGreaterThan(0); // the outage was real
    // A send never waited for the producer's own retries: it gave up within its bound (UnavailableError: the
    // gateway's fast 503), and once several failed in a row the circuit opened and sends were refused at once.
    expect(errors.every((e) => e instanceof UnavailableError)).toBe(true);
    expect(errors.some((e) => e instanceof CircuitOpenError)).toBe(true);
    for (const e of errors) {
      const bound = /within (\d+) ms/.exec((e as Error).message)?.[1];
      if (bound) expect(Number(bound)).toBeLessThanOrEqual(SEND_TIMEOUT_MS);
    }
    await consumer.stop();
    await producer.close();
  }, 240_000);
});
