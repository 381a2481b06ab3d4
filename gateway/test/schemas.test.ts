import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_TYPES } from '../../lib/src/domain.js';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { seedServingWorld } from '../../lib/test/support/fixtures.js';
import { AUTH, startStack, type TestStack } from '../../lib/test/support/stack.js';
import { REST_ENUMS } from '../src/schemas.js';

/** Every enum of the OpenAPI document, with where it is: [path in the document, values]. */
function enumsOf(node: unknown, path: string, out: [string, unknown[]][] = []): [string, unknown[]][] {
  if (Array.isArray(node)) node.forEach((n, i) => enumsOf(n, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (Array.isArray(record.enum)) out.push([path, record.enum]);
    for (const [key, value] of Object.entries(record)) enumsOf(value, `${path}.${key}`, out);
  }
  return out;
}

/** anyOf/oneOf whose members are all constants: an enum written so that OpenAPI tools show one value only. */
function constUnions(node: unknown, path: string, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n, i) => constUnions(n, `${path}[${i}]`, out));
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    for (const key of ['anyOf', 'oneOf']) {
      const members = record[key];
      if (Array.isArray(members) && members.filter((m) => m && typeof m === 'object' && 'const' in m).length > 1) out.push(`${path}.${key}`);
    }
    for (const [key, value] of Object.entries(record)) constUnions(value, `${path}.${key}`, out);
  }
  return out;
}

describe('REST enums: derived from the protos, complete in OpenAPI, named in every error', () => {
  let stack: TestStack;
  let store: MemoryStore;
  let doc: { paths: Record<string, Record<string, unknown>> };
  beforeAll(async () => {
    store = new MemoryStore();
    await seedServingWorld(store);
    stack = await startStack(store);
    doc = (await (await fetch(`${stack.baseUrl}/docs/json`)).json()) as typeof doc;
  });
  afterAll(async () => {
    await stack?.close();
    await store?.close();
  });

  it('derives each REST enum from its protobuf enum', () => {
    expect(REST_ENUMS.model).toEqual([...MODEL_TYPES]);
    expect(REST_ENUMS.source).toEqual(['cache', 'model', 'fold_in', 'genres_top', 'global_top']);
    expect(REST_ENUMS.explanationKind).toEqual(['similar_to_history', 'features', 'top_list']);
    expect(REST_ENUMS.contributionKind).toEqual(['movie', 'genre', 'item_identity', 'user_bias']);
    expect(REST_ENUMS.bucket).toEqual(['hour', 'day']);
    expect(REST_ENUMS.interactionType).toEqual(['watched', 'rated', 'bookmarked', 'bookmark_removed', 'liked', 'disliked']);
    expect(REST_ENUMS.fallback).toEqual(['global']);
    expect(REST_ENUMS.trainingRunState).toEqual(['queued', 'active', 'completed', 'failed', 'unspecified']);
    expect(REST_ENUMS.jobState).toEqual(['queued', 'active', 'completed', 'failed', 'unspecified']);
    expect(REST_ENUMS.jobName).toEqual(['train_model', 'update_all_recommendations', 'update_recommendations']);
  });

  it('publishes every enum complete, as one string enum (never anyOf constants)', () => {
    const enums = enumsOf(doc.paths, 'paths');
    const known = Object.values(REST_ENUMS).map((values) => JSON.stringify(values));
    expect(enums.length).toBeGreaterThan(10);
    for (const [where, values] of enums) expect(known, where).toContain(JSON.stringify(values));
    expect(constUnions(doc.paths, 'paths')).toEqual([]);
    // The model everywhere it appears: the query of /recommendations and /models, the activate path, the run body.
    const modelEnums = enums.filter(([, values]) => JSON.stringify(values) === JSON.stringify(REST_ENUMS.model)).map(([where]) => where);
    for (const fragment of ['/recommendations/{user_id}', '/models', '/models/{model_type}/activate', '/training/runs', '/experiments/report']) {
      expect(modelEnums.some((where) => where.includes(`paths.${fragment}.`)), fragment).toBe(true);
    }
    const query = (doc.paths['/recommendations/{user_id}'].get as { parameters: { name: string; in: string; schema: { enum?: string[] } }[] }).parameters;
    expect(query.find((p) => p.name === 'model' && p.in === 'query')?.schema.enum).toEqual(['als', 'lightfm']);
  });

  it('answers a wrong enum value with a 400 that lists the allowed values', async () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['GET', '/recommendations/u1?model=svd', undefined, /querystring\.model must be one of: als, lightfm/],
      ['GET', '/models?model=svd', undefined, /querystring\.model must be one of: als, lightfm/],
      ['POST', '/models/svd/activate', { version: 'v' }, /params\.model_type must be one of: als, lightfm/],
      ['POST', '/models/als/activate', { version: 'nope' }, /invalid model version 'nope': .* e\.g\. 20261124T000000123Z-a1b2c3 \(GET \/models lists the versions\)/],
      ['POST', '/training/runs', { models: ['svd'] }, /body\.models\.0 must be one of: als, lightfm/],
      ['GET', '/experiments/report?bucket=week', undefined, /querystring\.bucket must be one of: hour, day/],
      ['GET', '/experiments/report?colour=red', undefined, /additional properties: 'colour'/],
    ];
    for (const [method, path, body, message] of cases) {
      const response = await fetch(`${stack.baseUrl}${path}`, {
        method,
        headers: body === undefined ? AUTH : { ...AUTH, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      expect(response.status, path).toBe(400);
      const answer = (await response.json()) as { error: { code: string; message: string } };
      expect(answer.error.code, path).toBe('INVALID_ARGUMENT');
      expect(answer.error.message, path).toMatch(message);
    }
  });

  it('accepts every allowed value', async () => {
    for (const model of REST_ENUMS.model) expect((await fetch(`${stack.baseUrl}/recommendations/u1?model=${model}&k=2`)).status).toBe(200);
    for (const bucket of REST_ENUMS.bucket) {
      const response = await fetch(`${stack.baseUrl}/experiments/report?bucket=${bucket}`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { bucket: string }).bucket).toBe(bucket);
    }
  });
});
