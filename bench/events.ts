/**
 * bench:events — interaction events on real servers: events/s from Kafka into MongoDB (the consumer group member,
 * batches applied and committed), events/s through POST /events applied directly (no Kafka: the baseline of the same
 * run), and the event-to-changed-list latency p50/p99 (POST /events, then GET /recommendations until the list no
 * longer holds the movie) with Kafka and without it.
 *
 *   npm run bench:events [-- --events N --latency-samples N]
 *
 * Needs MONGO_URL, REDIS_URL and KAFKA_BROKERS (scripts/test-servers.sh). Uses a database, topics and a group of its
 * own (dropped/left afterwards). The models are random (32 factors, 2,000 users, 1,000 movies): serving cost, not
 * quality, is measured. Prints a markdown table; writes bench/results/events-<date>.json.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { GENRES, type ModelTypeName } from '../lib/src/domain.js';
import { RedisCache } from '../lib/src/cache/redis-cache.js';
import { EventApplier } from '../lib/src/events/applier.js';
import { EventProducer, parseBrokers, type KafkaSettings } from '../lib/src/events/kafka.js';
import type { ValidEvent } from '../lib/src/events/interaction-event.js';
import { createLogger } from '../lib/src/logger.js';
import { newVersion } from '../lib/src/models/artifact.js';
import { ModelRegistry } from '../lib/src/models/registry.js';
import { DirectoryObjectStore } from '../lib/src/objectstore/directory-object-store.js';
import { MongoStore } from '../lib/src/store/mongo-store.js';
import type { MovieDoc } from '../lib/src/store/types.js';
import { ApiKeyStore } from '../lib/src/api-keys.js';
import { buildGateway } from '../gateway/src/app.js';
import { Upstreams } from '../gateway/src/upstreams.js';
import { loadRecsvcConfig } from '../recsvc/src/config.js';
import { EventConsumer } from '../recsvc/src/consumer/event-consumer.js';
import { ConsumerMetrics } from '../recsvc/src/consumer/metrics.js';
import { startRecsvc } from '../recsvc/src/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const say = (line: string) => process.stderr.write(`[bench:events] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { values: args } = parseArgs({ options: { events: { type: 'string', default: '20000' }, 'latency-samples': { type: 'string', default: '100' } } });
const N = Number(args.events);
const SAMPLES = Number(args['latency-samples']);
const missing = ['MONGO_URL', 'REDIS_URL', 'KAFKA_BROKERS'].filter((v) => !process.env[v]);
if (missing.length) {
  say(`${missing.join(', ')} not set: start the servers (scripts/test-servers.sh) and source <state>/env`);
  process.exit(2);
}
const log = createLogger('bench', (process.env.LOG_LEVEL as 'silent') ?? 'silent');
const unique = randomUUID().slice(0, 8);
const USERS = 2000;
const MOVIES = 1000;
const DIM = 32;

let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const movies: MovieDoc[] = Array.from({ length: MOVIES }, (_, i) => ({
  movieId: `m${i}`,
  title: `Movie ${i}`,
  year: 1990 + (i % 30),
  genres: [GENRES[i % GENRES.length]],
  rating: 1 + (i % 10),
  popularity: 0,
}));
const userIds = Array.from({ length: USERS }, (_, i) => `u${i}`);
const vectors = (n: number) => Float32Array.from({ length: n * DIM }, () => rand() - 0.5);

async function publishModel(objects: DirectoryObjectStore, modelType: ModelTypeName): Promise<void> {
  const registry = new ModelRegistry(objects);
  const version = newVersion(new Date());
  const arrays: Record<string, Float32Array> = {
    userVectors: vectors(USERS),
    userBiases: new Float32Array(USERS),
    itemVectors: vectors(MOVIES),
    itemBiases: new Float32Array(MOVIES),
  };
  const idMaps: Record<string, string[]> = { users: userIds, items: movies.map((m) => m.movieId) };
  if (modelType === 'lightfm') {
    arrays.genreUserVectors = vectors(GENRES.length);
    arrays.genreUserBiases = new Float32Array(GENRES.length);
    arrays.genreItemVectors = vectors(GENRES.length);
    arrays.genreItemBiases = new Float32Array(GENRES.length);
    idMaps.genres = [...GENRES];
  }
  await registry.publish(
    {
      modelType,
      version,
      createdAt: new Date().toISOString(),
      params: modelType === 'als' ? { factors: DIM, alpha: 10, regularization: 0.05 } : { noComponents: DIM },
      dataStats: { users: USERS, items: MOVIES, dataReadStartedAtMs: Date.now() },
      metrics: {},
      dimensions: { users: USERS, items: MOVIES, factors: DIM, genres: modelType === 'lightfm' ? GENRES.length : 0 },
    },
    arrays,
    idMaps,
  );
  await registry.activate(modelType, version);
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
let eventSeq = 0;
const watched = (userId: string, movieId: string): ValidEvent => ({
  eventId: `b-${unique}-${eventSeq++}`,
  userId,
  movieId,
  type: 'watched',
  completed: true,
  occurredAt: new Date(),
});

async function main() {
  const store = await MongoStore.connect(process.env.MONGO_URL!, `bench_events_${unique}`);
  await store.init();
  await store.insertMany('movies', movies);
  const cache = await RedisCache.connect(process.env.REDIS_URL!);
  const objects = new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'bench-events-')));
  await objects.ensureBucket();
  await publishModel(objects, 'als');
  await publishModel(objects, 'lightfm');
  const settings: KafkaSettings = {
    brokers: parseBrokers(process.env.KAFKA_BROKERS!),
    topic: `bench-events-${unique}`,
    dlqTopic: `bench-events-${unique}.dlq`,
    clientId: `bench-${unique}`,
    partitions: 4,
  };
  const metrics = new ConsumerMetrics(new Registry());
  const consumer = new EventConsumer({
    settings,
    groupId: `bench-${unique}`,
    applier: new EventApplier(store, cache),
    metrics,
    log,
    maxBatch: 500,
    maxWaitMs: 0,
    sessionTimeoutMs: 10_000,
  });
  await consumer.start();
  const applied = async () => (await metrics.consumed.get()).values.reduce((s, v) => s + v.value, 0);
  const results: Record<string, number> = {};

  // 1. Kafka -> MongoDB.
  say(`producing ${N} events to Kafka, consumed by one group member into MongoDB`);
  const producer = new EventProducer(settings);
  const events = Array.from({ length: N }, () => watched(userIds[Math.floor(rand() * USERS)], movies[Math.floor(rand() * MOVIES)].movieId));
  const t0 = performance.now();
  for (let i = 0; i < N; i += 500) {
    await producer.send(events.slice(i, i + 500));
    if (i === 0) say('  first batch produced');
  }
  const tProduced = performance.now();
  say(`produced in ${((tProduced - t0) / 1000).toFixed(1)} s`);
  for (let last = 0; (await applied()) < N; await sleep(50)) {
    if (performance.now() - last > 5_000) {
      last = performance.now();
      say(`  consumed ${await applied()} of ${N}`);
    }
  }
  const t1 = performance.now();
  results.kafkaProducePerSecond = N / ((tProduced - t0) / 1000);
  results.kafkaToMongoPerSecond = N / ((t1 - t0) / 1000);

  // 2. POST /events, direct (recsvc without Kafka) and through Kafka, with the latency of a changed list.
  const stacks: { mode: string; baseUrl: string; close: () => Promise<void> }[] = [];
  // POST /events needs a key with scope ingest (README "Security"); GET /recommendations a client key when keys exist.
  const BENCH_KEY = `bench-${randomUUID()}`;
  const apiKeys = new ApiKeyStore({ inline: `bench:ingest,client:${BENCH_KEY}` });
  for (const mode of ['direct', 'kafka']) {
    const recsvc = await startRecsvc(
      loadRecsvcConfig({
        RECSVC_PORT: '0',
        RECSVC_METRICS_PORT: '0',
        ...(mode === 'kafka' ? { KAFKA_BROKERS: process.env.KAFKA_BROKERS, EVENTS_TOPIC: settings.topic, EVENTS_DLQ_TOPIC: settings.dlqTopic } : {}),
      }),
      log,
      { store, cache, objects, apiKeys },
    );
    const upstreams = new Upstreams(`127.0.0.1:${recsvc.port}`, '127.0.0.1:1', 10_000);
    const app = await buildGateway({ upstreams, log, apiKeys });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address() as { port: number };
    stacks.push({ mode, baseUrl: `http://127.0.0.1:${address.port}`, close: async () => (await app.close(), upstreams.close(), await recsvc.shutdown(2_000)) });
  }
  const post = (base: string, body: unknown) =>
    fetch(`${base}/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_KEY}` }, body: JSON.stringify(body) });
  const asJson = (e: ValidEvent) => ({ event_id: e.eventId, user_id: e.userId, movie_id: e.movieId, type: 'watched', completed: true, occurred_at: e.occurredAt.toISOString() });
  const direct = stacks.find((s) => s.mode === 'direct')!;
  const M = Math.min(N, 10_000);
  say(`POST /events, direct: ${M} events in batches of 1,000`);
  const restEvents = Array.from({ length: M }, () => watched(userIds[Math.floor(rand() * USERS)], movies[Math.floor(rand() * MOVIES)].movieId));
  const t2 = performance.now();
  for (let i = 0; i < M; i += 1000) {
    const res = await post(direct.baseUrl, { events: restEvents.slice(i, i + 1000).map(asJson) });
    if (res.status !== 200) throw new Error(`POST /events answered ${res.status}: ${await res.text()}`);
  }
  results.restDirectPerSecond = M / ((performance.now() - t2) / 1000);
  const kafkaStack = stacks.find((s) => s.mode === 'kafka')!;
  say(`POST /events, Kafka mode: ${M} events in batches of 1,000 (answered once the broker has them), until applied`);
  const kafkaRestEvents = Array.from({ length: M }, () => watched(userIds[Math.floor(rand() * USERS)], movies[Math.floor(rand() * MOVIES)].movieId));
  const appliedBefore = await applied();
  const t3 = performance.now();
  for (let i = 0; i < M; i += 1000) {
    const res = await post(kafkaStack.baseUrl, { events: kafkaRestEvents.slice(i, i + 1000).map(asJson) });
    if (res.status !== 200) throw new Error(`POST /events answered ${res.status}: ${await res.text()}`);
  }
  results.restKafkaPerSecond = M / ((performance.now() - t3) / 1000);
  while ((await applied()) < appliedBefore + M) await sleep(20);
  results.restKafkaAppliedPerSecond = M / ((performance.now() - t3) / 1000);

  for (const stack of stacks) {
    for (const model of ['als', 'lightfm'] as const) {
      say(`event-to-changed-list latency, ${stack.mode}, ${model}: ${SAMPLES} samples`);
      const latencies: number[] = [];
      const answered: number[] = [];
      const refused: Record<number, number> = {};
      for (let s = 0; s < SAMPLES; s++) {
        const user = userIds[(s * 7 + (model === 'als' ? 0 : 1000) + (stack.mode === 'kafka' ? 3 : 0)) % USERS];
        // A refused poll (429, 503) is not a changed list: it is counted and asked again.
        const list = async (): Promise<{ items: { movie_id: string }[] }> => {
          for (;;) {
            const res = await fetch(`${stack.baseUrl}/recommendations/${user}?model=${model}&k=10`, { headers: { authorization: `Bearer ${BENCH_KEY}` } });
            if (res.ok) return (await res.json()) as { items: { movie_id: string }[] };
            refused[res.status] = (refused[res.status] ?? 0) + 1;
            if (refused[res.status] === 1) say(`  GET answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
            else await res.body?.cancel();
            await sleep(20);
          }
        };
        const top = (await list()).items[0].movie_id;
        await list(); // now cached
        const started = performance.now();
        const res = await post(stack.baseUrl, { events: [asJson(watched(user, top))] });
        if (res.status !== 200) throw new Error(`POST /events answered ${res.status}`);
        answered.push(performance.now() - started);
        for (;;) {
          if (!(await list()).items.some((i) => i.movie_id === top)) break;
          if (performance.now() - started > 10_000) throw new Error('the list did not change within 10 s');
          await sleep(2);
        }
        latencies.push(performance.now() - started);
      }
      latencies.sort((a, b) => a - b);
      results[`latency_${stack.mode}_${model}_p50Ms`] = quantile(latencies, 0.5);
      results[`latency_${stack.mode}_${model}_p99Ms`] = quantile(latencies, 0.99);
      // Of that, the POST /events round trip (direct: the MongoDB writes and the stamp; Kafka: the catalogue check and the produce).
      answered.sort((a, b) => a - b);
      results[`latency_${stack.mode}_${model}_postP50Ms`] = quantile(answered, 0.5);
      results[`latency_${stack.mode}_${model}_refusedPolls`] = Object.values(refused).reduce((a, b) => a + b, 0);
    }
  }

  for (const stack of stacks) await stack.close();
  await consumer.stop();
  await producer.close();
  await store.dropDatabase();
  await store.close();
  await cache.close();

  const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  // The mission's target: the list changes within 1 s (p99) of an accepted event.
  const TARGET_P99_MS = 1000;
  const table = [
    '| measure | value | target |',
    '|---|---|---|',
    `| produce to Kafka (batches of 500, acks=all) | ${f(results.kafkaProducePerSecond)} events/s | — |`,
    `| Kafka -> MongoDB, one consumer (produce start to last applied) | ${f(results.kafkaToMongoPerSecond)} events/s | — |`,
    `| POST /events applied directly (batches of 1,000) | ${f(results.restDirectPerSecond)} events/s | — |`,
    `| POST /events to Kafka (batches of 1,000): answered / applied by the consumer | ${f(results.restKafkaPerSecond)} / ${f(results.restKafkaAppliedPerSecond)} events/s | — |`,
    ...['direct', 'kafka'].flatMap((mode) =>
      (['als', 'lightfm'] as const).map((model) => {
        const p99 = results[`latency_${mode}_${model}_p99Ms`];
        return `| event -> changed list, ${mode}, ${model}: p50 / p99 (${SAMPLES} samples; POST answered at p50 ${f(results[`latency_${mode}_${model}_postP50Ms`], 1)} ms) | ${f(results[`latency_${mode}_${model}_p50Ms`], 1)} / ${f(p99, 1)} ms | p99 <= ${f(TARGET_P99_MS)} ms: ${p99 <= TARGET_P99_MS ? 'met' : 'NOT met'} |`;
      }),
    ),
  ].join('\n');
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGB: Math.round(totalmem() / 2 ** 30), node: process.version, loadavg: loadavg() };
  process.stdout.write(`${table}\n`);
  const outDir = join(here, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const date = new Date().toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  writeFileSync(join(outDir, `events-${date}.json`), JSON.stringify({ date, machine, events: N, restEvents: M, samples: SAMPLES, results }, null, 2));
  say(`wrote bench/results/events-${date}.json`);
}

await main();
