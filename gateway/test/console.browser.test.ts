import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { GENRES } from '../../lib/src/domain.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { MOVIES, publishServingModel, seedServingWorld } from '../../lib/test/support/fixtures.js';
import { AUTH, startStack, TEST_API_KEY, type TestStack } from '../../lib/test/support/stack.js';
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

/**
 * The stack with the console mounted, two published models, and the serving fixtures' six movies (the first with an
 * IMDb id) and five users. The LightFM-style version's offline metrics lose to the popularity baseline, the ALS one's
 * beat it: the model-versions table must flag the first.
 */
async function startConsoleStack() {
  const store = new MemoryStore();
  await seedServingWorld(store, MOVIES.map((m) => (m.movieId === 'm1' ? { ...m, imdbId: 'tt0114709' } : m)));
  // The genre list comes from the catalogue's movies: one more movie (unknown to the models, outside Comedy and
  // Horror) carries the other MovieLens genres, so the console offers all 18.
  const otherGenres = GENRES.filter((g) => g !== 'Comedy' && g !== 'Horror');
  await store.insertMany('movies', [{ movieId: 'm_genres', title: 'Every Other Genre', year: 2000, genres: otherGenres, rating: 5, popularity: 0 }]);
  const stack = await startStack(store, { extraRoutes: (app) => registerConsole(app) });
  const metrics = (ndcg: number, precision: number) => ({
    ndcgAt10: ndcg, precisionAt10: precision, recallAt10: 0.2, mapAt10: 0.1, coverageAt10: 0.5, usersEvaluated: 943,
    popularityNdcgAt10: 0.3, popularityPrecisionAt10: 0.25, popularityUsersEvaluated: 943, readSeconds: 1.25,
  });
  const versions = {
    als: await publishServingModel(stack.objects, 'als', {
      metrics: metrics(0.45, 0.38),
      // As the trainer's self-tuning stores it (trainer/src/tuning.ts): two trials, the second chosen.
      tuning: {
        metric: 'ndcgAt10', startedFrom: 'configured', stoppedBy: 'budget', budgetSeconds: 12, validationFraction: 0.2,
        space: { regularization: { min: 1, max: 100, integer: false, scale: 'log' } },
        trials: [{ params: { regularization: 20 }, score: 0.41, seconds: 2, kept: false }, { params: { regularization: 40 }, score: 0.43, seconds: 2, kept: true }],
        chosen: 1,
      },
    }),
    lightfm: await publishServingModel(stack.objects, 'lightfm', { metrics: metrics(0.21, 0.2) }),
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
    expect(total).toBeLessThan(64 * 1024);
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
  const idle = () =>
    page.waitForSelector('body[data-ready="true"][data-pending="0"]', { state: 'attached' }).catch((error: unknown) => {
      throw new Error(`the console never became idle (page errors: ${pageErrors.join('; ') || 'none'}): ${String(error)}`);
    });
  const text = async (id: string) => ((await byTestId(id).textContent()) ?? '').trim();
  const itemIds = (model: string) =>
    page.locator(`[data-testid="items-${model}"] [data-testid="rec-item"]`).evaluateAll((items) => items.map((i) => i.getAttribute('data-movie-id')));

  /**
   * Experiment traffic as an app sends it (no ?model=): lists for new users with one watched movie each (so that the
   * models fold them in: a user no model can score gets a popularity list, arm "fallback", which the report does not
   * count), a like or a dislike on each.
   */
  async function experimentTraffic(): Promise<Record<string, { feedback: number; likes: number }>> {
    const counts: Record<string, { feedback: number; likes: number }> = { als: { feedback: 0, likes: 0 }, lightfm: { feedback: 0, likes: 0 } };
    for (let i = 0; counts.als.feedback < 4 || counts.lightfm.feedback < 4; i++) {
      if (i > 200) throw new Error('the A/B split never assigned both arms');
      const watched = await fetch(`${stack.baseUrl}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH },
        body: JSON.stringify({ events: [{ event_id: `ab-${i}-w`, user_id: `ab-${i}`, movie_id: 'm1', type: 'watched', completed: true, progress: 1, occurred_at: new Date().toISOString() }] }),
      });
      expect(watched.status).toBe(200);
      const list = (await (await fetch(`${stack.baseUrl}/recommendations/ab-${i}?k=3`)).json()) as {
        session_id: string; model_type: string; arm: string; items: { movie_id: string }[];
      };
      expect(list.arm).toBe(list.model_type);
      const liked = list.model_type === 'als' ? i % 4 !== 0 : i % 3 === 0;
      const response = await fetch(`${stack.baseUrl}/feedback/${list.session_id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ movie_id: list.items[0].movie_id, liked }),
      });
      expect(response.status).toBe(200);
      counts[list.model_type].feedback++;
      if (liked) counts[list.model_type].likes++;
    }
    return counts;
  }

  it('walks the console: why each movie, the history beside the list, the report apart from forced sessions, model versions', { timeout: 180_000 }, async () => {
    await page.goto(`${stack.baseUrl}/`);
    await idle();
    expect(await page.title()).toMatch(/console/i);
    // The report starts empty, and says so instead of "difference 0, p = 1".
    expect(await text('report-likes-als')).toBe('0');
    expect(await text('forced-likes-lightfm')).toBe('0');
    expect(await byTestId('verdict').getAttribute('data-verdict')).toBe('not-enough-data');
    expect(await text('verdict')).toMatch(/not enough data/i);
    expect(await page.locator('[data-testid="p-value-number"]').count()).toBe(0);
    await expect.poll(() => byTestId('genre-list').locator('input[type=checkbox]').count()).toBeGreaterThan(10);
    expect(await byTestId('save-genres').isDisabled()).toBe(true);

    // Pick a suggested user: u5 has no favourite genres, no history, and is unknown to both models.
    await byTestId('suggest-u5').click();
    await idle();
    expect(await byTestId('user-input').inputValue()).toBe('u5');
    expect(await text('genres-note')).toMatch(/no favourite genres/i);
    expect(await text('history-meta')).toMatch(/nothing watched/i);

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

    // Both columns: the six movies, the active versions, a rank, a comparable score and a reason for each movie.
    for (const model of ['als', 'lightfm'] as const) {
      expect(await byTestId(`column-${model}`).getAttribute('data-state')).toBe('ready');
      expect(await text(`version-${model}`)).toBe(versions[model]);
      expect(await text(`source-${model}`)).not.toBe('');
      const ids = await itemIds(model);
      expect(ids.length).toBeGreaterThan(0);
      expect(new Set(ids).size).toBe(ids.length);
      const items = byTestId(`items-${model}`).getByTestId('rec-item');
      const first = items.first();
      expect(await first.getByTestId('title').textContent()).toMatch(/^(Laugh|Scream) /);
      expect(await first.getByTestId('genres').textContent()).toMatch(/Comedy|Horror/);
      expect(await first.getByTestId('rank').textContent()).toBe('1');
      expect(await first.getByTestId('score').textContent()).toBe('100%');
      for (const why of await items.getByTestId('why-text').allTextContents()) expect(why.trim()).not.toBe('');
      expect(await items.getByTestId('why-text').count()).toBe(ids.length);
    }
    // ALS: u5 has no history, so the list is the top of the favourite genres; the LightFM-style model folds the
    // genres in and credits the movie's genre features.
    expect(await byTestId('items-als').getByTestId('why-text').first().textContent()).toMatch(/most popular movies in your favourite genres \(Comedy and Horror\)/);
    const lightfmWhy = byTestId('items-lightfm').getByTestId('why').first();
    await lightfmWhy.getByTestId('why-text').click();
    expect(await lightfmWhy.getByTestId('contributions').locator('li[data-kind="genre"]').count()).toBeGreaterThan(0);
    // The film with an IMDb id links to it.
    const laughOne = byTestId('items-als').locator('[data-movie-id="m1"]');
    expect(await laughOne.getByTestId('imdb-link').getAttribute('href')).toBe('https://www.imdb.com/title/tt0114709/');

    // A like on each column: forced sessions (the console forces each column's model) are reported apart. u5's ALS
    // list is a popularity list (genres_top: ALS cannot score u5), arm "fallback": no model's impression, so the
    // report counts its like nowhere (LightFM first: its count proves the report was refreshed after each like).
    for (const model of ['lightfm', 'als'] as const) {
      const first = byTestId(`items-${model}`).getByTestId('rec-item').first();
      await first.getByTestId('like').click();
      await idle();
      expect(await first.getAttribute('class')).toMatch(/liked/);
      expect(await first.getByTestId('like').getAttribute('aria-pressed')).toBe('true');
      if (model === 'lightfm') {
        await expect.poll(() => text(`forced-likes-${model}`)).toBe('1');
        expect(await text(`forced-feedback-${model}`)).toBe('1');
        expect(Number(await text(`forced-sessions-${model}`))).toBeGreaterThanOrEqual(1);
        expect(Number(await text(`forced-precision-${model}`))).toBeGreaterThan(0);
      } else {
        expect(await text(`source-${model}`)).toMatch(/genres_top|genres/i);
        expect(await text(`forced-likes-${model}`)).toBe('0');
        expect(await text(`forced-feedback-${model}`)).toBe('0');
      }
      expect(await text(`report-feedback-${model}`)).toBe('0');
    }
    expect(await byTestId('verdict').getAttribute('data-verdict')).toBe('not-enough-data');

    // A dislike: the column reloads without that movie.
    const before = await itemIds('lightfm');
    const disliked = before[1] ?? before[0];
    await byTestId('items-lightfm').locator(`[data-movie-id="${disliked}"]`).getByTestId('dislike').click();
    await idle();
    await expect.poll(() => itemIds('lightfm')).not.toContain(disliked);
    await expect.poll(() => text('forced-feedback-lightfm')).toBe('2');
    expect(await text('forced-likes-lightfm')).toBe('1');

    // A user with a history: it is shown beside the list, and the ALS list is explained by it.
    await byTestId('suggest-u1').click();
    await idle();
    expect(await text('history-meta')).toMatch(/^1 movie watched/);
    expect(await byTestId('history-items').getByTestId('history-item').getAttribute('data-movie-id')).toBe('m1');
    expect(await byTestId('items-als').getByTestId('why-text').first().textContent()).toMatch(/Because of Laugh One \(2001\) in your history/);

    // Experiment traffic (no ?model=): the report shows each arm's counts, a Wilson interval, the test and the
    // minimum sample size, and the time series draws a point per arm.
    const counts = await experimentTraffic();
    await byTestId('refresh-report').click();
    await idle();
    for (const model of ['als', 'lightfm'] as const) {
      await expect.poll(() => text(`report-feedback-${model}`)).toBe(String(counts[model].feedback));
      expect(await text(`report-likes-${model}`)).toBe(String(counts[model].likes));
      expect(await text(`report-ci-${model}`)).toMatch(/^\(\d+\.\d%–\d+\.\d%\)$/);
      expect(Number(await text(`report-sessions-${model}`))).toBe(counts[model].feedback);
      expect(await byTestId('series-chart').locator(`g.series[data-model="${model}"] circle.point`).count()).toBeGreaterThanOrEqual(1);
    }
    expect(await text('p-value-number')).toMatch(/^p = \d\.\d{3}$/);
    expect(await byTestId('verdict').getAttribute('data-verdict')).toMatch(/^(significant|not-significant)$/);
    expect(await text('sample-size')).toMatch(/Minimum sample for this effect: \d+ feedback per arm/);
    expect(await byTestId('report-chart').locator('svg g.bar').count()).toBe(6);
    await byTestId('bucket').selectOption('day');
    await idle();
    expect(await byTestId('series-chart').locator('circle.point').count()).toBe(2);

    // Model versions: the deciding numbers against popularity, a flag where popularity wins, details on demand.
    const alsRow = byTestId('models-als').getByTestId('model-row');
    const lightfmRow = byTestId('models-lightfm').getByTestId('model-row');
    expect(await alsRow.getByTestId('ndcg').textContent()).toBe('0.450 / 0.300');
    expect(await alsRow.getByTestId('vs-popularity').textContent()).toBe('1.50× popularity');
    expect(await alsRow.getByTestId('popularity-flag').count()).toBe(0);
    // How the parameters were chosen: the self-tuning trace, every trial, the chosen one marked.
    await alsRow.getByTestId('details-toggle').click();
    const tuning = byTestId('models-als').getByTestId('tuning');
    expect(await tuning.textContent()).toMatch(/2 trials on a 20% validation split, ndcgAt10, started from configured, stopped by budget/);
    expect(await tuning.locator('tr.chosen').textContent()).toMatch(/40.*0\.4300.*chosen/);
    await alsRow.getByTestId('details-toggle').click();
    expect(await lightfmRow.getAttribute('data-beaten')).toBe('true');
    expect(await lightfmRow.getByTestId('popularity-flag').textContent()).toMatch(/popularity is better/);
    const details = byTestId('models-lightfm').getByTestId('model-details');
    expect(await details.isHidden()).toBe(true);
    await lightfmRow.getByTestId('details-toggle').click();
    expect(await details.isVisible()).toBe(true);
    expect(await details.textContent()).toMatch(/usersEvaluated943/);
    expect(await details.textContent()).not.toMatch(/943\.000/);
    expect(await details.textContent()).toMatch(/readSeconds1\.3 s/);
    const width = await byTestId('models-als').evaluate((el) => el.scrollWidth);
    const panel = await byTestId('models').evaluate((el) => el.clientWidth);
    expect(width).toBeLessThanOrEqual(panel);

    // Training needs an API key: without one the page says so (401), with the key typed in the run starts.
    await byTestId('start-training').click();
    await expect.poll(() => byTestId('training-state').getAttribute('data-state')).toBe('error');
    expect(await text('status-text')).toMatch(/401 UNAUTHENTICATED.*API key with the admin scope/);
    await byTestId('api-key').fill(TEST_API_KEY);
    await byTestId('api-key').dispatchEvent('change');
    // Training: whatever the trainer answers (a table, none yet, or an error) is shown.
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
