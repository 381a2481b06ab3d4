/**
 * generate-data: fills the store with a synthetic world of users, movies, views, likes and bookmarks.
 * Run `node dist/scripts/generate-data.js --help` (after `npm run build`). The work is in lib/src/data/generate.ts.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createStore } from '../lib/src/backends.js';
import { checkStorageEnv, ConfigError, loadConfig, storageEnvShape } from '../lib/src/config.js';
import { DomainError, InvalidArgumentError } from '../lib/src/errors.js';
import { createLogger } from '../lib/src/logger.js';
import type { Store } from '../lib/src/store/types.js';
import { DEFAULT_BATCH_SIZE, generateData, validateBatchSize, type GenerateOptions } from '../lib/src/data/generate.js';
import { maxInteractionsPerUser, validateWorldParams, WORLD_LIMITS } from '../lib/src/data/synthetic.js';

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export const USAGE = `Usage: generate-data [options]

Fills the store with a deterministic synthetic world: users in taste clusters over genres, movies with
long-tail popularity, and interactions sampled from each user's affinity (see lib/src/data/README.md).

Options:
  --users N          users u1..uN (default 1000, at most ${fmt(WORLD_LIMITS.users)})
  --movies N         movies m1..mN (default 1700, at most ${fmt(WORLD_LIMITS.movies)})
  --interactions N   watched records (default 100000, at most ${fmt(WORLD_LIMITS.interactions)} and at most
                     users x movies/2); likes and bookmarks come on top of them
  --seed N           random seed, 0 to 4294967295 (default 42); the same flags give the same data
  --batch-size N     documents per bulk write (default ${DEFAULT_BATCH_SIZE})
  --reset            delete every collection first (needed when the store already holds data)
  --embedded         without MONGO_URL, write to a throw-away in-process store (gone when the command exits;
                     only to try the generator)
  -h, --help         show this help

Environment:
  MONGO_URL          MongoDB to write to (mongodb://...); required unless --embedded. The demo (npm start)
                     generates its own data: this command is for a MongoDB of your own
  MONGO_DB           database name (default recsys)
  LOG_LEVEL          log level of the JSON logs on stdout (default warn)

Exit codes: 0 done, 1 failed (e.g. the store holds data and --reset was not given), 2 bad flags or environment
(MONGO_URL not set without --embedded).
`;

/** A command-line mistake: reported with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

export interface GenerateArgs {
  help: boolean;
  /** Explicitly allows the throw-away embedded store when MONGO_URL is not set. */
  embedded: boolean;
  options: Required<Omit<GenerateOptions, 'now'>>;
}

const FLAG_OF: Record<string, string> = {
  users: '--users',
  movies: '--movies',
  interactions: '--interactions',
  seed: '--seed',
  batchSize: '--batch-size',
};

/** A whole number from a flag ("100000" or "100_000"). */
export function parseCount(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const trimmed = text.trim();
  if (!/^\d[\d_]*$/.test(trimmed)) throw new UsageError(`${flag} must be a whole number, got '${text.slice(0, 40)}'`);
  const value = Number(trimmed.replaceAll('_', ''));
  if (!Number.isSafeInteger(value)) throw new UsageError(`${flag} is too large: '${text.slice(0, 40)}'`);
  return value;
}

/** Parses and checks the flags; throws UsageError with a message naming the flag. */
export function parseGenerateArgs(argv: readonly string[]): GenerateArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        users: { type: 'string' },
        movies: { type: 'string' },
        interactions: { type: 'string' },
        seed: { type: 'string' },
        'batch-size': { type: 'string' },
        reset: { type: 'boolean', default: false },
        embedded: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const options = {
    users: parseCount(values.users, '--users', 1000),
    movies: parseCount(values.movies, '--movies', 1700),
    interactions: parseCount(values.interactions, '--interactions', 100_000),
    seed: parseCount(values.seed, '--seed', 42),
    batchSize: parseCount(values['batch-size'], '--batch-size', DEFAULT_BATCH_SIZE),
    reset: values.reset ?? false,
  };
  if (!values.help) {
    try {
      validateWorldParams(options, (p) => FLAG_OF[p] ?? p);
      validateBatchSize(options.batchSize, '--batch-size');
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw new UsageError(err.message);
      throw err;
    }
  }
  return { help: values.help ?? false, embedded: values.embedded ?? false, options };
}

// ---------------------------------------------------------------------------------------------------------------
// Progress on stderr
// ---------------------------------------------------------------------------------------------------------------

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * One `\r`-redrawn line with percentage, rate and ETA on a terminal (at most 10 redraws a second); on a pipe or
 * file, a plain line at every 10%.
 */
export class ProgressLine {
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastDecile = -1;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly unit = 'docs',
  ) {}

  update(label: string, done: number, total: number): void {
    const now = performance.now();
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const elapsed = (now - this.start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (total - done) / rate : NaN;
    const line =
      `${label.padEnd(13)} ${(fraction * 100).toFixed(1).padStart(5)}%  ${fmt(done)}/${fmt(total)} ${this.unit}  ` +
      `${fmt(rate)} ${this.unit}/s  ETA ${formatSeconds(eta)}`;
    if (this.out.isTTY) {
      if (fraction < 1 && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      this.out.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile === this.lastDecile) return;
      this.lastDecile = decile;
      this.out.write(`${line}\n`);
    }
  }

  /** Ends the progress line. */
  finish(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

// ---------------------------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------------------------

export interface CliIo {
  stdout: ProgressOutput;
  stderr: ProgressOutput;
  env: NodeJS.ProcessEnv;
  /** A store of the caller's own (the demo, tests): used instead of createStore, and left open. */
  store?: Store;
}

const cliEnvSchema = z.object({ ...storageEnvShape, LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn') }).superRefine(checkStorageEnv);

/** Opens the store (the caller's, or MongoDB/embedded from the environment) and says which one on stderr. */
export async function openCliStore(name: string, io: CliIo): Promise<{ store: Store; ownStore: boolean; embedded: boolean }> {
  if (io.store) return { store: io.store, ownStore: false, embedded: false };
  const config = loadConfig(cliEnvSchema, io.env);
  const store = await createStore(config, createLogger(name, config.LOG_LEVEL), 'memory');
  const embedded = !config.MONGO_URL;
  io.stderr.write(
    embedded
      ? 'store: embedded in-process (MONGO_URL not set); the data disappears when this command exits: set MONGO_URL to keep it\n'
      : `store: MongoDB, database '${config.MONGO_DB}'\n`,
  );
  return { store, ownStore: true, embedded };
}

/**
 * A data command without MONGO_URL would write to a throw-away in-process store that nothing else can see: refuse
 * (a UsageError, exit code 2) unless the caller gave a store or `embeddedFlag` was passed. `demoHint` says how the
 * demo does the same.
 */
export function requireMongoUrl(name: string, io: CliIo, options: { embedded: boolean; embeddedFlag?: string; demoHint: string }): void {
  if (io.store || options.embedded || io.env.MONGO_URL) return;
  throw new UsageError(
    `MONGO_URL is not set: ${name} writes to MongoDB (e.g. MONGO_URL=mongodb://127.0.0.1:27017 npm run ${name} -- ...). ` +
      `Without it the data would go to a throw-away in-process store that no service sees. ` +
      `For a demo, ${options.demoHint}` +
      (options.embeddedFlag ? `; to try ${name} on a throw-away store anyway, pass ${options.embeddedFlag}.` : '.'),
  );
}

/** Reports an error the CLI way and returns the exit code. */
export function reportCliError(name: string, err: unknown, io: CliIo): number {
  if (err instanceof UsageError || err instanceof ConfigError) {
    io.stderr.write(`${name}: ${err.message}\nRun '${name} --help' for usage.\n`);
    return 2;
  }
  const message = err instanceof DomainError ? err.message : err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  io.stderr.write(`${name}: ${message}\n`);
  return 1;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: GenerateArgs;
  try {
    args = parseGenerateArgs(argv);
  } catch (err) {
    return reportCliError('generate-data', err, io);
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  try {
    requireMongoUrl('generate-data', io, {
      embedded: args.embedded,
      embeddedFlag: '--embedded',
      demoHint: '`npm start` generates the data into its own store and serves it (`npm start -- --users N --movies N --interactions N --seed N`)',
    });
  } catch (err) {
    return reportCliError('generate-data', err, io);
  }
  let opened: Awaited<ReturnType<typeof openCliStore>> | undefined;
  const progress = new ProgressLine(io.stderr);
  try {
    opened = await openCliStore('generate-data', io);
    const { users, movies, interactions, seed } = args.options;
    io.stderr.write(
      `generating ${fmt(users)} users, ${fmt(movies)} movies, ${fmt(interactions)} watched records (seed ${seed}); ` +
        `each user watches at most ${fmt(maxInteractionsPerUser(movies))} movies\n`,
    );
    const started = performance.now();
    const summary = await generateData(opened.store, args.options, (p) =>
      progress.update(p.phase === 'popularity' ? 'popularity' : p.phase, p.done, p.total),
    );
    progress.finish();
    const s = summary.seconds;
    const pct = (part: number, whole: number) => (whole ? ` (${((100 * part) / whole).toFixed(0)}%)` : '');
    const lines = [
      `generated in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
        `(users ${s.users.toFixed(1)} s, movies ${s.movies.toFixed(1)} s, interactions ${s.interactions.toFixed(1)} s, ` +
        `popularity ${s.popularity.toFixed(1)} s)`,
      `  users            ${fmt(summary.users).padStart(11)}  ${fmt(summary.usersWithFavoriteGenres)} with favourite genres`,
      `  movies           ${fmt(summary.movies).padStart(11)}  popularity refreshed for ${fmt(summary.popularityUpdated)}`,
      `  watched_movies   ${fmt(summary.watched).padStart(11)}  ${fmt(summary.completed)} watched to the end${pct(summary.completed, summary.watched)}`,
      `  likes            ${fmt(summary.likes).padStart(11)}${pct(summary.likes, summary.watched)} of watched`,
      `  bookmarks        ${fmt(summary.bookmarks).padStart(11)}${pct(summary.bookmarks, summary.watched)} of watched`,
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    if (opened.embedded) {
      io.stderr.write('note: this was the embedded store: the data is gone when the command exits (set MONGO_URL to keep it)\n');
    }
    return 0;
  } catch (err) {
    progress.finish();
    return reportCliError('generate-data', err, io);
  } finally {
    if (opened?.ownStore) await opened.store.close();
  }
}

/** True when this module is the program node was started with (not when imported). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
}
