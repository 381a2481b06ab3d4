/**
 * The fault suite's own real servers: Redis, FerretDB (MongoDB wire) on PostgreSQL, versitygw (S3) and Kafka, started by
 * scripts/test-servers.sh on free ports with a state directory of their own (never the shared set other suites
 * use), and the faults done to them: stop (SIGKILL, as in a crash), restart (the same command line, its data kept),
 * freeze (SIGSTOP) and thaw (SIGCONT). Each server is addressed by its test-servers.sh pidfile only.
 *
 * FerretDB runs on PostgreSQL (RECSYS_TEST_FERRETDB_HANDLER=postgresql, a private cluster on a free port of its own):
 * on SQLite it stopped answering for seconds while a training run wrote to it, which failed the training scenarios
 * for a reason that is the test server's, not the product's. The MongoDB faults are done to the FerretDB process
 * (the MongoDB-wire server the services talk to); PostgreSQL behind it keeps running.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../children.js';
import { portOpen } from '../../../lib/test/support/processes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type ServerName = 'redis' | 'ferretdb' | 's3' | 'kafka';
export const SERVER_NAMES: readonly ServerName[] = ['redis', 'ferretdb', 's3', 'kafka'];

export interface ServerEnv {
  REDIS_URL: string;
  MONGO_URL: string;
  S3_ENDPOINT: string;
  S3_ACCESS_KEY: string;
  S3_SECRET_KEY: string;
  S3_BUCKET: string;
  S3_REGION: string;
  KAFKA_BROKERS: string;
}

/** The repository root: the nearest folder above `from` holding package.json and scripts/test-servers.sh. */
export function findRepoRoot(from: string): string {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'scripts', 'test-servers.sh'))) return dir;
    dir = join(dir, '..');
  }
  throw new Error(`no repository root above ${from}`);
}

/**
 * What the private servers need on this machine (the binaries scripts/test-servers.sh installs and caches); an empty
 * list when everything is there. Missing items make the suite fail under RECSYS_REQUIRE_SERVERS=1, else skip.
 */
export function missingPrerequisites(repoRoot: string): string[] {
  const cache = process.env.RECSYS_TEST_CACHE ?? join(homedir(), '.cache/recsys-test-servers');
  const missing: string[] = [];
  const onPath = (cmd: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
  if (!onPath('redis-server')) missing.push('redis-server (apt)');
  if (!onPath('java')) missing.push('java (for Kafka)');
  const pgBin = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'postgres')));
  if (!pgBin) missing.push('postgresql (apt; FerretDB\'s backend)');
  for (const bin of ['ferretdb', 'versitygw']) if (!existsSync(join(cache, 'bin', bin))) missing.push(`${cache}/bin/${bin}`);
  const kafkaVersion = /<kafka.version>(.*)<\/kafka.version>/.exec(readFileSync(join(repoRoot, 'scripts/kafka/pom.xml'), 'utf8'))?.[1];
  if (!kafkaVersion || !existsSync(join(cache, `kafka-${kafkaVersion}`, 'libs'))) missing.push(`Kafka jars in ${cache}/kafka-${kafkaVersion}`);
  return missing;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')} failed: ${String(err)}\n${stderr.slice(-4000)}`));
      else resolve(stdout + stderr);
    });
  });
}

/** A process's state letter from /proc (R, S, T (stopped), Z (zombie)...); undefined once it is gone. */
function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

const alive = (pid: number) => {
  const state = procState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
};

interface Launch {
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export class PrivateServers {
  readonly ports: Record<ServerName, number>;
  private readonly launches = new Map<ServerName, Launch>();
  private readonly frozen = new Set<ServerName>();
  env!: ServerEnv;

  private constructor(
    readonly repoRoot: string,
    readonly stateDir: string,
    ports: Record<ServerName, number>,
    private readonly kafkaControllerPort: number,
    private readonly postgresPort: number,
  ) {
    this.ports = ports;
  }

  /** Starts the servers (fresh data) with scripts/test-servers.sh on free ports; ~20-60 s (Kafka's JVM, initdb). */
  static async start(repoRoot: string): Promise<PrivateServers> {
    const stateDir = mkdtempSync(join(tmpdir(), 'recsys-faults-servers-'));
    // mkdtemp makes it 0700: as root, test-servers.sh runs PostgreSQL as the `postgres` user, which must reach its
    // cluster folder inside.
    chmodSync(stateDir, 0o755);
    const ports = { redis: await freePort(), ferretdb: await freePort(), s3: await freePort(), kafka: await freePort() };
    const servers = new PrivateServers(repoRoot, stateDir, ports, await freePort(), await freePort());
    await run('bash', [join(repoRoot, 'scripts/test-servers.sh'), 'start'], servers.scriptEnv(), repoRoot);
    const env: Record<string, string> = {};
    for (const line of readFileSync(join(stateDir, 'env'), 'utf8').split('\n')) {
      const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
      if (m) env[m[1]] = m[2];
    }
    servers.env = env as unknown as ServerEnv;
    return servers;
  }

  private scriptEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      RECSYS_TEST_STATE: this.stateDir,
      RECSYS_TEST_REDIS_PORT: String(this.ports.redis),
      RECSYS_TEST_FERRETDB_PORT: String(this.ports.ferretdb),
      RECSYS_TEST_S3_PORT: String(this.ports.s3),
      KAFKA_PORT: String(this.ports.kafka),
      KAFKA_CONTROLLER_PORT: String(this.kafkaControllerPort),
      RECSYS_TEST_FERRETDB_HANDLER: 'postgresql',
      RECSYS_TEST_POSTGRES_PORT: String(this.postgresPort),
    };
  }

  /** The server's pid from its test-servers.sh pidfile. */
  pid(name: ServerName): number {
    const pid = Number(readFileSync(join(this.stateDir, `${name}.pid`), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid for ${name} in ${this.stateDir}`);
    return pid;
  }

  isRunning(name: ServerName): boolean {
    try {
      return alive(this.pid(name));
    } catch {
      return false;
    }
  }

  /** SIGSTOP: the server keeps its sockets open (connections are accepted by the kernel) but answers nothing. */
  freeze(name: ServerName): void {
    process.kill(this.pid(name), 'SIGSTOP');
    this.frozen.add(name);
  }

  thaw(name: ServerName): void {
    if (this.isRunning(name)) process.kill(this.pid(name), 'SIGCONT');
    this.frozen.delete(name);
  }

  /** SIGKILL (a crash); remembers the command line to start it again with the same data. */
  async stop(name: ServerName): Promise<void> {
    const pid = this.pid(name);
    if (!this.launches.has(name)) this.launches.set(name, this.launchOf(name, pid));
    process.kill(pid, 'SIGKILL');
    this.frozen.delete(name);
    for (let i = 0; i < 200 && alive(pid); i++) await sleep(50);
    if (alive(pid)) throw new Error(`${name} (pid ${pid}) still alive after SIGKILL`);
  }

  private launchOf(name: ServerName, pid: number): Launch {
    if (name === 'redis') {
      // redis-server rewrites its process title, so its command line is rebuilt the way test-servers.sh starts it.
      const dir = join(this.stateDir, 'redis');
      return {
        argv: ['redis-server', '--bind', '127.0.0.1', '--port', String(this.ports.redis), '--daemonize', 'yes', '--save', '', '--appendonly', 'no',
          '--dir', dir, '--pidfile', join(this.stateDir, 'redis.pid'), '--logfile', join(this.stateDir, 'redis.log')],
        env: process.env,
        cwd: this.stateDir,
      };
    }
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => i < all.length - 1 || a !== '');
    const env: NodeJS.ProcessEnv = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    let cwd = this.stateDir;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // not readable: the state dir will do (every path test-servers.sh passes is absolute)
    }
    return { argv, env, cwd };
  }

  /** Starts a stopped server again with the command line, environment and data it had; waits for its port. */
  async restart(name: ServerName): Promise<void> {
    const launch = this.launches.get(name);
    if (!launch) throw new Error(`${name} was not stopped by the fault suite`);
    const logFd = openSync(join(this.stateDir, `${name}.log`), 'a');
    const child = spawn(launch.argv[0], launch.argv.slice(1), { env: launch.env, cwd: launch.cwd, detached: true, stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    child.unref();
    if (name !== 'redis') writeFileSync(join(this.stateDir, `${name}.pid`), `${child.pid}\n`); // redis writes its own (daemonized)
    const deadline = Date.now() + 90_000;
    while (!(await portOpen(this.ports[name]))) {
      if (Date.now() > deadline) throw new Error(`${name} did not open port ${this.ports[name]} within 90 s after a restart`);
      await sleep(100);
    }
  }

  /** Thaws frozen servers and restarts stopped ones (between scenarios, and when a scenario failed half-way). */
  async heal(): Promise<void> {
    for (const name of SERVER_NAMES) {
      if (this.frozen.has(name)) this.thaw(name);
      if (!this.isRunning(name) && this.launches.has(name)) await this.restart(name);
    }
  }

  /** Stops every server (test-servers.sh stop, by the pidfiles of this state dir only). */
  async close(): Promise<void> {
    for (const name of [...this.frozen]) this.thaw(name);
    await run('bash', [join(this.repoRoot, 'scripts/test-servers.sh'), 'stop'], this.scriptEnv(), this.repoRoot).catch(() => undefined);
    rmSync(this.stateDir, { recursive: true, force: true });
    rmSync(`${this.stateDir}.lock`, { force: true });
  }
}
