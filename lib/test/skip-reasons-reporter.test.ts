import { describe, expect, it } from 'vitest';
import type { TestModule } from 'vitest/node';
import { skipReasonLines } from './support/skip-reasons-reporter.js';

type Node = { type: 'suite' | 'test'; name: string; state: string; children?: Node[] };

/** A stand-in for vitest's reported tree: just what skipReasonLines reads. */
function moduleOf(moduleId: string, nodes: Node[]): TestModule {
  const module = { type: 'module', moduleId } as Record<string, unknown>;
  const suites: unknown[] = [];
  const tests: unknown[] = [];
  const build = (node: Node, parent: Record<string, unknown>, path: string[]): void => {
    const fullName = [...path, node.name].join(' > ');
    const entry: Record<string, unknown> = { type: node.type, name: node.name, fullName, parent };
    if (node.type === 'suite') {
      entry.state = () => node.state;
      suites.push(entry);
      for (const child of node.children ?? []) build(child, entry, [...path, node.name]);
    } else {
      entry.result = () => ({ state: node.state });
      tests.push(entry);
    }
  };
  for (const node of nodes) build(node, module, []);
  module.children = { allSuites: () => suites, allTests: () => tests };
  return module as unknown as TestModule;
}

describe('skip-reasons reporter', () => {
  it('lists each outermost suite or test skipped with a reason, once, and nothing else', () => {
    const modules = [
      moduleOf('/repo/lib/test/cache.test.ts', [
        { type: 'suite', name: 'MemoryCache', state: 'passed', children: [{ type: 'test', name: 'sets', state: 'passed' }] },
        {
          type: 'suite',
          name: 'RedisCache (real Redis) — skipped: REDIS_URL not set (run scripts/test-servers.sh)',
          state: 'skipped',
          children: [{ type: 'test', name: 'sets', state: 'skipped' }],
        },
      ]),
      moduleOf('/repo/native/test/models.test.ts', [
        { type: 'suite', name: 'native', state: 'skipped', children: [{ type: 'test', name: 'skipped: native addon not loaded (no compiler)', state: 'skipped' }] },
        { type: 'test', name: 'a test skipped without a reason', state: 'skipped' },
      ]),
    ];
    expect(skipReasonLines(modules, '/repo')).toEqual([
      'lib/test/cache.test.ts › RedisCache (real Redis) — skipped: REDIS_URL not set (run scripts/test-servers.sh)',
      'native/test/models.test.ts › native > skipped: native addon not loaded (no compiler)',
    ]);
  });
});
