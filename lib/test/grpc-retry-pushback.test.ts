import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it, describe } from 'vitest';
import { UnavailableError } from '../src/errors.js';
import { clientChannelOptions } from '../src/grpc/client.js';
import { startGrpcServer, unary, type RunningGrpcServer } from '../src/grpc/server.js';
import { createLogger } from '../src/logger.js';
import { ListGenresRequest, RecommendationServiceClient, RecommendationServiceService } from '../src/proto.js';

/**
 * The clients' retry policy (UNAVAILABLE retried up to 3 times, for a replica that went away) must not retry a
 * service's own UNAVAILABLE answer (a database or event stream that is down): each retry would wait for the stalled
 * dependency again and spend the caller's deadline (a frozen MongoDB became 3 × the store's budget, then a 504).
 */
describe('a service\'s own UNAVAILABLE is final; transport failures are still retried', () => {
  const log = createLogger('test', 'silent');
  let server: RunningGrpcServer;
  let client: RecommendationServiceClient;
  let calls = 0;

  beforeAll(async () => {
    const listGenres = unary(
      'test/ListGenres',
      async () => {
        calls++;
        throw new UnavailableError('the database is unreachable; try again shortly');
      },
      log,
    );
    server = await startGrpcServer({
      host: '127.0.0.1',
      port: 0,
      services: [{ name: 'recsys.v1.RecommendationService', definition: RecommendationServiceService, implementation: { listGenres } }],
      log,
    });
    client = new RecommendationServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), clientChannelOptions({ services: ['recsys.v1.RecommendationService'] }));
  });
  afterAll(async () => {
    client?.close();
    await server?.shutdown(1_000);
  });

  it('asks the server once and passes its UNAVAILABLE on', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.listGenres(ListGenresRequest.fromPartial({}), new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (e) => resolve(e!)),
    );
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(err.details).toBe('the database is unreachable; try again shortly');
    expect(calls).toBe(1);
  });
});
