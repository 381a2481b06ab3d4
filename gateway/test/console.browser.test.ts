import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { GENRES } from '../../lib/src/domain.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { publishServingModel, seedServingWorld } from '../../lib/test/support/fixtures.js';
import { startStack, type TestStack } from '../../lib/test/support/stack.js';
import { registerConsole } from '../src/console.js';

/**
 * The web console end to end in headless Chromium (Debian's `chromium`, driven by playwright-core, which downloads
 * no browser). Without /usr/bin/chromium the browser suite skips with its reason, unless RECSYS_REQUIRE_BROWSER=1
 * (set by .ci/run), which turns the skip into a failure. Install the browser with scripts/install-browser.sh.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/console.png';
const requireBrowser = process.env.RECSYS_REQUIRE_BROWSER === '1';
const playwright = await import('playwright-core').catch((error: unknown) => {
  return { missing: error instanceof Error ? error.message.split('\n')[0] : String(error) } as const;
});
const browserMissing = !existsSync(CHROMIUM)
  ? `${CHROMIUM} not found (run scripts/install-browser.sh)`
  : 'missing' in playwright
    ? `playwright-core is not installed (${playwright.missing})`
    : undefined;

/** The stack with the console mounted, two published models, and the serving fixtures' six movies and five users. */
async function startConsoleStack() {
  const store = new MemoryStore();
  await seedServingWorld(store);
  // The genre list comes from the catalogue's movies: one more movie (unknown to the models, outside Comedy and
  // Horror) carries the other MovieLens genres, so the console offers all 18.
  const otherGenres = GENRES.filter((g) => g !== 'Comedy' && g !== 'Horror');
  await store.insertMany('movies', [{ movieId: 'm_genres', title: 'Every Other Genre', year: 2000, genres: otherGenres, rating: 5, popularity: 0 }]);
  const stack = await startStack(store, { extraRoutes: (app) => registerConsole(app) });
  const versions = {
    als: await publishServingModel(stack.objects, 'als'),
    lightfm: await publishServingModel(stack.objects, 'lightfm'),
  };
  await stack.recsvc.models.checkActive('als');
  await stack.recsvc.models.checkActive('lightfm');
  return { store, stack, versions };
}

describe('web console files', () => {
  let stack: TestStack;
  let store: MemoryStore;
  beforeAll(async () => {
    ({ stack, store } = await startConsoleStack());
  });
  afterAll(async () => {
    await stack?.close();
    await store?.close();
  });

  it('serves the page, its script and style sheet with content types and caching', async () => {
    const expected: [string, RegExp, RegExp][] = [
      ['/', /^text\/html/, /<script type="module" src="\/console\/app.js">/],
      ['/console/app.js', /^text\/javascript/, /function init\(\)/],
      ['/console/app.css', /^text\/css/, /\.columns/],
    ];
    let total = 0;
    for (const [path, type, body] of expected) {
      const response = await fetch(`${stack.baseUrl}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toMatch(type);
      expect(response.headers.get('cache-control'), path).toMatch(/max-age=\d+/);
      const text = await response.text();
      expect(text, path).toMatch(body);
      total += Buffer.byteLength(text);
    }
    expect(total).toBeLessThan(50 * 1024);
  });

  it('keeps the console out of the OpenAPI document and leaves the API answers as they were', async () => {
    const doc = (await (await fetch(`${stack.baseUrl}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).not.toContain('/');
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/console'))).toBe(false);
    expect(doc.paths).toHaveProperty(['/recommendations/{user_id}']);
    const missing = await fetch(`${stack.baseUrl}/console/nope.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });
});

function browserSuite() {
  let stack: TestStack;
  let store: MemoryStore;
  let versions: { als: string; lightfm: string };
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ({ stack, store, versions } = await startConsoleStack());
    if ('missing' in playwright) throw new Error(browserMissing);
    browser = await playwright.chromium.launch({
      executablePath: CHROMIUM,
      // launch() gives every run a fresh temporary profile (user-data dir), removed on close.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await store?.close();
  });

  const byTestId = (id: string) => page.getByTestId(id);
  const idle = () => page.waitForSelector('body[data-ready="true"][data-pending="0"]', { state: 'attached' });
  const text = async (id: string) => ((await byTestId(id).textContent()) ?? '').trim();
  const itemIds = (model: string) =>
    page.locator(`[data-testid="items-${model}"] [data-testid="rec-item"]`).evaluateAll((items) => items.map((i) => i.getAttribute('data-movie-id')));

  it('loads, saves genres, shows both models, takes likes and a dislike, and the report follows', { timeout: 120_000 }, async () => {
    await page.goto(`${stack.baseUrl}/`);
    await idle();
    expect(await page.title()).toMatch(/console/i);
    // The report starts empty; the genres come from GET /genres.
    expect(await text('likes-als')).toBe('0');
    expect(await text('likes-lightfm')).toBe('0');
    await expect.poll(() => byTestId('genre-list').locator('input[type=checkbox]').count()).toBeGreaterThan(10);
    expect(await byTestId('save-genres').isDisabled()).toBe(true);

    // Pick a suggested user: u5 has no favourite genres and is unknown to both models.
    await byTestId('suggest-u5').click();
    await idle();
    expect(await byTestId('user-input').inputValue()).toBe('u5');
    expect(await text('genres-note')).toMatch(/no favourite genres/i);

    // At most three genres: a fourth box is disabled until one is unticked.
    await byTestId('genre-Comedy').check();
    await byTestId('genre-Horror').check();
    await byTestId('genre-Drama').check();
    expect(await text('genre-count')).toBe('3 / 3');
    expect(await byTestId('genre-Action').isDisabled()).toBe(true);
    await byTestId('genre-Drama').uncheck();
    expect(await byTestId('genre-Action').isDisabled()).toBe(false);
    await byTestId('save-genres').click();
    await idle();
    await expect.poll(() => text('status-text')).toMatch(/Updated u5: Comedy, Horror/);
    expect((await store.getUser('u5'))?.favoriteGenres).toEqual(['Comedy', 'Horror']);

    // Both columns: ten at most, here the six movies, with the active model versions.
    for (const model of ['als', 'lightfm'] as const) {
      expect(await byTestId(`column-${model}`).getAttribute('data-state')).toBe('ready');
      expect(await text(`version-${model}`)).toBe(versions[model]);
      expect(await text(`source-${model}`)).not.toBe('');
      const ids = await itemIds(model);
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size).toBe(ids.length);
      const first = byTestId(`items-${model}`).getByTestId('rec-item').first();
      expect(await first.getByTestId('title').textContent()).toMatch(/^(Laugh|Scream) /);
      expect(await first.getByTestId('genres').textContent()).toMatch(/Comedy|Horror/);
      expect(await first.getByTestId('score').textContent()).toMatch(/^-?\d+\.\d{3}$/);
    }

    // A like on each column: the item is marked and the report's like counts go up.
    for (const model of ['als', 'lightfm'] as const) {
      const first = byTestId(`items-${model}`).getByTestId('rec-item').first();
      await first.getByTestId('like').click();
      await idle();
      await expect.poll(() => text(`likes-${model}`)).toBe('1');
      expect(await first.getAttribute('class')).toMatch(/liked/);
      expect(await first.getByTestId('like').getAttribute('aria-pressed')).toBe('true');
      expect(await text(`feedback-${model}`)).toBe('1');
      expect(Number(await text(`precision-${model}`))).toBeGreaterThan(0);
    }
    expect(await text('p-value')).toMatch(/p = \d\.\d{3}/);
    expect(await byTestId('report-chart').locator('svg g.bar').count()).toBe(6);

    // A dislike: the column reloads without that movie.
    const before = await itemIds('lightfm');
    const disliked = before[1] ?? before[0];
    await byTestId('items-lightfm').locator(`[data-movie-id="${disliked}"]`).getByTestId('dislike').click();
    await idle();
    await expect.poll(() => itemIds('lightfm')).not.toContain(disliked);
    await expect.poll(() => text('feedback-lightfm')).toBe('2');
    expect(await text('likes-lightfm')).toBe('1');

    // Model versions and training: whatever the trainer answers (a table, none yet, or an error) is shown.
    expect(await text('models')).not.toMatch(/Loading/);
    await byTestId('start-training').click();
    await expect
      .poll(() => byTestId('training-state').getAttribute('data-state'))
      .toMatch(/^(queued|active|completed|failed|error)$/);
    if ((await byTestId('training-state').getAttribute('data-state')) === 'error') {
      expect(await byTestId('status').getAttribute('data-kind')).toBe('error');
      expect(await text('status-text')).toMatch(/training\/runs/);
    }

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(pageErrors).toEqual([]);
  });
}

if (!browserMissing) {
  describe('web console in headless Chromium', browserSuite);
} else if (requireBrowser) {
  describe('web console in headless Chromium', () => {
    it('has its browser', () => {
      throw new Error(`${browserMissing} but RECSYS_REQUIRE_BROWSER=1`);
    });
  });
} else {
  describe.skip(`web console in headless Chromium — skipped: ${browserMissing}`, browserSuite);
}
