/**
 * Child processes of a benchmark: started with their own environment, stdout and stderr in a log file each, waited
 * on over HTTP, and stopped (SIGTERM, then SIGKILL after a grace period) by their own pid only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string;
  /** Set once the process has exited (code or signal). */
  exited?: string;
}

/** A TCP port free at the time of the call on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `node [nodeArgs] script [args]` with the given environment; output goes to `<logDir>/<name>.log`. */
export function startChild(
  name: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
  nodeArgs: string[] = [],
): Child {
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const proc = spawn(process.execPath, [...nodeArgs, script, ...args], { env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const child: Child = { name, process: proc, logFile };
  proc.on('exit', (code, signal) => {
    child.exited = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  return child;
}

/** The last lines of a child's log (for error messages). */
export function logTail(child: Child, lines = 20): string {
  try {
    return readFileSync(child.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The whole log of a child ('' when unreadable). */
export function logText(child: Child): string {
  try {
    return readFileSync(child.logFile, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Polls `url` until it answers 200, failing early (with the log tail of the culprit) when one of `watch` exits,
 * and after `timeoutMs`.
 */
export async function waitForHttp(url: string, watch: readonly Child[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const dead = watch.find((c) => c.exited);
    if (dead) throw new Error(`${dead.name} exited (${dead.exited}) before ${url} was ready; its log (${dead.logFile}):\n${logTail(dead)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) return;
    } catch (err) {
      last = String(err);
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (last answer: ${last.slice(0, 300)})`);
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  const proc = child.process;
  if (child.exited || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** CPU time (user + system, seconds) a process has used so far, from /proc (Linux); undefined elsewhere. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the whole line)
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Peak resident set size in MB (Linux VmHWM), undefined elsewhere. */
export function peakRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
