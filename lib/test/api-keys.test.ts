import { mkdtempSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiKeyStore, ApiKeysFormatError, ensureDemoKey, parseApiKeys, presentedSecret } from '../src/api-keys.js';

const A = 'admin-secret-0123456789abcdef';
const I = 'ingest-secret-0123456789abcdef';

describe('API keys', () => {
  it('parse the line format and JSON, keeping only a hash of each secret', () => {
    const lines = parseApiKeys(`# ops\nops:admin,ingest:${A}\n\nfeed:ingest:${I}\n`, 'test');
    expect(lines.map((k) => [k.id, [...k.scopes]])).toEqual([
      ['ops', ['admin', 'ingest']],
      ['feed', ['ingest']],
    ]);
    expect(JSON.stringify(lines)).not.toContain(A);
    const json = parseApiKeys(JSON.stringify({ keys: [{ id: 'ops', scopes: ['admin'], secret: A }] }), 'test');
    expect(json.map((k) => k.id)).toEqual(['ops']);
    expect(parseApiKeys(`a:admin:${A}; b:ingest:${I}`, 'API_KEYS')).toHaveLength(2);
  });

  it('refuse malformed keys, listing every problem and never echoing a secret', () => {
    const bad = `x:admin\nbad id!:admin:${A}\nok:root:${I}\nshort:admin:abc\nok2:admin:${A}\nok3:ingest:${A}\nok2:ingest:${I}x`;
    let error: Error | undefined;
    try {
      parseApiKeys(bad, 'API_KEYS');
    } catch (err) {
      error = err as Error;
    }
    expect(error).toBeInstanceOf(ApiKeysFormatError);
    expect(error!.message).toMatch(/entry 1: expected key-id:scope,scope:secret/);
    expect(error!.message).toMatch(/id must be 1 to 64 characters/);
    expect(error!.message).toMatch(/scopes must be one or more of admin, ingest, client, metrics, got root/);
    expect(error!.message).toMatch(/secret must be at least 16/);
    expect(error!.message).toMatch(/secret is shared with another key/);
    expect(error!.message).toMatch(/duplicate id/);
    expect(error!.message).not.toContain(A);
    expect(() => parseApiKeys('{"keys": 3}', 'f')).toThrow(/array of keys/);
    expect(() => parseApiKeys('[1]', 'f')).toThrow(/expected an object/);
    expect(() => parseApiKeys('{nope', 'f')).toThrow(/not valid JSON/);
  });

  it('authorize by scope: missing, unknown, forbidden, allowed; no keys configured refuses everything', () => {
    const keys = new ApiKeyStore({ inline: `ops:admin:${A};feed:ingest:${I}` });
    expect(keys.authorize(undefined, 'admin')).toMatchObject({ ok: false, reason: 'missing' });
    expect(keys.authorize('not-a-key-at-all-000000', 'admin')).toMatchObject({ ok: false, reason: 'unknown' });
    expect(keys.authorize(I, 'admin')).toMatchObject({ ok: false, reason: 'forbidden', keyId: 'feed', message: "API key 'feed' lacks scope 'admin'" });
    expect(keys.authorize(A, 'ingest')).toMatchObject({ ok: false, reason: 'forbidden' });
    expect(keys.authorize(A, 'admin')).toEqual({ ok: true, keyId: 'ops' });
    expect(keys.authorize(I, 'ingest')).toEqual({ ok: true, keyId: 'feed' });
    const none = new ApiKeyStore();
    expect(none.size).toBe(0);
    expect(none.authorize(A, 'admin')).toMatchObject({ ok: false, reason: 'unknown' });
    expect(none.authorize(undefined, 'admin').ok).toBe(false);
  });

  it('read the secret from Authorization: Bearer or X-API-Key', () => {
    expect(presentedSecret(`Bearer ${A}`, undefined)).toBe(A);
    expect(presentedSecret(`bearer   ${A} `, undefined)).toBe(A);
    expect(presentedSecret(undefined, A)).toBe(A);
    expect(presentedSecret([`Bearer ${A}`], undefined)).toBe(A);
    expect(presentedSecret(`Basic ${A}`, undefined)).toBeUndefined();
    expect(presentedSecret('Bearer', undefined)).toBeUndefined();
    expect(presentedSecret(undefined, '  ')).toBeUndefined();
  });

  it('rotate without a restart: a rewritten file replaces the keys, an invalid one keeps the last good keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recsys-keys-'));
    const file = join(dir, 'keys');
    writeFileSync(file, `ops:admin:${A}\n`);
    const keys = new ApiKeyStore({ file });
    expect(keys.authorize(A, 'admin').ok).toBe(true);
    // atomic replace, as a secret manager does it
    writeFileSync(join(dir, 'keys.new'), `ops:admin:${I}\n`);
    renameSync(join(dir, 'keys.new'), file);
    keys.reload();
    expect(keys.authorize(A, 'admin')).toMatchObject({ ok: false, reason: 'unknown' });
    expect(keys.authorize(I, 'admin').ok).toBe(true);
    writeFileSync(file, 'garbage');
    expect(() => keys.reload()).toThrow(ApiKeysFormatError);
    expect(keys.authorize(I, 'admin').ok).toBe(true);
    keys.close();
  });

  it('watch the file and pick up a new key by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recsys-keys-'));
    const file = join(dir, 'keys');
    writeFileSync(file, `ops:admin:${A}\n`);
    const keys = new ApiKeyStore({ file, reloadMs: 20 });
    keys.watch();
    const reloaded = new Promise<Error | undefined>((resolve) => keys.onReload(resolve));
    writeFileSync(file, `ops:admin:${A}\nfeed:ingest:${I}\n`);
    expect(await reloaded).toBeUndefined();
    expect(keys.authorize(I, 'ingest').ok).toBe(true);
    keys.close();
  });

  it('refuse to start on an unreadable or invalid file', () => {
    expect(() => new ApiKeyStore({ file: '/nonexistent/keys' })).toThrow(/cannot be read: ENOENT/);
    const file = join(mkdtempSync(join(tmpdir(), 'recsys-keys-')), 'keys');
    writeFileSync(file, 'ops:admin:short');
    expect(() => new ApiKeyStore({ file })).toThrow(ApiKeysFormatError);
  });

  it('give the demo one key file, created private once and reused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recsys-demo-'));
    const first = ensureDemoKey(dir);
    expect(statSync(first.file).mode & 0o777).toBe(0o600);
    expect(first.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const keys = new ApiKeyStore({ file: first.file });
    for (const scope of ['admin', 'ingest', 'client', 'metrics'] as const) expect(keys.authorize(first.secret, scope).ok).toBe(true);
    expect(ensureDemoKey(dir)).toEqual(first);
    expect(readFileSync(first.file, 'utf8')).toContain(`demo:admin,ingest,client,metrics:${first.secret}`);
  });
});
