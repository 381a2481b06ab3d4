/**
 * bench:spool — the cost on the serving path of spooling each served list (recsvc/src/log-spool.ts): one
 * JSON.stringify and one synchronous append per list, before the response. Measured in process: the log writer's
 * append with the spool (LOG_SPOOL_DIR) against the same writer without it (the baseline, same run), for a default
 * list (k 10) and the longest one (k 100). Every 500 appends the writer flushes to a store that stores nothing
 * (outside the timing), so spool files rotate and get deleted as in service.
 * Prints a markdown table; writes bench/results/spool-<UTC time>.json.
 *
 *   npm run bench:spool            (SPOOL_BENCH_APPENDS=20000 by default; the spool goes to a temp folder)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../lib/src/logger.js';
import { MemoryStore } from '../lib/src/store/memory-store.js';
import type { RecommendationLogDoc, Store } from '../lib/src/store/types.js';
import { RecommendationLogWriter } from '../recsvc/src/log-writer.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const appends = Number(process.env.SPOOL_BENCH_APPENDS ?? 20_000);
const batch = 500;

interface Row {
  name: string;
  k: number;
  spool: boolean;
  appends: number;
  listBytes: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  cpuUsPerAppend: number;
}

function servedList(i: number, k: number): RecommendationLogDoc {
  return {
    sessionId: `3f0c6a52-1d7e-4b8a-9c55-${String(i).padStart(12, '0')}`,
    userId: `user-${i % 5000}`,
    modelType: i % 2 ? 'als' : 'lightfm',
    modelVersion: '2026-11-29T20-00-00Z-abcdef',
    arm: i % 2 ? 'als' : 'lightfm',
    source: 'cache',
    items: Array.from({ length: k }, (_, r) => ({ movieId: `movie-${(i * 7 + r * 13) % 10000}`, score: 1 / (r + 1.37), rank: r + 1 })),
    createdAt: new Date(),
  };
}

type Mode = 'memory' | 'spool' | 'spool-json';
const modeNames: Record<Mode, string> = {
  memory: 'append, memory only (baseline)',
  spool: 'append + spool (synchronous write)',
  'spool-json': 'append + spool, JSON passed in (as recsvc has it for the session key)',
};

async function measure(k: number, mode: Mode): Promise<Row> {
  const spool = mode !== 'memory';
  const dir = mkdtempSync(join(tmpdir(), 'recsys-bench-spool-'));
  const store = new MemoryStore() as unknown as Store;
  store.insertRecommendationLogs = async () => {}; // the database is not what is measured
  const writer = new RecommendationLogWriter(
    store,
    { batchSize: 1_000_000, flushIntervalMs: 3_600_000, maxBuffered: 1_000_000, retryDelayMs: 1000, flushGraceMs: 1000, spoolDir: spool ? dir : undefined },
    createLogger('bench', 'silent'),
  );
  const lists = Array.from({ length: batch }, (_, i) => servedList(i, k));
  const samples: number[] = [];
  let cpuUs = 0;
  for (let done = 0; done < appends + batch; done += batch) {
    const docs = lists.map((l) => ({ ...l, sessionId: `${l.sessionId}-${done}` }));
    // Made by the caller already in recsvc (the session key's value): outside the measured CPU.
    const jsons = docs.map((d) => (mode === 'spool-json' ? JSON.stringify(d) : undefined));
    const cpu = process.cpuUsage();
    for (let i = 0; i < batch; i++) {
      const start = process.hrtime.bigint();
      writer.append(docs[i]!, jsons[i]);
      if (done >= batch) samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
    const used = process.cpuUsage(cpu);
    if (done >= batch) cpuUs += used.user + used.system; // the first batch warms up
    await writer.flush();
  }
  await writer.close(1000);
  rmSync(dir, { recursive: true, force: true });
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)]!;
  return {
    name: modeNames[mode],
    k,
    spool,
    appends: samples.length,
    listBytes: JSON.stringify(lists[0]).length + 1,
    meanUs: samples.reduce((s, v) => s + v, 0) / samples.length,
    p50Us: at(0.5),
    p99Us: at(0.99),
    cpuUsPerAppend: cpuUs / samples.length,
  };
}

const rows: Row[] = [];
for (const k of [10, 100]) for (const mode of ['memory', 'spool', 'spool-json'] as const) rows.push(await measure(k, mode));
const fmt = (v: number) => v.toFixed(1);
const lines = [
  '| k | writer append | list bytes | mean µs | p50 µs | p99 µs | CPU µs per append | added CPU µs vs baseline |',
  '|---:|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const base = rows.find((b) => b.k === r.k && !b.spool)!;
    return `| ${r.k} | ${r.name} | ${r.listBytes} | ${fmt(r.meanUs)} | ${fmt(r.p50Us)} | ${fmt(r.p99Us)} | ${fmt(r.cpuUsPerAppend)} | ${r.spool ? fmt(r.cpuUsPerAppend - base.cpuUsPerAppend) : '-'} |`;
  }),
];
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemMb: Math.round(totalmem() / 2 ** 20), loadavg: loadavg(), node: process.version };
process.stdout.write(`\nbench:spool ${new Date().toISOString()} (${machine.cpus} CPUs, load ${machine.loadavg.map((l) => l.toFixed(1)).join(' ')}, Node ${machine.node})\n${lines.join('\n')}\n`);
const resultsDir = join(root, 'bench/results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `spool-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, appends, rows }, null, 2)}\n`);
process.stdout.write(`results: ${file}\n`);
