import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Every listener on a free port (0), no real servers: what a demo under test gets unless a test overrides it. */
export const DEMO_TEST_ENV: Record<string, string> = {
  GATEWAY_PORT: '0',
  RECSVC_PORT: '0',
  RECSVC_METRICS_PORT: '0',
  TRAINER_PORT: '0',
  TRAINER_METRICS_PORT: '0',
};

/** Test timeout of a test that starts the demo `starts` times (each start takes seconds, more on a busy machine). */
export const demoTimeout = (starts: number) => starts * 240_000;

/** Small generated data: trains in about a second. */
export const SMALL_DATA = ['--users', '100', '--movies', '200', '--interactions', '3000'];

export function demoDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'recsys-demo-test-'));
}

export interface DemoProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the stdout so far once it matches `pattern`; rejects if the demo exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** The exit code (a signal as 128 + n never happens: the demo exits itself). */
  exited: Promise<number | null>;
  /** The gateway's base URL from the "web console" line (after "ready."). */
  baseUrl(): string;
  /** SIGINT, then the exit code. */
  interrupt(): Promise<number | null>;
}

/**
 * Starts `npm start` from the TypeScript sources (no build needed) in a child process: the demo with `args`, on the
 * embedded backends (MONGO_URL / REDIS_URL / S3_ENDPOINT removed from the environment unless `servers`), DATA_DIR
 * `dataDir`.
 */
export function startDemo(
  args: readonly string[],
  options: { dataDir: string; env?: Record<string, string>; /** keep MONGO_URL / REDIS_URL / S3_ENDPOINT */ servers?: boolean },
): DemoProcess {
  // The compile cache keeps the transformed sources between starts (halves the start-up CPU time).
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_COMPILE_CACHE: join(tmpdir(), 'recsys-demo-test-compile-cache'),
    ...DEMO_TEST_ENV,
    DATA_DIR: options.dataDir,
    ...options.env,
  };
  if (!options.servers) for (const name of ['MONGO_URL', 'REDIS_URL', 'S3_ENDPOINT']) delete env[name];
  const child = spawn(
    process.execPath,
    ['--experimental-transform-types', '--no-warnings', '--import', './scripts/test/support/ts-hooks.mjs', 'scripts/demo.ts', ...args],
    { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const check of waiters) check();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  void exited.then(() => {
    for (const check of waiters) check();
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 240_000) {
      return new Promise((resolveWait, reject) => {
        const timer = setTimeout(() => done(new Error(`the demo did not print ${pattern} within ${timeoutMs} ms:\n${out}\n${err}`)), timeoutMs);
        const done = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolveWait(out);
        };
        const check = () => {
          if (pattern.test(out)) done();
          else if (child.exitCode !== null) done(new Error(`the demo exited (${child.exitCode}) before printing ${pattern}:\n${out}\n${err}`));
        };
        waiters.add(check);
        check();
      });
    },
    baseUrl() {
      const match = /web console\s+(http:\/\/[^\s/]+)\//.exec(out);
      if (!match) throw new Error(`no web console line in:\n${out}`);
      return match[1];
    },
    async interrupt() {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}
