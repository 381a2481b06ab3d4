/**
 * bench:serve — the serving path under load, in embedded mode (the demo as `npm start` runs it) and against the real
 * gateway → recsvc → Redis / MongoDB-wire / S3 processes on this machine, with a bare fastify route and a bare gRPC
 * handler behind the gateway as references (issues 5 and 13).
 *
 *   npm run build && node dist/bench/serve.js [--mode embedded|real|both] [--users 10000] [--movies 5000]
 *     [--interactions 20000] [--factors 64] [--connections 32] [--cold-connections N] [--duration 10]
 *     [--soak SECONDS] [--redis-db 14] [--micro-iterations 2000] [--feedback-sessions 2000] [--seed 42] [--cpu-prof DIR]
 *     [--latency-trace DIR]
 *
 * Real mode needs MONGO_URL, REDIS_URL and S3_ENDPOINT (+ S3_ACCESS_KEY/S3_SECRET_KEY), e.g. from
 * `bash scripts/test-servers.sh start && source /tmp/recsys-test-servers/env`. It uses a database and a bucket of its
 * own (bench_serve_<id>, bench-serve-<id>) and Redis database --redis-db (not 0, which the tests share: the cold run
 * flushes it); all are removed at the end. Embedded mode needs nothing: its DATA_DIR is a temporary folder.
 *
 * Embedded: dist/scripts/demo.js as a child process generates the data, trains both models
 * (REFRESH_AFTER_PROMOTION=false: the cache starts empty) and serves; its CPU is the whole demo process.
 * Real:
 * 1. Setup: generateData (popularity not computed: only the top-list fallbacks use it, and on FerretDB v1 it takes
 *    many minutes for 5k movies), then one model per type (ALS, LightFM-style) with deterministic random vectors for
 *    the generated users x movies, published and activated through ModelRegistry. The MongoDB reads of one cold
 *    request are timed in process.
 * 2. Child processes on free ports, LOG_LEVEL=warn: recsvc, the trainer API (the gateway's /readyz needs it) and a
 *    trainer worker, the gateway, a second gateway with GATEWAY_WORKERS=2; the cache of every user filled by the
 *    update_all_recommendations job (POST /recommendations/refresh, as in production); recsvc's in-process movie
 *    details primed (see below).
 * Both: bench/bare-server.js serving a real recommendation response (the reference), bench/bare-grpc-server.js with
 * a gateway in front of it (the floor). autocannon from this process, pipelining 1: the bare route; the floor; (embedded:
 * the cold cache); every user once (JIT warm-up); GET /recommendations/{user}?model=als&k=10 warm, at full load and at
 * half that rate (open loop, evenly spaced requests: bench/support/load.ts pacedRate); (real: the 2-process gateway);
 * --soak (paced the same way); POST /feedback/{session_id} on (session, movie) pairs of real
 * responses; (real: last, the cold cache: Redis flushed, each user at most once, so every request reads MongoDB and
 * scores with the model). recsvc's own metrics give the cache hits/misses and its handling time of each run. Then, in
 * process: ServingModel.recommend and topK of each backend, one user against every movie, 50 excluded. A markdown
 * table per mode on stdout; JSON in bench/results/serve-<UTC time>.json (each row's CLOCK_MONOTONIC window in µs, to
 * cut a --cpu-prof profile to it).
 *
 * FerretDB v1 (SQLite), the test servers' MongoDB, filters by reading the whole collection (~50-100 µs per
 * document here), so a cold request costs a read of every interaction document: ~1-2 s at the default 20k
 * interactions, 17-27 s at 200k (measured), past the gateway's 5 s gRPC deadline; hence the default of 20k
 * interactions (the serving path does not depend on them otherwise: exclusions only) and the cold run's
 * --cold-connections (default 2 on FerretDB, else --connections): at 32 connections every cold request would time
 * out and leave the shared FerretDB busy for minutes. Against a real MongoDB use --interactions 200000.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release as osRelease, tmpdir, totalmem, type as osType } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Request as AutocannonRequest } from 'autocannon';
import { Redis } from 'ioredis';
import { Client as MinioClient } from 'minio';
import { MongoClient } from 'mongodb';
import { createObjectStore, createStore } from '../lib/src/backends.js';
import type { StorageEnv } from '../lib/src/config.js';
import { generateData, type GenerateSummary } from '../lib/src/data/generate.js';
import { movieIdOf, userIdOf } from '../lib/src/data/synthetic.js';
import type { ModelTypeName } from '../lib/src/domain.js';
import { createLogger } from '../lib/src/logger.js';
import { CACHED_LIST_LENGTH, encodeRecommendations, recommendationKey } from '../lib/src/recommendation-cache.js';
import type { ObjectStore } from '../lib/src/objectstore/types.js';
import type { Store } from '../lib/src/store/types.js';
import { cpuSeconds, freePort, logTail, logText, peakRssMb, startChild, stopChild, waitForHttp, type Child } from './support/children.js';
import { percentile, runLoad, type LoadOptions, type LoadResult } from './support/load.js';
import { runScoringMicro, type MicroReport } from './support/micro.js';
import { publishRandomModel } from './support/model.js';

const here = dirname(fileURLToPath(import.meta.url));
const distRoot = join(here, '..');
const repoRoot = join(distRoot, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`[bench:serve] ${line}\n`);
const fmt = (n: number, digits = 2) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
const loadAvg = () => loadavg().map((l) => Number(l.toFixed(2)));

// ------------------------------------------------------------------------------------------------ arguments

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '10000' },
    movies: { type: 'string', default: '5000' },
    interactions: { type: 'string', default: '20000' },
    factors: { type: 'string', default: '64' },
    seed: { type: 'string', default: '42' },
    connections: { type: 'string', default: '32' },
    'cold-connections': { type: 'string' },
    duration: { type: 'string', default: '10' },
    'redis-db': { type: 'string', default: '14' },
    'micro-iterations': { type: 'string', default: '2000' },
    'feedback-sessions': { type: 'string', default: '2000' },
    /** A folder: gateway and recsvc run with --cpu-prof and write their .cpuprofile files there on exit. */
    'cpu-prof': { type: 'string' },
    /** A folder: the half-rate row writes `<mode>-warmHalf.csv` there (each request's scheduled start and latency, ms). */
    'latency-trace': { type: 'string' },
    /**
     * Seconds of warm traffic at half the saturated rate, RSS of gateway and recsvc (the demo process in embedded
     * mode) sampled; 0: no soak. The full soak of issue 13 is --soak 1800 (30 minutes); --soak 60 is a quick one.
     */
    soak: { type: 'string', default: '0' },
    /** embedded (the demo's in-process backends, as `npm start` runs them), real (MongoDB wire, Redis, S3), or both. */
    mode: { type: 'string', default: 'both' },
  },
});
const integer = (name: keyof typeof args, min: number): number => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    say(`--${name} must be an integer >= ${min}, got ${String(args[name])}`);
    process.exit(2);
  }
  return value;
};
const sizes = {
  users: integer('users', 1),
  movies: integer('movies', 1),
  interactions: integer('interactions', 0),
  factors: integer('factors', 1),
  seed: integer('seed', 0),
};
const connections = integer('connections', 1);
const durationSeconds = integer('duration', 1);
const redisDb = integer('redis-db', 0);
const microIterations = integer('micro-iterations', 10);
const feedbackSessions = Math.min(integer('feedback-sessions', 1), sizes.users);
const soakSeconds = Number(args.soak);
if (!Number.isFinite(soakSeconds) || soakSeconds < 0) {
  say(`--soak must be a number of seconds >= 0 (1800 for the full 30-minute soak), got ${String(args.soak)}`);
  process.exit(2);
}
type Mode = 'embedded' | 'real';
const MODES: Record<string, Mode[]> = { embedded: ['embedded'], real: ['real'], both: ['embedded', 'real'] };
const modes = MODES[args.mode ?? 'both'];
if (!modes) {
  say(`--mode must be one of: embedded, real, both; got ${String(args.mode)}`);
  process.exit(2);
}

const missing = ['MONGO_URL', 'REDIS_URL', 'S3_ENDPOINT'].filter((v) => !process.env[v]);
if (modes.includes('real') && missing.length) {
  say(
    `${missing.join(', ')} not set. The real-server mode runs against MongoDB wire protocol, Redis and S3 servers: ` +
      'start them with `bash scripts/test-servers.sh start` and `source /tmp/recsys-test-servers/env` (or point the ' +
      'variables at your own servers), then run it again; or run only the embedded mode with --mode embedded.',
  );
  process.exit(2);
}
if (modes.includes('real') && redisDb === 0) {
  say('--redis-db 0 refused: the cold-cache run flushes its Redis database; use one nobody else uses (default 14)');
  process.exit(2);
}

const runId = `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}${Math.random().toString(36).slice(2, 8)}`;
const redisUrl = (() => {
  if (!process.env.REDIS_URL) return '';
  const url = new URL(process.env.REDIS_URL);
  url.pathname = `/${redisDb}`;
  return url.toString();
})();
const storage: StorageEnv = {
  MONGO_URL: process.env.MONGO_URL,
  MONGO_DB: `bench_serve_${runId}`,
  REDIS_URL: redisUrl,
  S3_ENDPOINT: process.env.S3_ENDPOINT,
  S3_ACCESS_KEY: process.env.S3_ACCESS_KEY ?? 'minioadmin',
  S3_SECRET_KEY: process.env.S3_SECRET_KEY ?? 'minioadmin',
  S3_BUCKET: `bench-serve-${runId}`,
  S3_REGION: process.env.S3_REGION ?? 'us-east-1',
  DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-serve-')),
};
const logDir = storage.DATA_DIR;
const log = createLogger('bench', 'warn');
const benchApiKey = randomBytes(24).toString('hex');
const cpuProfDir = args['cpu-prof'];
if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });
/** Node flags of the gateway and recsvc (the demo process in embedded mode): --cpu-prof into --cpu-prof DIR. */
const profiled = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
const traceDir = args['latency-trace'];
if (traceDir) mkdirSync(traceDir, { recursive: true });

// ------------------------------------------------------------------------------------------------ cleanup

const children: Child[] = [];
let redis: Redis | undefined;
let objects: ObjectStore | undefined;
let databaseCreated = false;
let cleaning: Promise<void> | undefined;

async function cleanup(keepLogs: boolean): Promise<void> {
  cleaning ??= (async () => {
    // The gateway first, then recsvc (flushes its log buffer into the database before it is dropped).
    for (const child of [...children].reverse()) {
      try {
        await stopChild(child);
      } catch (err) {
        say(`stopping ${child.name}: ${String(err)}`);
      }
    }
    if (databaseCreated) {
      const client = new MongoClient(storage.MONGO_URL!, { serverSelectionTimeoutMS: 5_000 });
      try {
        await client.connect();
        await client.db(storage.MONGO_DB).dropDatabase();
        say(`dropped database ${storage.MONGO_DB}`);
      } catch (err) {
        say(`dropping database ${storage.MONGO_DB} failed: ${String(err)}`);
      } finally {
        await client.close();
      }
    }
    if (objects) {
      try {
        const keys = await objects.list('');
        if (keys.length) await objects.remove(keys);
        const url = new URL(storage.S3_ENDPOINT!);
        const minio = new MinioClient({
          endPoint: url.hostname,
          port: url.port ? Number(url.port) : undefined,
          useSSL: url.protocol === 'https:',
          accessKey: storage.S3_ACCESS_KEY ?? '',
          secretKey: storage.S3_SECRET_KEY ?? '',
          region: storage.S3_REGION,
          pathStyle: true,
        });
        await minio.removeBucket(storage.S3_BUCKET);
        say(`removed ${keys.length} objects and bucket ${storage.S3_BUCKET}`);
      } catch (err) {
        say(`removing bucket ${storage.S3_BUCKET} failed: ${String(err)}`);
      }
    }
    if (redis) {
      try {
        await redis.flushdb();
        say(`flushed Redis database ${redisDb}`);
      } catch (err) {
        say(`flushing Redis database ${redisDb} failed: ${String(err)}`);
      }
      redis.disconnect();
    }
    if (keepLogs) say(`logs of the services kept in ${logDir}`);
    else rmSync(logDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: cleaning up`);
    void cleanup(true).finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------------------------------------ recsvc metrics

interface Series {
  name: string;
  labels: string;
  value: number;
}

async function scrape(metricsPort: number): Promise<Series[]> {
  return scrapeUrl(`http://127.0.0.1:${metricsPort}/metrics`);
}

async function scrapeUrl(url: string): Promise<Series[]> {
  // The bench's key has the `metrics` scope (a gateway run with REQUIRE_KEY_FOR_METRICS needs one; others ignore it).
  const text = await (await fetch(url, { headers: { authorization: `Bearer ${benchApiKey}` } })).text();
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match) series.push({ name: match[1], labels: match[2] ?? '', value: Number(match[3]) });
  }
  return series;
}

/** Sum of the series named `name` whose label text contains every one of `parts` (case-insensitive). */
const total = (series: Series[], name: string, ...parts: string[]) =>
  series
    .filter((s) => s.name === name && parts.every((p) => s.labels.toLowerCase().includes(p.toLowerCase())))
    .reduce((sum, s) => sum + s.value, 0);

/** Counters of recsvc relevant to a run (differences between two scrapes). */
interface RecsvcCounts {
  cacheHits: number;
  cacheMisses: number;
  servedBySource: Record<string, number>;
  logDropped: number;
  feedbackStored: number;
  /** GetRecommendations / SubmitFeedback calls handled and their total handling time (s), any status. */
  recommendCalls: number;
  recommendSeconds: number;
  feedbackCalls: number;
  feedbackSeconds: number;
}

const SOURCES = ['cache', 'model', 'fold_in', 'genres_top', 'global_top'];

async function recsvcCounts(metricsPort: number): Promise<RecsvcCounts> {
  const s = await scrape(metricsPort);
  return {
    cacheHits: total(s, 'recommendation_cache_lookups_total', 'result="hit"'),
    cacheMisses: total(s, 'recommendation_cache_lookups_total', 'result="miss"'),
    servedBySource: Object.fromEntries(SOURCES.map((src) => [src, total(s, 'recommendations_served_total', `source="${src}"`)])),
    logDropped: total(s, 'recommendation_log_dropped_total'),
    feedbackStored: total(s, 'feedback_total'),
    recommendCalls: total(s, 'grpc_server_handling_seconds_count', '/getRecommendations"'),
    recommendSeconds: total(s, 'grpc_server_handling_seconds_sum', '/getRecommendations"'),
    feedbackCalls: total(s, 'grpc_server_handling_seconds_count', '/submitFeedback"'),
    feedbackSeconds: total(s, 'grpc_server_handling_seconds_sum', '/submitFeedback"'),
  };
}

/**
 * Garbage collection and event-loop delay of one node process over a row, from its /metrics (prom-client's default
 * metrics: `nodejs_gc_duration_seconds` by kind, and the event-loop delay histogram, which prom-client resets at each
 * scrape, so the scrape after a row covers the row).
 */
interface ProcessPauses {
  /** GC pause time in the row (ms): minor (scavenge), major (mark-compact), incremental marking, weak callbacks. */
  gcMs: Record<string, number>;
  gcCount: number;
  /** Event-loop delay over the row (ms): its 99th percentile and maximum. */
  lagP99Ms: number;
  lagMaxMs: number;
}

const GC_KINDS = ['minor', 'major', 'incremental', 'weakcb'];

interface GcTotals {
  seconds: Record<string, number>;
  count: number;
}

const gcOf = (s: Series[]): GcTotals => ({
  seconds: Object.fromEntries(GC_KINDS.map((kind) => [kind, total(s, 'nodejs_gc_duration_seconds_sum', `kind="${kind}"`)])),
  count: total(s, 'nodejs_gc_duration_seconds_count'),
});

async function gcTotals(url: string): Promise<GcTotals> {
  return gcOf(await scrapeUrl(url));
}

async function pausesSince(url: string, before: GcTotals): Promise<ProcessPauses> {
  const s = await scrapeUrl(url);
  const after = gcOf(s);
  return {
    gcMs: Object.fromEntries(GC_KINDS.map((kind) => [kind, (after.seconds[kind] - before.seconds[kind]) * 1000])),
    gcCount: after.count - before.count,
    lagP99Ms: total(s, 'nodejs_eventloop_lag_p99_seconds') * 1000,
    lagMaxMs: total(s, 'nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

function diffCounts(after: RecsvcCounts, before: RecsvcCounts): RecsvcCounts {
  const out = { ...after, servedBySource: { ...after.servedBySource } };
  for (const key of Object.keys(after) as (keyof RecsvcCounts)[]) {
    if (key !== 'servedBySource') out[key] = after[key] - before[key];
  }
  for (const src of SOURCES) out.servedBySource[src] = after.servedBySource[src] - (before.servedBySource[src] ?? 0);
  return out;
}

// ------------------------------------------------------------------------------------------------ CPU use

interface CpuSnapshot {
  at: number;
  self: number;
  byName: Record<string, number | undefined>;
}

/**
 * A test server's pid from scripts/test-servers.sh's pidfile (only read, for its CPU time), in its state folder
 * RECSYS_TEST_STATE (default /tmp/recsys-test-servers: the servers of the env file the run was pointed at).
 */
function serverPid(name: string): number | undefined {
  try {
    const pid = Number(readFileSync(`${process.env.RECSYS_TEST_STATE || '/tmp/recsys-test-servers'}/${name}.pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process and its child processes (a GATEWAY_WORKERS primary and its workers), from /proc. */
function treeCpuSeconds(pid: number | undefined): number | undefined {
  const own = cpuSeconds(pid);
  if (own === undefined || pid === undefined) return own;
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // no children file (not Linux, or the process is gone)
  }
  return children.reduce((sum, child) => sum + (treeCpuSeconds(child) ?? 0), own);
}

/** Resident set size in MB (Linux VmRSS), undefined elsewhere. */
function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function cpuSnapshot(pids: Record<string, number | undefined>): CpuSnapshot {
  const usage = process.cpuUsage();
  const byName: Record<string, number | undefined> = {};
  for (const [name, pid] of Object.entries(pids)) byName[name] = treeCpuSeconds(pid);
  return { at: performance.now(), self: (usage.user + usage.system) / 1e6, byName };
}

/** CPU use over a run in % of one core, per process. */
function cpuPercent(after: CpuSnapshot, before: CpuSnapshot): Record<string, number> {
  const seconds = (after.at - before.at) / 1000;
  const out: Record<string, number> = { bench: (100 * (after.self - before.self)) / seconds };
  for (const [name, value] of Object.entries(after.byName)) {
    const start = before.byName[name];
    if (value !== undefined && start !== undefined) out[name] = (100 * (value - start)) / seconds;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ setup helpers

/** The server behind MONGO_URL: FerretDB says so in buildInfo. */
async function mongoServerKind(): Promise<{ ferretdb: boolean; version: string }> {
  const client = new MongoClient(storage.MONGO_URL!, { serverSelectionTimeoutMS: 5_000 });
  try {
    await client.connect();
    const info = await client.db('admin').command({ buildInfo: 1 });
    const ferret = typeof info.ferretdbVersion === 'string' ? info.ferretdbVersion : undefined;
    return { ferretdb: ferret !== undefined, version: ferret ? `FerretDB ${ferret}` : `MongoDB ${String(info.version)}` };
  } finally {
    await client.close();
  }
}

/** The store without refreshPopularity (a no-op), for generateData. */
function withoutPopularity(store: Store): Store {
  return new Proxy(store, {
    get: (target, property, receiver) => (property === 'refreshPopularity' ? async () => 0 : Reflect.get(target, property, receiver)),
  });
}

interface ColdReads {
  users: number;
  getUserMs: number;
  userInteractionWeightsMs: number;
  dislikedMovieIdsMs: number;
  getMovies10Ms: number;
}

/** The MongoDB reads of one cache miss, timed one after the other (no concurrency), for a few users. */
async function timeColdReads(store: Store, users: number): Promise<ColdReads> {
  const sums = { getUserMs: 0, userInteractionWeightsMs: 0, dislikedMovieIdsMs: 0, getMovies10Ms: 0 };
  const timed = async (key: keyof typeof sums, work: () => Promise<unknown>) => {
    const start = performance.now();
    await work();
    sums[key] += performance.now() - start;
  };
  const picks = Array.from({ length: users }, (_, i) => Math.floor(((i + 0.5) * sizes.users) / users));
  for (const u of picks) {
    await timed('getUserMs', () => store.getUser(userIdOf(u)));
    await timed('userInteractionWeightsMs', () => store.userInteractionWeights(userIdOf(u)));
    await timed('dislikedMovieIdsMs', () => store.dislikedMovieIds(userIdOf(u)));
    await timed('getMovies10Ms', () => store.getMovies(Array.from({ length: 10 }, (_, i) => movieIdOf((u * 7 + i * 131) % sizes.movies))));
  }
  return {
    users,
    getUserMs: sums.getUserMs / users,
    userInteractionWeightsMs: sums.userInteractionWeightsMs / users,
    dislikedMovieIdsMs: sums.dislikedMovieIdsMs / users,
    getMovies10Ms: sums.getMovies10Ms / users,
  };
}

/** Keys matching a pattern in the bench's Redis database. */
async function countKeys(client: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 5000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}

interface Scenario {
  key: string;
  label: string;
  result: LoadResult;
  cpuPercent: Record<string, number>;
  loadAvgBefore: number[];
  recsvc?: RecsvcCounts;
  /** GC and event-loop delay of the processes serving the row (gateway and recsvc, or the demo process). */
  pauses?: Record<string, ProcessPauses>;
  note?: string;
  /** CLOCK_MONOTONIC µs at the start and end of the run: the same clock as the .cpuprofile timestamps of --cpu-prof. */
  monotonicUs: { start: number; end: number };
}

// ------------------------------------------------------------------------------------------------ real-server mode

/**
 * gateway, recsvc, the trainer API and worker as separate processes on MongoDB wire, Redis and S3 (the test servers),
 * and a second gateway with GATEWAY_WORKERS=2 for the scaling row.
 */
async function runReal(): Promise<ModeRun> {
  const server = await mongoServerKind();
  const coldConnections = args['cold-connections'] !== undefined ? integer('cold-connections', 1) : server.ferretdb ? 2 : connections;
  say(`run ${runId}: ${int(sizes.users)} users, ${int(sizes.movies)} movies, ${int(sizes.interactions)} interactions, ${sizes.factors} factors`);
  say(`MongoDB wire: ${server.version}; database ${storage.MONGO_DB}, bucket ${storage.S3_BUCKET}, Redis ${redisUrl}; logs in ${logDir}`);
  say(`load average ${loadAvg().join(' ')} on ${cpus().length} cores`);

  // Redis: the database must be ours (empty, or what an earlier run of this benchmark left).
  redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  const held = await redis.dbsize();
  if (held > 0) {
    const [, sample] = await redis.scan('0', 'COUNT', 1000);
    const foreign = sample.filter((k) => !/^(recommendations:|session:|bench-serve-)/.test(k));
    if (foreign.length) {
      redis.disconnect();
      redis = undefined;
      throw new Error(
        `Redis database ${redisDb} holds ${held} keys this benchmark did not write (e.g. '${foreign[0]}'); choose an empty one with --redis-db`,
      );
    }
    say(`Redis database ${redisDb}: ${held} keys left by an earlier run, flushed`);
    await redis.flushdb();
  }

  // 1. Setup: data, the cost of a cold request's reads, models.
  databaseCreated = true;
  const store = await createStore(storage, log);
  let generated: GenerateSummary;
  let generationSeconds: number;
  let coldReads: ColdReads;
  try {
    const genStart = performance.now();
    let lastReport = 0;
    const world = { users: sizes.users, movies: sizes.movies, interactions: sizes.interactions, seed: sizes.seed };
    generated = await generateData(withoutPopularity(store), { ...world, reset: false }, (p) => {
      if (performance.now() - lastReport > 10_000) {
        lastReport = performance.now();
        say(`generating: ${p.phase} ${int((100 * p.done) / p.total)}%`);
      }
    });
    generationSeconds = (performance.now() - genStart) / 1000;
    say(
      `generated in ${fmt(generationSeconds, 1)} s: ${int(generated.users)} users, ${int(generated.movies)} movies, ` +
        `${int(generated.watched)} watched, ${int(generated.likes)} likes, ${int(generated.bookmarks)} bookmarks`,
    );
    coldReads = await timeColdReads(store, 3);
    say(
      `MongoDB reads of one cache miss (sequential, idle service): getUser ${fmt(coldReads.getUserMs, 1)} ms, ` +
        `userInteractionWeights ${fmt(coldReads.userInteractionWeightsMs, 1)} ms, dislikedMovieIds ${fmt(coldReads.dislikedMovieIdsMs, 1)} ms; ` +
        `getMovies(10) ${fmt(coldReads.getMovies10Ms, 1)} ms`,
    );
  } finally {
    await store.close();
  }

  objects = await createObjectStore(storage, log);
  const publishStart = performance.now();
  const versions = {} as Record<ModelTypeName, string>;
  for (const modelType of ['als', 'lightfm'] as const) versions[modelType] = await publishRandomModel(objects, modelType, sizes);
  say(`models published and activated in ${fmt((performance.now() - publishStart) / 1000, 1)} s: als ${versions.als}, lightfm ${versions.lightfm}`);

  // 2. The services.
  const ports = {
    recsvc: await freePort(),
    recsvcMetrics: await freePort(),
    trainer: await freePort(),
    gateway: await freePort(),
    gateway2: await freePort(),
  };
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    MONGO_URL: storage.MONGO_URL,
    MONGO_DB: storage.MONGO_DB,
    REDIS_URL: storage.REDIS_URL,
    S3_ENDPOINT: storage.S3_ENDPOINT,
    S3_ACCESS_KEY: storage.S3_ACCESS_KEY,
    S3_SECRET_KEY: storage.S3_SECRET_KEY,
    S3_BUCKET: storage.S3_BUCKET,
    S3_REGION: storage.S3_REGION,
    DATA_DIR: storage.DATA_DIR,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    // The rate limiter stays on, counting in Redis as in production (one INCR per request), with a limit the
    // benchmark never reaches.
    RATE_LIMIT_MAX: '1000000000',
    // The admin route POST /recommendations/refresh needs a key (README "Security"); a key for this run only.
    API_KEYS: `bench:admin,ingest,client,metrics:${benchApiKey}`,
  };
  const trainerEnv: NodeJS.ProcessEnv = {
    ...childEnv,
    TRAINER_HOST: '127.0.0.1',
    TRAINER_PORT: String(ports.trainer),
    TRAINER_METRICS_PORT: '0',
    QUEUE_PREFIX: `bench-serve-${runId}`,
    TRAIN_CRON: 'off',
    REFRESH_CRON: 'off',
  };
  const recsvc = startChild('recsvc', join(distRoot, 'recsvc', 'src', 'main.js'), [], {
    ...childEnv,
    RECSVC_HOST: '127.0.0.1',
    RECSVC_PORT: String(ports.recsvc),
    RECSVC_METRICS_PORT: String(ports.recsvcMetrics),
    MODEL_POLL_SECONDS: '3600',
    // Movie details are fetched once (primed below) and kept for the whole run: the warm runs measure the steady
    // state, not the refill after the default 10-minute expiry.
    MOVIE_INFO_TTL_SECONDS: '3600',
  }, logDir, profiled);
  children.push(recsvc);
  const trainer = startChild('trainer', join(distRoot, 'trainer', 'src', 'main.js'), [], trainerEnv, logDir);
  children.push(trainer);
  const worker = startChild('worker', join(distRoot, 'trainer', 'src', 'worker-main.js'), [], trainerEnv, logDir);
  children.push(worker);
  const gateway = startChild('gateway', join(distRoot, 'gateway', 'src', 'main.js'), [], {
    ...childEnv,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(ports.gateway),
    RECSVC_ADDRESS: `127.0.0.1:${ports.recsvc}`,
    TRAINER_ADDRESS: `127.0.0.1:${ports.trainer}`,
  }, logDir, profiled);
  children.push(gateway);
  // The scaling row: the same gateway as two processes behind one port (GATEWAY_WORKERS=2, node:cluster).
  const gateway2 = startChild('gateway2', join(distRoot, 'gateway', 'src', 'main.js'), [], {
    ...childEnv,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(ports.gateway2),
    GATEWAY_WORKERS: '2',
    RECSVC_ADDRESS: `127.0.0.1:${ports.recsvc}`,
    TRAINER_ADDRESS: `127.0.0.1:${ports.trainer}`,
  }, logDir);
  children.push(gateway2);
  const gatewayUrl = `http://127.0.0.1:${ports.gateway}`;
  const readyStart = performance.now();
  await waitForHttp(`${gatewayUrl}/readyz`, [recsvc, trainer, worker, gateway], 120_000);
  say(`services ready in ${fmt((performance.now() - readyStart) / 1000, 1)} s (gateway :${ports.gateway}, recsvc :${ports.recsvc}, trainer :${ports.trainer})`);
  const recsvcBackend = /recsys models: (\w+) backend/.exec(logText(recsvc))?.[1] ?? 'unknown';

  // The cache of every user filled by the update_all_recommendations job, as in production.
  const refreshStart = performance.now();
  const refresh = await fetch(`${gatewayUrl}/recommendations/refresh`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${benchApiKey}` }, body: '{}' });
  if (refresh.status !== 202) throw new Error(`POST /recommendations/refresh: ${refresh.status} ${await refresh.text()}`);
  const expectedLists = sizes.users * 2;
  let lists = 0;
  while ((lists = await countKeys(redis, 'recommendations:*')) < expectedLists) {
    if (worker.exited) throw new Error(`the trainer worker exited (${worker.exited}) during the refresh:\n${logTail(worker)}`);
    if (performance.now() - refreshStart > 900_000) throw new Error(`the refresh wrote ${lists} of ${expectedLists} lists in 15 minutes`);
    await sleep(1000);
  }
  const refreshSeconds = (performance.now() - refreshStart) / 1000;
  say(`update_all_recommendations: ${int(lists)} lists (both models) in ${fmt(refreshSeconds, 1)} s`);

  // recsvc keeps titles and genres in process, fetched from MongoDB on first use by a request. On FerretDB each
  // fetch scans the whole movies collection (~0.5 s for 5k movies), so filling it with ordinary requests takes
  // ~2,000 scans and minutes of deadline errors. Primer users whose cached lists (written here) hold 100 movies
  // each bring the whole catalogue in with one fetch per 100 movies, through ordinary requests.
  const primeStart = performance.now();
  const primers: string[] = [];
  const pipeline = redis.pipeline();
  for (let start = 0, p = 0; start < sizes.movies; start += CACHED_LIST_LENGTH, p++) {
    const items = Array.from({ length: Math.min(CACHED_LIST_LENGTH, sizes.movies - start) }, (_, r) => ({ movieId: movieIdOf(start + r), score: 1 - r / 1000 }));
    const userId = `bench-primer-${p}`;
    primers.push(userId);
    pipeline.set(recommendationKey(userId, 'als', versions.als), encodeRecommendations(items), 'EX', 3600);
  }
  await pipeline.exec();
  let primed = 0;
  for (const [p, userId] of primers.entries()) {
    // A fetch slower than the gateway's deadline still completes in recsvc: asking again then finds the movies.
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${gatewayUrl}/recommendations/${userId}?model=als&k=${CACHED_LIST_LENGTH}`);
      const body = (await res.json()) as { items?: unknown[] };
      if (res.status === 200) {
        primed += body.items?.length ?? 0;
        break;
      }
      if (attempt === 5) throw new Error(`priming recsvc's movie cache: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      await sleep(2000);
    }
    if (p % 10 === 9) say(`movie cache: ${int(primed)} movies`);
  }
  const primeSeconds = (performance.now() - primeStart) / 1000;
  say(`recsvc's movie cache primed with ${int(primed)} movies by ${primers.length} requests in ${fmt(primeSeconds, 1)} s`);

  // A real response of each model (from the cache, the version just published).
  let sampleBody = '';
  for (const modelType of ['als', 'lightfm'] as const) {
    const res = await fetch(`${gatewayUrl}/recommendations/${userIdOf(0)}?model=${modelType}&k=10`);
    const text = await res.text();
    const body = JSON.parse(text) as { model_version?: string; source?: string; items?: unknown[] };
    if (res.status !== 200 || body.model_version !== versions[modelType] || body.source !== 'cache' || body.items?.length !== 10) {
      throw new Error(`sanity check of GET /recommendations (${modelType}) failed: ${res.status} ${text.slice(0, 500)}`);
    }
    if (modelType === 'als') sampleBody = text;
  }
  const refs = await startReferences('real', sampleBody, `127.0.0.1:${ports.recsvc}`, `127.0.0.1:${ports.trainer}`, childEnv);
  const gateway2Url = `http://127.0.0.1:${ports.gateway2}`;
  await waitForHttp(`${gateway2Url}/healthz`, [gateway2], 60_000);

  const pids: Record<string, number | undefined> = {
    gateway: gateway.process.pid,
    recsvc: recsvc.process.pid,
    bare: refs.bare.process.pid,
    gateway2: gateway2.process.pid,
    gatewayFloor: refs.gatewayFloor.process.pid,
    bareGrpc: refs.bareGrpc.process.pid,
    ferretdb: serverPid('ferretdb'),
    // FerretDB on PostgreSQL: the postmaster and its backends (FerretDB's pooled connections) as one tree.
    postgres: serverPid('postgres'),
    redis: serverPid('redis'),
  };
  const { scenarios, soak } = await runRows({
    mode: 'real',
    gatewayUrl,
    bareUrl: refs.bareUrl,
    floorUrl: refs.floorUrl,
    gateway2Url,
    metricsPort: ports.recsvcMetrics,
    pausesFrom: { gateway: `${gatewayUrl}/metrics`, recsvc: `http://127.0.0.1:${ports.recsvcMetrics}/metrics` },
    pids,
    rssNames: ['gateway', 'recsvc'],
    coldFirst: false,
    // The worker first: seeing Redis lose its data, it refills every user's lists (trainer/src/worker.ts), which made
    // most of the cold row cache hits (07:00 run: 2,766 hits of 2,924); nothing after the cold row needs it.
    flushCache: async () => {
      await stopChild(worker);
      await redis!.flushdb();
    },
    coldConnections,
    coldNote:
      `Redis flushed first, each user at most once (every request reads MongoDB and scores with the model); ${coldConnections} connections` +
      (server.ferretdb && coldConnections !== connections ? ' (FerretDB scans whole collections per query: see "MongoDB reads of one cache miss")' : ''),
  });
  const run = finishMode({
    mode: 'real',
    description: [
      `gateway, recsvc, trainer API and worker as separate processes; ${server.version} (MongoDB wire), Redis (database ${redisDb}), S3 (versitygw/MinIO). ` +
        `Data: ${int(generated.users)} users, ${int(generated.movies)} movies, ${int(generated.watched)} watched + ${int(generated.likes)} likes + ` +
        `${int(generated.bookmarks)} bookmarks (generated in ${fmt(generationSeconds, 1)} s). Models: ALS and LightFM-style, ${sizes.factors} factors, ` +
        `random vectors for every user and movie; recsvc models backend: **${recsvcBackend}**. Cache filled by update_all_recommendations in ${fmt(refreshSeconds, 1)} s; ` +
        `recsvc's in-process movie details primed in ${fmt(primeSeconds, 1)} s. Response body ${int(sampleBody.length)} bytes (bare route: ${int(refs.bareBodyBytes)}).`,
      '',
      `MongoDB reads of one cache miss, timed in process one after the other (${coldReads.users} users): getUser ${fmt(coldReads.getUserMs, 1)} ms, ` +
        `userInteractionWeights ${fmt(coldReads.userInteractionWeightsMs, 1)} ms, dislikedMovieIds ${fmt(coldReads.dislikedMovieIdsMs, 1)} ms ` +
        `(movie details, getMovies of 10: ${fmt(coldReads.getMovies10Ms, 1)} ms, cached in recsvc).`,
    ],
    setup: {
      // The counts only: the generated world itself (every document) would make the JSON megabytes long.
      generated: { ...Object.fromEntries(Object.entries(generated).filter(([key]) => key !== 'world')), seconds: generationSeconds, popularity: 'not computed' },
      mongoServer: server.version,
      modelVersions: versions,
      recsvcModelsBackend: recsvcBackend,
      responseBytes: sampleBody.length,
      bareResponseBytes: refs.bareBodyBytes,
      refreshAllSeconds: refreshSeconds,
      moviePrimeSeconds: primeSeconds,
      coldConnections,
    },
    scenarios,
    servingProcesses: ['gateway', 'recsvc'],
    coldReads,
    soak,
  }, pids);
  say('[real] stopping the services');
  await stopChildren();
  return run;
}

// ------------------------------------------------------------------------------------------------ the load rows

/** One mode's services as the load rows see them. */
interface RowsContext {
  mode: Mode;
  gatewayUrl: string;
  bareUrl: string;
  floorUrl: string;
  /** The GATEWAY_WORKERS=2 gateway of the scaling row (real mode only). */
  gateway2Url?: string;
  metricsPort: number;
  /** /metrics URLs of the processes serving the rows (GC and event-loop delay per row), by process name. */
  pausesFrom: Record<string, string>;
  pids: Record<string, number | undefined>;
  /** Processes whose RSS the soak samples. */
  rssNames: string[];
  /** Embedded: the cold row runs first, on the cache as the demo left it (empty); real: last, after flushCache. */
  coldFirst: boolean;
  flushCache?: () => Promise<void>;
  coldConnections: number;
  coldNote: string;
}

async function runRows(ctx: RowsContext): Promise<{ scenarios: Scenario[]; soak?: SoakReport }> {
  const { gatewayUrl, bareUrl, floorUrl, gateway2Url, pids, metricsPort } = ctx;
  const scenarios: Scenario[] = [];
  const measure = async (key: string, label: string, options: LoadOptions, viaRecsvc: boolean, note?: string): Promise<Scenario> => {
    if (cleaning) throw new Error('interrupted');
    const loadAvgBefore = loadAvg();
    // GC first: each scrape resets prom-client's event-loop delay histogram, so the pauses' scrapes come right after
    // each other around the row, before and after the counters' ones.
    const gcBefore = viaRecsvc ? await Promise.all(Object.values(ctx.pausesFrom).map((url) => gcTotals(url))) : undefined;
    const before = viaRecsvc ? await recsvcCounts(metricsPort) : undefined;
    const cpuBefore = cpuSnapshot(pids);
    const startUs = monotonicUs();
    say(
      `[${ctx.mode}] ${label}: running (${options.amount ? `up to ${int(options.amount)} requests or ` : ''}${options.durationSeconds} s, ` +
        `${options.connections} connections${options.overallRate ? `, ${int(options.overallRate)} req/s` : ''}${options.pacedRate ? `, paced at ${int(options.pacedRate)} req/s` : ''}; load ${loadAvgBefore.join(' ')})`,
    );
    const result = await runLoad(options);
    const monotonic = { start: startUs, end: monotonicUs() };
    if (result.trace && traceDir) {
      const file = join(traceDir, `${ctx.mode}-${key}.csv`);
      writeFileSync(file, `scheduled_ms,latency_ms\n${result.trace.map(([at, ms]) => `${at.toFixed(2)},${ms.toFixed(2)}`).join('\n')}\n`);
      say(`[${ctx.mode}] ${label}: latency trace in ${file}`);
    }
    delete result.trace;
    const cpu = cpuPercent(cpuSnapshot(pids), cpuBefore);
    const pauses = gcBefore
      ? Object.fromEntries(await Promise.all(Object.entries(ctx.pausesFrom).map(async ([name, url], i) => [name, await pausesSince(url, gcBefore[i])] as const)))
      : undefined;
    const counts = before ? diffCounts(await recsvcCounts(metricsPort), before) : undefined;
    const scenario: Scenario = { key, label, result, cpuPercent: cpu, loadAvgBefore, recsvc: counts, pauses, note, monotonicUs: monotonic };
    say(
      `[${ctx.mode}] ${label}: ${int(result.rps)} req/s, p50 ${fmt(result.latencyMs.p50)} ms, p99 ${fmt(result.latencyMs.p99)} ms, ` +
        `${int(result.requests)} requests, ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx` +
        (counts ? `; recsvc: cache ${int(counts.cacheHits)} hits / ${int(counts.cacheMisses)} misses` : '') +
        (pauses
          ? `; ${Object.entries(pauses)
              .map(([name, p]) => `${name} GC ${fmt(p.gcMs.minor)} ms minor + ${fmt(p.gcMs.major + p.gcMs.incremental)} ms major, event-loop delay p99 ${fmt(p.lagP99Ms)} max ${fmt(p.lagMaxMs)} ms`)
              .join('; ')}`
          : ''),
    );
    const failed = result.errors + result.timeouts + result.non2xx;
    if (failed > result.requests / 100) say(`[${ctx.mode}] WARNING: ${label}: ${int(failed)} of ${int(result.requests)} requests failed; this row does not measure the success path`);
    return scenario;
  };
  const common = { connections, durationSeconds };
  const users = sizes.users;
  let counter = 0;
  const nextUserPath = (model: string) => (req: AutocannonRequest) => ({
    ...req,
    path: `/recommendations/${userIdOf(counter++ % users)}?model=${model}&k=10`,
  });

  // (a) The bare route, after an untimed warm-up of its JIT.
  await runLoad({ title: 'bare warm-up', url: `${bareUrl}/recommendations/u1`, connections, durationSeconds: 2 });
  let bareCounter = 0;
  scenarios.push(
    await measure('bare', 'bare fastify route (reference)', {
      title: 'bare',
      url: bareUrl,
      ...common,
      setupRequest: (req) => ({ ...req, path: `/recommendations/${userIdOf(bareCounter++ % users)}` }),
    }, false),
  );

  // (a') The floor: HTTP → gateway → grpc-js → a handler returning a fixed list.
  await runLoad({ title: 'floor warm-up', url: `${floorUrl}/recommendations/u1?model=als&k=10`, connections, durationSeconds: 2 });
  let floorCounter = 0;
  scenarios.push(
    await measure('bareGrpc', 'bare gRPC through the gateway (floor)', {
      title: 'bare gRPC',
      url: floorUrl,
      ...common,
      setupRequest: (req) => ({ ...req, path: `/recommendations/${userIdOf(floorCounter++ % users)}?model=als&k=10` }),
    }, false, 'the gateway in front of a gRPC handler that returns one fixed list: what every request costs at least'),
  );

  const coldRow = async (): Promise<void> => {
    counter = 0;
    const coldBefore = await recsvcCounts(metricsPort);
    const cold = await measure('cold', 'GET /recommendations, cold cache', {
      title: 'cold',
      url: gatewayUrl,
      connections: ctx.coldConnections,
      durationSeconds,
      amount: users,
      setupRequest: nextUserPath('als'),
    }, true, ctx.coldNote);
    scenarios.push(cold);
    // recsvc finishes requests the gateway gave up on (deadline): wait for them so the next work is not disturbed.
    const drainStart = performance.now();
    while (performance.now() - drainStart < 180_000) {
      const now = await recsvcCounts(metricsPort);
      if (now.recommendCalls - coldBefore.recommendCalls >= cold.result.sent) break;
      await sleep(1000);
    }
  };
  if (ctx.coldFirst) await coldRow();

  // (b) Warm cache: every user requested once (JIT warm-up; in embedded mode it also fills the lists the cold row
  // did not reach), then the measured runs.
  counter = 0;
  scenarios.push(
    await measure('firstPass', 'every user once (cache warm-up)', {
      title: 'first pass',
      url: gatewayUrl,
      connections,
      durationSeconds: 600,
      amount: users,
      setupRequest: nextUserPath('als'),
    }, true, ctx.coldFirst ? 'every user once after the cold row: fills the cached lists the cold row did not reach' : 'first pass after the refresh job filled the cache: JIT warm-up of gateway and recsvc'),
  );
  counter = 0;
  const warm = await measure('warm', 'GET /recommendations, warm cache', { title: 'warm', url: gatewayUrl, ...common, setupRequest: nextUserPath('als') }, true);
  scenarios.push(warm);
  scenarios.push(
    await measure('warmHalf', 'GET /recommendations, warm cache, half that rate', {
      title: 'warm at half rate',
      url: gatewayUrl,
      ...common,
      pacedRate: warm.result.rps / 2,
      trace: Boolean(traceDir),
      setupRequest: nextUserPath('als'),
    }, true, 'open-loop load at half the saturated throughput, requests evenly spaced (latency from each scheduled start): latency when the machine is not saturated'),
  );
  if (gateway2Url) {
    // Scaling: the same warm run through the gateway as two processes (GATEWAY_WORKERS=2) on this machine.
    await runLoad({ title: '2-process warm-up', url: gateway2Url, connections, durationSeconds: 3, setupRequest: nextUserPath('als') });
    scenarios.push(
      await measure('warm2', 'GET /recommendations, warm cache, gateway × 2 processes', {
        title: 'warm, 2 gateway processes',
        url: gateway2Url,
        ...common,
        setupRequest: nextUserPath('als'),
      }, true, 'GATEWAY_WORKERS=2 (node:cluster, one port); the same recsvc; CPU of the primary and both workers as gateway2'),
    );
  }

  // Soak: warm traffic at half the saturated rate for --soak seconds, RSS sampled.
  let soak: SoakReport | undefined;
  if (soakSeconds > 0) {
    const seconds = Math.round(soakSeconds);
    const everyMs = Math.max(2_000, Math.round((seconds * 1000) / 60));
    const samples: SoakSample[] = [];
    const soakStart = performance.now();
    let cpuAt = cpuSnapshot(pids);
    const sample = () => {
      const cpuNow = cpuSnapshot(pids);
      samples.push({
        atSeconds: (performance.now() - soakStart) / 1000,
        rssMb: Object.fromEntries(ctx.rssNames.map((n) => [n, rssMb(pids[n])])),
        ...(samples.length ? { cpuPercent: cpuPercent(cpuNow, cpuAt) } : {}),
        loadAvg1: loadAvg()[0],
      });
      cpuAt = cpuNow;
    };
    sample();
    const timer = setInterval(sample, everyMs);
    say(`[${ctx.mode}] soak: ${seconds} s at ${int(warm.result.rps / 2)} req/s, RSS of ${ctx.rssNames.join(', ')} sampled every ${fmt(everyMs / 1000, 0)} s`);
    let result: LoadResult;
    try {
      counter = 0;
      result = await runLoad({ title: 'soak', url: gatewayUrl, connections, durationSeconds: seconds, pacedRate: warm.result.rps / 2, trace: true, setupRequest: nextUserPath('als') });
    } finally {
      clearInterval(timer);
    }
    sample();
    latencyPerSample(samples, result.trace ?? []);
    delete result.trace;
    soak = soakReport(seconds, result, samples, ctx.rssNames);
    say(`[${ctx.mode}] soak: ${soak.verdict}`);
  }

  // (c) Feedback on (session, movie) pairs of real responses (the A/B split picks the model; the cache is warm).
  say(`[${ctx.mode}] collecting ${feedbackSessions} sessions for the feedback run`);
  const sessions: { sessionId: string; movieIds: string[] }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < feedbackSessions) {
        const u = next++;
        const res = await fetch(`${gatewayUrl}/recommendations/${userIdOf(users - 1 - u)}?k=10`);
        const body = (await res.json()) as { session_id?: string; items?: { movie_id: string }[] };
        if (res.status !== 200 || !body.session_id || !body.items?.length) throw new Error(`collecting sessions: ${res.status} ${JSON.stringify(body)}`);
        sessions.push({ sessionId: body.session_id, movieIds: body.items.map((i) => i.movie_id) });
      }
    }),
  );
  // Pairs rank by rank, so consecutive requests go to different sessions; each pair once (new feedback) until
  // they run out, then again (updates). Three likes for one dislike (a dislike also drops the user's cached lists).
  const pairs: { sessionId: string; movieId: string }[] = [];
  for (let rank = 0; rank < 10; rank++) for (const s of sessions) if (s.movieIds[rank]) pairs.push({ sessionId: s.sessionId, movieId: s.movieIds[rank] });
  await sleep(1500); // the served lists reach the log writer's next flush
  let feedbackCounter = 0;
  scenarios.push(
    await measure('feedback', 'POST /feedback', {
      title: 'feedback',
      url: gatewayUrl,
      ...common,
      method: 'POST',
      setupRequest: (req) => {
        const i = feedbackCounter++;
        const pair = pairs[i % pairs.length];
        return {
          ...req,
          method: 'POST',
          path: `/feedback/${pair.sessionId}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ movie_id: pair.movieId, liked: i % 4 !== 3 }),
        };
      },
    }, true, `${int(pairs.length)} distinct (session, movie) pairs from ${int(sessions.length)} real responses, 3 likes : 1 dislike`),
  );

  // (d) Real mode: the cold cache last (on FerretDB it leaves the database busy): Redis flushed, each user at most once.
  if (!ctx.coldFirst) {
    await ctx.flushCache?.();
    await sleep(500);
    await coldRow();
  }
  return { scenarios, soak };
}

/** The reference processes of a mode: the bare fastify route and the floor (a gateway in front of a fixed gRPC handler). */
async function startReferences(
  mode: Mode,
  sampleBody: string,
  recsvcAddress: string,
  trainerAddress: string,
  env: NodeJS.ProcessEnv,
): Promise<{ bare: Child; bareGrpc: Child; gatewayFloor: Child; bareUrl: string; floorUrl: string; bareBodyBytes: number }> {
  const port = { bare: await freePort(), bareGrpc: await freePort(), gatewayFloor: await freePort() };
  const [userId] = /"user_id":"([^"]+)"/.exec(sampleBody)?.slice(1) ?? [userIdOf(0)];
  const sampleFile = join(logDir, `sample-response-${mode}.json`);
  writeFileSync(sampleFile, sampleBody);
  const bare = startChild(`bare-${mode}`, join(here, 'bare-server.js'), ['--port', String(port.bare), '--body', sampleFile], env, logDir);
  children.push(bare);
  const bareUrl = `http://127.0.0.1:${port.bare}`;
  await waitForHttp(`${bareUrl}/recommendations/u1`, [bare], 30_000);
  const bareBodyBytes = (await (await fetch(`${bareUrl}/recommendations/u1`)).text()).length;
  // The design's floor: a gateway whose recsvc is a gRPC handler returning one fixed (real) list.
  const bareGrpc = startChild(`bareGrpc-${mode}`, join(here, 'bare-grpc-server.js'), [
    '--port', String(port.bareGrpc), '--sample-from', recsvcAddress, '--user', userId, '--model', 'als', '--k', '10',
  ], env, logDir);
  children.push(bareGrpc);
  const gatewayFloor = startChild(`gatewayFloor-${mode}`, join(distRoot, 'gateway', 'src', 'main.js'), [], {
    ...env,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(port.gatewayFloor),
    RECSVC_ADDRESS: `127.0.0.1:${port.bareGrpc}`,
    TRAINER_ADDRESS: trainerAddress,
  }, logDir);
  children.push(gatewayFloor);
  const floorUrl = `http://127.0.0.1:${port.gatewayFloor}`;
  await waitForHttp(`${floorUrl}/recommendations/u1?model=als&k=10`, [bareGrpc, gatewayFloor], 60_000);
  say(`[${mode}] bare route :${port.bare} (${bareBodyBytes} bytes; the gateway's ${sampleBody.length}), floor gateway :${port.gatewayFloor} → bare gRPC :${port.bareGrpc}`);
  return { bare, bareGrpc, gatewayFloor, bareUrl, floorUrl, bareBodyBytes };
}

/** Stops every child started so far (the next mode starts its own). */
async function stopChildren(): Promise<void> {
  for (const child of [...children].reverse()) await stopChild(child);
  children.length = 0;
}

const warningLines = (c: Child) => logText(c).split('\n').filter((l) => /"level":(40|50|60)/.test(l));

/** What one mode measured, for the report. */
interface ModeRun {
  mode: Mode;
  /** Markdown lines describing the mode's setup. */
  description: string[];
  /** Setup facts for the JSON. */
  setup: Record<string, unknown>;
  scenarios: Scenario[];
  /** Processes whose CPU is the serving path's (gateway + recsvc, or the demo process). */
  servingProcesses: string[];
  coldReads?: ColdReads;
  soak?: SoakReport;
  peakRss: Record<string, number>;
  childWarnings: Record<string, number>;
  childWarningSamples: Record<string, string[]>;
}

function finishMode(run: Omit<ModeRun, 'peakRss' | 'childWarnings' | 'childWarningSamples'>, pids: Record<string, number | undefined>): ModeRun {
  const peakRss = Object.fromEntries(
    Object.entries(pids).filter(([n]) => n !== 'ferretdb' && n !== 'postgres' && n !== 'redis').map(([n, pid]) => [n, peakRssMb(pid)]).filter(([, v]) => v !== undefined),
  ) as Record<string, number>;
  return {
    ...run,
    peakRss,
    childWarnings: Object.fromEntries(children.map((c) => [c.name, warningLines(c).length])),
    childWarningSamples: Object.fromEntries(children.map((c) => [c.name, warningLines(c).slice(-3)])),
  };
}

// ------------------------------------------------------------------------------------------------ embedded mode

/**
 * The demo as `npm start` runs it: one process (gateway, recsvc, trainer and its in-process queue), the embedded
 * store (in memory, recommendation logs and feedback in SQLite under DATA_DIR), the in-process cache, model files
 * under DATA_DIR. It generates the data and trains both models itself (REFRESH_AFTER_PROMOTION=false, so the
 * cache starts empty and the cold row is cold).
 */
async function runEmbedded(): Promise<ModeRun> {
  const dataDir = join(logDir, 'embedded-data');
  mkdirSync(dataDir, { recursive: true });
  const port = { gateway: await freePort(), recsvc: await freePort(), recsvcMetrics: await freePort(), trainer: await freePort(), trainerMetrics: await freePort() };
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['MONGO_URL', 'MONGO_DB', 'REDIS_URL', 'S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_BUCKET', 'S3_REGION', 'KAFKA_BROKERS', 'API_KEYS', 'API_KEYS_FILE']) delete env[name];
  Object.assign(env, {
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    RATE_LIMIT_MAX: '1000000000',
    REFRESH_AFTER_PROMOTION: 'false',
    MODEL_POLL_SECONDS: '3600',
    MOVIE_INFO_TTL_SECONDS: '3600',
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(port.gateway),
    RECSVC_HOST: '127.0.0.1',
    RECSVC_PORT: String(port.recsvc),
    RECSVC_METRICS_PORT: String(port.recsvcMetrics),
    TRAINER_HOST: '127.0.0.1',
    TRAINER_PORT: String(port.trainer),
    TRAINER_METRICS_PORT: String(port.trainerMetrics),
  });
  const startedAt = performance.now();
  const demo = startChild('demo', join(distRoot, 'scripts', 'demo.js'), [
    '--users', String(sizes.users), '--movies', String(sizes.movies), '--interactions', String(sizes.interactions), '--seed', String(sizes.seed),
  ], env, logDir, profiled);
  children.push(demo);
  say(`[embedded] demo starting (DATA_DIR ${dataDir}): generates the data and trains both models`);
  let lastLines = '';
  while (!/\] ready\./.test(logText(demo))) {
    if (demo.exited) throw new Error(`the demo exited (${demo.exited}) before it was ready:\n${logTail(demo)}`);
    if (cleaning) throw new Error('interrupted');
    if (performance.now() - startedAt > 1_800_000) throw new Error(`the demo was not ready within 30 minutes:\n${logTail(demo)}`);
    const tail = logTail(demo, 1);
    if (tail !== lastLines && /^\[/.test(tail)) say(`[embedded] demo: ${tail}`);
    lastLines = tail;
    await sleep(1000);
  }
  const readySeconds = (performance.now() - startedAt) / 1000;
  const text = logText(demo);
  const versions = {
    als: /^\s+als\s+version (\S+)/m.exec(text)?.[1],
    lightfm: /^\s+lightfm\s+version (\S+)/m.exec(text)?.[1],
  };
  if (!versions.als || !versions.lightfm) throw new Error(`the demo serves without a model:\n${logTail(demo, 15)}`);
  say(`[embedded] demo ready in ${fmt(readySeconds, 1)} s: als ${versions.als}, lightfm ${versions.lightfm}`);
  const gatewayUrl = `http://127.0.0.1:${port.gateway}`;

  // One real response of the model, from the last users down to the first one the model (or fold-in) can score:
  // generated users without any interaction get the top lists. That user's list is then cached.
  let sampleBody = '';
  for (let user = sizes.users - 1; ; user--) {
    const sampleRes = await fetch(`${gatewayUrl}/recommendations/${userIdOf(user)}?model=als&k=10`);
    sampleBody = await sampleRes.text();
    const sample = JSON.parse(sampleBody) as { source?: string; items?: unknown[] };
    if (sampleRes.status === 200 && sample.items?.length === 10 && ['model', 'fold_in'].includes(sample.source ?? '')) break;
    if (sampleRes.status !== 200 || sample.items?.length !== 10 || user <= sizes.users - 100) {
      throw new Error(`sanity check of GET /recommendations failed (the last 100 users without a model list): ${sampleRes.status} ${sampleBody.slice(0, 500)}`);
    }
  }
  const refs = await startReferences('embedded', sampleBody, `127.0.0.1:${port.recsvc}`, `127.0.0.1:${port.trainer}`, { ...env, LOG_LEVEL: 'warn' });
  const pids = { demo: demo.process.pid, bare: refs.bare.process.pid, gatewayFloor: refs.gatewayFloor.process.pid, bareGrpc: refs.bareGrpc.process.pid };
  const { scenarios, soak } = await runRows({
    mode: 'embedded',
    gatewayUrl,
    bareUrl: refs.bareUrl,
    floorUrl: refs.floorUrl,
    metricsPort: port.recsvcMetrics,
    // One process: recsvc's /metrics shows the demo process's GC and event loop.
    pausesFrom: { demo: `http://127.0.0.1:${port.recsvcMetrics}/metrics` },
    pids,
    rssNames: ['demo'],
    coldFirst: true,
    coldConnections: args['cold-connections'] !== undefined ? integer('cold-connections', 1) : connections,
    coldNote: 'the cache as the demo left it (empty), each user at most once: every request reads the embedded store and scores with the model',
  });
  const recsvcBackend = /recsys models: (\w+) backend/.exec(logText(demo))?.[1] ?? 'see the demo log';
  const run = finishMode({
    mode: 'embedded',
    description: [
      `The demo as \`npm start\` runs it: **one process** (gateway, recsvc, trainer, in-process queue), embedded store (in memory; recommendation logs and feedback in SQLite under DATA_DIR), in-process cache, model files under DATA_DIR. ` +
        `Data generated and both models trained by the demo itself (ready in ${fmt(readySeconds, 1)} s); REFRESH_AFTER_PROMOTION=false, so the cold row runs on an empty cache and fills it. ` +
        `CPU "demo" is the whole demo process (gateway + recsvc + the idle trainer). No scaling row: the embedded store and cache live in that one process (scaling needs the real servers). ` +
        `Response body ${int(sampleBody.length)} bytes (bare route: ${int(refs.bareBodyBytes)}); models backend: ${recsvcBackend}.`,
    ],
    setup: { versions, readySeconds, responseBytes: sampleBody.length, bareResponseBytes: refs.bareBodyBytes, recsvcModelsBackend: recsvcBackend },
    scenarios,
    servingProcesses: ['demo'],
    soak,
  }, pids);
  say('[embedded] stopping the services');
  await stopChildren();
  rmSync(dataDir, { recursive: true, force: true });
  return run;
}
interface SoakSample {
  atSeconds: number;
  rssMb: Record<string, number | undefined>;
  /** Since the previous sample: CPU of each process (% of one core) and the 1-minute load average at this one. */
  cpuPercent?: Record<string, number>;
  loadAvg1?: number;
  /** Requests scheduled since the previous sample: how many were answered, and their latency percentiles (ms). */
  latency?: { answered: number; p50: number; p99: number };
}

interface SoakReport {
  seconds: number;
  result: LoadResult;
  samples: SoakSample[];
  /** RSS growth from the first sample after 20% of the soak (warm-up over) to the last, per process. */
  growth: Record<string, number | undefined>;
  flat: boolean;
  verdict: string;
}

/** Each sample's `latency`: the requests scheduled between the previous sample and it (trace times in ms from the start). */
function latencyPerSample(samples: SoakSample[], trace: readonly [number, number][]): void {
  const sorted = [...trace].sort((a, b) => a[0] - b[0]);
  let i = 0;
  for (let k = 1; k < samples.length; k++) {
    const until = samples[k].atSeconds * 1000;
    const latencies: number[] = [];
    for (; i < sorted.length && sorted[i][0] < until; i++) latencies.push(sorted[i][1]);
    latencies.sort((a, b) => a - b);
    samples[k].latency = { answered: latencies.length, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
  }
}

function soakReport(seconds: number, result: LoadResult, samples: SoakSample[], names: string[]): SoakReport {
  const settled = samples.find((s) => s.atSeconds >= seconds * 0.2) ?? samples[0];
  const last = samples[samples.length - 1];
  const growth: Record<string, number | undefined> = {};
  for (const name of names) {
    const from = settled.rssMb[name];
    const to = last.rssMb[name];
    growth[name] = from !== undefined && to !== undefined ? to / from - 1 : undefined;
  }
  const flat = Object.values(growth).every((g) => g === undefined || Math.abs(g) <= 0.1);
  const pct = (g: number | undefined) => (g === undefined ? 'n/a' : `${g >= 0 ? '+' : ''}${fmt(100 * g, 1)}%`);
  const verdict =
    `${int(result.requests)} requests, p99 ${fmt(result.latencyMs.p99)} ms, ${result.non2xx + result.errors + result.timeouts} failed; RSS from ${fmt(settled.atSeconds, 0)} s to the end: ` +
    names.map((n) => `${n} ${fmt(settled.rssMb[n] ?? 0, 0)} → ${fmt(last.rssMb[n] ?? 0, 0)} MB (${pct(growth[n])})`).join(', ') +
    `: ${flat ? 'flat within 10%' : '**not** flat within 10%'}`;
  return { seconds, result, samples, growth, flat, verdict };
}

// ------------------------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const startedAt = new Date();
  say(`run ${runId}: modes ${modes.join(', ')}; ${int(sizes.users)} users, ${int(sizes.movies)} movies, ${int(sizes.interactions)} interactions, ${sizes.factors} factors; logs in ${logDir}`);
  say(`load average ${loadAvg().join(' ')} on ${cpus().length} cores`);
  const runs: ModeRun[] = [];
  for (const mode of modes) runs.push(mode === 'embedded' ? await runEmbedded() : await runReal());
  // Scoring in this process, once (it does not depend on the mode).
  say(`scoring micro-benchmark: ${microIterations} iterations per case (load ${loadAvg().join(' ')})`);
  const micro = runScoringMicro(sizes, { iterations: microIterations, warmup: Math.min(500, microIterations), excluded: 50 });
  report(startedAt, runs, micro);
}

// ------------------------------------------------------------------------------------------------ report

/** CPU milliseconds a process spent per completed request of a run. */
function cpuMsPerRequest(s: Scenario, name: string): number {
  return (10 * (s.cpuPercent[name] ?? 0) * s.result.seconds) / Math.max(1, s.result.requests);
}

interface Target {
  target: string;
  value: string;
  met: boolean | null;
}

function modeTargets(run: ModeRun, micro: MicroReport): Target[] {
  const { scenarios } = run;
  const by = (key: string) => scenarios.find((s) => s.key === key);
  const bare = by('bare')!.result;
  const warmScenario = by('warm')!;
  const warm = warmScenario.result;
  const warmHalf = by('warmHalf')!.result;
  const floor = by('bareGrpc');
  const warm2 = by('warm2');
  const feedback = by('feedback');
  const serving = run.servingProcesses;
  const warmCpu = serving.reduce((sum, name) => sum + cpuMsPerRequest(warmScenario, name), 0);
  const servingMicro = micro.results.find((r) => r.name.startsWith('ServingModel.recommend') && r.k === 100) ?? micro.results[0];
  return [
    { target: 'warm-cache throughput ≥ 0.25× the bare route', value: `${fmt(warm.rps / bare.rps, 3)} × bare (${int(warm.rps)} vs ${int(bare.rps)} req/s)`, met: warm.rps * 4 >= bare.rps },
    { target: `warm-cache p99 ≤ 10 ms at half the saturated rate (${int(warmHalf.rps)} req/s)`, value: `${fmt(warmHalf.latencyMs.p99)} ms`, met: warmHalf.latencyMs.p99 <= 10 },
    {
      target: `${serving.join(' + ')} CPU per warm request ≤ 0.25 ms`,
      value: `${fmt(warmCpu, 3)} ms` + (serving.length > 1 ? ` (${serving.map((n) => `${n} ${fmt(cpuMsPerRequest(warmScenario, n), 3)}`).join(', ')})` : ''),
      met: warmCpu <= 0.25,
    },
    ...(floor
      ? [{
          target: 'warm path vs the floor (bare gRPC through the gateway)',
          value: `${fmt(warm.rps / floor.result.rps, 3)} × the floor's req/s; floor gateway ${fmt(cpuMsPerRequest(floor, 'gatewayFloor'), 3)} ms CPU per request`,
          met: null,
        }]
      : []),
    ...(warm2
      ? [{
          target: 'scaling: gateway as 2 processes (GATEWAY_WORKERS=2) on this machine',
          value: `${fmt(warm2.result.rps / warm.rps, 2)} × the 1-process warm req/s (${int(warm2.result.rps)} vs ${int(warm.rps)})`,
          met: null,
        }]
      : []),
    ...(feedback
      ? [{
          target: 'POST /feedback ≥ 1,000 req/s, p99 ≤ 20 ms',
          value: `${int(feedback.result.rps)} req/s, p99 ${fmt(feedback.result.latencyMs.p99)} ms`,
          met: feedback.result.rps >= 1000 && feedback.result.latencyMs.p99 <= 20,
        }]
      : []),
    {
      target: `scoring ${int(sizes.movies)} movies × ${sizes.factors} factors for one user, p99 ≤ 5 ms (${servingMicro.name}, ${servingMicro.backend} backend as in recsvc)`,
      value: `mean ${fmt(servingMicro.meanUs, 0)} µs, p99 ${fmt(servingMicro.p99Us, 0)} µs`,
      met: servingMicro.p99Us <= 5000,
    },
    ...(run.soak
      ? [{ target: `RSS of ${Object.keys(run.soak.growth).join(' and ')} flat within 10% over a ${fmt(run.soak.seconds / 60, 1)}-minute soak at half rate`, value: run.soak.verdict, met: run.soak.flat }]
      : []),
  ];
}

const CPU_COLUMNS = ['gateway', 'gateway2', 'demo', 'gatewayFloor', 'bareGrpc', 'recsvc', 'bare', 'bench', 'ferretdb', 'postgres', 'redis'];

function report(startedAt: Date, runs: ModeRun[], micro: MicroReport): void {
  // CPU % of one core over the run, and CPU time per completed request (robust to other work on the machine).
  const cpuCell = (s: Scenario) =>
    CPU_COLUMNS.filter((k) => s.cpuPercent[k] !== undefined && s.cpuPercent[k] >= 1)
      .map((k) => `${k} ${int(s.cpuPercent[k])}% (${fmt(cpuMsPerRequest(s, k), 3)})`)
      .join(', ');
  const recsvcCell = (s: Scenario) => {
    const c = s.recsvc;
    if (!c) return '';
    if (s.key === 'feedback') return `${int(c.feedbackStored)} stored; ${fmt((1000 * c.feedbackSeconds) / Math.max(1, c.feedbackCalls))} ms`;
    return `${int(c.cacheHits)} / ${int(c.cacheMisses)}; ${fmt((1000 * c.recommendSeconds) / Math.max(1, c.recommendCalls))} ms`;
  };
  const targetsByMode = new Map(runs.map((r) => [r.mode, modeTargets(r, micro)]));
  const lines = [
    `## Serving benchmark (${startedAt.toISOString().slice(0, 10)})`,
    '',
    `Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${int(totalmem() / 2 ** 20)} MB, Node ${process.version}, ${osType()} ${osRelease()}. ` +
      `Everything on this machine: the load generator (autocannon in the benchmark process, ${connections} connections, pipelining 1, ${durationSeconds} s per row) and every service; ` +
      `other work may have run too (load average per row). CPU column: % of one core over the row, and in brackets CPU ms per completed request, per process.`,
    '',
  ];
  for (const run of runs) {
    lines.push(
      `### ${run.mode === 'embedded' ? 'Embedded mode (the demo, `npm start`)' : 'Real servers'}`,
      '',
      ...run.description,
      '',
      '| scenario | req/s | × bare | p50 ms | p99 ms | requests | errors + timeouts | non-2xx | recsvc: cache hits / misses; mean handling | CPU: % of one core (ms per request) | load avg (1 min) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |',
      ...run.scenarios.map((s) => {
        const r = s.result;
        const bare = run.scenarios.find((x) => x.key === 'bare')!.result;
        return (
          `| ${s.label} | ${fmt(r.rps, r.rps < 100 ? 1 : 0)} | ${fmt(r.rps / bare.rps, 3)} | ${fmt(r.latencyMs.p50)} | ${fmt(r.latencyMs.p99)} | ${int(r.requests)} | ` +
          `${r.errors + r.timeouts} | ${r.non2xx} | ${recsvcCell(s)} | ${cpuCell(s)} | ${fmt(s.loadAvgBefore[0])} |`
        );
      }),
      '',
      '| target (issue 13) | measured | met |',
      '| --- | --- | --- |',
      ...targetsByMode.get(run.mode)!.map((t) => `| ${t.target} | ${t.value} | ${t.met === null ? '(measured)' : t.met ? 'yes' : '**no**'} |`),
      '',
      ...run.scenarios.filter((s) => s.note).map((s) => `- ${s.label}: ${s.note}.`),
      ...(run.soak ? [`- Soak (${int(run.soak.seconds)} s at half rate): ${run.soak.verdict}.`] : []),
      '',
    );
  }
  lines.push(
    `### Scoring in process (one user × ${int(sizes.movies)} movies × ${sizes.factors} factors, ${micro.excluded} excluded, ` +
      `${micro.results[0]?.iterations ?? 0} iterations; ServingModel uses the **${micro.servingBackend}** backend here)`,
    '',
    '| case | backend | mean µs | p50 µs | p99 µs | max µs |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...micro.results.map((r) => `| ${r.name} | ${r.backend} | ${fmt(r.meanUs, 1)} | ${fmt(r.p50Us, 1)} | ${fmt(r.p99Us, 1)} | ${fmt(r.maxUs, 1)} |`),
    ...(micro.nativeUnavailable ? ['', `Native backend unavailable: ${micro.nativeUnavailable}`] : []),
    '',
    `- Load average at the end: ${loadAvg().join(' ')}.`,
  );
  console.log(lines.join('\n'));

  const date = new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const outDir = join(repoRoot, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `serve-${date}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        machine: {
          cpu: cpus()[0]?.model,
          cores: cpus().length,
          memoryMb: Math.round(totalmem() / 2 ** 20),
          node: process.version,
          os: `${osType()} ${osRelease()}`,
          loadAvgEnd: loadAvg(),
        },
        args: { ...sizes, modes, connections, durationSeconds, soakSeconds, pipelining: 1 },
        modes: runs.map((run) => ({
          mode: run.mode,
          setup: run.setup,
          servingProcesses: run.servingProcesses,
          scenarios: run.scenarios.map((s) => {
            const bare = run.scenarios.find((x) => x.key === 'bare')!.result;
            return {
              key: s.key,
              label: s.label,
              ...s.result,
              ratioToBare: s.result.rps / bare.rps,
              cpuPercent: s.cpuPercent,
              cpuMsPerRequest: Object.fromEntries(Object.keys(s.cpuPercent).map((k) => [k, cpuMsPerRequest(s, k)])),
              loadAvgBefore: s.loadAvgBefore,
              recsvc: s.recsvc,
              note: s.note,
              monotonicUs: s.monotonicUs,
            };
          }),
          coldReadsMs: run.coldReads,
          targets: targetsByMode.get(run.mode),
          peakRssMb: run.peakRss,
          soak: run.soak,
          childWarningLines: run.childWarnings,
          childWarningSamples: run.childWarningSamples,
        })),
        micro,
      },
      null,
      2,
    ) + '\n',
  );
  say(`wrote ${file}`);
  for (const run of runs) {
    for (const [name, count] of Object.entries(run.childWarnings)) {
      if (count) say(`[${run.mode}] ${name} logged ${count} warning/error lines; the last:\n${run.childWarningSamples[name].join('\n')}`);
    }
  }
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  say(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  for (const child of children) say(`${child.name} log tail (${child.logFile}):\n${logTail(child, 10)}`);
} finally {
  await cleanup(failed);
}
process.exit(failed ? 1 : 0);
