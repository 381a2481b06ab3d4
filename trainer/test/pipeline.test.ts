import { describe } from 'vitest';
import { describeWithServers } from '../../lib/test/support/servers.js';
import { pipelineSuite } from './pipeline.suite.js';
import { embeddedBackends, realBackends } from './support/harness.js';

describe('training pipeline (embedded store, cache, object store and in-process queue)', () => pipelineSuite(embeddedBackends));

describeWithServers(['REDIS_URL', 'MONGO_URL', 'S3_ENDPOINT'], 'training pipeline (real Redis/BullMQ, FerretDB, MinIO)', () =>
  pipelineSuite(realBackends),
);
