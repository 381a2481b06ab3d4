// The web console: plain ES module, no framework, no build step. Talks to the REST gateway that serves it.
const MODELS = [
  { type: 'als', label: 'ALS', color: '#2f6fb3' },
  { type: 'lightfm', label: 'LightFM', color: '#d9822b' },
];
const MAX_GENRES = 3;
const REPORT_K = 3;
const RECS_K = 10;
const SUGGESTED_USERS = ['u1', 'u2', 'u3', 'u4', 'u5'];
const USER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const POLL_MS = 1000;
const REQUEST_TIMEOUT_MS = 15000;

const $ = (id) => document.getElementById(id);
const q = (selector) => document.querySelector(selector);

// ---------------------------------------------------------------------------------------------------------------
// DOM helpers (textContent only: nothing from the API is ever parsed as HTML)

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.setAttribute('class', value);
    else if (key === 'testid') el.dataset.testid = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

/** replaceChildren that, like h(), skips null, undefined and false. */
function replaceWith(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const fmt = (x, digits = 3) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');
const pct = (x) => (typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–');
const modelLabel = (type) => MODELS.find((m) => m.type === type)?.label ?? type;

// ---------------------------------------------------------------------------------------------------------------
// API and the status area

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Requests in flight, mirrored on <body data-pending> so that tests (and styles) can tell when the page is idle. */
let pending = 0;
function setPending(delta) {
  pending += delta;
  document.body.dataset.pending = String(pending);
}

async function api(method, path, body) {
  setPending(1);
  try {
    return await request(method, path, body);
  } finally {
    setPending(-1);
  }
}

/**
 * The API key typed into the page (training, activation and other state-changing routes need one with scope admin;
 * README "Security"). Kept in sessionStorage: for this tab only, never in a URL or a cookie.
 */
const API_KEY_STORAGE = 'recsys.apiKey';
function apiKey() {
  const field = $('api-key');
  return field ? field.value.trim() : '';
}

async function request(method, path, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(apiKey() ? { authorization: `Bearer ${apiKey()}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
    });
  } catch (err) {
    const reason = err && err.name === 'AbortError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : 'the gateway cannot be reached';
    throw new ApiError(0, 'NETWORK', `${method} ${path}: ${reason}`);
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const code = data?.error?.code ?? `HTTP_${response.status}`;
    const message = data?.error?.message ?? (text.slice(0, 200) || response.statusText);
    const hint = response.status === 401 || response.status === 403 ? ' (type an API key with the admin scope into the Training panel: the demo prints its key)' : '';
    throw new ApiError(response.status, code, `${method} ${path.split('?')[0]} → ${response.status} ${code}: ${message}${hint}`);
  }
  return data;
}

let statusTimer;
function showStatus(message, kind = 'info') {
  const el = $('status');
  clearTimeout(statusTimer);
  el.replaceChildren(
    h('span', { class: 'status-text', testid: 'status-text' }, message),
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss message', onclick: () => (el.hidden = true) }, '×'),
  );
  el.className = `status ${kind}`;
  el.dataset.kind = kind;
  el.hidden = false;
  // Errors stay until dismissed or replaced; confirmations fade.
  if (kind !== 'error') statusTimer = setTimeout(() => (el.hidden = true), 4000);
}

function showError(err) {
  showStatus(err instanceof Error ? err.message : String(err), 'error');
}

// ---------------------------------------------------------------------------------------------------------------
// State

const state = {
  user: '',
  /** Incremented on each user change: answers for an earlier user are dropped. */
  generation: 0,
  genres: [],
  sessions: { als: null, lightfm: null },
  /** movie ids the user liked in this page, per model column */
  liked: { als: new Set(), lightfm: new Set() },
  run: null,
  pollTimer: null,
  /** Bucket of the like-rate time series: 'hour' or 'day'. */
  bucket: 'hour',
};

// ---------------------------------------------------------------------------------------------------------------
// User

function renderSuggestions() {
  const box = $('suggestions');
  box.replaceChildren(
    h('span', { class: 'muted' }, 'Try:'),
    ...SUGGESTED_USERS.map((id) =>
      h('button', { type: 'button', class: 'chip', testid: `suggest-${id}`, onclick: () => selectUser(id) }, id),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'chip',
        testid: 'suggest-new',
        title: 'A user nobody has seen: recommendations come from favourite genres',
        onclick: () => selectUser(`guest-${Math.random().toString(36).slice(2, 8)}`),
      },
      'new user',
    ),
  );
}

async function selectUser(userId) {
  const input = $('user-id');
  input.value = userId;
  if (!USER_PATTERN.test(userId)) {
    showStatus('A user id is 1 to 64 letters, digits, "_" or "-".', 'error');
    input.focus();
    return;
  }
  state.user = userId;
  state.generation += 1;
  state.liked = { als: new Set(), lightfm: new Set() };
  history.replaceState(null, '', `#user=${encodeURIComponent(userId)}`);
  for (const button of document.querySelectorAll('.suggestions .chip')) {
    button.setAttribute('aria-pressed', String(button.textContent === userId));
  }
  $('reload-recs').disabled = false;
  updateGenreControls();
  await Promise.all([loadUserGenres(), loadHistory(), ...MODELS.map((m) => loadColumn(m.type))]);
}

// ---------------------------------------------------------------------------------------------------------------
// Genres

async function loadGenres() {
  const list = $('genre-list');
  try {
    const { genres } = await api('GET', '/genres');
    list.replaceChildren(
      ...genres.map((genre) => {
        const id = `genre-${genre.replace(/[^A-Za-z0-9]/g, '_')}`;
        return h(
          'label',
          { class: 'genre', for: id },
          h('input', { type: 'checkbox', id, name: 'genre', value: genre, testid: `genre-${genre}`, onchange: updateGenreControls }),
          genre,
        );
      }),
    );
    state.genres = genres;
    checkGenres(state.userGenres ?? []);
  } catch (err) {
    list.replaceChildren(h('span', { class: 'error-text' }, 'Genres could not be loaded.'));
    showError(err);
  }
}

function genreBoxes() {
  return [...document.querySelectorAll('#genre-list input[type=checkbox]')];
}

function checkGenres(genres) {
  const chosen = new Set(genres);
  for (const box of genreBoxes()) box.checked = chosen.has(box.value);
  updateGenreControls();
}

/** At most 3 boxes can be ticked: once 3 are, the others are disabled. */
function updateGenreControls() {
  const boxes = genreBoxes();
  const checked = boxes.filter((b) => b.checked).length;
  for (const box of boxes) {
    box.disabled = !box.checked && checked >= MAX_GENRES;
    box.closest('label')?.classList.toggle('disabled', box.disabled);
  }
  $('genre-count').textContent = `${checked} / ${MAX_GENRES}`;
  $('save-genres').disabled = !state.user || checked === 0;
  $('genres-note').textContent = state.user ? '' : 'Choose a user first.';
}

async function loadUserGenres() {
  const generation = state.generation;
  const note = $('genres-note');
  try {
    const top = await api('GET', `/genres_top?user_id=${encodeURIComponent(state.user)}&limit=1`);
    if (generation !== state.generation) return;
    state.userGenres = top.genres;
    checkGenres(top.genres);
    note.textContent = top.genres.length ? `Saved: ${top.genres.join(', ')}` : 'No favourite genres saved yet.';
  } catch (err) {
    if (generation !== state.generation) return;
    state.userGenres = [];
    checkGenres([]);
    if (err instanceof ApiError && err.status === 404) note.textContent = 'New user: saving genres creates it.';
    else showError(err);
  }
}

async function saveGenres(event) {
  event.preventDefault();
  const genres = genreBoxes().filter((b) => b.checked).map((b) => b.value);
  if (!state.user || genres.length === 0) return;
  if (genres.length > MAX_GENRES) {
    showStatus(`Choose at most ${MAX_GENRES} genres.`, 'error');
    return;
  }
  const button = $('save-genres');
  button.disabled = true;
  try {
    const res = await api('POST', '/genres', { user_id: state.user, genres });
    state.userGenres = res.genres;
    $('genres-note').textContent = `Saved: ${res.genres.join(', ')}`;
    showStatus(`${res.created ? 'Created user' : 'Updated'} ${res.user_id}: ${res.genres.join(', ')}`, 'ok');
    await Promise.all(MODELS.map((m) => loadColumn(m.type)));
  } catch (err) {
    showError(err);
  } finally {
    updateGenreControls();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Recommendations

const SOURCE_TEXT = {
  cache: 'cache',
  model: 'model',
  fold_in: 'fold-in (user new to the model)',
  genres_top: 'top of favourite genres',
  global_top: 'global top',
};

async function loadColumn(modelType) {
  const generation = state.generation;
  const column = q(`[data-testid="column-${modelType}"]`);
  const list = q(`[data-testid="items-${modelType}"]`);
  const meta = q(`[data-testid="meta-${modelType}"]`);
  column.setAttribute('aria-busy', 'true');
  column.dataset.state = 'loading';
  try {
    const res = await api('GET', `/recommendations/${encodeURIComponent(state.user)}?model=${modelType}&k=${RECS_K}`);
    if (generation !== state.generation) return;
    state.sessions[modelType] = res.session_id;
    meta.replaceChildren(
      h('span', { class: 'tag', testid: `version-${modelType}`, title: 'Model version' }, res.model_version),
      ' ',
      h('span', { class: `tag source-${res.source}`, testid: `source-${modelType}`, title: 'Where the list came from' }, SOURCE_TEXT[res.source] ?? res.source),
      ' ',
      h('span', { class: 'muted' }, `${res.items.length} for ${res.user_id}`),
    );
    list.replaceChildren(
      ...(res.items.length
        ? res.items.map((item) => renderItem(modelType, res.session_id, item, res.items[0]?.score))
        : [h('li', { class: 'empty muted' }, 'Nothing to recommend.')]),
    );
    column.dataset.state = 'ready';
  } catch (err) {
    if (generation !== state.generation) return;
    column.dataset.state = 'error';
    meta.replaceChildren(h('span', { class: 'error-text' }, 'Could not load recommendations.'));
    list.replaceChildren();
    showError(err);
  } finally {
    column.removeAttribute('aria-busy');
  }
}

/** A score people can compare across models: the share of the list's top score (raw scores differ by model). */
function relativeScore(score, top) {
  return typeof top === 'number' && top > 0 && Number.isFinite(score) ? Math.max(0, score / top) : null;
}

function renderWhy(explanation) {
  if (!explanation || !explanation.text) return null;
  const parts = explanation.contributions ?? [];
  if (!parts.length) return h('div', { class: 'why', testid: 'why' }, h('span', { testid: 'why-text' }, explanation.text));
  const total = parts.reduce((sum, c) => sum + Math.abs(c.value), 0) || 1;
  return h(
    'details',
    { class: 'why', testid: 'why' },
    h('summary', { testid: 'why-text' }, explanation.text),
    h('ul', { class: 'contributions', testid: 'contributions' }, ...parts.map((c) =>
      h('li', { 'data-kind': c.kind },
        h('span', { class: 'bar', style: `width:${Math.round((Math.abs(c.value) / total) * 100)}%`, 'aria-hidden': 'true' }),
        h('span', { class: 'label' }, c.label),
        h('span', { class: 'num muted' }, `${c.value >= 0 ? '+' : '−'}${fmt(Math.abs(c.value))}`)))),
  );
}

function renderTitle(item) {
  const year = item.year ? h('span', { class: 'muted' }, ` (${item.year})`) : null;
  const link = item.imdb_url
    ? h('a', { href: item.imdb_url, target: '_blank', rel: 'noopener noreferrer', class: 'ext', testid: 'imdb-link', title: `${item.title} on IMDb` }, 'IMDb')
    : null;
  return h('div', { class: 'title', testid: 'title' }, item.title, year, link ? ' ' : null, link);
}

function renderItem(modelType, sessionId, item, topScore) {
  const liked = state.liked[modelType].has(item.movie_id);
  const likeButton = h(
    'button',
    { type: 'button', class: 'vote like', testid: 'like', 'aria-pressed': String(liked), 'aria-label': `Like ${item.title}`, title: 'Like' },
    'Like',
  );
  const dislikeButton = h(
    'button',
    { type: 'button', class: 'vote dislike', testid: 'dislike', 'aria-label': `Dislike ${item.title}`, title: 'Dislike' },
    'Dislike',
  );
  const relative = relativeScore(item.score, topScore);
  const li = h(
    'li',
    { class: liked ? 'item liked' : 'item', testid: 'rec-item', 'data-movie-id': item.movie_id },
    h('span', { class: 'rank', testid: 'rank', title: 'Rank in the list' }, item.rank),
    h(
      'div',
      { class: 'info' },
      renderTitle(item),
      h('div', { class: 'sub' }, h('span', { testid: 'genres' }, item.genres.join(' · ') || 'no genre'), item.rating ? h('span', { class: 'muted' }, ` · ★ ${fmt(item.rating, 1)}`) : null),
      renderWhy(item.explanation),
    ),
    h('span', { class: 'score', testid: 'score', title: `Share of the top score of this list (raw score ${fmt(item.score)}; raw scores are not comparable across models)` },
      relative === null ? '–' : `${Math.round(relative * 100)}%`),
    h('span', { class: 'votes' }, likeButton, dislikeButton),
  );
  const vote = async (liked) => {
    likeButton.disabled = dislikeButton.disabled = true;
    try {
      await api('POST', `/feedback/${encodeURIComponent(sessionId)}`, { movie_id: item.movie_id, liked });
      if (liked) {
        state.liked[modelType].add(item.movie_id);
        li.classList.add('liked');
        likeButton.setAttribute('aria-pressed', 'true');
        showStatus(`Liked “${item.title}” (${modelLabel(modelType)})`, 'ok');
      } else {
        showStatus(`Disliked “${item.title}”: it will not be recommended again`, 'ok');
        await loadColumn(modelType);
      }
      void loadReport();
    } catch (err) {
      showError(err);
    } finally {
      likeButton.disabled = dislikeButton.disabled = false;
    }
  };
  likeButton.addEventListener('click', () => vote(true));
  dislikeButton.addEventListener('click', () => vote(false));
  return li;
}

// ---------------------------------------------------------------------------------------------------------------
// The user's history (what the lists are explained by)

const HISTORY_LIMIT = 10;

async function loadHistory() {
  const generation = state.generation;
  const list = $('history-items');
  const meta = $('history-meta');
  try {
    const res = await api('GET', `/users/${encodeURIComponent(state.user)}/history?limit=${HISTORY_LIMIT}`);
    if (generation !== state.generation) return;
    meta.textContent = res.total
      ? `${res.total} movie${res.total === 1 ? '' : 's'} watched, liked or bookmarked${res.total > res.items.length ? `; the ${res.items.length} strongest` : ''}`
      : 'Nothing watched, liked or bookmarked yet.';
    list.replaceChildren(...res.items.map((item) =>
      h('li', { class: 'item history-item', testid: 'history-item', 'data-movie-id': item.movie_id },
        h('div', { class: 'info' }, renderTitle(item), h('div', { class: 'sub' }, item.genres.join(' · ') || 'no genre')),
        h('span', { class: 'score', title: 'Interaction weight (watched 1.0, partly 0.5, a like rating/10, a bookmark 0.3)' }, fmt(item.weight, 1)))));
  } catch (err) {
    if (generation !== state.generation) return;
    list.replaceChildren();
    if (err instanceof ApiError && err.status === 404) meta.textContent = 'New user: no history yet.';
    else {
      meta.replaceChildren(h('span', { class: 'error-text' }, 'The history could not be loaded.'));
      showError(err);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Experiment report

const CHART_METRICS = [
  { key: 'precision_at_k', label: 'Precision@K' },
  { key: 'recall_at_k', label: 'Recall@K' },
  { key: 'like_rate', label: 'Like rate' },
];

function renderArmRow(a, prefix) {
  const ci = a.feedback_count ? ` (${pct(a.like_rate_ci95.low)}–${pct(a.like_rate_ci95.high)})` : '';
  return h(
    'tr',
    { testid: `${prefix}row-${a.model_type}` },
    h('th', { scope: 'row' }, h('span', { class: `swatch ${a.model_type}`, 'aria-hidden': 'true' }), modelLabel(a.model_type)),
    h('td', { class: 'num', testid: `${prefix}precision-${a.model_type}` }, fmt(a.precision_at_k)),
    h('td', { class: 'num', testid: `${prefix}recall-${a.model_type}` }, fmt(a.recall_at_k)),
    h('td', { class: 'num', testid: `${prefix}like-rate-${a.model_type}`, title: '95% Wilson interval in brackets' },
      a.feedback_count ? pct(a.like_rate) : '–', h('span', { class: 'muted ci', testid: `${prefix}ci-${a.model_type}` }, ci)),
    h('td', { class: 'num', testid: `${prefix}sessions-${a.model_type}`, title: `${a.sessions_with_feedback} with feedback` }, a.sessions),
    h('td', { class: 'num', testid: `${prefix}feedback-${a.model_type}` }, a.feedback_count),
    h('td', { class: 'num', testid: `${prefix}likes-${a.model_type}` }, a.likes),
  );
}

async function loadReport() {
  const rows = $('report-rows');
  try {
    const report = await api('GET', `/experiments/report?k=${REPORT_K}&bucket=${state.bucket}`);
    $('report-k').textContent = `(K = ${report.k})`;
    const arms = MODELS.map((m) => report.arms.find((a) => a.model_type === m.type) ?? emptyArm(m.type));
    const forced = MODELS.map((m) => report.forced.find((a) => a.model_type === m.type) ?? emptyArm(m.type));
    rows.replaceChildren(...arms.map((a) => renderArmRow(a, 'report-')));
    $('forced-rows').replaceChildren(...forced.map((a) => renderArmRow(a, 'forced-')));
    const c = report.comparison;
    if (!c.enough_data) {
      $('p-value').replaceChildren(h('strong', { testid: 'verdict', 'data-verdict': 'not-enough-data' }, c.note || 'Not enough data yet.'));
    } else {
      const significant = c.p_value < 0.05;
      $('p-value').replaceChildren(
        'Like rate ALS − LightFM: ',
        h('strong', {}, `${c.difference >= 0 ? '+' : ''}${pct(c.difference)}`),
        ` (95% CI ${pct(c.ci95_low)} to ${pct(c.ci95_high)}), z = ${fmt(c.z, 2)}, `,
        h('strong', { testid: 'p-value-number' }, `p = ${fmt(c.p_value)}`),
        ' — ',
        h('span', { class: significant ? 'sig' : 'muted', testid: 'verdict', 'data-verdict': significant ? 'significant' : 'not-significant' }, c.note),
        c.required_feedback_per_arm
          ? h('span', { class: 'muted', testid: 'sample-size' }, ` Minimum sample for this effect: ${c.required_feedback_per_arm} feedback per arm (alpha 0.05, power 0.8).`)
          : null,
      );
    }
    renderChart(arms);
    renderSeries(report);
  } catch (err) {
    rows.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'error-text' }, 'The report could not be loaded.')));
    showError(err);
  }
}

/** The experiment's like rate per arm over time: one line per model, a dot per bucket with feedback. */
function renderSeries(report) {
  const width = 420;
  const height = 200;
  const pad = { top: 14, right: 12, bottom: 40, left: 40 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const times = [...new Set(report.series.flatMap((s) => s.points.map((p) => p.start)))].sort();
  const x = (start) => pad.left + (times.length <= 1 ? innerW / 2 : (times.indexOf(start) / (times.length - 1)) * innerW);
  const y = (v) => pad.top + innerH - v * innerH;
  const label = (start) => (report.bucket === 'hour' ? `${start.slice(5, 10)} ${start.slice(11, 16)}` : start.slice(0, 10));
  const grid = [0, 0.5, 1].flatMap((v) => [
    s('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: v ? 'grid' : 'axis' }),
    s('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, `${v * 100}%`),
  ]);
  const ticks = times.length ? [times[0], times[times.length - 1]].filter((t, i, all) => all.indexOf(t) === i).map((t) =>
    s('text', { x: x(t), y: height - pad.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, label(t))) : [];
  const lines = report.series.map((series) => {
    const color = MODELS.find((m) => m.type === series.model_type)?.color ?? '#888';
    const points = series.points.map((p) => `${x(p.start)},${y(p.like_rate)}`).join(' ');
    return s('g', { class: 'series', 'data-model': series.model_type },
      series.points.length > 1 ? s('polyline', { points, fill: 'none', stroke: color, 'stroke-width': 2 }) : null,
      ...series.points.map((p) => s('circle', { class: 'point', cx: x(p.start), cy: y(p.like_rate), r: 4, fill: color },
        s('title', {}, `${modelLabel(series.model_type)} ${label(p.start)}: ${pct(p.like_rate)} of ${p.feedback_count} feedback`))));
  });
  const empty = times.length === 0
    ? s('text', { x: pad.left + innerW / 2, y: pad.top + innerH / 2, 'text-anchor': 'middle', class: 'empty-note' }, 'No experiment feedback yet')
    : null;
  const legend = MODELS.map((m, i) =>
    s('g', { transform: `translate(${pad.left + i * 110}, ${height - 6})` },
      s('rect', { width: 12, height: 12, y: -10, fill: m.color, rx: 2 }),
      s('text', { x: 18, class: 'label' }, m.label)));
  $('series-chart').replaceChildren(
    s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart-svg', 'aria-label': `Like rate per ${report.bucket} and model` },
      ...grid, ...ticks, ...lines, ...legend, empty),
  );
}

function emptyArm(modelType) {
  return {
    model_type: modelType, sessions: 0, sessions_with_feedback: 0, feedback_count: 0, likes: 0, like_rate: 0,
    like_rate_ci95: { low: 0, high: 1 }, precision_at_k: 0, recall_at_k: 0,
  };
}

/** Grouped bars, one group per metric, one bar per model; the scale adapts to the largest value. */
function renderChart(arms) {
  const width = 420;
  const height = 220;
  const pad = { top: 16, right: 8, bottom: 48, left: 40 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const values = arms.flatMap((a) => CHART_METRICS.map((m) => a[m.key] || 0));
  const max = Math.min(1, Math.max(0.1, Math.ceil(Math.max(...values) * 10) / 10));
  const y = (v) => pad.top + innerH - (Math.min(v, max) / max) * innerH;
  const groupW = innerW / CHART_METRICS.length;
  const barW = Math.min(36, (groupW - 16) / arms.length);

  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    grid.push(
      s('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: i ? 'grid' : 'axis' }),
      s('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, pct(v).replace('.0%', '%')),
    );
  }
  const bars = CHART_METRICS.flatMap((metric, g) => {
    const x0 = pad.left + g * groupW + (groupW - barW * arms.length) / 2;
    return [
      ...arms.map((a, i) => {
        const v = a[metric.key] || 0;
        const x = x0 + i * barW;
        return s(
          'g',
          { class: 'bar', 'data-model': a.model_type, 'data-metric': metric.key },
          s('rect', { x: x + 2, y: y(v), width: barW - 4, height: Math.max(0, pad.top + innerH - y(v)), fill: MODELS[i].color, rx: 2 },
            s('title', {}, `${modelLabel(a.model_type)} ${metric.label}: ${fmt(v)}`)),
          s('text', { x: x + barW / 2, y: y(v) - 4, 'text-anchor': 'middle', class: 'value' }, fmt(v, 2)),
        );
      }),
      s('text', { x: pad.left + g * groupW + groupW / 2, y: height - pad.bottom + 18, 'text-anchor': 'middle', class: 'label' }, metric.label),
    ];
  });
  const legend = MODELS.map((m, i) =>
    s('g', { transform: `translate(${pad.left + i * 110}, ${height - 6})` },
      s('rect', { width: 12, height: 12, y: -10, fill: m.color, rx: 2 }),
      s('text', { x: 18, class: 'label' }, m.label)),
  );
  const summary = arms
    .map((a) => `${modelLabel(a.model_type)}: precision ${fmt(a.precision_at_k)}, recall ${fmt(a.recall_at_k)}, like rate ${pct(a.like_rate)}`)
    .join('; ');
  const empty = values.every((v) => v === 0)
    ? s('text', { x: pad.left + innerW / 2, y: pad.top + innerH / 2, 'text-anchor': 'middle', class: 'empty-note' }, 'No feedback yet')
    : null;
  const svg = s(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Report chart. ${summary}`, class: 'chart-svg' },
    ...grid,
    ...bars,
    ...legend,
    empty,
  );
  $('report-chart').replaceChildren(svg);
}

// ---------------------------------------------------------------------------------------------------------------
// Model versions

async function loadModels() {
  const box = $('models');
  try {
    const { models } = await api('GET', '/models');
    if (!models.length) {
      box.replaceChildren(h('p', { class: 'muted' }, 'No model trained yet: start a training run.'));
      return;
    }
    box.replaceChildren(...MODELS.map((m) => renderModelTable(m, models.filter((v) => v.model_type === m.type))));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error-text' }, 'Model versions could not be loaded.'));
    showError(err);
  }
}

/** The few numbers that decide, found by name whatever the cut-off (ndcgAt10, popularityNdcgAt10, ...). */
function decidingMetrics(metrics) {
  const find = (pattern) => {
    const key = Object.keys(metrics).find((k) => pattern.test(k));
    return key === undefined ? null : { key, k: Number(pattern.exec(key)[1]), value: metrics[key] };
  };
  return {
    ndcg: find(/^ndcgAt(\d+)$/),
    precision: find(/^precisionAt(\d+)$/),
    popularityNdcg: find(/^popularityNdcgAt(\d+)$/),
    popularityPrecision: find(/^popularityPrecisionAt(\d+)$/),
  };
}

/** Counts as integers, times with their unit, rates with 3 decimals. */
function fmtValue(key, value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  if (/Seconds$/.test(key)) return `${value.toFixed(1)} s`;
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return fmt(value);
}

function renderModelTable(model, versions) {
  const sorted = [...versions].sort((a, b) => String(b.version).localeCompare(String(a.version)));
  const k = sorted.map((v) => decidingMetrics(v.metrics).ndcg?.k).find((x) => x) ?? 10;
  const rows = sorted.flatMap((v) => {
    const m = decidingMetrics(v.metrics);
    const beaten = m.ndcg && m.popularityNdcg && m.popularityNdcg.value > m.ndcg.value;
    const ratio = m.ndcg && m.popularityNdcg && m.popularityNdcg.value > 0 ? m.ndcg.value / m.popularityNdcg.value : null;
    const detailsId = `details-${model.type}-${v.version}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const details = h('tr', { class: 'details', id: detailsId, testid: 'model-details', hidden: true },
      h('td', { colspan: 5 }, renderDetails(v)));
    const toggle = h('button', { type: 'button', class: 'secondary small', testid: 'details-toggle', 'aria-expanded': 'false', 'aria-controls': detailsId,
      onclick: () => {
        details.hidden = !details.hidden;
        toggle.setAttribute('aria-expanded', String(!details.hidden));
        toggle.textContent = details.hidden ? 'Details' : 'Hide';
      } }, 'Details');
    return [
      h('tr', { class: v.active ? 'active' : '', testid: 'model-row', 'data-active': String(v.active), 'data-version': v.version, 'data-beaten': String(Boolean(beaten)) },
        h('td', {}, h('code', { title: v.created_at ?? '' }, v.version), v.active ? h('span', { class: 'badge', testid: 'active-badge' }, 'active') : null),
        h('td', { class: 'num', testid: 'ndcg' }, fmt(m.ndcg?.value), m.popularityNdcg ? h('span', { class: 'muted' }, ` / ${fmt(m.popularityNdcg.value)}`) : null),
        h('td', { class: 'num', testid: 'precision' }, fmt(m.precision?.value), m.popularityPrecision ? h('span', { class: 'muted' }, ` / ${fmt(m.popularityPrecision.value)}`) : null),
        h('td', { testid: 'vs-popularity' },
          beaten
            ? h('span', { class: 'flag', testid: 'popularity-flag', title: 'The popularity baseline ranks the held-out movies better than this model' }, '⚠ popularity is better')
            : ratio !== null ? h('span', { class: 'muted' }, `${ratio.toFixed(2)}× popularity`) : h('span', { class: 'muted' }, 'no baseline')),
        h('td', { class: 'row-actions' }, toggle, v.active ? null : h('button', { type: 'button', class: 'secondary small', onclick: () => activate(model.type, v.version) }, 'Activate')),
      ),
      details,
    ];
  });
  return h(
    'div',
    { class: 'table-wrap', testid: `models-${model.type}` },
    h(
      'table',
      { class: 'models' },
      h('caption', {}, `${model.label} (${versions.length} version${versions.length === 1 ? '' : 's'})`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Version'),
        h('th', { scope: 'col', class: 'num', title: 'Offline nDCG on the holdout / the popularity baseline' }, `nDCG@${k} / pop.`),
        h('th', { scope: 'col', class: 'num', title: 'Offline precision on the holdout / the popularity baseline' }, `P@${k} / pop.`),
        h('th', { scope: 'col' }, 'Against popularity'),
        h('th', { scope: 'col' }, ''),
      )),
      h('tbody', {}, ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'None yet.'))])),
    ),
  );
}

function renderDetails(v) {
  const section = (title, record) => {
    const keys = Object.keys(record ?? {}).sort();
    return keys.length
      ? h('div', { class: 'kv' }, h('h4', {}, title), h('dl', {}, ...keys.flatMap((key) => [h('dt', {}, key), h('dd', { class: 'num' }, fmtValue(key, record[key]))])))
      : null;
  };
  return h('div', { class: 'details-body' }, section('Metrics', v.metrics), section('Parameters', v.params), section('Data', v.data_stats),
    renderTuning(v.tuning),
    v.created_at ? h('p', { class: 'muted' }, `Created ${v.created_at}`) : null);
}

/** How the version's parameters were chosen (the trainer's self-tuning trace): every trial, the chosen one marked. */
function renderTuning(t) {
  if (!t || !Array.isArray(t.trials) || t.trials.length === 0) return null;
  const names = Object.keys(t.space ?? {}).sort();
  const shown = names.length ? names : Object.keys(t.trials[0].params ?? {}).sort();
  return h('div', { class: 'kv tuning', testid: 'tuning' },
    h('h4', {}, 'Tuning'),
    h('p', { class: 'muted' },
      `${t.trials.length} trial${t.trials.length === 1 ? '' : 's'} on a ${Math.round(t.validation_fraction * 100)}% validation split, ` +
      `${t.metric}, started from ${t.started_from}, stopped by ${t.stopped_by} (budget ${fmtValue('seconds', t.budget_seconds)} s)`),
    h('table', { class: 'trials' },
      h('thead', {}, h('tr', {}, ...shown.map((n) => h('th', { scope: 'col', class: 'num' }, n)), h('th', { scope: 'col', class: 'num' }, t.metric), h('th', { scope: 'col' }, ''))),
      h('tbody', {}, ...t.trials.map((trial) =>
        h('tr', { class: trial.kept ? 'chosen' : '' },
          ...shown.map((n) => h('td', { class: 'num' }, fmtValue(n, trial.params?.[n]))),
          h('td', { class: 'num' }, trial.score < 0 ? 'failed' : trial.score.toFixed(4)),
          h('td', {}, trial.kept ? 'chosen' : ''))))));
}

async function activate(modelType, version) {
  try {
    await api('POST', `/models/${modelType}/activate`, { version });
    showStatus(`${modelLabel(modelType)} ${version} is now active`, 'ok');
    await loadModels();
    if (state.user) await loadColumn(modelType);
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Training

async function startTraining() {
  const button = $('start-training');
  button.disabled = true;
  try {
    const res = await api('POST', '/training/runs', {});
    state.run = res.run;
    renderRun(res.run, res.existing);
    showStatus(res.existing ? `A run is already under way: ${res.run.run_id}` : `Training run ${res.run.run_id} started`, 'ok');
    schedulePoll();
  } catch (err) {
    renderTrainingError(err);
    showError(err);
    button.disabled = false;
  }
}

function schedulePoll() {
  clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(pollRun, POLL_MS);
}

async function pollRun() {
  const run = state.run;
  if (!run) return;
  try {
    const next = await api('GET', `/training/runs/${encodeURIComponent(run.run_id)}`);
    state.run = next;
    renderRun(next, false);
    if (next.state === 'completed' || next.state === 'failed') {
      $('start-training').disabled = false;
      if (next.state === 'completed') {
        showStatus(`Training run ${next.run_id} completed`, 'ok');
        await loadModels();
        if (state.user) await Promise.all(MODELS.map((m) => loadColumn(m.type)));
      } else {
        showStatus(`Training run ${next.run_id} failed: ${next.error || 'no reason given'}`, 'error');
      }
      return;
    }
    schedulePoll();
  } catch (err) {
    renderTrainingError(err);
    showError(err);
    $('start-training').disabled = false;
  }
}

function renderRun(run, existing) {
  const done = run.state === 'completed' || run.state === 'failed';
  replaceWith($('training'),
    h('p', { testid: 'training-state', 'data-state': run.state },
      h('span', { class: `state state-${run.state}` }, run.state),
      ' ',
      h('code', {}, run.run_id),
      existing ? h('span', { class: 'muted' }, ' (already under way)') : null),
    h('div', { class: 'progress-row' },
      h('progress', { max: 1, value: run.progress, testid: 'training-progress', 'aria-label': 'Training progress' }),
      h('span', { class: 'num' }, pct(run.progress))),
    h('p', { class: 'muted', testid: 'training-stage' }, run.stage ? `Stage: ${run.stage}` : done ? '' : 'Waiting for a worker…'),
    run.error ? h('p', { class: 'error-text', testid: 'training-error' }, run.error) : null,
    run.outcomes?.length
      ? h('ul', { class: 'outcomes', testid: 'training-outcomes' }, ...run.outcomes.map((o) =>
          h('li', {}, `${modelLabel(o.model_type)} `, h('code', {}, o.version), o.promoted ? ' — promoted' : ' — not promoted', o.reason ? h('span', { class: 'muted' }, ` (${o.reason})`) : null)))
      : null,
  );
}

function renderTrainingError(err) {
  const unavailable = err instanceof ApiError && (err.status === 501 || err.status === 503);
  $('training').replaceChildren(
    h('p', { class: 'error-text', testid: 'training-state', 'data-state': 'error' },
      unavailable ? 'Training is not available right now. ' : 'Training could not be started or followed. ',
      h('span', { class: 'muted' }, err.message)),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up

function init() {
  document.body.dataset.pending = '0';
  renderSuggestions();
  $('user-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void selectUser($('user-id').value.trim());
  });
  $('genres-form').addEventListener('submit', saveGenres);
  $('reload-recs').addEventListener('click', () => {
    if (!state.user) return;
    void loadHistory();
    MODELS.forEach((m) => void loadColumn(m.type));
  });
  $('refresh-report').addEventListener('click', () => void loadReport());
  $('bucket').value = state.bucket;
  $('bucket').addEventListener('change', () => {
    state.bucket = $('bucket').value;
    void loadReport();
  });
  $('refresh-models').addEventListener('click', () => void loadModels());
  $('start-training').addEventListener('click', () => void startTraining());
  $('api-key').value = sessionStorage.getItem(API_KEY_STORAGE) ?? '';
  $('api-key').addEventListener('change', () => sessionStorage.setItem(API_KEY_STORAGE, apiKey()));
  updateGenreControls();

  void loadGenres();
  void loadReport();
  void loadModels();
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('user');
  if (fromHash) void selectUser(fromHash);
  document.body.dataset.ready = 'true';
}

init();
