/**
 * import-movielens: loads a MovieLens data set (CSV layout: ml-latest-small, ml-25m, ml-32m; or ml-100k) into MongoDB.
 * Run `node dist/scripts/import-movielens.js --help` (after `npm run build`). The work is in lib/src/data/movielens.ts.
 */
import { parseArgs } from 'node:util';
import { importMovieLens } from '../lib/src/data/movielens.js';
import { DEFAULT_BATCH_SIZE, validateBatchSize } from '../lib/src/data/generate.js';
import { parseEncoding, type TextEncodingOption } from '../lib/src/data/text-files.js';
import { InvalidArgumentError } from '../lib/src/errors.js';
import { isMain, parseCount, UsageError, type CliIo } from './generate-data.js';
import { progressPrinter, runImportCli } from './import-common.js';

export const DEFAULT_PROGRESS_EVERY = 100_000;

export const USAGE = `Usage: import-movielens [--dir] <folder> [options]

Imports a MovieLens data set (https://grouplens.org/datasets/movielens/) from its folder into MongoDB:
- CSV layout (ml-latest-small, ml-latest, ml-25m, ml-32m): movies.csv, ratings.csv, optional links.csv, tags.csv;
- 100k layout (ml-100k): u.item, u.data, optional u.genre.
Movies m{id} (title, year, genres as the data names them, IMDb/TMDB ids, top tags, rating = mean rating x 2), users
u{id} (favourite genres: their top 3 genres by movies rated 4-5 stars), per rating a like (stars x 2: half stars
0.5-5 become 1-10) and a watched record (completed), at the rating's time. Duplicate films are merged into one id
and placeholder movies ("unknown") left out (see --keep-duplicates). Every line is checked before anything is written.

Options:
  --dir FOLDER          the data set's folder (or give it as the only argument)
  --encoding E          auto (default: UTF-8 if the file is valid UTF-8, else Latin-1), utf8 or latin1;
                        applies to the title files (u.item, movies.csv, tags.csv)
  --batch-size N        documents per bulk write (default ${DEFAULT_BATCH_SIZE})
  --progress-every N    a progress line on stderr every N ratings (default ${DEFAULT_PROGRESS_EVERY.toLocaleString('en-US')})
  --reset               delete every collection first (needed when the store already holds data)
  --keep-duplicates     import every movie as it is: no merging of duplicate films, placeholders kept
  --embedded            run without MONGO_URL: import into a throw-away in-process store (checks the files; the
                        data is gone when the command exits)
  -h, --help            show this help

Environment: MONGO_URL (required unless --embedded), MONGO_DB (default recsys), LOG_LEVEL (default warn).

Exit codes: 0 done, 1 failed (missing or malformed files, store not empty without --reset), 2 bad flags or
environment (MONGO_URL not set).
`;

export interface ImportArgs {
  help: boolean;
  dir: string;
  reset: boolean;
  batchSize: number;
  encoding: TextEncodingOption;
  progressEvery: number;
  keepDuplicates: boolean;
  embedded: boolean;
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
        encoding: { type: 'string' },
        'progress-every': { type: 'string' },
        reset: { type: 'boolean', default: false },
        'keep-duplicates': { type: 'boolean', default: false },
        embedded: { type: 'boolean', default: false },
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
  const progressEvery = parseCount(values['progress-every'], '--progress-every', DEFAULT_PROGRESS_EVERY);
  let encoding: TextEncodingOption;
  try {
    validateBatchSize(batchSize, '--batch-size');
    encoding = parseEncoding(values.encoding, '--encoding');
    if (progressEvery < 1) throw new InvalidArgumentError('--progress-every must be at least 1');
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new UsageError(err.message);
    throw err;
  }
  return {
    help,
    dir,
    reset: values.reset ?? false,
    batchSize,
    encoding,
    progressEvery,
    keepDuplicates: values['keep-duplicates'] ?? false,
    embedded: values.embedded ?? false,
  };
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  return runImportCli('import-movielens', USAGE, argv, io, parseImportArgs, async (store, args) => {
    const summary = await importMovieLens(store, args.dir, {
      reset: args.reset,
      batchSize: args.batchSize,
      encoding: args.encoding,
      hygiene: !args.keepDuplicates,
      progressEvery: args.progressEvery,
      onProgress: progressPrinter(io.stderr, 'ratings', 'ratings'),
    });
    return { source: `${args.dir} (${summary.layout} layout)`, summary };
  });
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
}
