import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, TestSuite } from 'vitest/node';

/**
 * A vitest reporter that prints, after the run, one line per suite or test skipped with a reason (the default
 * reporter only counts skipped tests). A reasoned skip is a skipped suite or test whose name contains "skipped: "
 * followed by the reason: describeWithServers (servers.ts) names its skipped real-server suites so, and so do the
 * MovieLens, browser and native-addon suites. Tests inside a reasoned skipped suite are not repeated.
 */
export const SKIP_REASON = /\bskipped: /;

export default class SkipReasonsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines = skipReasonLines(testModules, process.cwd());
    if (lines.length === 0) return;
    process.stdout.write(`\n${lines.length} suite(s) or test(s) skipped, with their reasons:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
  }
}

/** "file › suite — skipped: reason" for every outermost reasoned skip, in file order. */
export function skipReasonLines(testModules: ReadonlyArray<TestModule>, root: string): string[] {
  const lines: string[] = [];
  for (const module of testModules) {
    const file = relative(root, module.moduleId);
    const entries: (TestSuite | TestCase)[] = [...module.children.allSuites(), ...module.children.allTests()];
    for (const entry of entries) if (isOutermostReasonedSkip(entry)) lines.push(`${file} › ${entry.fullName}`);
  }
  return lines;
}

const isReasonedSkip = (entry: TestSuite | TestCase): boolean => {
  const state = entry.type === 'suite' ? entry.state() : entry.result().state;
  return state === 'skipped' && SKIP_REASON.test(entry.name);
};

function isOutermostReasonedSkip(entry: TestSuite | TestCase): boolean {
  if (!isReasonedSkip(entry)) return false;
  for (let parent = entry.parent; parent.type === 'suite'; parent = parent.parent) if (isReasonedSkip(parent)) return false;
  return true;
}
