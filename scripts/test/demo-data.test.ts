import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { demoDataDir, demoTimeout, SMALL_DATA, startDemo, type DemoProcess } from './support/demo-process.js';

/** The versions the demo reports as served, from its "models:" block. */
function servedVersions(demo: DemoProcess): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const match of demo.stdout().matchAll(/^ {2}(als|lightfm)\s+version (\S+)$/gm)) versions[match[1]] = match[2];
  return versions;
}

async function runUntilReady(args: string[], dataDir: string): Promise<DemoProcess> {
  const demo = startDemo(args, { dataDir });
  await demo.waitFor(/Ctrl-C stops everything/);
  return demo;
}

/**
 * Item 1 of issue 12: the demo never serves a model trained on other data than the store holds. Versions persist in
 * DATA_DIR between runs while the embedded store is filled anew each time.
 */
describe('npm start after an earlier npm start on other data', () => {
  const dataDir = demoDataDir();
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('keeps versions trained on the same data, and retrains when the catalogue or the interactions differ', async () => {
    const first = await runUntilReady(SMALL_DATA, dataDir);
    expect(first.stdout()).toMatch(/training als and lightfm/);
    const trained = servedVersions(first);
    expect(Object.keys(trained).sort()).toEqual(['als', 'lightfm']);
    expect(await first.interrupt()).toBe(0);

    // The same data again: nothing to retrain, the same versions serve.
    const same = await runUntilReady(SMALL_DATA, dataDir);
    expect(same.stdout()).not.toMatch(/training als/);
    expect(servedVersions(same)).toEqual(trained);
    expect(await same.interrupt()).toBe(0);

    // Another catalogue (another seed: the same movie ids, other titles): refused, retrained, the new versions serve.
    const other = await runUntilReady([...SMALL_DATA, '--seed', '7'], dataDir);
    const out = other.stdout();
    expect(out).toContain(`als: not keeping version ${trained.als}: trained on another catalogue: titles differ`);
    expect(out).toContain(`lightfm: not keeping version ${trained.lightfm}: trained on another catalogue: titles differ`);
    expect(out).toMatch(/training als and lightfm/);
    const retrained = servedVersions(other);
    expect(retrained.als).not.toBe(trained.als);
    expect(retrained.lightfm).not.toBe(trained.lightfm);
    const response = await fetch(`${other.baseUrl()}/recommendations/u1?model=als&k=3`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ model_type: 'als', model_version: retrained.als });
    expect(await other.interrupt()).toBe(0);

    // The same catalogue with more interactions: retrained too, and whatever the promotion gate says, served.
    const more = await runUntilReady([...SMALL_DATA.slice(0, -1), '3500', '--seed', '7'], dataDir);
    expect(more.stdout()).toMatch(new RegExp(`als: not keeping version ${retrained.als}: the data changed since \\(watched_movies 3000 → 3500`));
    const latest = servedVersions(more);
    expect(latest.als).not.toBe(retrained.als);
    expect(latest.lightfm).not.toBe(retrained.lightfm);
    expect(await more.interrupt()).toBe(0);
    for (const demo of [first, same, other, more]) expect(demo.stderr()).not.toMatch(/Error|at .*\.ts:\d+/);
  }, demoTimeout(4));

  it('refuses a bad flag in one line, with exit code 2', async () => {
    const demo = startDemo(['--users', 'many'], { dataDir });
    expect(await demo.exited).toBe(2);
    expect(demo.stderr()).toContain("demo: --users must be a whole number, got 'many'");
    expect(demo.stderr()).not.toMatch(/at .*\.ts:\d+/);
  }, demoTimeout(1));
});
