/**
 * evaluate_metrics: the A/B result (Precision@K, Recall@K, like rate per model, significance of the like-rate
 * difference) computed in MongoDB from recommendation_logs and feedback.
 *
 *   npm run evaluate-metrics -- [--k 3] [--model als|lightfm] [--since ISO] [--until ISO] [--json]
 *
 * Reads MONGO_URL / MONGO_DB, and refuses (exit code 2) without MONGO_URL: the demo's embedded store has no data
 * outside the demo process, whose REST GET /experiments/report serves the same report.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { loadConfig, storageEnvShape } from '../lib/src/config.js';
import { experimentReportFromStore, type ExperimentReport } from '../lib/src/experiment-report.js';
import { MODEL_TYPES, type ModelTypeName } from '../lib/src/domain.js';
import { MongoStore } from '../lib/src/store/mongo-store.js';
import type { Store } from '../lib/src/store/types.js';

export interface EvaluateOptions {
  k: number;
  model?: ModelTypeName;
  since?: Date;
  until?: Date;
  json: boolean;
}

export class UsageError extends Error {}

export function parseEvaluateArgs(argv: string[]): EvaluateOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      k: { type: 'string', default: '3' },
      model: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const k = Number(values.k);
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new UsageError('--k must be an integer from 1 to 100');
  if (values.model !== undefined && !(MODEL_TYPES as readonly string[]).includes(values.model)) {
    throw new UsageError('--model must be als or lightfm');
  }
  const date = (value: string | undefined, flag: string) => {
    if (value === undefined) return undefined;
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) throw new UsageError(`${flag} must be an ISO 8601 date or time`);
    return parsed;
  };
  const since = date(values.since, '--since');
  const until = date(values.until, '--until');
  if (since && until && since >= until) throw new UsageError('--since must be before --until');
  return { k, model: values.model as ModelTypeName | undefined, since, until, json: values.json ?? false };
}

export async function evaluateMetrics(store: Store, options: EvaluateOptions): Promise<ExperimentReport> {
  const report = await experimentReportFromStore(store, { k: options.k, since: options.since, until: options.until });
  if (!options.model) return report;
  const only = <T extends { modelType: ModelTypeName }>(rows: T[]) => rows.filter((r) => r.modelType === options.model);
  return { ...report, arms: only(report.arms), forced: only(report.forced), series: only(report.series) };
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export function formatReport(report: ExperimentReport): string {
  const rows = [
    `| model | sessions | with feedback | feedback | likes | like rate | Precision@${report.k} | Recall@${report.k} |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...report.arms.map(
      (a) =>
        `| ${a.modelType} | ${a.sessions} | ${a.sessionsWithFeedback} | ${a.feedbackCount} | ${a.likes} | ${pct(a.likeRate)} | ${a.precisionAtK.toFixed(4)} | ${a.recallAtK.toFixed(4)} |`,
    ),
  ];
  const c = report.comparison;
  rows.push(
    '',
    c.enoughData
      ? `Like rate ALS − LightFM: ${pct(c.difference)} (95% CI ${pct(c.ci95Low)} to ${pct(c.ci95High)}), z = ${c.z.toFixed(3)}, p = ${c.pValue.toPrecision(3)}. ${c.note}`
      : c.note,
  );
  if (report.forced.some((a) => a.sessions > 0)) {
    rows.push('', 'Forced sessions (?model=, not part of the experiment):');
    for (const a of report.forced) rows.push(`- ${a.modelType}: ${a.sessions} sessions, ${a.feedbackCount} feedback, ${a.likes} likes`);
  }
  return rows.join('\n');
}

export interface EvaluateIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

/** The command: returns the exit code (0 done, 2 bad flags or MONGO_URL not set). */
export async function main(argv: string[], io: EvaluateIo): Promise<number> {
  let options: EvaluateOptions;
  try {
    options = parseEvaluateArgs(argv);
  } catch (err) {
    io.stderr.write(`evaluate_metrics: ${(err as Error).message}\n`);
    return 2;
  }
  let env;
  try {
    env = loadConfig(z.object(storageEnvShape), io.env);
  } catch (err) {
    io.stderr.write(`evaluate_metrics: ${(err as Error).message}\n`);
    return 2;
  }
  if (!env.MONGO_URL) {
    io.stderr.write(
      'evaluate_metrics: MONGO_URL is not set: the report is computed from MongoDB (e.g. MONGO_URL=mongodb://127.0.0.1:27017 ' +
        'npm run evaluate-metrics). The demo (npm start) keeps its data in its own process: ask it for the same report with ' +
        "curl -s 'localhost:8080/experiments/report?k=3'.\n",
    );
    return 2;
  }
  const store = await MongoStore.connect(env.MONGO_URL, env.MONGO_DB);
  try {
    const report = await evaluateMetrics(store, options);
    io.stdout.write(`${options.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
}
