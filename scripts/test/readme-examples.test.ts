import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoDataDir, demoTimeout, SMALL_DATA, startDemo, type DemoProcess } from './support/demo-process.js';

const readme = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../README.md'), 'utf8');

/**
 * The shell commands of the ```sh blocks in README.md's "## REST API" section, in order: comment and blank lines
 * dropped, backslash continuations joined.
 */
export function restApiExamples(markdown: string): string[] {
  const start = markdown.search(/^## REST API\s*$/m);
  if (start < 0) throw new Error('README.md has no "## REST API" section');
  const rest = markdown.slice(start + 1);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const commands: string[] = [];
  for (const block of section.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```$/gm)) {
    let pending = '';
    for (const line of block[1].split('\n')) {
      if (!pending && (line.trim() === '' || line.trim().startsWith('#'))) continue;
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1)} `;
        continue;
      }
      commands.push(pending + line);
      pending = '';
    }
    if (pending) commands.push(pending.trimEnd());
  }
  return commands;
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;

interface ExampleResult {
  command: string;
  exitCode: number;
  output: string;
}

/**
 * Runs the commands in order in one bash (so variables set by one are seen by the next), against the demo at
 * `hostPort` instead of localhost:8080. For an assignment the output is the value assigned.
 */
async function runExamples(commands: readonly string[], hostPort: string, dataDir: string): Promise<ExampleResult[]> {
  const marker = '@@readme-example-end';
  const script = ['set -o pipefail']
    .concat(
      commands.map((command, i) => {
        const assigned = ASSIGNMENT.exec(command)?.[1];
        const runnable = command.replaceAll('localhost:8080', hostPort);
        return `${runnable}\n__rc=$?\n${assigned ? `printf '%s' "$${assigned}"\n` : ''}printf '\\n${marker} ${i} %d\\n' "$__rc"`;
      }),
    )
    .join('\n');
  // DATA_DIR: the demo's, where the README's examples read the demo's API key.
  const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DATA_DIR: dataDir } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  await new Promise((resolveExit) => child.once('exit', resolveExit));
  const results: ExampleResult[] = [];
  let rest = out;
  for (const [i, command] of commands.entries()) {
    const match = new RegExp(`\\n${marker} ${i} (\\d+)\\n`).exec(rest);
    if (!match) throw new Error(`example ${i + 1} (${command}) did not finish:\n${out}\n${err}`);
    results.push({ command, exitCode: Number(match[1]), output: rest.slice(0, match.index) });
    rest = rest.slice(match.index + match[0].length);
  }
  return results;
}

describe('README.md "REST API" examples, run as written against the demo', () => {
  const dataDir = demoDataDir();
  let demo: DemoProcess;
  beforeAll(async () => {
    demo = startDemo(SMALL_DATA, { dataDir });
    await demo.waitFor(/Ctrl-C stops everything/);
  }, demoTimeout(1));
  afterAll(async () => {
    await demo?.interrupt();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finds the examples in the README (not a copied list)', () => {
    const commands = restApiExamples(readme);
    expect(commands.length).toBeGreaterThanOrEqual(8);
    expect(commands.every((c) => c.includes('localhost:8080') || ASSIGNMENT.test(c) || c.startsWith('curl'))).toBe(true);
  });

  it('each exits 0 and answers JSON without an error body', async () => {
    const commands = restApiExamples(readme);
    const results = await runExamples(commands, new URL(demo.baseUrl()).host, dataDir);
    for (const [i, result] of results.entries()) {
      const where = `example ${i + 1}: ${result.command}\n-> ${result.output.slice(0, 500)}`;
      expect(result.exitCode, where).toBe(0);
      if (ASSIGNMENT.test(result.command)) {
        // A variable for the next examples, taken from a JSON answer: it must hold a value.
        expect(result.output.trim(), where).not.toMatch(/^$|^undefined$|^null$/);
        continue;
      }
      let body: unknown;
      expect(() => (body = JSON.parse(result.output)), where).not.toThrow();
      // The error body of this API: {"error": {"code", "message"}} (a job's or run's `error` string is not one).
      const error = (body as { error?: unknown }).error;
      expect(typeof body === 'object' && body !== null && typeof error === 'object' && error !== null, where).toBe(false);
    }
  });
});
