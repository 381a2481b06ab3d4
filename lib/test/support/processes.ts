import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Real server processes that a test owns, so it can stop and restart them (outage tests). The binaries are the ones
 * scripts/test-servers.sh installs: FerretDB from its cache, redis-server from Debian.
 */
export const ferretdbBinary = join(process.env.RECSYS_TEST_CACHE ?? join(homedir(), '.cache/recsys-test-servers'), 'bin/ferretdb');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
export async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export interface OwnedServer {
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function ownedServer(port: number, url: string, command: string, args: string[]): OwnedServer {
  let child: ChildProcess | undefined;
  return {
    url,
    async start() {
      child = spawn(command, args, { stdio: 'ignore' });
      await waitForPort(port, 20_000);
    },
    async stop() {
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A FerretDB (SQLite) process of the test's own; its data survives stop/start. */
export async function ownFerretDb(): Promise<OwnedServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'recsys-ferretdb-'));
  return ownedServer(port, `mongodb://127.0.0.1:${port}/`, ferretdbBinary, [
    '--handler=sqlite',
    `--sqlite-url=file:${dir}/`,
    `--state-dir=${dir}`,
    `--listen-addr=127.0.0.1:${port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    '--log-level=error',
  ]);
}

/** A redis-server process of the test's own. */
export async function ownRedis(): Promise<OwnedServer> {
  const port = await freePort();
  return ownedServer(port, `redis://127.0.0.1:${port}`, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
}
