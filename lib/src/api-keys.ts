import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { env } from './config.js';
import type { Logger } from './logger.js';

/**
 * API keys with scopes, shared by the gateway (REST) and the Trainer gRPC service.
 *
 * - `admin`: training runs, model activation, cache refresh, catalogue edits.
 * - `ingest`: writing interaction events.
 * - `client`: the client routes (recommendations, genres, feedback, reports) when REQUIRE_KEY_FOR_CLIENT_ROUTES is on.
 * - `metrics`: GET /metrics when REQUIRE_KEY_FOR_METRICS is on.
 * No scope implies another: a key that should do both admin work and ingest carries both.
 */
export const API_KEY_SCOPES = ['admin', 'ingest', 'client', 'metrics'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** One configured key. Only the SHA-256 of the secret is kept in memory. */
export interface ApiKey {
  readonly id: string;
  readonly scopes: ReadonlySet<ApiKeyScope>;
  readonly secretHash: Buffer;
}

/** The outcome of checking a presented secret against a scope. */
export type AuthResult =
  | { ok: true; keyId: string }
  | { ok: false; reason: 'missing' | 'unknown'; message: string }
  | { ok: false; reason: 'forbidden'; keyId: string; message: string };

/** Shortest accepted secret: 16 characters (the generated ones are 43: 32 random bytes, base64url). */
export const MIN_SECRET_LENGTH = 16;
const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SECRET = /^[\x21-\x7e]+$/; // printable ASCII, no spaces: safe in an HTTP header and in gRPC metadata

export class ApiKeysFormatError extends Error {
  constructor(source: string, problems: string[]) {
    super(`invalid API keys in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ApiKeysFormatError';
  }
}

interface RawKey {
  id: unknown;
  scopes: unknown;
  secret: unknown;
}

const hash = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/**
 * Parses keys from text, either JSON — `[{"id","scopes":[...],"secret"}]` or `{"keys":[...]}` — or one key per line,
 * `key-id:scope,scope:secret` (blank lines and lines starting with `#` ignored; `;` also separates keys, for
 * API_KEYS in one line). Throws ApiKeysFormatError listing every problem; never echoes a secret.
 */
export function parseApiKeys(text: string, source: string): ApiKey[] {
  const trimmed = text.trim();
  let raw: (RawKey | null)[];
  const problems: string[] = [];
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new ApiKeysFormatError(source, [`not valid JSON (${(err as Error).message})`]);
    }
    const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown }).keys;
    if (!Array.isArray(list)) throw new ApiKeysFormatError(source, ['JSON must be an array of keys or {"keys": [...]}']);
    raw = list.map((k, i) => {
      if (typeof k === 'object' && k !== null && !Array.isArray(k)) return k as RawKey;
      problems.push(`entry ${i + 1}: expected an object with id, scopes and secret`);
      return null;
    });
  } else {
    raw = trimmed
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .flatMap((line) => line.split(';'))
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line, i) => {
        const first = line.indexOf(':');
        const second = first < 0 ? -1 : line.indexOf(':', first + 1);
        if (second < 0) {
          problems.push(`entry ${i + 1}: expected key-id:scope,scope:secret`);
          return null;
        }
        return { id: line.slice(0, first), scopes: line.slice(first + 1, second).split(','), secret: line.slice(second + 1) };
      });
  }
  const keys: ApiKey[] = [];
  const ids = new Set<string>();
  const hashes = new Set<string>();
  raw.forEach((k, i) => {
    if (k === null) return; // already reported
    const where = `entry ${i + 1}${typeof k.id === 'string' ? ` (${k.id})` : ''}`;
    if (typeof k.id !== 'string' || !ID.test(k.id)) return void problems.push(`${where}: id must be 1 to 64 characters of [A-Za-z0-9_.-]`);
    if (ids.has(k.id)) return void problems.push(`${where}: duplicate id`);
    const scopes = Array.isArray(k.scopes) ? k.scopes.map((s) => (typeof s === 'string' ? s.trim() : s)) : [];
    const unknown = scopes.filter((s) => !API_KEY_SCOPES.includes(s as ApiKeyScope));
    if (scopes.length === 0 || unknown.length) {
      return void problems.push(`${where}: scopes must be one or more of ${API_KEY_SCOPES.join(', ')}${unknown.length ? `, got ${unknown.map(String).join(', ')}` : ''}`);
    }
    if (typeof k.secret !== 'string' || k.secret.length < MIN_SECRET_LENGTH || !SECRET.test(k.secret)) {
      return void problems.push(`${where}: secret must be at least ${MIN_SECRET_LENGTH} printable ASCII characters without spaces`);
    }
    const secretHash = hash(k.secret);
    if (hashes.has(secretHash.toString('hex'))) return void problems.push(`${where}: secret is shared with another key`);
    ids.add(k.id);
    hashes.add(secretHash.toString('hex'));
    keys.push({ id: k.id, scopes: new Set(scopes as ApiKeyScope[]), secretHash });
  });
  if (problems.length) throw new ApiKeysFormatError(source, problems);
  return keys;
}

/** The environment variables of API keys, shared by the gateway's and the trainer's config schemas. */
export const apiKeysEnvShape = {
  /** A file of keys (JSON or `key-id:scope,scope:secret` lines), re-read when it changes: rotate without restart. */
  API_KEYS_FILE: z.string().min(1).optional(),
  /** Keys inline, same line format (`;` or newlines between keys); for tests and single-container setups. */
  API_KEYS: z.string().min(1).optional(),
  /** How often API_KEYS_FILE is checked for changes (stat polling, which survives atomic replaces and symlink swaps). */
  API_KEYS_RELOAD_MS: env.positiveInt(2_000),
  /** When true the client routes (recommendations, genres, feedback, reports) need a key with scope `client`. */
  REQUIRE_KEY_FOR_CLIENT_ROUTES: env.boolean(false),
  /** When true GET /metrics needs a key with scope `metrics`. */
  REQUIRE_KEY_FOR_METRICS: env.boolean(false),
};

export interface ApiKeysEnv {
  API_KEYS_FILE?: string;
  API_KEYS?: string;
  API_KEYS_RELOAD_MS: number;
  REQUIRE_KEY_FOR_CLIENT_ROUTES: boolean;
  REQUIRE_KEY_FOR_METRICS: boolean;
}

/**
 * The configured keys: from API_KEYS_FILE (watched and re-read, so keys rotate without a restart) and/or API_KEYS.
 * With no key configured every protected call is refused (fail closed). A file that becomes invalid keeps the last
 * good keys and logs the problem. Secrets are compared as SHA-256 digests with timingSafeEqual, against every key.
 */
export class ApiKeyStore {
  private fileKeys: ApiKey[] = [];
  private readonly envKeys: ApiKey[];
  private readonly listeners = new Set<(error?: Error) => void>();
  private timer: NodeJS.Timeout | undefined;
  /** Identity of the file content last read: inode, size and modification time. */
  private loadedStamp = '';

  constructor(
    private readonly options: { file?: string; inline?: string; reloadMs?: number; log?: Logger } = {},
  ) {
    this.envKeys = options.inline ? parseApiKeys(options.inline, 'API_KEYS') : [];
    if (options.file) this.fileKeys = this.readFile();
  }

  static fromEnv(config: ApiKeysEnv, log?: Logger): ApiKeyStore {
    const store = new ApiKeyStore({ file: config.API_KEYS_FILE, inline: config.API_KEYS, reloadMs: config.API_KEYS_RELOAD_MS, log });
    store.watch();
    return store;
  }

  /** The number of configured keys (0: every protected call is refused). */
  get size(): number {
    return this.fileKeys.length + this.envKeys.length;
  }

  private readFile(): ApiKey[] {
    const file = this.options.file!;
    let text: string;
    try {
      this.loadedStamp = this.stamp();
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ApiKeysFormatError(`API_KEYS_FILE ${file}`, [`cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
    }
    return parseApiKeys(text, `API_KEYS_FILE ${file}`);
  }

  /** Re-reads API_KEYS_FILE now; on error keeps the previous keys and rethrows. */
  reload(): void {
    if (!this.options.file) return;
    try {
      this.fileKeys = this.readFile();
      this.options.log?.info({ keys: this.size }, 'API keys reloaded');
      for (const listener of this.listeners) listener();
    } catch (err) {
      this.options.log?.error({ err: (err as Error).message }, 'API keys file is invalid: keeping the previous keys');
      for (const listener of this.listeners) listener(err as Error);
      throw err;
    }
  }

  /** Calls `listener` after each reload triggered by the file watcher (with the error when the file was invalid). */
  onReload(listener: (error?: Error) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private stamp(): string {
    try {
      const st = statSync(this.options.file!);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  /** Starts watching API_KEYS_FILE (a stat every API_KEYS_RELOAD_MS, re-read when it changed); idempotent. */
  watch(): void {
    if (!this.options.file || this.timer) return;
    this.timer = setInterval(() => {
      if (this.stamp() === this.loadedStamp) return;
      try {
        this.reload();
      } catch {
        // logged by reload; the previous keys stay in force until the file is fixed
      }
    }, this.options.reloadMs ?? 2_000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  /** The key whose secret is `secret`, compared in constant time against every key; undefined when none. */
  find(secret: string): ApiKey | undefined {
    const presented = hash(secret);
    let found: ApiKey | undefined;
    for (const key of [...this.fileKeys, ...this.envKeys]) {
      if (timingSafeEqual(presented, key.secretHash) && !found) found = key;
    }
    return found;
  }

  /** Checks a presented secret (undefined when none was sent) against a required scope. */
  authorize(secret: string | undefined, scope: ApiKeyScope): AuthResult {
    if (!secret) {
      return {
        ok: false,
        reason: 'missing',
        message: this.size
          ? `an API key with scope '${scope}' is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'`
          : `an API key with scope '${scope}' is required, and none is configured (API_KEYS_FILE or API_KEYS)`,
      };
    }
    const key = this.find(secret);
    if (!key) return { ok: false, reason: 'unknown', message: 'the API key is not valid' };
    if (!key.scopes.has(scope)) {
      return { ok: false, reason: 'forbidden', keyId: key.id, message: `API key '${key.id}' lacks scope '${scope}'` };
    }
    return { ok: true, keyId: key.id };
  }
}

/**
 * The secret of a request's credentials: `Authorization: Bearer <key>` or `X-API-Key: <key>` (HTTP headers or
 * gRPC metadata, lower-case names). Undefined when neither is present; an Authorization of another scheme counts
 * as absent unless X-API-Key is sent.
 */
export function presentedSecret(authorization: unknown, apiKey: unknown): string | undefined {
  const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);
  const auth = first(authorization);
  if (typeof auth === 'string') {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (match) return match[1];
  }
  const key = first(apiKey);
  return typeof key === 'string' && key.trim() ? key.trim() : undefined;
}

/** A new random secret: 32 bytes, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * For the one-command demo: the keys file `<dataDir>/api-keys` with one key `demo` (scopes admin, ingest, client,
 * metrics), created with mode 0600 when missing and reused afterwards. The demo sets API_KEYS_FILE to `file`
 * before loading the services' config, and prints `secret`.
 */
export function ensureDemoKey(dataDir: string): { file: string; keyId: string; secret: string } {
  const file = resolve(join(dataDir, 'api-keys'));
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('demo:'));
    if (line) {
      parseApiKeys(text, file);
      return { file, keyId: 'demo', secret: line.slice(line.indexOf(':', 5) + 1).trim() };
    }
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = generateSecret();
  writeFileSync(file, `# generated by the demo: edit to rotate (re-read without a restart)\ndemo:${API_KEY_SCOPES.join(',')}:${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file, keyId: 'demo', secret };
}
