import { MongoClient } from 'mongodb';
import { describe } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { MongoStore } from '../src/store/mongo-store.js';
import { storeEventsContract } from './store-events.contract.js';
import { describeWithServers, realStorageEnv } from './support/servers.js';

describe('MemoryStore: interaction events', () => storeEventsContract(async () => new MemoryStore()));

const env = realStorageEnv();
describeWithServers(['MONGO_URL'], 'MongoStore: interaction events (real MongoDB-wire server)', () =>
  storeEventsContract(
    async () => {
      const store = await MongoStore.connect(env.MONGO_URL!, env.MONGO_DB);
      await store.init();
      return store;
    },
    async () => {
      const client = await MongoClient.connect(env.MONGO_URL!);
      try {
        await client.db(env.MONGO_DB).collection('interaction_events').deleteMany({});
      } finally {
        await client.close();
      }
    },
  ),
);
