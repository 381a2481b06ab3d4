/**
 * `npm start`: the whole service in one process, on embedded defaults unless MONGO_URL / REDIS_URL / S3_* are set.
 * Starts recsvc, the trainer API and worker, and the gateway with the web console; generates demo data when the store
 * is empty (or imports MovieLens 100k with --movielens DIR); trains both models; prints the URLs and example requests.
 * Ctrl-C stops everything cleanly.
 *
 *   npm start [-- --movielens ../shared/datasets/ml-100k] [--users 1000 --movies 1700 --interactions 100000 --seed 42]
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCache, createObjectStore, createStore } from '../lib/src/backends.js';
import { createLogger } from '../lib/src/logger.js';
import { generateData } from '../lib/src/data/generate.js';
import { importMovieLens } from '../lib/src/data/movielens.js';
import { MODEL_TYPES } from '../lib/src/domain.js';
import { TrainingRunState } from '../lib/src/proto.js';
import { loadRecsvcConfig } from '../recsvc/src/config.js';
import { startRecsvc } from '../recsvc/src/server.js';
import { loadTrainerConfig } from '../trainer/src/config.js';
import { startTrainer } from '../trainer/src/server.js';
import { loadGatewayConfig } from '../gateway/src/config.js';
import { buildGateway } from '../gateway/src/app.js';
import { registerConsole } from '../gateway/src/console.js';
import { Upstreams } from '../gateway/src/upstreams.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const { values: flags } = parseArgs({
  options: {
    movielens: { type: 'string' },
    users: { type: 'string', default: '1000' },
    movies: { type: 'string', default: '1700' },
    interactions: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '42' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  say('usage: npm start [-- --movielens DIR] [--users N --movies N --interactions N --seed N]');
  process.exit(0);
}

// Every service's configuration, validated before anything starts. Quiet service logs: the demo prints progress.
const env = { LOG_LEVEL: 'warn', ...process.env };
const recsvcConfig = loadRecsvcConfig(env);
const trainerConfig = loadTrainerConfig(env);
const gatewayConfig = loadGatewayConfig(env);
const log = createLogger('demo', recsvcConfig.LOG_LEVEL);

say(`recsys demo: ${recsvcConfig.MONGO_URL ? 'MongoDB' : 'embedded store'}, ${recsvcConfig.REDIS_URL ? 'Redis' : 'in-process cache and queue'}, ${recsvcConfig.S3_ENDPOINT ? 'S3' : `model files in ${recsvcConfig.DATA_DIR}/objects`}`);
const store = await createStore(recsvcConfig, log);
const cache = await createCache(recsvcConfig, log);
const objects = await createObjectStore(recsvcConfig, log);

if ((await store.count('movies')) === 0) {
  if (flags.movielens) {
    say(`[${elapsed()}] importing MovieLens 100k from ${flags.movielens} ...`);
    const summary = await importMovieLens(store, flags.movielens, { reset: false });
    say(`[${elapsed()}] imported ${summary.users} users, ${summary.movies} movies, ${summary.likes} ratings`);
  } else {
    const sizes = { users: Number(flags.users), movies: Number(flags.movies), interactions: Number(flags.interactions), seed: Number(flags.seed) };
    say(`[${elapsed()}] generating demo data: ${sizes.users} users, ${sizes.movies} movies, ${sizes.interactions} views ...`);
    const summary = await generateData(store, sizes);
    say(`[${elapsed()}] generated ${summary.users} users, ${summary.movies} movies, ${summary.watched} views, ${summary.likes} likes, ${summary.bookmarks} bookmarks`);
  }
} else {
  say(`[${elapsed()}] the store already holds ${await store.count('movies')} movies: keeping them`);
}

const recsvc = await startRecsvc(recsvcConfig, log, { store, cache, objects });
const trainer = await startTrainer(trainerConfig, log, { store, cache, objects });
const upstreams = new Upstreams(`127.0.0.1:${recsvc.port}`, `127.0.0.1:${trainer.port}`, 30_000);
const gateway = await buildGateway({ upstreams, log, extraRoutes: (app) => registerConsole(app) });
await gateway.listen({ host: gatewayConfig.GATEWAY_HOST, port: gatewayConfig.GATEWAY_PORT });
const base = `http://${gatewayConfig.GATEWAY_HOST === '0.0.0.0' ? '127.0.0.1' : gatewayConfig.GATEWAY_HOST}:${gatewayConfig.GATEWAY_PORT}`;

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('\nstopping ...');
    await gateway.close();
    upstreams.close();
    await trainer.shutdown(trainerConfig.SHUTDOWN_GRACE_MS);
    await recsvc.shutdown(recsvcConfig.SHUTDOWN_GRACE_MS);
    await cache.close();
    await store.close();
    say('stopped');
  }
  process.exit(code);
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

const missing = MODEL_TYPES.filter((type) => !recsvc.models.current(type));
if (missing.length) {
  say(`[${elapsed()}] training ${missing.join(' and ')} ...`);
  const { run } = await upstreams.call(upstreams.trainer, upstreams.trainer.startTraining, { modelTypes: [] }, 'demo');
  let last = '';
  for (;;) {
    const { run: now } = await upstreams.call(upstreams.trainer, upstreams.trainer.getTrainingRun, { runId: run!.runId }, 'demo');
    const line = `${now!.stage || 'queued'} ${Math.round((now!.progress ?? 0) * 100)}%`;
    if (line !== last) say(`[${elapsed()}]   ${line}`);
    last = line;
    if (now!.state === TrainingRunState.TRAINING_RUN_STATE_FAILED) {
      say(`training failed: ${now!.error}`);
      await stop(1);
    }
    if (now!.state === TrainingRunState.TRAINING_RUN_STATE_COMPLETED) {
      for (const o of now!.outcomes) say(`[${elapsed()}]   ${o.version}: nDCG@10 ${(o.metrics.ndcgAt10 ?? 0).toFixed(3)}, P@10 ${(o.metrics.precisionAt10 ?? 0).toFixed(3)} — ${o.reason}`);
      break;
    }
    await sleep(250);
  }
  for (const type of MODEL_TYPES) await recsvc.models.checkActive(type);
}

say(`
[${elapsed()}] ready.
  web console   ${base}/
  REST API docs ${base}/docs
  gRPC          recsvc 127.0.0.1:${recsvc.port}, trainer 127.0.0.1:${trainer.port}
  metrics       ${base}/metrics, recsvc http://127.0.0.1:${recsvc.metricsPort}/metrics

Try:
  curl -s '${base}/recommendations/u1?k=5'
  curl -s -X POST ${base}/genres -H 'content-type: application/json' -d '{"user_id":"newbie","genres":["Comedy","Sci-Fi"]}'
  curl -s '${base}/genres_top?user_id=newbie&limit=5'

Ctrl-C stops everything.`);
