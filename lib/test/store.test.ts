import { describe } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { MongoStore } from '../src/store/mongo-store.js';
import { storeContract } from './store.contract.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

describe('MemoryStore', () => storeContract(async () => new MemoryStore()));

describeWithServers(['MONGO_URL'], 'MongoStore (real MongoDB-wire server)', () =>
  storeContract(async () => {
    const env = realStorageEnv();
    const store = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
    await store.init();
    await store.init(); // idempotent
    return store;
  }),
);
