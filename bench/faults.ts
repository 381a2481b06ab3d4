/**
 * bench:faults — the fault scenarios of the CI suite (scripts/test/faults.test.ts, the same code:
 * bench/support/faults/), run once each on a private set of real servers with the product as separate processes,
 * and summarised: a markdown table on stdout (scenario, requests, 5xx, p99 during the fault, recovery time, checks)
 * and every outcome as JSON in bench/results/faults-<UTC time>.json.
 *
 *   npm run bench:faults [-- --only redis-stop,mongo-freeze] [--keep-logs]
 *
 * Needs what scripts/test-servers.sh installs (redis-server, FerretDB, versitygw, Kafka jars, java); starts its own
 * servers on free ports and stops them at the end (the shared test servers are not touched). Exit code 1 when a
 * scenario's check failed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release as osRelease, totalmem, type as osType } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { failedChecks, outcomeTable, SCENARIOS, type ScenarioOutcome } from './support/faults/scenarios.js';
import { findRepoRoot, missingPrerequisites } from './support/faults/servers.js';
import { FaultWorld } from './support/faults/world.js';

const say = (line: string) => process.stderr.write(`[bench:faults] ${line}\n`);
const { values: args } = parseArgs({ options: { only: { type: 'string' }, 'keep-logs': { type: 'boolean', default: false } } });
const repoRoot = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
const only = args.only?.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = (only ?? []).filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length) {
  say(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const missing = missingPrerequisites(repoRoot);
if (missing.length) {
  say(`missing: ${missing.join(', ')} — run \`bash scripts/test-servers.sh install\` first`);
  process.exit(2);
}

const startedAt = new Date();
const loadBefore = loadavg().map((l) => Number(l.toFixed(2)));
const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), os: `${osType()} ${osRelease()}`, node: process.version };
const resultsDir = join(repoRoot, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `faults-${startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19)}Z.json`);
const outcomes: ScenarioOutcome[] = [];
/** The JSON is rewritten after every scenario, so an interrupted run keeps what it measured. */
const save = () => {
  const report = { benchmark: 'faults', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine, loadAverageBefore: loadBefore, loadAverageNow: loadavg().map((l) => Number(l.toFixed(2))), outcomes };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
};

const world = await FaultWorld.start(repoRoot, say);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping the services and the private servers`);
    void world.close(true).finally(() => process.exit(130));
  });
}
let failed = false;
try {
  for (const scenario of SCENARIOS.filter((s) => !only || only.includes(s.name))) {
    const healed = await world.heal();
    say(`${scenario.name}: ${scenario.description}`);
    const outcome = await scenario.run(world);
    outcome.extra.healedBefore = healed;
    outcomes.push(outcome);
    save();
    const failures = failedChecks(outcome);
    failed ||= failures.length > 0;
    say(`${scenario.name}: ${outcome.total.requests} requests, ${outcome.total.server5xx} 5xx, p99 during ${outcome.during.p99Ms} ms, recovery ${outcome.recoverySeconds ?? 'never'} s` +
      (failures.length ? `\n  FAILED ${failures.join('\n  FAILED ')}` : ', all checks passed'));
  }
} finally {
  await world.close(args['keep-logs'] || failed);
}
save();
process.stdout.write(`\n${outcomeTable(outcomes)}\n\n${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GB, ${machine.node}; load average before ${loadBefore.join(' ')}\nJSON: ${file}\n`);
process.exit(failed ? 1 : 0);
