/**
 * What the import CLIs (import-movielens, import-catalogue) share: the MONGO_URL guard, the progress lines and the
 * summary.
 */
import type { ImportProgress, ImportSummary } from '../lib/src/data/catalogue-builder.js';
import type { Store } from '../lib/src/store/types.js';
import { openCliStore, reportCliError, type CliIo, type ProgressOutput } from './generate-data.js';

export const NO_MONGO_MESSAGE =
  'MONGO_URL is not set: this tool writes to MongoDB; start the stack or set MONGO_URL; ' +
  'to try MovieLens in the demo use `npm start -- --movielens DIR`';

/**
 * The import tools write to MongoDB. Without MONGO_URL (and without a store of the caller's own) they refuse, unless
 * `--embedded` asks for the throw-away in-process store (a dry run that checks the files). Returns the message to
 * print with exit code 2, or null to go on.
 */
export function refuseWithoutMongo(io: CliIo, embedded: boolean): string | null {
  if (io.store || embedded) return null;
  return (io.env.MONGO_URL ?? '').trim() === '' ? `${NO_MONGO_MESSAGE} (or pass --embedded for a dry run into a throw-away in-process store)` : null;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** One line on stderr per progress report (every --progress-every interactions and at each phase change). */
export function progressPrinter(out: ProgressOutput, unit: string, label: string, now: () => number = () => performance.now()) {
  let phaseStart = now();
  let lastPhase: string = 'checking';
  let lastDone = -1;
  return (p: ImportProgress) => {
    const t = now();
    if (p.phase !== lastPhase) {
      phaseStart = t;
      lastPhase = p.phase;
    } else if (p.done === lastDone && (p.phase === 'checking' || p.phase === 'writing')) {
      return; // the phase's final report repeats the last one
    }
    lastDone = p.done;
    const seconds = (t - phaseStart) / 1000;
    const rate = seconds > 0 ? p.done / seconds : 0;
    if (p.phase === 'checking') {
      out.write(`checking ${label}: ${fmt(p.done)} ${unit} read${rate ? ` (${fmt(rate)}/s)` : ''}\n`);
    } else if (p.phase === 'writing') {
      const pct = p.total ? ((100 * p.done) / p.total).toFixed(1) : '100.0';
      const eta = rate > 0 && p.total > p.done ? `, ETA ${Math.ceil((p.total - p.done) / rate)} s` : '';
      out.write(`writing: ${fmt(p.done)}/${fmt(p.total)} ${unit} (${pct}%${rate ? `, ${fmt(rate)}/s` : ''}${eta})\n`);
    } else {
      out.write(`writing ${p.phase}\n`);
    }
  };
}

export function summaryLines(source: string, seconds: number, s: ImportSummary): string {
  const lines = [
    `imported ${source} in ${seconds.toFixed(1)} s: ${fmt(s.users)} users, ${fmt(s.movies)} movies, ${fmt(s.likes)} likes, ` +
      `${fmt(s.watched)} watched records, ${fmt(s.bookmarks)} bookmarks; popularity refreshed for ${fmt(s.popularityUpdated)} movies`,
  ];
  const aliases = Object.entries(s.aliases);
  if (aliases.length) {
    const shown = aliases.slice(0, 10).map(([alias, canonical]) => `${alias}→${canonical}`).join(', ');
    lines.push(
      `catalogue hygiene: ${fmt(aliases.length)} duplicate ids merged into their canonical id (${shown}${aliases.length > 10 ? ', ...' : ''}); ` +
        `${fmt(s.mergedDuplicates)} interactions merged`,
    );
  }
  if (s.placeholders.length) {
    lines.push(
      `catalogue hygiene: ${fmt(s.placeholders.length)} placeholder movies left out (${s.placeholders.slice(0, 10).join(', ')}${s.placeholders.length > 10 ? ', ...' : ''}) ` +
        `with their ${fmt(s.droppedOnPlaceholders)} interactions`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The body of an import CLI: parse the arguments (a usage error is exit code 2), print the usage for --help, refuse
 * without MONGO_URL (exit 2, see refuseWithoutMongo), open the store, run the import, print its summary; any other
 * failure is one line on stderr with exit code 1. Returns the exit code.
 */
export async function runImportCli<A extends { help: boolean; embedded: boolean }>(
  name: string,
  usage: string,
  argv: readonly string[],
  io: CliIo,
  parse: (argv: readonly string[]) => A,
  run: (store: Store, args: A) => Promise<{ source: string; summary: ImportSummary }>,
): Promise<number> {
  let args: A;
  try {
    args = parse(argv);
  } catch (err) {
    return reportCliError(name, err, io);
  }
  if (args.help) {
    io.stdout.write(usage);
    return 0;
  }
  const refusal = refuseWithoutMongo(io, args.embedded);
  if (refusal) {
    io.stderr.write(`${name}: ${refusal}\n`);
    return 2;
  }
  let opened: Awaited<ReturnType<typeof openCliStore>> | undefined;
  try {
    opened = await openCliStore(name, io);
    const started = performance.now();
    const { source, summary } = await run(opened.store, args);
    io.stdout.write(summaryLines(source, (performance.now() - started) / 1000, summary));
    if (opened.embedded) {
      io.stderr.write('note: this was the embedded store: the data is gone when the command exits (set MONGO_URL to keep it)\n');
    }
    return 0;
  } catch (err) {
    return reportCliError(name, err, io);
  } finally {
    if (opened?.ownStore) await opened.store.close();
  }
}
