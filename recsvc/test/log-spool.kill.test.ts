import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelType, RecommendationServiceClient } from '../../lib/src/proto.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dataDir = mkdtempSync(join(tmpdir(), 'recsys-kill-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** recsvc's real entry point (recsvc/src/main.ts) as a child process, on the embedded store in `dataDir`. */
async function startRecsvc(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--experimental-transform-types', '--no-warnings', '--import', './scripts/test/support/ts-hooks.mjs', 'recsvc/src/main.ts'],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, DATA_DIR: dataDir, RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0', LOG_LEVEL: 'info', MONGO_URL: '', REDIS_URL: '', S3_ENDPOINT: '', KAFKA_BROKERS: '', ...env } },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolvePort, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`recsvc exited (${code ?? signal}) before listening`)));
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        // Serving, not only listening: recsvc binds first (health NOT_SERVING) and serves once its backends are ready.
        if (entry.msg === 'recsvc serving' && entry.port) resolvePort(entry.port);
      } catch {
        // not a log line
      }
    });
  });
  return { child, port };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

async function serve(port: number, users: number): Promise<string[]> {
  const client = new RecommendationServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const sessions: string[] = [];
    for (let i = 0; i < users; i++) {
      const response = await new Promise<{ sessionId: string }>((ok, fail) =>
        client.getRecommendations({ userId: `user-${i}`, modelType: ModelType.MODEL_TYPE_UNSPECIFIED, k: 0 }, (err, res) => (err ? fail(err) : ok(res))),
      );
      sessions.push(response.sessionId);
    }
    return sessions;
  } finally {
    client.close();
  }
}

describe('recommendation logs survive SIGKILL (the spool), recsvc as a child process', () => {
  it('every list served before kill -9 is in the store after the next start', { timeout: 240_000 }, async () => {
    // Nothing reaches the store before the kill: no timed flush, batches larger than the traffic.
    const first = await startRecsvc({ LOG_FLUSH_MS: '3600000', LOG_BATCH_SIZE: '100000' });
    const sessions = await serve(first.port, 25);
    expect(new Set(sessions).size).toBe(25);
    first.child.kill('SIGKILL');
    expect((await exited(first.child)).signal).toBe('SIGKILL');
    const logsPath = join(dataDir, 'store', 'logs.sqlite');
    const before = new MemoryStore({ logsPath });
    expect(await before.count('recommendation_logs')).toBe(0); // only the spool held them
    await before.close();

    const second = await startRecsvc({});
    second.child.kill('SIGTERM');
    expect((await exited(second.child)).code).toBe(0);
    const store = new MemoryStore({ logsPath });
    for (const sessionId of sessions) expect((await store.getRecommendationLog(sessionId))?.sessionId).toBe(sessionId);
    expect(await store.count('recommendation_logs')).toBe(25);
    await store.close();
  });
});
