import type { Cache } from '../../src/cache/types.js';
import type { ModelTypeName } from '../../src/domain.js';
import type { ObjectStore } from '../../src/objectstore/types.js';
import type { Store } from '../../src/store/types.js';
import { publishServingModel, seedServingWorld } from './fixtures.js';
import { dropTestDatabase } from './servers.js';
import { startStack, type TestStack } from './stack.js';

/** The backends of a serving test: a store, and a real cache and object store when testing against servers. */
export interface ServingBackends {
  store: Store;
  cache?: Cache;
  objects?: ObjectStore;
}

/** A REST answer's JSON body (untyped: the tests check its shape). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const json = (response: Response): Promise<any> => response.json();
/** The movie ids of a REST list, in order. */
export const ids = (body: { items: { movie_id: string }[] }) => body.items.map((i) => i.movie_id);

/**
 * The fixtures' serving world (seedServingWorld) on a full stack (startStack) with an ALS and a LightFM-style version
 * published and loaded; returns the stack and the two versions.
 */
export async function startServingWorld(backends: ServingBackends): Promise<{ stack: TestStack; versions: Record<ModelTypeName, string> }> {
  await seedServingWorld(backends.store);
  const stack = await startStack(backends.store, { cache: backends.cache, objects: backends.objects });
  const als = await publishServingModel(stack.objects, 'als', { second: 1 });
  const lightfm = await publishServingModel(stack.objects, 'lightfm', { second: 1 });
  await Promise.all([stack.recsvc.models.checkActive('als'), stack.recsvc.models.checkActive('lightfm')]);
  return { stack, versions: { als, lightfm } };
}

/** Stops the stack and closes the backends, dropping a real server's test database. */
export async function closeServingWorld(stack: TestStack | undefined, backends: ServingBackends | undefined): Promise<void> {
  await stack?.close();
  await backends?.cache?.close();
  await dropTestDatabase(backends?.store);
  await backends?.store.close();
}
