/**
 * bench:pipeline — the training pipeline on generated data (1M watched records by default): the train_model job's
 * time per stage (reading MongoDB, building the CSR, training each model, evaluating, uploading), the
 * update_all_recommendations rate in users per second, and the worker's peak memory.
 *
 *   npm run build && node dist/bench/pipeline.js [--users N] [--movies N] [--interactions N] [--seed N] [--regenerate]
 *                                                [--models als,lightfm]
 *
 * With MONGO_URL, REDIS_URL and S3_ENDPOINT set it runs against those servers: the data goes to MONGO_DB (default
 * recsys_bench; reused when it already holds the same world, --regenerate rebuilds it), artifacts to S3_BUCKET
 * (default recsys-bench), and the worker runs as its own process (dist/trainer/src/worker-main.js), as deployed,
 * so its peak RSS is its own. Without them everything is embedded in this process (in-memory store, local folder,
 * in-process queue) and the peak RSS includes the in-memory store. Trainer settings come from the environment as
 * for the service (ALS_FACTORS, WARP_EPOCHS, TRAIN_THREADS, ...). Prints a markdown table; writes
 * bench/results/pipeline-<date>.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createCache, createObjectStore, createStore } from '../lib/src/backends.js';
import { prepareStore } from '../lib/src/data/generate.js';
import { createSyntheticWorld } from '../lib/src/data/synthetic.js';
import { MODEL_TYPES, type ModelTypeName } from '../lib/src/domain.js';
import { createLogger } from '../lib/src/logger.js';
import { DirectoryObjectStore } from '../lib/src/objectstore/directory-object-store.js';
import type { Store } from '../lib/src/store/types.js';
import { backend as modelsBackend } from '../native/src/index.js';
import { loadTrainerConfig } from '../trainer/src/config.js';
import { createTrainerRuntime, JOB_NAMES, type TrainerRuntime } from '../trainer/src/runtime.js';
import { startTrainerApi, startTrainer } from '../trainer/src/server.js';
import type { TrainerService, TrainingRunView } from '../trainer/src/trainer-service.js';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 2) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const say = (line: string) => process.stderr.write(`[bench:pipeline] ${line}\n`);

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '20000' },
    movies: { type: 'string', default: '5000' },
    interactions: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '42' },
    regenerate: { type: 'boolean', default: false },
    models: { type: 'string', default: 'als,lightfm' },
  },
});
const modelTypes = args.models.split(',').filter(Boolean) as ModelTypeName[];
if (modelTypes.some((m) => !(MODEL_TYPES as readonly string[]).includes(m))) throw new Error(`--models takes ${MODEL_TYPES.join(',')}`);
const world = { users: Number(args.users), movies: Number(args.movies), interactions: Number(args.interactions), seed: Number(args.seed) };

const real = Boolean(process.env.MONGO_URL && process.env.REDIS_URL && process.env.S3_ENDPOINT);
const partial = ['MONGO_URL', 'REDIS_URL', 'S3_ENDPOINT'].filter((v) => process.env[v]);
if (!real && partial.length) say(`only ${partial.join(', ')} set: running embedded (all three are needed for the real servers)`);
const prefix = `bench-${Date.now().toString(36)}`;
const benchEnv: Record<string, string> = {
  MONGO_DB: process.env.MONGO_DB ?? 'recsys_bench',
  S3_BUCKET: process.env.S3_BUCKET && process.env.S3_BUCKET !== 'recsys-test' ? process.env.S3_BUCKET : 'recsys-bench',
  QUEUE_PREFIX: prefix,
  TRAIN_CRON: 'off',
  REFRESH_CRON: 'off',
  REFRESH_AFTER_PROMOTION: 'false',
  RECOMMENDATION_TTL_SECONDS: process.env.RECOMMENDATION_TTL_SECONDS ?? '3600',
  TRAINER_PORT: '0',
  TRAINER_METRICS_PORT: '0',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};
const env = real
  ? { ...process.env, ...benchEnv }
  : { ...process.env, ...benchEnv, MONGO_URL: '', REDIS_URL: '', S3_ENDPOINT: '', DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-pipeline-')) };
const config = loadTrainerConfig(env);
const log = createLogger('bench', config.LOG_LEVEL);

/** Peak resident set size of a process in MB (Linux /proc VmHWM), or undefined elsewhere. */
function peakRssMb(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The generator's world (lib/src/data), written batch by batch. Unlike generateData it skips refreshPopularity:
 * training does not read popularity, and on FerretDB v1 that aggregation over 1.6M documents takes many minutes.
 */
async function fillWorld(store: Store): Promise<void> {
  const synthetic = createSyntheticWorld({ ...world, now: Date.UTC(2026, 0, 1) });
  await prepareStore(store, true);
  for (const batch of synthetic.userBatches(10_000)) await store.insertMany('users', batch);
  for (const batch of synthetic.movieBatches(10_000)) await store.insertMany('movies', batch);
  let written = 0;
  let reported = 0;
  for (const batch of synthetic.interactionBatches(10_000)) {
    await store.insertMany('watched_movies', batch.watched);
    await store.insertMany('likes', batch.likes);
    await store.insertMany('bookmarks', batch.bookmarks);
    written += batch.watched.length;
    if (written - reported >= world.interactions / 10) {
      say(`  ${int(written)} watched records written`);
      reported = written;
    }
  }
}

async function waitForRun(service: TrainerService, runId: string): Promise<TrainingRunView> {
  let last = '';
  for (;;) {
    const run = await service.getTrainingRun(runId);
    const line = `run ${run.state}: ${run.stage} ${Math.round(run.progress * 100)}%`;
    if (line !== last) say(line);
    last = line;
    if (run.state === 'completed' || run.state === 'failed') return run;
    await sleep(250);
  }
}

async function main(): Promise<void> {
  say(`mode: ${real ? `real servers (MongoDB ${env.MONGO_URL} db ${config.MONGO_DB}, Redis, S3 ${env.S3_ENDPOINT} bucket ${config.S3_BUCKET})` : 'embedded (in-memory store, local folder, in-process queue)'}`);
  say(`models library backend: ${modelsBackend}; ${cpus().length} cores; TRAIN_THREADS=${config.TRAIN_THREADS}`);

  // 1. Data.
  const store = await createStore(config, log);
  let generationSeconds = 0;
  const held = await store.count('watched_movies');
  if (args.regenerate || held !== world.interactions || (await store.count('users')) !== world.users) {
    say(`generating ${int(world.interactions)} watched records for ${int(world.users)} users and ${int(world.movies)} movies (seed ${world.seed})...`);
    const t0 = performance.now();
    await fillWorld(store);
    generationSeconds = (performance.now() - t0) / 1000;
  } else {
    say(`reusing the ${int(held)} watched records already in ${config.MONGO_DB} (--regenerate to rebuild)`);
  }

  // 2. Trainer: API here; the worker in its own process (real) or in this one (embedded).
  const cache = await createCache(config, log);
  const objects = real ? await createObjectStore(config, log) : new DirectoryObjectStore(join(env.DATA_DIR!, 'objects'));
  await objects.ensureBucket();
  let child: ChildProcess | undefined;
  let runtime: TrainerRuntime;
  let stop: () => Promise<void>;
  let service: TrainerService;
  if (real) {
    runtime = await createTrainerRuntime(config, log, { store, cache, objects });
    const api = await startTrainerApi(config, log, { runtime });
    service = api.service;
    child = spawn(process.execPath, [join(here, '../trainer/src/worker-main.js')], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    stop = async () => {
      await api.shutdown(2_000);
      child!.kill('SIGTERM');
      await exited;
    };
  } else {
    const trainer = await startTrainer(config, log, { store, cache, objects });
    runtime = trainer.runtime;
    service = trainer.service;
    stop = () => trainer.shutdown(2_000);
  }
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;

  // 3. Train.
  const t0 = performance.now();
  const { run: queued } = await service.startTraining({ modelTypes });
  const run = await waitForRun(service, queued.runId);
  const trainWall = (performance.now() - t0) / 1000;
  if (run.state !== 'completed') throw new Error(`training failed: ${run.error}`);

  // 4. Refresh every user's cached lists.
  const t1 = performance.now();
  const { jobId } = await service.refreshRecommendations();
  let refresh = await runtime.refresh.get(jobId);
  while (refresh && refresh.state !== 'completed' && refresh.state !== 'failed') {
    await sleep(200);
    refresh = await runtime.refresh.get(jobId);
  }
  const refreshWall = (performance.now() - t1) / 1000;
  if (refresh?.state !== 'completed') throw new Error(`refresh failed: ${refresh?.failedReason}`);
  const refreshModels = (refresh.result?.models ?? {}) as Record<string, { users: number; seconds: number; usersPerSecond: number }>;
  const exclusionsSeconds = Number(refresh.result?.readSeconds ?? 0);

  const workerPeakMb = child?.pid !== undefined ? peakRssMb(child.pid) : process.resourceUsage().maxRSS / 1024;
  await stop();
  if (real) {
    // The run's queue keys go; the data stays for the next run, the artifacts are pruned by the trainer.
    const redis = new Redis(env.REDIS_URL!);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
  await cache.close();
  await store.close();

  // 5. Report.
  const t = run.timings;
  const stages: [string, string, number][] = [
    ['read', 'read MongoDB (stream 5 collections into COO arrays)', t.read ?? 0],
    ['build', 'build CSR (sum duplicates, drop dislikes, features, holdout split)', t.build ?? 0],
    ['train_als', 'train ALS (holdout fit + refit on all data)', t.train_als ?? 0],
    ['train_lightfm', 'train LightFM-style WARP (holdout fit + refit)', t.train_lightfm ?? 0],
    ['evaluate', 'evaluate (batch top-10 + metrics, both models + popularity)', t.evaluate ?? 0],
    ['upload', 'upload (write, verify, manifest, activate)', t.upload ?? 0],
  ];
  const stageTotal = stages.reduce((s, [, , v]) => s + v, 0);
  const metricRow = (label: string, m: Record<string, number>, prefix = '') => {
    const get = (name: string) => m[prefix ? `${prefix}${name[0].toUpperCase()}${name.slice(1)}` : name];
    return `| ${label} | ${fmt(get('ndcgAt10'), 4)} | ${fmt(get('precisionAt10'), 4)} | ${fmt(get('recallAt10'), 4)} |`;
  };
  const label = { als: 'ALS', lightfm: 'LightFM-style WARP' } as const;
  const lines = [
    `## Training pipeline benchmark (${new Date().toISOString().slice(0, 10)})`,
    '',
    `Mode: **${real ? 'real servers' : 'embedded'}** (${real ? 'FerretDB/MongoDB, Redis + BullMQ, S3; worker in its own process' : 'in-memory store, local folder, in-process queue; worker in this process'}), ` +
      `models backend **${modelsBackend}**, ${cpus().length} cores, TRAIN_THREADS=${config.TRAIN_THREADS}.`,
    `Data: ${int(run.dataStats.records)} records (${int(run.dataStats.watchedRecords)} watched, ${int(run.dataStats.likeRecords)} likes, ` +
      `${int(run.dataStats.bookmarkRecords)} bookmarks) → ${int(run.dataStats.interactions)} (user, movie) pairs, ${int(run.dataStats.users)} users × ` +
      `${int(run.dataStats.items)} movies, density ${fmt(100 * run.dataStats.density, 3)}%.`,
    `Models: ALS factors ${config.ALS_FACTORS}, ${config.ALS_ITERATIONS} iterations; WARP ${config.WARP_COMPONENTS} components, ${config.WARP_EPOCHS} epochs.`,
    '',
    '| stage | seconds | share |',
    '| --- | ---: | ---: |',
    ...stages.map(([, label, s]) => `| ${label} | ${fmt(s)} | ${fmt((100 * s) / stageTotal, 1)}% |`),
    `| **train_model total** (wall, queue included: ${fmt(trainWall)} s) | **${fmt(stageTotal)}** | 100% |`,
    '',
    '| refresh-all (top-100 per user, pipelined writes) | users | seconds | users/second |',
    '| --- | ---: | ---: | ---: |',
    `| read exclusions (interactions + dislikes, once for both models) | | ${fmt(exclusionsSeconds)} | |`,
    ...Object.entries(refreshModels).map(([m, r]) => `| ${m} | ${int(r.users)} | ${fmt(r.seconds)} | ${int(r.usersPerSecond)} |`),
    `| whole job (wall: loading, exclusions, ranking, writing) | ${int(Object.values(refreshModels).reduce((s, r) => s + r.users, 0))} | ${fmt(refreshWall)} | ${int(Object.values(refreshModels).reduce((s, r) => s + r.users, 0) / refreshWall)} |`,
    '',
    `| offline metrics (20% holdout) | nDCG@10 | P@10 | R@10 |`,
    '| --- | ---: | ---: | ---: |',
    ...run.outcomes.map((o) => metricRow(label[o.modelType], o.metrics)),
    metricRow('popularity baseline', run.outcomes[0].metrics, 'popularity'),
    '',
    `Peak RSS of the worker: **${workerPeakMb !== undefined ? `${int(workerPeakMb)} MB` : 'n/a'}**` +
      (real ? ' (its own process).' : ` (this process, in-memory store included; ${int(rssBeforeMb)} MB before training).`),
  ];
  console.log(lines.join('\n'));

  const date = new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const outDir = join(here, '..', '..', 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `pipeline-${date}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        mode: real ? 'real' : 'embedded',
        modelsBackend,
        machine: { cores: cpus().length, cpu: cpus()[0]?.model, memoryMb: Math.round(totalmem() / 2 ** 20), node: process.version },
        world,
        generationSeconds,
        config: {
          TRAIN_THREADS: config.TRAIN_THREADS,
          ALS_FACTORS: config.ALS_FACTORS,
          ALS_ITERATIONS: config.ALS_ITERATIONS,
          ALS_ALPHA: config.ALS_ALPHA,
          ALS_REGULARIZATION: config.ALS_REGULARIZATION,
          WARP_COMPONENTS: config.WARP_COMPONENTS,
          WARP_EPOCHS: config.WARP_EPOCHS,
          REFIT_ON_ALL_DATA: config.REFIT_ON_ALL_DATA,
          SCAN_BATCH_SIZE: config.SCAN_BATCH_SIZE,
          REFRESH_CHUNK_USERS: config.REFRESH_CHUNK_USERS,
        },
        dataStats: run.dataStats,
        timings: run.timings,
        trainWallSeconds: trainWall,
        outcomes: run.outcomes,
        refresh: { wallSeconds: refreshWall, exclusionsSeconds, models: refreshModels, job: JOB_NAMES.refreshAll },
        workerPeakRssMb: workerPeakMb,
        rssBeforeTrainingMb: real ? undefined : rssBeforeMb,
      },
      null,
      2,
    ),
  );
  say(`wrote ${file}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    say(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
