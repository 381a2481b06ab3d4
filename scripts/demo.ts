/**
 * `npm start`: the whole service in one process, on embedded defaults unless MONGO_URL / REDIS_URL / S3_* are set.
 * Starts recsvc, the trainer API and worker, and the gateway with the web console; generates demo data when the store
 * is empty (or imports MovieLens 100k with --movielens DIR); trains both models unless the active versions were
 * trained on the data the store holds (the manifests' data fingerprint); prints the URLs and example requests.
 *
 *   npm start [-- --movielens ../shared/datasets/ml-100k] [--users 1000 --movies 1700 --interactions 100000 --seed 42] [--reset]
 *
 * Never misleading:
 * - a model trained on other data than the store holds is never served (recsvc refuses another catalogue; the demo
 *   retrains when the catalogue or the interaction counts differ);
 * - a taken port is reported as the port and the variable that changes it (exit code 2), for every listener;
 * - when training fails (e.g. no interactions yet) the demo keeps serving the genre and global top lists and says why;
 * - Ctrl-C is clean at any moment: services close in order, a half-filled store is emptied again, and model versions
 *   are published one model at a time, each complete (files, then manifest, then the ACTIVE pointer, each object
 *   written atomically). Stopped between the two models, the new ALS can be active beside the older LightFM: both
 *   are complete, and the next start retrains whichever was not trained on the current data.
 */
import { ConfigError } from '../lib/src/config.js';
import { createCache, createObjectStore, createStore } from '../lib/src/backends.js';
import type { Cache } from '../lib/src/cache/types.js';
import { DomainError } from '../lib/src/errors.js';
import { createLogger } from '../lib/src/logger.js';
import { generateData } from '../lib/src/data/generate.js';
import { importMovieLens } from '../lib/src/data/movielens.js';
import { MODEL_TYPES, type ModelTypeName } from '../lib/src/domain.js';
import { ModelRegistry } from '../lib/src/models/registry.js';
import type { ObjectStore } from '../lib/src/objectstore/types.js';
import { ModelType, TrainingRunState } from '../lib/src/proto.js';
import type { Store } from '../lib/src/store/types.js';
import { loadRecsvcConfig } from '../recsvc/src/config.js';
import { startRecsvc, type RunningRecsvc } from '../recsvc/src/server.js';
import { loadTrainerConfig } from '../trainer/src/config.js';
import { startTrainer } from '../trainer/src/server.js';
import { loadGatewayConfig } from '../gateway/src/config.js';
import { buildGateway } from '../gateway/src/app.js';
import { withApiKey } from '../gateway/src/auth.js';
import { ApiKeyStore, ensureDemoKey } from '../lib/src/api-keys.js';
import { registerConsole } from '../gateway/src/console.js';
import { Upstreams } from '../gateway/src/upstreams.js';
import { assertPortsFree, DEMO_USAGE, DemoError, listening, parseDemoFlags, staleModels, type Listener } from './demo-support.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const modelEnum: Record<ModelTypeName, ModelType> = { als: ModelType.MODEL_TYPE_ALS, lightfm: ModelType.MODEL_TYPE_LIGHTFM };

// ------------------------------------------------------------------------------------------------ stopping cleanly

/** Closers of what has been started, run in reverse order on Ctrl-C, SIGTERM or a failure. */
const closers: { name: string; close: () => Promise<unknown> }[] = [];
let stopping = false;
/**
 * Set while the demo fills an empty MongoDB: stopping then empties it again, so no half-written data set stays (the
 * embedded store disappears with the process anyway).
 */
let filling: (() => Promise<void>) | undefined;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (closers.length === 0 && !filling) process.exit(code);
    say('\nstopping ...');
    if (filling) {
      try {
        await filling();
        say('  removed the partly written demo data (the next start fills the store again)');
      } catch (err) {
        say(`  could not remove the partly written demo data (${(err as Error).message}): start with --reset`);
      }
    }
    for (const { name, close } of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        say(`  ${name}: ${(err as Error).message}`);
      }
    }
    say('stopped');
  }
  process.exit(code);
}

/** Never resolves: once stopping, the main flow parks here while stop() closes everything and exits. */
const parked = () => new Promise<never>(() => undefined);

let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (++signals > 1) {
      say('stopping at once');
      process.exit(130);
    }
    void stop(0);
  });
}
// Calls cut off by the shutdown (a gRPC channel closed under a pending call) are expected then, and not news.
for (const event of ['unhandledRejection', 'uncaughtException'] as const) {
  process.on(event, (err: unknown) => {
    if (stopping) return;
    process.stderr.write(`demo: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void stop(1);
  });
}

// ------------------------------------------------------------------------------------------------ the demo

async function main(): Promise<void> {
  const flags = parseDemoFlags(process.argv.slice(2));
  if (flags.help) {
    process.stdout.write(DEMO_USAGE);
    process.exit(0);
  }

  // Every service's configuration, validated before anything starts. No service logs unless LOG_LEVEL asks for them:
  // the demo prints progress and every condition that matters (a failed training, a refused version, a taken port)
  // itself, in words; short grace times: Ctrl-C should not wait for a training run to finish.
  // State-changing routes need an API key (README "Security"): the demo makes one (kept in DATA_DIR, reused) and
  // prints it; its own training calls use it too. API_KEYS_FILE set by the caller wins (then the demo's calls need
  // the demo key in that file, or API_KEYS holding it).
  const demoKey = ensureDemoKey(process.env.DATA_DIR ?? '.data');
  const env = {
    LOG_LEVEL: 'fatal',
    SHUTDOWN_GRACE_MS: '2000',
    WORKER_SHUTDOWN_GRACE_MS: '1000',
    API_KEYS_FILE: demoKey.file,
    LOG_SPOOL_DIR: `${process.env.DATA_DIR ?? '.data'}/log-spool`,
    ...process.env,
  };
  const recsvcConfig = loadRecsvcConfig(env);
  const trainerConfig = loadTrainerConfig(env);
  const gatewayConfig = loadGatewayConfig(env);
  const log = createLogger('demo', recsvcConfig.LOG_LEVEL);
  const apiKeys = ApiKeyStore.fromEnv(gatewayConfig, log);
  closers.push({ name: 'API keys', close: async () => apiKeys.close() });

  // Every listener, checked before any work: a taken port is named with the variable that changes it.
  const gatewayListener: Listener = { variable: 'GATEWAY_PORT', what: 'the REST gateway and web console', host: gatewayConfig.GATEWAY_HOST, port: gatewayConfig.GATEWAY_PORT };
  const recsvcListeners: Listener[] = [
    { variable: 'RECSVC_PORT', what: 'the recommendation service (gRPC)', host: recsvcConfig.RECSVC_HOST, port: recsvcConfig.RECSVC_PORT },
    { variable: 'RECSVC_METRICS_PORT', what: "the recommendation service's /metrics", host: recsvcConfig.RECSVC_HOST, port: recsvcConfig.RECSVC_METRICS_PORT },
  ];
  const trainerListeners: Listener[] = [
    { variable: 'TRAINER_PORT', what: 'the trainer (gRPC)', host: trainerConfig.TRAINER_HOST, port: trainerConfig.TRAINER_PORT },
    { variable: 'TRAINER_METRICS_PORT', what: "the trainer's /metrics", host: trainerConfig.TRAINER_HOST, port: trainerConfig.TRAINER_METRICS_PORT },
  ];
  const allListeners = [gatewayListener, ...recsvcListeners, ...trainerListeners];
  await assertPortsFree(allListeners);

  say(
    `recsys demo: ${recsvcConfig.MONGO_URL ? 'MongoDB' : 'embedded store'}, ${recsvcConfig.REDIS_URL ? 'Redis' : 'in-process cache and queue'}, ` +
      `${recsvcConfig.S3_ENDPOINT ? 'S3' : `model files in ${recsvcConfig.DATA_DIR}/objects`}`,
  );
  const store: Store = await createStore(recsvcConfig, log);
  closers.push({ name: 'store', close: () => store.close() });
  const cache: Cache = await createCache(recsvcConfig, log);
  closers.push({ name: 'cache', close: () => cache.close() });
  const objects: ObjectStore = await createObjectStore(recsvcConfig, log);
  const registry = new ModelRegistry(objects);
  if (stopping) return parked();

  if (flags.reset) {
    const keys = await objects.list('models/');
    await objects.remove(keys);
    await store.clear();
    say(`[${elapsed()}] --reset: removed the store's data and ${keys.length} stored model files`);
  }

  // The data: fill an empty store; never mix data sets.
  const movies = await store.count('movies');
  if (movies === 0) {
    if (recsvcConfig.MONGO_URL) {
      // The generator cannot be interrupted: close the store under it (its writes fail), then empty the database.
      filling = async () => {
        await store.close();
        const fresh = await createStore(recsvcConfig, log);
        await fresh.clear();
        await fresh.close();
      };
    }
    if (flags.movielens) {
      say(`[${elapsed()}] importing MovieLens 100k from ${flags.movielens} ...`);
      const summary = await importMovieLens(store, flags.movielens, { reset: false });
      say(`[${elapsed()}] imported ${summary.users} users, ${summary.movies} movies, ${summary.likes} ratings`);
    } else {
      const sizes = { users: flags.users, movies: flags.movies, interactions: flags.interactions, seed: flags.seed };
      say(`[${elapsed()}] generating demo data: ${sizes.users} users, ${sizes.movies} movies, ${sizes.interactions} views ...`);
      const summary = await generateData(store, sizes);
      say(`[${elapsed()}] generated ${summary.users} users, ${summary.movies} movies, ${summary.watched} views, ${summary.likes} likes, ${summary.bookmarks} bookmarks`);
    }
    if (stopping) return parked();
    filling = undefined;
  } else if (flags.movielens) {
    throw new DemoError(
      `the store already holds ${movies} movies, and --movielens imports only into an empty store: ` +
        `start over with npm start -- --reset --movielens ${flags.movielens}`,
      2,
    );
  } else {
    say(`[${elapsed()}] the store already holds ${movies} movies: keeping them (npm start -- --reset starts over)`);
  }

  // Which stored versions may be kept: only those trained on exactly this data.
  const stale = await staleModels(registry, store);
  if (stopping) return parked();
  for (const modelType of MODEL_TYPES) {
    const why = stale.get(modelType);
    if (why && why !== 'no version yet') say(`[${elapsed()}] ${modelType}: not keeping ${why}`);
  }

  const recsvc: RunningRecsvc = await listening(recsvcListeners, () => startRecsvc(recsvcConfig, log, { store, cache, objects, apiKeys }), allListeners);
  closers.push({ name: 'recommendation service', close: () => recsvc.shutdown(recsvcConfig.SHUTDOWN_GRACE_MS) });
  if (stopping) return parked();
  const trainer = await listening(trainerListeners, () => startTrainer(trainerConfig, log, { store, cache, objects, apiKeys }), allListeners);
  closers.push({ name: 'trainer', close: () => trainer.shutdown(trainerConfig.SHUTDOWN_GRACE_MS) });
  if (stopping) return parked();
  const upstreams = new Upstreams(`127.0.0.1:${recsvc.port}`, `127.0.0.1:${trainer.port}`, 30_000);
  closers.push({ name: 'gateway upstreams', close: async () => upstreams.close() });
  // The gateway's own settings (rate limits, body limits, keys for client routes) apply as in gateway/src/main.ts.
  const gateway = await buildGateway({
    upstreams,
    log,
    apiKeys,
    extraRoutes: (app) => registerConsole(app),
    requireKeyForClientRoutes: gatewayConfig.REQUIRE_KEY_FOR_CLIENT_ROUTES,
    requireKeyForMetrics: gatewayConfig.REQUIRE_KEY_FOR_METRICS,
    limits: gatewayConfig,
  });
  closers.push({ name: 'gateway', close: () => gateway.close() });
  await listening([gatewayListener], () => gateway.listen({ host: gatewayConfig.GATEWAY_HOST, port: gatewayConfig.GATEWAY_PORT }), allListeners);
  if (stopping) return parked();
  const address = gateway.server.address();
  const port = typeof address === 'object' && address ? address.port : gatewayConfig.GATEWAY_PORT;
  const base = `http://${gatewayConfig.GATEWAY_HOST === '0.0.0.0' ? '127.0.0.1' : gatewayConfig.GATEWAY_HOST}:${port}`;

  // Training of the models whose active version was not trained on this data (a version kept is not trained again).
  let noModelBecause = '';
  if (stale.size > 0) {
    const toTrain = MODEL_TYPES.filter((t) => stale.has(t));
    say(`[${elapsed()}] training ${toTrain.join(' and ')} ...`);
    const trainerClient = upstreams.trainer;
    const modelTypes = toTrain.map((t) => modelEnum[t]);
    const { run } = await withApiKey(demoKey.secret, () => upstreams.call(trainerClient, trainerClient.startTraining, { modelTypes }, 'demo'));
    let last = '';
    for (;;) {
      if (stopping) return parked();
      const { run: now } = await withApiKey(demoKey.secret, () => upstreams.call(trainerClient, trainerClient.getTrainingRun, { runId: run!.runId }, 'demo'));
      const line = `${now!.stage || 'queued'} ${Math.round((now!.progress ?? 0) * 100)}%`;
      if (line !== last) say(`[${elapsed()}]   ${line}`);
      last = line;
      if (now!.state === TrainingRunState.TRAINING_RUN_STATE_FAILED) {
        noModelBecause = `training failed: ${now!.error}`;
        say(`[${elapsed()}] ${noModelBecause}`);
        break;
      }
      if (now!.state === TrainingRunState.TRAINING_RUN_STATE_COMPLETED) {
        for (const o of now!.outcomes) {
          say(`[${elapsed()}]   ${o.version}: nDCG@10 ${(o.metrics.ndcgAt10 ?? 0).toFixed(3)}, P@10 ${(o.metrics.precisionAt10 ?? 0).toFixed(3)} — ${o.reason}`);
          const modelType = MODEL_TYPES.find((t) => modelEnum[t] === o.modelType);
          // The gate kept an older version, but that one was trained on other data: the new one serves.
          if (!o.promoted && modelType && stale.has(modelType)) {
            await withApiKey(demoKey.secret, () => upstreams.call(trainerClient, trainerClient.activateModel, { modelType: o.modelType, version: o.version }, 'demo'));
            say(`[${elapsed()}]   ${modelType}: activated ${o.version} anyway: the active version was trained on other data`);
          }
        }
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  for (const modelType of MODEL_TYPES) await recsvc.models.checkActive(modelType);
  if (stopping) return parked();

  const status = MODEL_TYPES.map((modelType) => {
    const current = recsvc.models.current(modelType);
    if (current) return `  ${modelType.padEnd(13)} version ${current.version}`;
    const refusal = recsvc.models.refusal(modelType);
    const why = refusal ? `version ${refusal.version} refused: ${refusal.reason}` : noModelBecause || 'no version trained yet';
    return `  ${modelType.padEnd(13)} no model (${why}): serving the genre and global top lists instead`;
  });
  say(`
[${elapsed()}] ready.
  web console   ${base}/
  REST API docs ${base}/docs
  gRPC          recsvc 127.0.0.1:${recsvc.port}, trainer 127.0.0.1:${trainer.port}
  metrics       ${base}/metrics, recsvc http://127.0.0.1:${recsvc.metricsPort}/metrics
  API key       ${demoKey.secret}
                (scopes admin, ingest, client, metrics; kept in ${demoKey.file}; send it as
                 -H "authorization: Bearer <key>" to training, activation, refresh, events and settings routes)
models:
${status.join('\n')}${noModelBecause ? `\n  (add interactions, then train: curl -s -X POST ${base}/training/runs -H "authorization: Bearer ${demoKey.secret}" -H 'content-type: application/json' -d '{}')` : ''}

Try:
  curl -s '${base}/recommendations/u1?k=5'
  curl -s -X POST ${base}/genres -H 'content-type: application/json' -d '{"user_id":"newbie","genres":["Comedy","Sci-Fi"]}'
  curl -s '${base}/genres_top?user_id=newbie&limit=5'

Ctrl-C stops everything; npm start -- --reset starts over.`);
}

try {
  await main();
} catch (err) {
  if (stopping) await parked();
  const known = err instanceof DemoError || err instanceof ConfigError || err instanceof DomainError;
  process.stderr.write(`demo: ${known ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stop(err instanceof DemoError || err instanceof ConfigError ? ((err as DemoError).exitCode ?? 2) : 1);
}
