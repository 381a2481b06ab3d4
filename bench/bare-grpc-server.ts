/**
 * The floor of the design in bench:serve: a gRPC server whose GetRecommendations handler returns one fixed response
 * (no cache, no store, no logging, no metrics), for a gateway pointed at it. The gateway's path to it (HTTP, fastify,
 * validation, rate limit, grpc-js client, protobuf, response serialisation) is what every request pays at least.
 *
 *   node dist/bench/bare-grpc-server.js --port 50099 --sample-from 127.0.0.1:50051 [--user u1] [--model als] [--k 10]
 *
 * --sample-from: a running recsvc asked once at start-up for the list it then serves to every call, so the payload is
 * a real one. Other RPCs answer UNIMPLEMENTED.
 */
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  ModelType,
  RecommendationServiceClient,
  RecommendationServiceService,
  type GetRecommendationsResponse,
} from '../lib/src/proto.js';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '50099' },
    host: { type: 'string', default: '127.0.0.1' },
    'sample-from': { type: 'string' },
    user: { type: 'string', default: 'u1' },
    model: { type: 'string', default: 'als' },
    k: { type: 'string', default: '10' },
  },
});
if (!args['sample-from']) {
  process.stderr.write('--sample-from host:port (a running recsvc) is required\n');
  process.exit(2);
}

const client = new RecommendationServiceClient(args['sample-from'], grpc.credentials.createInsecure());
const sample = await new Promise<GetRecommendationsResponse>((resolve, reject) =>
  client.getRecommendations(
    { userId: args.user, modelType: args.model === 'lightfm' ? ModelType.MODEL_TYPE_LIGHTFM : ModelType.MODEL_TYPE_ALS, k: Number(args.k) },
    new grpc.Metadata(),
    { deadline: new Date(Date.now() + 30_000) },
    (err, res) => (err ? reject(err) : resolve(res)),
  ),
);
client.close();

// The product's server settings that cost CPU per call (lib/src/grpc/server.ts): channelz off.
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
const unimplemented: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) =>
  callback({ code: grpc.status.UNIMPLEMENTED, details: 'bare server: GetRecommendations only' });
const handlers = Object.fromEntries(Object.keys(RecommendationServiceService).map((name) => [name, unimplemented]));
server.addService(RecommendationServiceService, {
  ...handlers,
  getRecommendations: (_call: unknown, callback: grpc.sendUnaryData<GetRecommendationsResponse>) => callback(null, sample),
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`${args.host}:${args.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
);
process.stdout.write(`bare-grpc-server listening on ${args.host}:${port} (${sample.items.length} items per response)\n`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.tryShutdown(() => process.exit(0)));
}
