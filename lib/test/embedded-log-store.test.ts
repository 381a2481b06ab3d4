import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore } from '../src/backends.js';
import { loadRecsvcConfig } from '../../recsvc/src/config.js';
import { createLogger } from '../src/logger.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { RecommendationLogDoc } from '../src/store/types.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'recsys-embedded-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function servedList(sessionId: string, items = 10, createdAt = new Date('2026-11-20T10:00:00Z')): RecommendationLogDoc {
  return {
    sessionId,
    userId: `u${sessionId.length}`,
    modelType: 'als',
    modelVersion: 'v1',
    arm: 'als',
    source: 'model',
    items: Array.from({ length: items }, (_, i) => ({ movieId: `movie-${sessionId}-${i}`, score: 1 / (i + 1), rank: i + 1 })),
    createdAt,
  };
}

describe('embedded store: recommendation logs and feedback on disk', () => {
  it('a new store on the same DATA_DIR sees the logs, the feedback and the report of the one before', async () => {
    const dataDir = tempDir();
    const log = createLogger('test', 'silent');
    const first = await createStore(loadRecsvcConfig({ DATA_DIR: dataDir }), log);
    await first.insertRecommendationLogs([servedList('s1'), servedList('s2')]);
    const session = { userId: 'u2', modelType: 'als' as const, modelVersion: 'v1', arm: 'als', sessionCreatedAt: new Date('2026-11-20T10:00:00Z') };
    await first.upsertFeedback({ ...session, sessionId: 's1', movieId: 'movie-s1-0', liked: true, rank: 1 });
    await first.upsertFeedback({ ...session, sessionId: 's1', movieId: 'movie-s1-1', liked: false, rank: 2 });
    const report = await first.experimentTotals({ k: 5 });
    await first.close();

    const second = await createStore(loadRecsvcConfig({ DATA_DIR: dataDir }), log);
    expect(await second.count('recommendation_logs')).toBe(2);
    expect(await second.getRecommendationLog('s2')).toEqual(servedList('s2'));
    expect(await second.count('feedback')).toBe(2);
    expect(await second.dislikedMovieIds('u2')).toEqual(['movie-s1-1']);
    expect(await second.experimentTotals({ k: 5 })).toEqual(report);
    expect(report.find((r) => r.modelType === 'als')).toMatchObject({ sessions: 2, sessionsWithFeedback: 1, feedbackCount: 2, likes: 1 });
    // --reset (store.clear) empties the files too.
    await second.clear();
    await second.close();
    const third = await createStore(loadRecsvcConfig({ DATA_DIR: dataDir }), log);
    expect(await third.count('recommendation_logs')).toBe(0);
    expect(await third.count('feedback')).toBe(0);
    await third.close();
  });

  it('keeps served lists out of the heap: 4,000 lists of ~10 KB grow the heap by far less than their size', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = new MemoryStore({ logsPath: join(tempDir(), 'logs.sqlite') });
    const lists = (from: number) => Array.from({ length: 500 }, (_, i) => servedList(`session-${from + i}`, 120));
    const listBytes = JSON.stringify(servedList('session-0', 120)).length;
    expect(listBytes).toBeGreaterThan(8_000);
    await store.insertRecommendationLogs(lists(0)); // warm-up: statements, SQLite page cache
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let from = 500; from < 4_500; from += 500) await store.insertRecommendationLogs(lists(from));
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(await store.count('recommendation_logs')).toBe(4_500);
    expect(grown).toBeLessThan((4_000 * listBytes) / 10);
    await store.close();
  });
});
