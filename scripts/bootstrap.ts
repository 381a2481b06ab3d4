/**
 * bootstrap (`npm run bootstrap`): the idempotent first start of a fresh stack. Safe to re-run, and to run as
 * several copies at once.
 *
 * 1. If MongoDB holds no movies, loads data: MovieLens 100k from BOOTSTRAP_MOVIELENS_DIR, else the demo data of
 *    `npm start` (1,000 users, 1,700 movies, 100,000 views, seed 42). One copy loads; the others wait on the
 *    `bootstrap` collection's `data-load` marker (see lib/src/bootstrap-lock.ts).
 * 2. For the model types without an active version, starts ONE training run through the Trainer gRPC API at
 *    TRAINER_ADDRESS (StartTraining returns the run already queued or active for the same models) and polls
 *    GetTrainingRun until it ends.
 * 3. Exits 0 when both models are active; otherwise 1 with a one-line reason on stderr (2: bad environment).
 *
 * Environment: MONGO_URL, MONGO_DB (required), TRAINER_ADDRESS (required), BOOTSTRAP_MOVIELENS_DIR,
 * BOOTSTRAP_API_KEY (required: an `admin` key for the Trainer API), BOOTSTRAP_TIMEOUT_SECONDS (default 1800: the whole bootstrap, data and training), BOOTSTRAP_POLL_MS (default 1000),
 * BOOTSTRAP_DEMO_USERS / _MOVIES / _INTERACTIONS (default 1000 / 1700 / 100000, as `npm start`).
 */
import * as grpc from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { MongoDataLoadLock, type DataLoadLock } from '../lib/src/bootstrap-lock.js';
import { ConfigError, env, loadConfig, storageEnvShape } from '../lib/src/config.js';
import { generateData } from '../lib/src/data/generate.js';
import { importMovieLens } from '../lib/src/data/movielens.js';
import { MODEL_TYPES, type ModelTypeName } from '../lib/src/domain.js';
import { callUnary, clientChannelOptions } from '../lib/src/grpc/client.js';
import { modelTypeName, modelTypeToProto } from '../lib/src/proto-mapping.js';
import { sendApiKey } from '../lib/src/grpc/auth.js';
import { ModelType, TrainerServiceClient, TrainingRunState, type TrainingRun } from '../lib/src/proto.js';
import { MongoStore } from '../lib/src/store/mongo-store.js';
import type { Store } from '../lib/src/store/types.js';
import { isMain, type CliIo } from './generate-data.js';

const schema = z.object({
  MONGO_URL: storageEnvShape.MONGO_URL.unwrap(),
  MONGO_DB: z.string().min(1),
  TRAINER_ADDRESS: env.grpcTarget(),
  /** An API key with the `admin` scope: the Trainer refuses StartTraining without one (README "Security"). */
  BOOTSTRAP_API_KEY: z.string().min(1, 'BOOTSTRAP_API_KEY must be an API key with the admin scope'),
  BOOTSTRAP_MOVIELENS_DIR: z.string().min(1).optional(),
  BOOTSTRAP_TIMEOUT_SECONDS: z.coerce.number().int().positive().default(1800),
  BOOTSTRAP_POLL_MS: z.coerce.number().int().positive().default(1000),
  /** Sizes of the generated demo data; the defaults are `npm start`'s (smaller ones load faster, e.g. in a smoke test). */
  BOOTSTRAP_DEMO_USERS: z.coerce.number().int().min(1).max(10_000_000).optional(),
  BOOTSTRAP_DEMO_MOVIES: z.coerce.number().int().min(1).max(1_000_000).optional(),
  BOOTSTRAP_DEMO_INTERACTIONS: z.coerce.number().int().min(0).max(1_000_000_000).optional(),
});
export type BootstrapConfig = z.output<typeof schema>;

/** The bootstrap's configuration, validated once (every missing variable listed). */
export function loadBootstrapConfig(source: NodeJS.ProcessEnv = process.env): BootstrapConfig {
  return loadConfig(schema, source);
}

/** The demo data of `npm start` (scripts/demo.ts defaults). */
export const DEMO_DATA = { users: 1000, movies: 1700, interactions: 100_000, seed: 42 } as const;

/** A load's heartbeat older than this means its loader died (the marker may be taken over). */
export const STALE_LOAD_MS = 60_000;

export class BootstrapError extends Error {
  override name = 'BootstrapError';
}

export interface BootstrapDeps {
  store: Store;
  lock: DataLoadLock;
  trainer: TrainerServiceClient;
  /** Writes one progress line. */
  say: (line: string) => void;
  /** Injected by tests: the time source for the overall deadline. */
  now?: () => number;
  owner?: string;
  /** Sizes of the generated demo data (default DEMO_DATA, as `npm start`); tests use smaller ones. */
  demoData?: { users: number; movies: number; interactions: number; seed: number };
}

export interface BootstrapResult {
  /** What this copy did with the data: loaded it, found it loaded, or waited for another copy. */
  data: 'loaded' | 'present' | 'waited';
  /** The training run started or reused, if any model was missing. */
  runId?: string;
  /** The active version of each model type at the end. */
  active: Record<ModelTypeName, string>;
}

/** Runs the bootstrap; resolves when both models are active, rejects with a BootstrapError saying why not. */
export async function runBootstrap(config: BootstrapConfig, deps: BootstrapDeps): Promise<BootstrapResult> {
  const now = deps.now ?? Date.now;
  const deadline = now() + config.BOOTSTRAP_TIMEOUT_SECONDS * 1000;
  const timeLeft = () => deadline - now();
  const owner = deps.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const data = await ensureData(config, deps, owner, timeLeft);
  return { ...(await ensureModels(config, deps, timeLeft)), data };
}

async function ensureData(config: BootstrapConfig, deps: BootstrapDeps, owner: string, timeLeft: () => number): Promise<BootstrapResult['data']> {
  const { store, lock, say } = deps;
  let waited = false;
  for (;;) {
    const movies = await store.count('movies');
    const marker = await lock.read();
    if (movies > 0 && marker?.state !== 'loading' && marker?.state !== 'failed') {
      say(waited ? `data loaded by another bootstrap (${movies} movies)` : `MongoDB already holds ${movies} movies: keeping them`);
      return waited ? 'waited' : 'present';
    }
    const got = await lock.acquire(owner);
    if (got.outcome === 'done') {
      if ((await store.count('movies')) > 0) continue;
      throw new BootstrapError(
        `the bootstrap marker (collection bootstrap, _id data-load) says the data was loaded, but MongoDB holds no movies: delete that document to load again`,
      );
    }
    if (got.outcome === 'held') {
      if (timeLeft() <= 0) throw new BootstrapError(`timed out waiting for another bootstrap (${got.marker.owner}) to load the data`);
      if (!waited) say(`another bootstrap (${got.marker.owner}) is loading the data: waiting`);
      waited = true;
      await sleep(Math.min(config.BOOTSTRAP_POLL_MS, Math.max(timeLeft(), 1)));
      continue;
    }
    // Ours: load, renewing the heartbeat so that waiters do not take over a live load.
    const heartbeat = setInterval(() => void lock.heartbeat(owner).catch(() => undefined), Math.max(1000, STALE_LOAD_MS / 4));
    try {
      if (got.reset) say('taking over a data load that failed or stopped: clearing what it wrote');
      const source = await loadData(config, store, got.reset, say, deps.demoData ?? DEMO_DATA);
      await lock.complete(owner, source);
      return 'loaded';
    } catch (err) {
      await lock.fail(owner, String((err as Error).message ?? err)).catch(() => undefined);
      throw new BootstrapError(`loading the data failed: ${(err as Error).message ?? err}`);
    } finally {
      clearInterval(heartbeat);
    }
  }
}

async function loadData(
  config: BootstrapConfig,
  store: Store,
  reset: boolean,
  say: (line: string) => void,
  demo: NonNullable<BootstrapDeps['demoData']>,
): Promise<string> {
  if (config.BOOTSTRAP_MOVIELENS_DIR) {
    say(`importing MovieLens 100k from ${config.BOOTSTRAP_MOVIELENS_DIR} ...`);
    const s = await importMovieLens(store, config.BOOTSTRAP_MOVIELENS_DIR, { reset });
    say(`imported ${s.users} users, ${s.movies} movies, ${s.likes} ratings`);
    return 'movielens';
  }
  say(`generating demo data: ${demo.users} users, ${demo.movies} movies, ${demo.interactions} views ...`);
  const s = await generateData(store, { ...demo, reset });
  say(`generated ${s.users} users, ${s.movies} movies, ${s.watched} views, ${s.likes} likes, ${s.bookmarks} bookmarks`);
  return 'demo';
}

const TRANSIENT = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

/** Calls a Trainer method, retrying while the trainer is unreachable (it may still be starting). */
async function callTrainer<Req, Res>(
  deps: BootstrapDeps,
  config: BootstrapConfig,
  timeLeft: () => number,
  method: Parameters<typeof callUnary<Req, Res>>[1],
  request: Req,
): Promise<Res> {
  for (;;) {
    try {
      return await callUnary(deps.trainer, method, request, { timeoutMs: Math.max(1, Math.min(30_000, timeLeft())), requestId: 'bootstrap' });
    } catch (err) {
      const code = (err as grpc.ServiceError).code;
      const details = (err as grpc.ServiceError).details || (err as Error).message;
      if (!TRANSIENT.has(code)) throw new BootstrapError(`trainer call failed: ${details}`);
      if (timeLeft() <= 0) {
        throw new BootstrapError(
          `the trainer at ${config.TRAINER_ADDRESS} did not answer within BOOTSTRAP_TIMEOUT_SECONDS (${config.BOOTSTRAP_TIMEOUT_SECONDS} s): ${details}`,
        );
      }
      await sleep(Math.min(config.BOOTSTRAP_POLL_MS, Math.max(timeLeft(), 1)));
    }
  }
}

async function activeVersions(deps: BootstrapDeps, config: BootstrapConfig, timeLeft: () => number): Promise<Partial<Record<ModelTypeName, string>>> {
  const { models } = await callTrainer(deps, config, timeLeft, deps.trainer.listModels, { modelType: ModelType.MODEL_TYPE_UNSPECIFIED });
  const active: Partial<Record<ModelTypeName, string>> = {};
  for (const m of models) {
    const type = modelTypeName(m.modelType);
    if (m.active && type !== 'unspecified') active[type] = m.version;
  }
  return active;
}

async function ensureModels(config: BootstrapConfig, deps: BootstrapDeps, timeLeft: () => number): Promise<Omit<BootstrapResult, 'data'>> {
  const { trainer, say } = deps;
  let active = await activeVersions(deps, config, timeLeft);
  const missing = MODEL_TYPES.filter((t) => !active[t]);
  if (missing.length === 0) {
    say(`both models are active (${MODEL_TYPES.map((t) => `${t} ${active[t]}`).join(', ')})`);
    return { active: active as Record<ModelTypeName, string> };
  }
  const { run: started, existing } = await callTrainer(deps, config, timeLeft, trainer.startTraining, { modelTypes: missing.map(modelTypeToProto) });
  if (!started) throw new BootstrapError('the trainer answered StartTraining without a run');
  const runId = started.runId;
  say(`${existing ? 'following the training run already queued' : 'started training run'} ${runId} for ${missing.join(' and ')}`);
  let run: TrainingRun = started;
  let last = '';
  while (run.state !== TrainingRunState.TRAINING_RUN_STATE_COMPLETED) {
    if (run.state === TrainingRunState.TRAINING_RUN_STATE_FAILED) throw new BootstrapError(`training run ${runId} failed: ${run.error || 'no reason given'}`);
    if (timeLeft() <= 0) throw new BootstrapError(`timed out after ${config.BOOTSTRAP_TIMEOUT_SECONDS} s waiting for training run ${runId} (${run.stage || 'queued'})`);
    const line = `${run.stage || 'queued'} ${Math.round(run.progress * 100)}%`;
    if (line !== last) say(`  ${line}`);
    last = line;
    await sleep(Math.min(config.BOOTSTRAP_POLL_MS, Math.max(timeLeft(), 1)));
    const { run: now } = await callTrainer(deps, config, timeLeft, trainer.getTrainingRun, { runId });
    if (!now) throw new BootstrapError(`the trainer answered GetTrainingRun ${runId} without a run`);
    run = now;
  }
  active = await activeVersions(deps, config, timeLeft);
  const still = MODEL_TYPES.filter((t) => !active[t]);
  if (still.length) {
    const reasons = still.map((t) => {
      const outcome = run.outcomes.find((o) => modelTypeName(o.modelType) === t);
      return `${t}: ${outcome ? outcome.reason : 'not trained by this run'}`;
    });
    throw new BootstrapError(`training run ${runId} completed but not every model is active (${reasons.join('; ')})`);
  }
  say(`both models are active (${MODEL_TYPES.map((t) => `${t} ${active[t]}`).join(', ')})`);
  return { runId, active: active as Record<ModelTypeName, string> };
}

/** The command: wires MongoDB, the marker and the Trainer client; one line on stderr and a non-zero exit on failure. */
export async function main(environment: NodeJS.ProcessEnv = process.env, io: CliIo = process): Promise<number> {
  let config: BootstrapConfig;
  try {
    config = loadBootstrapConfig(environment);
  } catch (err) {
    io.stderr.write(`bootstrap: ${err instanceof ConfigError ? err.problems.join('; ') : String(err)}\n`);
    return 2;
  }
  const say = (line: string) => void io.stdout.write(`bootstrap: ${line}\n`);
  let store: MongoStore | undefined;
  let lock: DataLoadLock | undefined;
  const trainer = new TrainerServiceClient(
    config.TRAINER_ADDRESS,
    grpc.credentials.createInsecure(),
    { ...clientChannelOptions({ services: ['recsys.v1.TrainerService'] }), interceptors: [sendApiKey(config.BOOTSTRAP_API_KEY)] },
  );
  try {
    store = await MongoStore.connect(config.MONGO_URL, config.MONGO_DB);
    await store.init();
    lock = await MongoDataLoadLock.connect(config.MONGO_URL, config.MONGO_DB, STALE_LOAD_MS);
    const demoData = {
      users: config.BOOTSTRAP_DEMO_USERS ?? DEMO_DATA.users,
      movies: config.BOOTSTRAP_DEMO_MOVIES ?? DEMO_DATA.movies,
      interactions: config.BOOTSTRAP_DEMO_INTERACTIONS ?? DEMO_DATA.interactions,
      seed: DEMO_DATA.seed,
    };
    await runBootstrap(config, { store, lock, trainer, say, demoData });
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`bootstrap: ${message.split('\n')[0]}\n`);
    return 1;
  } finally {
    trainer.close();
    await lock?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
  }
}

if (isMain(import.meta.url)) process.exit(await main());
