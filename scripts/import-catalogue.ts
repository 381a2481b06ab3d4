/**
 * import-catalogue: loads a catalogue of one's own (movies and interactions, CSV or JSONL) into MongoDB.
 * Run `node dist/scripts/import-catalogue.js --help` (after `npm run build`). The work is in
 * lib/src/data/catalogue-import.ts; the format is in lib/src/data/README.md.
 */
import { parseArgs } from 'node:util';
import { importCatalogue, type CatalogueFormat } from '../lib/src/data/catalogue-import.js';
import { DEFAULT_BATCH_SIZE, validateBatchSize } from '../lib/src/data/generate.js';
import { parseEncoding, type TextEncodingOption } from '../lib/src/data/text-files.js';
import { InvalidArgumentError } from '../lib/src/errors.js';
import { isMain, parseCount, UsageError, type CliIo } from './generate-data.js';
import { progressPrinter, runImportCli } from './import-common.js';
import { DEFAULT_PROGRESS_EVERY } from './import-movielens.js';

export const USAGE = `Usage: import-catalogue --movies FILE [--interactions FILE] [options]

Imports your own catalogue into MongoDB: a movies file (id, title, year?, genres, imdb_id?, tmdb_id?) and an
interactions file (user_id, movie_id, type = watched | rated | liked | bookmarked, value, timestamp), each CSV with a
header line or JSONL (one JSON object per line), told by the extension (.csv, .jsonl, .ndjson) or --format. The
format is described in lib/src/data/README.md. Every line of both files is checked first: the bad ones are listed
("FILE line N: what is wrong") and nothing is written. Duplicate films are merged into one id and placeholder movies
("unknown", "TBD") left out (see --keep-duplicates).

Options:
  --movies FILE         the movies file (required)
  --interactions FILE   the interactions file (users come from it)
  --format F            csv or jsonl, for both files (default: from each file's extension)
  --encoding E          auto (default: UTF-8 if valid, else Latin-1), utf8 or latin1
  --batch-size N        documents per bulk write (default ${DEFAULT_BATCH_SIZE})
  --progress-every N    a progress line on stderr every N interactions (default ${DEFAULT_PROGRESS_EVERY.toLocaleString('en-US')})
  --reset               delete every collection first (needed when the store already holds data)
  --keep-duplicates     import every movie as it is: no merging of duplicate films, placeholders kept
  --embedded            run without MONGO_URL: import into a throw-away in-process store (checks the files)
  -h, --help            show this help

Environment: MONGO_URL (required unless --embedded), MONGO_DB (default recsys), LOG_LEVEL (default warn).

Exit codes: 0 done, 1 failed (missing or invalid files, store not empty without --reset), 2 bad flags or
environment (MONGO_URL not set).
`;

export interface CatalogueArgs {
  help: boolean;
  movies: string;
  interactions?: string;
  format?: CatalogueFormat;
  encoding: TextEncodingOption;
  batchSize: number;
  progressEvery: number;
  reset: boolean;
  keepDuplicates: boolean;
  embedded: boolean;
}

export function parseCatalogueArgs(argv: readonly string[]): CatalogueArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        movies: { type: 'string' },
        interactions: { type: 'string' },
        format: { type: 'string' },
        encoding: { type: 'string' },
        'batch-size': { type: 'string' },
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
  const { values } = parsed;
  const help = values.help ?? false;
  const movies = values.movies ?? '';
  if (!help && movies.trim() === '') throw new UsageError('--movies FILE is required');
  const format = values.format;
  if (format !== undefined && format !== 'csv' && format !== 'jsonl') throw new UsageError(`--format must be csv or jsonl, got '${format.slice(0, 16)}'`);
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
    movies,
    interactions: values.interactions,
    format,
    encoding,
    batchSize,
    progressEvery,
    reset: values.reset ?? false,
    keepDuplicates: values['keep-duplicates'] ?? false,
    embedded: values.embedded ?? false,
  };
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  return runImportCli('import-catalogue', USAGE, argv, io, parseCatalogueArgs, async (store, args) => {
    const summary = await importCatalogue(
      store,
      { movies: args.movies, interactions: args.interactions },
      {
        reset: args.reset,
        batchSize: args.batchSize,
        format: args.format,
        encoding: args.encoding,
        hygiene: !args.keepDuplicates,
        progressEvery: args.progressEvery,
        onProgress: progressPrinter(io.stderr, 'interactions', 'interactions'),
      },
    );
    return { source: args.movies, summary };
  });
}

if (isMain(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
}
