/**
 * bench:import — bounded memory of the MovieLens CSV importer, shown on generated ml-32m-shaped data (ml-32m itself
 * is not reachable from this machine).
 *
 *   npm run build && node dist/bench/import.js [--ratings 500000,2000000] [--movies 87585]
 *     [--ratings-per-user 160] [--wide-users 200000] [--keep]
 *
 * 1. For each size, writes a MovieLens CSV folder to a temporary directory: movies.csv (`--movies` movies, ml-32m has
 *    87,585; titles with commas and quotes, a missing year now and then, every ml-32m genre including IMAX and
 *    "(no genres listed)"), links.csv, and ratings.csv sorted by user like MovieLens (half stars, `--ratings-per-user`
 *    ratings per user: ml-32m has 32M ratings of 200,948 users, about 160 each). One extra run has `--wide-users`
 *    users (ml-32m's user count) for the largest size, since the importer keeps a few numbers per user.
 * 2. Each size is imported in a child process of its own (so peak RSS is that import's) by importMovieLens into a
 *    store that counts and discards the documents: what is measured is the importer (parsing, validation, the two
 *    passes, batching), not a database. Peak RSS is process.resourceUsage().maxRSS.
 * 3. A table on stdout; JSON in bench/results/import-<UTC time>.json. The smallest size is the baseline: bounded
 *    memory means the peak RSS does not grow with the number of ratings (4x the ratings, about the same peak).
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importMovieLens } from '../lib/src/data/movielens.js';
import { MemoryStore } from '../lib/src/store/memory-store.js';
import type { CollectionDocs, CollectionName } from '../lib/src/store/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');

/** ml-32m's genres (movies.csv), IMAX and "(no genres listed)" included. */
const ML32M_GENRES = [
  'Action', 'Adventure', 'Animation', 'Children', 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir',
  'Horror', 'IMAX', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

/**
 * A store that counts the documents it is given and keeps none of them (the importer measured, not a database); every
 * other call is the in-process store's, on its empty collections.
 */
class DiscardStore extends MemoryStore {
  readonly written: Partial<Record<CollectionName, number>> = {};
  override async insertMany<C extends CollectionName>(collection: C, docs: readonly CollectionDocs[C][]): Promise<void> {
    this.written[collection] = (this.written[collection] ?? 0) + docs.length;
  }
}

class Lcg {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

async function generate(dir: string, movies: number, ratings: number, users: number, seed: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const rng = new Lcg(seed);
  await writeLines(join(dir, 'movies.csv'), (function* () {
    yield 'movieId,title,genres\n';
    for (let m = 1; m <= movies; m++) {
      const k = rng.int(4);
      const genres = k === 0 ? '(no genres listed)' : [...new Set(Array.from({ length: k }, () => ML32M_GENRES[rng.int(ML32M_GENRES.length)]))].join('|');
      const year = m % 37 === 0 ? '' : ` (${1900 + rng.int(125)})`;
      const title = m % 5 === 0 ? `"Film ${m}, The ""Cut""${year}"` : `Film ${m}${year}`;
      yield `${m},${title},${genres}\n`;
    }
  })());
  await writeLines(join(dir, 'links.csv'), (function* () {
    yield 'movieId,imdbId,tmdbId\n';
    for (let m = 1; m <= movies; m++) yield `${m},${String(100000 + m).padStart(7, '0')},${m % 11 === 0 ? '' : 50000 + m}\n`;
  })());
  // Zipf-like movie popularity: movie = floor(movies * u^3) + 1 (many ratings on the first ids).
  await writeLines(join(dir, 'ratings.csv'), (function* () {
    yield 'userId,movieId,rating,timestamp\n';
    let left = ratings;
    for (let u = 1; u <= users && left > 0; u++) {
      const n = u === users ? left : Math.min(left, Math.max(1, Math.round((ratings / users) * (0.2 + 1.6 * rng.next()))));
      left -= n;
      const t0 = 1_000_000_000 + rng.int(600_000_000);
      for (let i = 0; i < n; i++) {
        const movie = Math.floor(movies * rng.next() ** 3) + 1;
        yield `${u},${movie},${(1 + rng.int(10)) / 2},${t0 + i * 60}\n`;
      }
    }
  })());
}

interface ChildResult {
  seconds: number;
  /** CPU time of the import (user + system): less dependent on the machine's load than the wall time. */
  cpuSeconds: number;
  rssBeforeMb: number;
  peakRssMb: number;
  heapUsedAfterMb: number;
  written: Partial<Record<CollectionName, number>>;
  users: number;
  movies: number;
  ratings: number;
}

async function child(dir: string): Promise<void> {
  const store = new DiscardStore();
  const rssBefore = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const summary = await importMovieLens(store, dir, { batchSize: 5000, progressEvery: 1_000_000, onProgress: (p) => process.stderr.write(`  ${p.phase} ${p.done}\n`) });
  const result: ChildResult = {
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpuBefore)),
    rssBeforeMb: rssBefore / 2 ** 20,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    heapUsedAfterMb: process.memoryUsage().heapUsed / 2 ** 20,
    written: store.written,
    users: summary.users,
    movies: summary.movies,
    ratings: summary.interactions,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function runChild(dir: string): Promise<ChildResult> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number];
  if (code !== 0) throw new Error(`import child exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      ratings: { type: 'string', default: '500000,2000000' },
      movies: { type: 'string', default: '87585' },
      'ratings-per-user': { type: 'string', default: '160' },
      'wide-users': { type: 'string', default: '200000' },
      keep: { type: 'boolean', default: false },
    },
  });
  if (values.child) return child(values.child);
  const sizes = values.ratings.split(',').map((s) => Number(s.replaceAll('_', '')));
  const movies = Number(values.movies);
  const perUser = Number(values['ratings-per-user']);
  const wideUsers = Number(values['wide-users']);
  if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1) || !(movies >= 1) || !(perUser >= 1) || !(wideUsers >= 0)) {
    throw new Error('--ratings must be a comma-separated list of whole numbers; --movies, --ratings-per-user, --wide-users whole numbers');
  }
  const runs = sizes.map((ratings) => ({ ratings, users: Math.max(1, Math.round(ratings / perUser)) }));
  const largest = Math.max(...sizes);
  if (wideUsers > 0) runs.push({ ratings: largest, users: Math.min(wideUsers, largest) });

  const work = mkdtempSync(join(tmpdir(), 'recsys-bench-import-'));
  const rows: (ChildResult & { ratingsRequested: number; usersRequested: number; csvMb: number })[] = [];
  try {
    for (const [i, run] of runs.entries()) {
      const dir = join(work, `run${i}`);
      process.stderr.write(`generating ${run.ratings.toLocaleString('en-US')} ratings, ${run.users.toLocaleString('en-US')} users, ${movies.toLocaleString('en-US')} movies in ${dir}\n`);
      await generate(dir, movies, run.ratings, run.users, 42 + i);
      const { statSync } = await import('node:fs');
      const csvMb = statSync(join(dir, 'ratings.csv')).size / 2 ** 20;
      process.stderr.write('importing (child process) ...\n');
      const result = await runChild(dir);
      rows.push({ ...result, ratingsRequested: run.ratings, usersRequested: run.users, csvMb });
      if (!values.keep) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!values.keep) rmSync(work, { recursive: true, force: true });
  }

  const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const base = rows[0];
  const lines = [
    '| ratings | users | movies | ratings.csv MB | import wall s | import CPU s | ratings per CPU s | peak RSS MB | RSS at start MB | peak vs first row |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${fmt(r.ratings)} | ${fmt(r.users)} | ${fmt(r.movies)} | ${fmt(r.csvMb, 1)} | ${fmt(r.seconds, 1)} | ${fmt(r.cpuSeconds, 1)} | ${fmt(r.ratings / r.cpuSeconds)} | ` +
        `${fmt(r.peakRssMb, 1)} | ${fmt(r.rssBeforeMb, 1)} | ${(r.peakRssMb / base.peakRssMb).toFixed(2)}x |`,
    ),
  ];
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, totalMemMb: Math.round(totalmem() / 2 ** 20), loadavg: loadavg(), node: process.version };
  process.stdout.write(`\nbench:import ${new Date().toISOString()} (${machine.cpus} CPUs, load ${machine.loadavg.map((l) => l.toFixed(1)).join(' ')}, Node ${machine.node})\n${lines.join('\n')}\n`);
  const resultsDir = join(root, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `import-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, movies, rows }, null, 2)}\n`);
  process.stdout.write(`results: ${file}\n`);
}

await main();
