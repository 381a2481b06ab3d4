import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { MongoStore } from '../src/store/mongo-store.js';
import { storeContract } from './store.contract.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

describe('MemoryStore', () => storeContract(async () => new MemoryStore()));

describe('MemoryStore with recommendation logs and feedback on disk (SQLite under DATA_DIR)', () =>
  storeContract(async () => new MemoryStore({ logsPath: join(mkdtempSync(join(tmpdir(), 'recsys-store-')), 'logs.sqlite') })),
);

describeWithServers(['MONGO_URL'], 'MongoStore (real MongoDB-wire server)', () =>
  storeContract(async () => {
    const env = realStorageEnv();
    const store = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
    await store.init();
    await store.init(); // idempotent
    return store;
  }),
);
