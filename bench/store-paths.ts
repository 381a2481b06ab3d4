/**
 * bench:store — the hot MongoStore write and read paths on one or more MongoDB-wire servers, with realistic collection
 * sizes: MovieLens 100k imported (100,000 ratings as likes, 1,682 movies), plus --logs recommendation logs (default
 * 20,000) and --feedback feedback documents (default 5,000) written before timing. Then, per path, --ops sequential
 * operations (default 200) are timed: feedback upsert (new and repeated key), a 50-list recommendation-log batch, one
 * interaction event with a new event id, a user's interaction weights, lastInteractionEventAt, and the catalogue reads
 * (topMovies, getMovies, distinctGenres) both from MongoStore's catalogue snapshot and as direct queries
 * (catalogueSnapshot: false), plus hiddenMovieIds. The servers are compared in the same run (the first target is the
 * baseline column).
 *
 *   npm run bench:store [-- --target sqlite=mongodb://127.0.0.1:27128/ --target postgresql=mongodb://127.0.0.1:27027/]
 *
 * Without --target: MONGO_URL alone (scripts/test-servers.sh). ML-100k from ML_100K_DIR (default
 * /work/shared/datasets/ml-100k, read in place). Each target gets a database of its own, dropped afterwards. Prints a
 * markdown table (p50/p99 ms and ops/s per path and server); writes bench/results/store-paths-<date>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { importMovieLens } from '../lib/src/data/movielens.js';
import { MongoStore } from '../lib/src/store/mongo-store.js';
import type { RecommendationLogDoc } from '../lib/src/store/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const say = (line: string) => process.stderr.write(`[bench:store] ${line}\n`);
const { values: args } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    ops: { type: 'string', default: '200' },
    logs: { type: 'string', default: '20000' },
    feedback: { type: 'string', default: '5000' },
  },
});
const loadAtStart = loadavg()[0];
const OPS = Number(args.ops);
const LOGS = Number(args.logs);
const FEEDBACK = Number(args.feedback);
const ML_DIR = process.env.ML_100K_DIR ?? '/work/shared/datasets/ml-100k';
const targets = (args.target ?? (process.env.MONGO_URL ? [`default=${process.env.MONGO_URL}`] : [])).map((t) => {
  const i = t.indexOf('=');
  return { name: t.slice(0, i), url: t.slice(i + 1) };
});
if (targets.length === 0 || targets.some((t) => !t.name || !t.url)) {
  say('give --target name=mongodb://host:port/ (one or more), or set MONGO_URL');
  process.exit(2);
}

interface PathResult {
  path: string;
  ops: number;
  p50Ms: number;
  p99Ms: number;
  opsPerSec: number;
  /** Operations that failed (e.g. out of the store's 60 s budget); their time counts up to the failure. */
  failed?: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function timed(path: string, n: number, op: (i: number) => Promise<unknown>): Promise<PathResult> {
  const times: number[] = [];
  const start = performance.now();
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    try {
      await op(i);
    } catch (err) {
      failed++;
      say(`  ${path}: operation ${i} failed after ${(performance.now() - t0).toFixed(0)} ms: ${String(err).slice(0, 160)}`);
    }
    times.push(performance.now() - t0);
  }
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  const r = { path, ops: n, p50Ms: +quantile(times, 0.5).toFixed(2), p99Ms: +quantile(times, 0.99).toFixed(2), opsPerSec: +(((n - failed) * 1000) / total).toFixed(0), ...(failed ? { failed } : {}) };
  say(`  ${path}: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${r.opsPerSec} ops/s${failed ? `, ${failed} failed` : ''}`);
  return r;
}

const log = (i: number, at: Date): RecommendationLogDoc => ({
  sessionId: `s-${i}`,
  userId: String(1 + (i % 943)),
  modelType: i % 2 ? 'als' : 'lightfm',
  modelVersion: 'v1',
  arm: i % 2 ? 'als' : 'lightfm',
  source: 'model',
  items: Array.from({ length: 20 }, (_, r) => ({ movieId: String(1 + ((i * 7 + r) % 1682)), score: 1 - r / 20, rank: r + 1 })),
  createdAt: at,
});

async function benchTarget(name: string, url: string): Promise<{ name: string; setupSeconds: number; paths: PathResult[] }> {
  const dbName = `bench_store_${randomUUID().slice(0, 8)}`;
  say(`${name}: ${url} (database ${dbName})`);
  const store = await MongoStore.connect(url, dbName);
  try {
    const setupStart = performance.now();
    await store.init();
    const summary = await importMovieLens(store, ML_DIR);
    say(`  imported ML-100k: ${JSON.stringify(summary).slice(0, 160)}`);
    const at = new Date('2026-11-01T00:00:00Z');
    for (let i = 0; i < LOGS; i += 1000) {
      await store.insertRecommendationLogs(Array.from({ length: Math.min(1000, LOGS - i) }, (_, k) => log(i + k, at)));
    }
    const fb = Array.from({ length: FEEDBACK }, (_, i) => {
      const l = log(i, at);
      return { sessionId: l.sessionId, userId: l.userId, movieId: l.items[i % 20].movieId, liked: i % 3 !== 0, modelType: l.modelType, modelVersion: 'v1', rank: 1 + (i % 20), sessionCreatedAt: at, arm: l.arm, createdAt: at, updatedAt: at };
    });
    for (let i = 0; i < fb.length; i += 1000) await store.insertMany('feedback', fb.slice(i, i + 1000));
    const setupSeconds = +((performance.now() - setupStart) / 1000).toFixed(1);
    say(`  setup (import, ${LOGS} logs, ${FEEDBACK} feedback) ${setupSeconds} s`);

    const paths: PathResult[] = [];
    const feedbackDoc = (i: number) => {
      const l = log(LOGS - 1 - (i % LOGS), at);
      return { sessionId: l.sessionId, userId: l.userId, movieId: l.items[i % 20].movieId, liked: i % 2 === 0, modelType: l.modelType, modelVersion: 'v1', rank: 1 + (i % 20), sessionCreatedAt: at, arm: l.arm };
    };
    paths.push(await timed('feedback upsert (new key)', OPS, (i) => store.upsertFeedback(feedbackDoc(i))));
    paths.push(await timed('feedback upsert (same key again)', OPS, (i) => store.upsertFeedback(feedbackDoc(i))));
    // POST /feedback under load: the verdicts of concurrent requests written as one batch (recsvc's group commit).
    paths.push(
      await timed('feedback, batch of 10 new keys (group commit)', OPS, (i) =>
        store.upsertFeedbackMany(Array.from({ length: 10 }, (_, j) => feedbackDoc(OPS + i * 10 + j))),
      ),
    );
    let next = LOGS;
    paths.push(
      await timed('recommendation logs, batch of 50', Math.max(10, OPS / 10), () => {
        const batch = Array.from({ length: 50 }, () => log(next++, at));
        return store.insertRecommendationLogs(batch);
      }),
    );
    paths.push(
      await timed('interaction event (new eventId)', OPS, (i) =>
        store.applyInteractionEvents([{ eventId: `bench-${i}`, userId: String(1 + (i % 943)), movieId: String(1 + ((i * 13) % 1682)), type: i % 2 ? 'liked' : 'watched', completed: true, occurredAt: new Date(at.getTime() + i) }]),
      ),
    );
    paths.push(await timed('interaction weights of one user', OPS, (i) => store.userInteractionWeights(String(1 + ((i * 37) % 943)))));
    paths.push(await timed('lastInteractionEventAt', OPS, (i) => store.lastInteractionEventAt(String(1 + (i % 943)))));
    // Catalogue reads: through the catalogue snapshot (the default), and as direct queries (catalogueSnapshot: false,
    // the code before it) on the same database in the same run. The first snapshot read loads the catalogue.
    const seen = (i: number) => Array.from({ length: 100 }, (_, k) => String(1 + ((i * 17 + k * 7) % 1682)));
    const tenIds = (i: number) => Array.from({ length: 10 }, (_, k) => String(1 + ((i * 131 + k * 13) % 1682)));
    const catalogueReads = async (s: MongoStore, how: string) => {
      paths.push(await timed(`topMovies (20, genre filter), ${how}`, OPS, (i) => s.topMovies({ limit: 20, genres: [i % 2 ? 'Drama' : 'Comedy'] })));
      paths.push(await timed(`topMovies (20, 100 seen excluded), ${how}`, OPS, (i) => s.topMovies({ limit: 20, excludeMovieIds: seen(i) })));
      paths.push(await timed(`getMovies (10 ids), ${how}`, OPS, (i) => s.getMovies(tenIds(i))));
      paths.push(await timed(`distinctGenres, ${how}`, OPS, () => s.distinctGenres()));
    };
    const t0 = performance.now();
    await store.topMovies({ limit: 1 });
    const loadMs = +(performance.now() - t0).toFixed(2);
    const movieCount = await store.count('movies');
    paths.push({ path: `catalogue snapshot load (${movieCount} movies, once per catalogue change)`, ops: 1, p50Ms: loadMs, p99Ms: loadMs, opsPerSec: 0 });
    await catalogueReads(store, 'snapshot');
    const direct = await MongoStore.connect(url, dbName, { catalogueSnapshot: false });
    try {
      await catalogueReads(direct, 'direct query');
    } finally {
      await direct.close();
    }
    paths.push(await timed('hiddenMovieIds', OPS, () => store.hiddenMovieIds()));
    return { name, setupSeconds, paths };
  } finally {
    await store.dropDatabase().catch(() => undefined);
    await store.close();
  }
}

const results: Awaited<ReturnType<typeof benchTarget>>[] = [];
for (const t of targets) results.push(await benchTarget(t.name, t.url));

const date = new Date().toISOString();
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GB, load average ${loadAtStart.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end, Node ${process.version}`;
const header = `| path | ${results.map((r) => `${r.name} p50 / p99 ms | ${r.name} ops/s`).join(' | ')} |`;
const rule = `| --- | ${results.map(() => '---: | ---:').join(' | ')} |`;
const rows = results[0].paths.map((p, i) => `| ${p.path} | ${results.map((r) => `${r.paths[i].p50Ms} / ${r.paths[i].p99Ms}${r.paths[i].failed ? ` (${r.paths[i].failed} failed)` : ''} | ${r.paths[i].opsPerSec}`).join(' | ')} |`);
process.stdout.write(`\nbench:store ${date} (${machine}); ${OPS} sequential ops per path; ML-100k + ${LOGS} logs + ${FEEDBACK} feedback\n\n${[header, rule, ...rows].join('\n')}\n`);
const outDir = join(here, '..', '..', 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `store-paths-${date.replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}.json`);
writeFileSync(file, JSON.stringify({ date, machine, ops: OPS, logs: LOGS, feedback: FEEDBACK, targets: results }, null, 2));
say(`wrote ${file}`);
