import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { remainingMs, runInCallScope } from '../../lib/src/call-scope.js';
import type { Logger } from '../../lib/src/logger.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import type { RecommendationLogDoc, Store } from '../../lib/src/store/types.js';
import { RecommendationLogWriter, type LogWriterSettings } from '../src/log-writer.js';

/** A logger that keeps what was logged at warn and error. */
function recordingLogger(): Logger & { lines: { level: string; msg: string; obj: unknown }[] } {
  const lines: { level: string; msg: string; obj: unknown }[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => lines.push({ level, msg: msg ?? String(obj), obj });
  return { lines, warn: at('warn'), error: at('error'), info: () => {}, debug: () => {}, trace: () => {}, fatal: at('fatal') } as unknown as Logger & {
    lines: typeof lines;
  };
}

const dirs: string[] = [];
function spoolDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-spool-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function settings(spool?: string, overrides: Partial<LogWriterSettings> = {}): LogWriterSettings {
  return { batchSize: 2, flushIntervalMs: 60_000, maxBuffered: 1_000, retryDelayMs: 100, flushGraceMs: 5_000, spoolDir: spool, ...overrides };
}

function servedList(sessionId: string): RecommendationLogDoc {
  return {
    sessionId,
    userId: 'u1',
    modelType: 'als',
    modelVersion: 'v1',
    arm: 'als',
    source: 'model',
    items: [
      { movieId: 'm1', score: 0.9, rank: 1 },
      { movieId: 'm2', score: 0.4, rank: 2 },
    ],
    createdAt: new Date('2026-11-20T10:00:00Z'),
  };
}

/** A store whose log writes fail (MongoDB down) or never answer (MongoDB frozen). */
function brokenStore(mode: 'reject' | 'stall'): Store & { attempts: number } {
  const store = new MemoryStore() as unknown as Store & { attempts: number };
  store.attempts = 0;
  store.insertRecommendationLogs = () => {
    store.attempts++;
    return mode === 'reject' ? Promise.reject(new Error('connection refused')) : new Promise<void>(() => {});
  };
  return store;
}

/** Files left in a spool folder (any depth). */
function spoolFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.jsonl'));
}

async function storedSessions(store: Store): Promise<string[]> {
  const ids: string[] = [];
  for await (const batch of store.scan('recommendation_logs')) ids.push(...batch.map((d) => d.sessionId));
  return ids.sort();
}

describe('recommendation log writer: spool, bounded shutdown, replay', () => {
  it('writes lists appended during a gRPC call after that call is over: its flush is not bound by the call\'s deadline', async () => {
    const store = new MemoryStore();
    // As MongoStore: a call with no time left before its deadline is refused without asking the database.
    const bounded = Object.assign(Object.create(store) as MemoryStore, {
      insertRecommendationLogs: async (docs: readonly RecommendationLogDoc[]) => {
        if (remainingMs() <= 0) throw new Error('no time was left before the call\'s deadline');
        return store.insertRecommendationLogs(docs);
      },
    });
    const writer = new RecommendationLogWriter(bounded, settings(), recordingLogger());
    writer.start();
    // A full batch (2) appended by a request whose deadline has passed schedules the write from inside that call.
    runInCallScope({ signal: new AbortController().signal, deadline: Date.now() - 1 }, () => {
      writer.append(servedList('s1'));
      writer.append(servedList('s2'));
    });
    for (let i = 0; i < 100 && writer.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await storedSessions(store)).toEqual(['s1', 's2']);
    await writer.close();
  });

  it('keeps lists it cannot write (store rejects) in the spool, and a new writer writes them', async () => {
    const dir = spoolDir();
    const log = recordingLogger();
    const down = new RecommendationLogWriter(brokenStore('reject'), settings(dir), log);
    for (const id of ['s1', 's2', 's3']) down.append(servedList(id));
    await expect(down.flush()).rejects.toThrow(/connection refused/);
    vi.useFakeTimers();
    const closed = down.close();
    await vi.advanceTimersByTimeAsync(5_000);
    await closed;
    vi.useRealTimers();
    expect(down.dropped).toBe(0);
    expect(log.lines.some((l) => l.level === 'error' && /kept in the spool/.test(l.msg))).toBe(true);
    expect(spoolFiles(dir).length).toBeGreaterThan(0);

    const store = new MemoryStore();
    const up = new RecommendationLogWriter(store, settings(dir), recordingLogger());
    expect(up.recovered).toBe(3);
    expect(up.pendingSession('s2')).toEqual(servedList('s2')); // feedback finds it before it is written
    expect(up.wasStored('s2')).toBe(false);
    await up.flush();
    expect(await storedSessions(store)).toEqual(['s1', 's2', 's3']);
    // feedback on a stored session writes only the feedback; a failed writer (down) stored nothing
    expect(['s1', 's2', 's3', 's4'].map((id) => up.wasStored(id))).toEqual([true, true, true, false]);
    expect(down.wasStored('s1')).toBe(false);
    expect(up.spooled).toBe(0);
    await up.close();
    expect(spoolFiles(dir)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]); // a clean close leaves nothing behind
  });

  it('returns from close within LOG_FLUSH_GRACE_MS while the store stalls, and the next writer writes the lists', async () => {
    const dir = spoolDir();
    vi.useFakeTimers();
    const stalled = brokenStore('stall');
    const writer = new RecommendationLogWriter(stalled, settings(dir, { flushGraceMs: 3_000 }), recordingLogger());
    writer.start();
    for (const id of ['s1', 's2', 's3', 's4']) writer.append(servedList(id)); // batch size 2: a write starts and stalls
    await vi.advanceTimersByTimeAsync(0);
    expect(stalled.attempts).toBe(1);
    let done = false;
    const closed = writer.close().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await closed;
    expect(done).toBe(true);
    vi.useRealTimers();

    const store = new MemoryStore();
    const next = new RecommendationLogWriter(store, settings(dir), recordingLogger());
    expect(next.recovered).toBe(4);
    await next.flush();
    await next.close();
    expect(await storedSessions(store)).toEqual(['s1', 's2', 's3', 's4']);
  });

  it('without a spool, a stalled store still cannot hold shutdown past the grace; the lists are counted as lost', async () => {
    vi.useFakeTimers();
    const writer = new RecommendationLogWriter(brokenStore('stall'), settings(undefined, { flushGraceMs: 1_000 }), recordingLogger());
    writer.append(servedList('s1'));
    const closed = writer.close();
    await vi.advanceTimersByTimeAsync(1_000);
    await closed;
    expect(writer.dropped).toBe(1);
  });

  it('replays idempotently: lists already stored, and the same spool replayed twice, are stored once', async () => {
    const dir = spoolDir();
    const down = new RecommendationLogWriter(brokenStore('reject'), settings(dir), recordingLogger());
    for (const id of ['s1', 's2', 's3']) down.append(servedList(id));
    vi.useFakeTimers();
    const closed = down.close(10);
    await vi.advanceTimersByTimeAsync(10);
    await closed;
    vi.useRealTimers();
    const copy = spoolDir();
    cpSync(dir, copy, { recursive: true });

    const store = new MemoryStore();
    await store.insertRecommendationLogs([servedList('s2')]); // the stalled write had reached the database after all
    for (const from of [dir, copy]) {
      const writer = new RecommendationLogWriter(store, settings(from), recordingLogger());
      expect(writer.recovered).toBe(3);
      await writer.flush();
      await writer.close();
    }
    expect(await storedSessions(store)).toEqual(['s1', 's2', 's3']);
    expect(await store.count('recommendation_logs')).toBe(3);
  });

  it('skips a last line cut short by a crash with a warning, and writes the whole lines', async () => {
    const dir = spoolDir();
    // The folder of a killed process on this host (a pid that cannot run: above the kernel's pid_max).
    const owner = join(dir, `${hostname()}_4194399_${randomUUID()}`);
    mkdirSync(owner);
    const whole = `${JSON.stringify(servedList('s1'))}\n${JSON.stringify(servedList('s2'))}\n`;
    writeFileSync(join(owner, '00000000.jsonl'), whole + JSON.stringify(servedList('s3')).slice(0, 40));
    const log = recordingLogger();
    const store = new MemoryStore();
    const writer = new RecommendationLogWriter(store, settings(dir), log);
    expect(writer.recovered).toBe(2);
    expect(log.lines.some((l) => l.level === 'warn' && /last line cut short/.test(l.msg))).toBe(true);
    await writer.flush();
    await writer.close();
    expect(await storedSessions(store)).toEqual(['s1', 's2']);
    expect(existsSync(owner)).toBe(false);
  });

  it('takes over the folder of a writer on another host (a replica sharing the volume) only once its heartbeat is stale', async () => {
    const dir = spoolDir();
    const owner = join(dir, `other-replica_1_${randomUUID()}`);
    mkdirSync(owner);
    writeFileSync(join(owner, 'alive'), '');
    writeFileSync(join(owner, '00000000.jsonl'), `${JSON.stringify(servedList('s1'))}\n`);
    const fresh = new RecommendationLogWriter(new MemoryStore(), settings(dir), recordingLogger());
    expect(fresh.recovered).toBe(0); // touched just now: that replica runs
    await fresh.close();
    const stale = new Date(Date.now() - 61_000);
    utimesSync(join(owner, 'alive'), stale, stale);
    const store = new MemoryStore();
    const next = new RecommendationLogWriter(store, settings(dir), recordingLogger());
    expect(next.recovered).toBe(1);
    await next.flush();
    await next.close();
    expect(await storedSessions(store)).toEqual(['s1']);
  });

  it('never reads the spool of a writer that still runs', async () => {
    const dir = spoolDir();
    const first = new RecommendationLogWriter(brokenStore('reject'), settings(dir), recordingLogger());
    first.append(servedList('s1'));
    const second = new RecommendationLogWriter(new MemoryStore(), settings(dir), recordingLogger());
    expect(second.recovered).toBe(0);
    expect(second.pendingSession('s1')).toBeUndefined();
    await second.close();
    expect(spoolFiles(dir)).toHaveLength(1); // the first writer's list is still spooled
  });

  it('keeps lists that overflow the memory buffer in the spool for the next start', async () => {
    const dir = spoolDir();
    const writer = new RecommendationLogWriter(brokenStore('reject'), settings(dir, { maxBuffered: 2 }), recordingLogger());
    for (const id of ['s1', 's2', 's3', 's4']) writer.append(servedList(id));
    expect(writer.size).toBe(2);
    expect(writer.dropped).toBe(0);
    vi.useFakeTimers();
    const closed = writer.close(10);
    await vi.advanceTimersByTimeAsync(10);
    await closed;
    vi.useRealTimers();
    const store = new MemoryStore();
    const next = new RecommendationLogWriter(store, settings(dir), recordingLogger());
    await next.flush();
    await next.close();
    expect(await storedSessions(store)).toEqual(['s1', 's2', 's3', 's4']);
  });
});
