/**
 * import-movielens: loads the MovieLens 100k files (u.item, u.data) into the store.
 * Run `node dist/scripts/import-movielens.js --help` (after `npm run build`). The work is in lib/src/data/movielens.ts.
 */
import { parseArgs } from 'node:util';
import { importMovieLens } from '../lib/src/data/movielens.js';
import { DEFAULT_BATCH_SIZE, validateBatchSize } from '../lib/src/data/generate.js';
import { InvalidArgumentError } from '../lib/src/errors.js';
import { isMain, openCliStore, parseCount, ProgressLine, reportCliError, UsageError, type CliIo } from './generate-data.js';

export const USAGE = `Usage: import-movielens [--dir] <folder> [options]

Imports MovieLens 100k (https://grouplens.org/datasets/movielens/100k/) from the folder holding u.item and u.data:
movies m{id} (genres, year, rating = mean rating x 2), users u{id} (favourite genres: their top 3 genres by movies
rated 4-5 stars), and per rating a like (rating x 2) and a watched record (completed), at the rating's time.

Options:
  --dir FOLDER       the folder with u.item and u.data (or give it as the only argument)
  --batch-size N     documents per bulk write (default ${DEFAULT_BATCH_SIZE})
  --reset            delete every collection first (needed when the store already holds data)
  -h, --help         show this help

Environment: MONGO_URL, MONGO_DB (default recsys), LOG_LEVEL (default warn); without MONGO_URL the data goes to an
embedded in-process store and is gone when the command exits.

Exit codes: 0 done, 1 failed (missing or malformed files, store not empty without --reset), 2 bad flags or environment.
`;

export interface ImportArgs {
  help: boolean;
  dir: string;
  reset: boolean;
  batchSize: number;
}

export function parseImportArgs(argv: readonly string[]): ImportArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        'batch-size': { type: 'string' },
        reset: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const help = values.help ?? false;
  if (positionals.length > 1) throw new UsageError(`expected one folder, got ${positionals.length} arguments`);
  if (values.dir !== undefined && positionals.length) throw new UsageError('give the folder either as --dir or as an argument, not both');
  const dir = values.dir ?? positionals[0] ?? '';
  if (!help && dir.trim() === '') throw new UsageError('the MovieLens folder is required (--dir <folder>)');
  const batchSize = parseCount(values['batch-size'], '--batch-size', DEFAULT_BATCH_SIZE);
  try {
    validateBatchSize(batchSize, '--batch-size');
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(err.message);
    throw err;
  }
  return { help, dir, reset: values.reset ?? false, batchSize };
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ImportArgs;
  try {
    args = parseImportArgs(argv);
  } catch (err) {
    return reportCliError('import-movielens', err, io);
  }
  if (args.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  let opened: Awaited<ReturnType<typeof openCliStore>> | undefined;
  const progress = new ProgressLine(io.stderr, 'ratings');
  try {
    opened = await openCliStore('import-movielens', io);
    const started = performance.now();
    let total = 0;
    const summary = await importMovieLens(opened.store, args.dir, {
      reset: args.reset,
      batchSize: args.batchSize,
      onProgress: (p) => {
        if (p.phase !== 'ratings') return;
        total = p.fraction > 0 ? Math.round(p.ratings / p.fraction) : total;
        progress.update('ratings', p.ratings, total);
      },
    });
    progress.finish();
    io.stdout.write(
      `imported ${args.dir} in ${((performance.now() - started) / 1000).toFixed(1)} s: ` +
        `${summary.users.toLocaleString('en-US')} users, ${summary.movies.toLocaleString('en-US')} movies, ` +
        `${summary.likes.toLocaleString('en-US')} likes, ${summary.watched.toLocaleString('en-US')} watched records; ` +
        `popularity refreshed for ${summary.popularityUpdated.toLocaleString('en-US')} movies\n`,
    );
    if (opened.embedded) {
      io.stderr.write('note: this was the embedded store: the data is gone when the command exits (set MONGO_URL to keep it)\n');
    }
    return 0;
  } catch (err) {
    progress.finish();
    return reportCliError('import-movielens', err, io);
  } finally {
    if (opened?.ownStore) await opened.store.close();
  }
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
}
