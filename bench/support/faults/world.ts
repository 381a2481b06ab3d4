/**
 * The product as production runs it, for the fault scenarios: recsvc, the trainer API, a trainer worker, the events
 * consumer and the gateway as separate `node dist/...` processes, on the fault suite's private servers
 * (servers.ts), with a small generated catalogue and one published version of each model. Services can be killed
 * (SIGKILL) and started again with the same settings and ports.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { createObjectStore, createStore } from '../../../lib/src/backends.js';
import type { StorageEnv } from '../../../lib/src/config.js';
import { generateData } from '../../../lib/src/data/generate.js';
import { createLogger } from '../../../lib/src/logger.js';
import type { ObjectStore } from '../../../lib/src/objectstore/types.js';
import { freePort, logTail, startChild, stopChild, waitForHttp, type Child } from '../children.js';
import { publishRandomModel } from '../model.js';
import { PrivateServers } from './servers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ServiceName = 'recsvc' | 'trainer' | 'worker' | 'consumer' | 'gateway';

/** The size of the generated world: small, so that setup and training runs take seconds. */
// FerretDB v1 (the test servers' MongoDB) reads a whole collection per filtered query: few interactions keep each read
// cheap, so that the load's MongoDB reads (cache misses, explanations, feedback) do not saturate it on a loaded 2-core
// machine before any fault is done.
export const WORLD = { users: 300, movies: 200, interactions: 1_000, seed: 7 } as const;
/** Users the serving load asks for (u1..u50) and users the event load writes for (u101..u150). */
export const SERVING_USERS = 50;
export const EVENT_USER_OFFSET = 100;

/** The suite's API key (scopes admin, ingest, client, metrics), configured in every service through API_KEYS. */
export const FAULTS_API_KEY = 'faults-suite-key-0123456789abcdef0123456789';
export const AUTH = { authorization: `Bearer ${FAULTS_API_KEY}` } as const;

interface ServiceSpec {
  script: string;
  env: NodeJS.ProcessEnv;
}

/**
 * How the services are run: `dist` (`node dist/...`, what production and the benchmark run; needs `npm run build`) or
 * `source` (the TypeScript sources through Node's type stripping and scripts/test/support/ts-hooks.mjs, as the demo
 * tests do: the CI suite then never runs a stale build).
 */
export type ServiceRunner = 'dist' | 'source';

export class FaultWorld {
  readonly services = new Map<ServiceName, Child>();
  private readonly specs = new Map<ServiceName, ServiceSpec>();
  mongo!: MongoClient;
  objects!: ObjectStore;
  gatewayUrl = '';
  recsvcMetricsPort = 0;

  private constructor(
    readonly repoRoot: string,
    readonly servers: PrivateServers,
    readonly storage: StorageEnv,
    readonly logDir: string,
    private readonly say: (line: string) => void,
    private readonly runner: ServiceRunner,
  ) {}

  /** Private servers, data, models and the five services; ready to serve when it resolves (~1-2 min). */
  static async start(repoRoot: string, say: (line: string) => void, runner: ServiceRunner = 'dist'): Promise<FaultWorld> {
    say('starting private servers (scripts/test-servers.sh on free ports)');
    const t0 = performance.now();
    const servers = await PrivateServers.start(repoRoot);
    say(`servers up in ${((performance.now() - t0) / 1000).toFixed(1)} s (state ${servers.stateDir})`);
    const logDir = mkdtempSync(join(tmpdir(), 'recsys-faults-logs-'));
    const storage: StorageEnv = {
      MONGO_URL: servers.env.MONGO_URL,
      MONGO_DB: 'faults',
      REDIS_URL: servers.env.REDIS_URL,
      S3_ENDPOINT: servers.env.S3_ENDPOINT,
      S3_ACCESS_KEY: servers.env.S3_ACCESS_KEY,
      S3_SECRET_KEY: servers.env.S3_SECRET_KEY,
      S3_BUCKET: servers.env.S3_BUCKET,
      S3_REGION: servers.env.S3_REGION,
      DATA_DIR: join(logDir, 'data'),
    };
    const world = new FaultWorld(repoRoot, servers, storage, logDir, say, runner);
    try {
      await world.setup();
    } catch (err) {
      await world.close();
      throw err;
    }
    return world;
  }

  private async setup(): Promise<void> {
    const t0 = performance.now();
    const seconds = () => ((performance.now() - t0) / 1000).toFixed(1);
    const log = createLogger('faults', 'warn');
    const store = await createStore(this.storage, log);
    try {
      await generateData(store, { ...WORLD });
    } finally {
      await store.close();
    }
    this.objects = await createObjectStore(this.storage, log);
    for (const modelType of ['als', 'lightfm'] as const) {
      await publishRandomModel(this.objects, modelType, { users: WORLD.users, movies: WORLD.movies, factors: 16, seed: WORLD.seed });
    }
    this.mongo = new MongoClient(this.storage.MONGO_URL!, { serverSelectionTimeoutMS: 5_000 });
    await this.mongo.connect();
    this.say(`data and models ready (${WORLD.users} users, ${WORLD.movies} movies); services' logs in ${this.logDir}; ${seconds()} s`);

    const ports = { recsvc: await freePort(), recsvcMetrics: await freePort(), trainer: await freePort(), gateway: await freePort() };
    this.recsvcMetricsPort = ports.recsvcMetrics;
    const common: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...Object.fromEntries(Object.entries(this.storage).map(([k, v]) => [k, String(v)])),
      KAFKA_BROKERS: this.servers.env.KAFKA_BROKERS,
      API_KEYS: `faults:admin,ingest,client,metrics:${FAULTS_API_KEY}`,
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      SHUTDOWN_GRACE_MS: '5000',
    };
    const dataDir = (name: string) => {
      const dir = join(this.logDir, 'data', name);
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    const fromSource = this.runner === 'source';
    const dist = fromSource ? this.repoRoot : join(this.repoRoot, 'dist');
    const ext = fromSource ? '.ts' : '.js';
    const trainerEnv: NodeJS.ProcessEnv = {
      ...common,
      TRAINER_HOST: '127.0.0.1',
      TRAINER_PORT: String(ports.trainer),
      TRAINER_METRICS_PORT: '0',
      QUEUE_PREFIX: 'faults',
      TRAIN_CRON: 'off',
      REFRESH_CRON: 'off',
      // Small, quick runs (the scenarios are about faults, not model quality); failed attempts retried after 1 s.
      TUNE_ENABLED: 'false',
      ALS_FACTORS: '16',
      ALS_ITERATIONS: '10',
      WARP_COMPONENTS: '16',
      WARP_EPOCHS: '20',
      TRAIN_THREADS: '1',
      JOB_BACKOFF_MS: '1000',
    };
    this.specs.set('recsvc', {
      script: join(dist, 'recsvc/src/main' + ext),
      env: {
        ...common,
        DATA_DIR: dataDir('recsvc'),
        RECSVC_HOST: '127.0.0.1',
        RECSVC_PORT: String(ports.recsvc),
        RECSVC_METRICS_PORT: String(ports.recsvcMetrics),
        MODEL_POLL_SECONDS: '5',
        LOG_FLUSH_MS: '200',
      },
    });
    this.specs.set('trainer', { script: join(dist, 'trainer/src/main' + ext), env: { ...trainerEnv, DATA_DIR: dataDir('trainer') } });
    this.specs.set('worker', { script: join(dist, 'trainer/src/worker-main' + ext), env: { ...trainerEnv, DATA_DIR: dataDir('worker') } });
    this.specs.set('consumer', {
      script: join(dist, 'recsvc/src/consumer-main' + ext),
      env: { ...common, DATA_DIR: dataDir('consumer'), CONSUMER_HOST: '127.0.0.1', CONSUMER_METRICS_PORT: '0', EVENTS_GROUP_ID: 'faults' },
    });
    this.specs.set('gateway', {
      script: join(dist, 'gateway/src/main' + ext),
      env: {
        ...common,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(ports.gateway),
        RECSVC_ADDRESS: `127.0.0.1:${ports.recsvc}`,
        TRAINER_ADDRESS: `127.0.0.1:${ports.trainer}`,
        // The Redis-backed limiter stays on (a Redis fault reaches it too), with a ceiling the load never meets.
        RATE_LIMIT_MAX: '1000000',
      },
    });
    for (const name of ['recsvc', 'trainer', 'worker', 'consumer', 'gateway'] as const) this.startService(name);
    this.gatewayUrl = `http://127.0.0.1:${ports.gateway}`;
    await waitForHttp(`${this.gatewayUrl}/readyz`, [...this.services.values()], 120_000);
    this.say(`services ready (gateway ${this.gatewayUrl}); ${seconds()} s`);
    await this.warm();
    this.say(`caches warm; ${seconds()} s`);
  }

  /** Every serving user's list of both models asked once: the cache and recsvc's movie details are filled. */
  async warm(): Promise<void> {
    const pairs = Array.from({ length: SERVING_USERS }, (_, u) => ['als', 'lightfm'].map((model) => `/recommendations/u${u + 1}?model=${model}&k=10`)).flat();
    const worker = async () => {
      for (let path = pairs.shift(); path; path = pairs.shift()) {
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(`${this.gatewayUrl}${path}`).catch(() => undefined);
          if (res?.status === 200) {
            await res.text();
            break;
          }
          if (attempt >= 20) throw new Error(`warming ${path}: ${res?.status} ${await res?.text()}`);
          await sleep(500);
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
  }

  /**
   * Whether the stack serves: one recommendation answered 200 within `seconds` (asked every second).
   */
  async serves(seconds: number): Promise<boolean> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      const res = await fetch(`${this.gatewayUrl}/recommendations/u1?model=als&k=10`, { signal: AbortSignal.timeout(6_000) }).catch(() => undefined);
      if (res?.status === 200) return true;
      await res?.text();
      await sleep(1000);
    }
    return false;
  }

  startService(name: ServiceName): Child {
    const spec = this.specs.get(name)!;
    const nodeArgs = this.runner === 'source' ? ['--experimental-transform-types', '--no-warnings', '--import', join(this.repoRoot, 'scripts/test/support/ts-hooks.mjs')] : [];
    const child = startChild(name, spec.script, [], spec.env, this.logDir, nodeArgs);
    this.services.set(name, child);
    return child;
  }

  /** SIGKILL, as in a crash; resolves once the process is gone. */
  async killService(name: ServiceName): Promise<void> {
    const child = this.services.get(name)!;
    if (child.exited) return;
    const exited = new Promise<void>((resolve) => child.process.once('exit', () => resolve()));
    child.process.kill('SIGKILL');
    await exited;
  }

  /**
   * Before a scenario: thaws and restarts the servers, restarts any service that exited, and, when the stack still
   * does not serve within 30 s (an earlier fault left it stuck), restarts recsvc, so that each scenario starts from a
   * serving stack. Returns what it had to do (recorded in the next outcome: a stuck stack is a finding of the
   * scenario before).
   */
  async heal(): Promise<string[]> {
    const actions: string[] = [];
    await this.servers.heal();
    for (const [name, child] of this.services) {
      if (child.exited) {
        actions.push(`${name} had exited (${child.exited}): started again`);
        this.say(`${name} had exited (${child.exited}); starting it again. Its log:\n${logTail(child)}`);
        this.startService(name);
      }
    }
    await waitForHttp(`${this.gatewayUrl}/readyz`, [...this.services.values()], 120_000);
    if (!(await this.serves(30))) {
      actions.push('the stack did not serve within 30 s: recsvc restarted');
      this.say('the stack does not serve (stuck after the previous fault): restarting recsvc');
      await this.killService('recsvc');
      this.startService('recsvc');
      await waitForHttp(`${this.gatewayUrl}/readyz`, [...this.services.values()], 120_000);
      if (!(await this.serves(120))) throw new Error('the stack does not serve even after a restart of recsvc');
    }
    return actions;
  }

  /** The services (gateway first), the check client and the servers; the logs are kept when `keepLogs`. */
  async close(keepLogs = false): Promise<void> {
    for (const name of ['gateway', 'consumer', 'worker', 'trainer', 'recsvc'] as const) {
      const child = this.services.get(name);
      if (child) await stopChild(child, 5_000).catch(() => undefined);
    }
    await this.mongo?.close().catch(() => undefined);
    await this.servers.close();
    if (keepLogs) this.say(`services' logs kept in ${this.logDir}`);
    else rmSync(this.logDir, { recursive: true, force: true });
  }
}
