/**
 * The fault suite (issue 14, item 7): Redis, MongoDB (FerretDB), Kafka and S3 stopped or frozen under steady load,
 * recsvc killed, a trainer worker killed mid-run, S3 lost mid-publish — each asserting outcomes (no 5xx beyond the
 * budget, no lost log, feedback or event, no half-published model, recovery without a restart). The product runs as
 * separate processes (gateway, recsvc, trainer API, trainer worker, events consumer) on a private set of real
 * servers that scripts/test-servers.sh starts on free ports with its own state dir (the shared servers other suites
 * use are never touched). The scenarios are bench/support/faults/scenarios.ts, shared with `npm run bench:faults`.
 *
 * One scenario: `npx vitest run scripts/test/faults.test.ts -t redis-stop`. Each scenario writes its outcome as JSON
 * to $RECSYS_FAULTS_OUT (default <tmpdir>/recsys-faults/<scenario>.json).
 *
 * Runs when the real test servers are configured (MONGO_URL set, as for every real-server suite) or under
 * RECSYS_REQUIRE_SERVERS=1 (CI), which also turns a missing prerequisite (redis-server, FerretDB, versitygw, Kafka,
 * java) into a failure instead of a skip.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { failedChecks, SCENARIOS } from '../../bench/support/faults/scenarios.js';
import { findRepoRoot, missingPrerequisites } from '../../bench/support/faults/servers.js';
import { FaultWorld } from '../../bench/support/faults/world.js';

const repoRoot = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
const requireServers = process.env.RECSYS_REQUIRE_SERVERS === '1';
const wanted = requireServers || !!process.env.MONGO_URL;
const missing = missingPrerequisites(repoRoot);
const outDir = process.env.RECSYS_FAULTS_OUT ?? join(tmpdir(), 'recsys-faults');
const say = (line: string) => process.stderr.write(`[faults] ${line}\n`);
const TITLE = 'fault suite: real servers and the services as processes, under load';

if (!wanted) {
  describe.skip(`${TITLE} — skipped: MONGO_URL not set (run scripts/test-servers.sh) and RECSYS_REQUIRE_SERVERS unset`, () => {
    it('runs every scenario', () => undefined);
  });
} else if (missing.length > 0 && !requireServers) {
  describe.skip(`${TITLE} — skipped: missing ${missing.join(', ')} (bash scripts/test-servers.sh install)`, () => {
    it('runs every scenario', () => undefined);
  });
} else {
  describe(TITLE, () => {
    if (missing.length > 0) {
      it('has its prerequisites', () => {
        throw new Error(`missing ${missing.join(', ')} but RECSYS_REQUIRE_SERVERS=1: install them with bash scripts/test-servers.sh install`);
      });
      return;
    }
    let world: FaultWorld | undefined;
    let anyFailed = false;
    let current = false;

    beforeAll(async () => {
      world = await FaultWorld.start(repoRoot, say, 'source');
    }, 300_000);
    afterEach(() => {
      anyFailed ||= current;
      current = false;
    });
    afterAll(async () => {
      await world?.close(anyFailed);
    }, 120_000);

    for (const scenario of SCENARIOS) {
      it(`${scenario.name}: ${scenario.description}`, async () => {
        current = true; // until the checks pass: the services' logs are kept for a failed or broken scenario
        const healed = await world!.heal();
        const outcome = await scenario.run(world!);
        outcome.extra.healedBefore = healed;
        mkdirSync(outDir, { recursive: true });
        writeFileSync(join(outDir, `${scenario.name}.json`), `${JSON.stringify(outcome, null, 2)}\n`);
        const failures = failedChecks(outcome);
        current = failures.length > 0;
        say(`${scenario.name}: ${outcome.total.requests} requests, ${outcome.total.server5xx} 5xx, p99 during the fault ${outcome.during.p99Ms} ms, recovery ${outcome.recoverySeconds ?? 'never'} s; ${join(outDir, `${scenario.name}.json`)}`);
        expect(failures).toEqual([]);
        expect(outcome.total.requests).toBeGreaterThan(0);
      }, 480_000);
    }
  });
}
