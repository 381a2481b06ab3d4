import * as grpc from '@grpc/grpc-js';
import { RecommendationServiceClient, TrainerServiceClient } from '../../lib/src/proto.js';
import { callUnary, checkHealth, clientChannelOptions } from '../../lib/src/grpc/client.js';
import { forwardApiKey } from './auth.js';

const RECOMMENDATION_SERVICE = 'recsys.v1.RecommendationService';
const TRAINER_SERVICE = 'recsys.v1.TrainerService';

/**
 * The gRPC services behind the gateway; every call carries a deadline and the request id. Each address may name
 * several replicas (`dns:///recsvc:50051`): calls are spread over all of them round robin (see clientChannelOptions).
 */
export class Upstreams {
  readonly recommendations: RecommendationServiceClient;
  readonly trainer: TrainerServiceClient;

  constructor(
    private readonly recsvcAddress: string,
    private readonly trainerAddress: string,
    private readonly deadlineMs: number,
  ) {
    // The caller's API key goes along on every call (recsvc and the Trainer service check it again).
    this.recommendations = new RecommendationServiceClient(recsvcAddress, grpc.credentials.createInsecure(), {
      ...clientChannelOptions({ services: [RECOMMENDATION_SERVICE] }),
      interceptors: [forwardApiKey],
    });
    this.trainer = new TrainerServiceClient(trainerAddress, grpc.credentials.createInsecure(), {
      ...clientChannelOptions({ services: [TRAINER_SERVICE] }),
      interceptors: [forwardApiKey],
    });
  }

  /** Calls one unary method of a client, e.g. `call(u.recommendations, u.recommendations.listGenres, {}, id)`. */
  call<Client extends grpc.Client, Req, Res>(
    client: Client,
    method: (
      request: Req,
      metadata: grpc.Metadata,
      options: Partial<grpc.CallOptions>,
      callback: (err: grpc.ServiceError | null, response: Res) => void,
    ) => grpc.ClientUnaryCall,
    request: Req,
    requestId: string,
  ): Promise<Res> {
    return callUnary(client, method, request, { timeoutMs: this.deadlineMs, requestId });
  }

  /** Ready when every upstream answers SERVING. */
  async health(): Promise<{ recsvc: boolean; trainer: boolean }> {
    const [recsvc, trainer] = await Promise.all([
      checkHealth(this.recsvcAddress, Math.min(this.deadlineMs, 2_000)),
      checkHealth(this.trainerAddress, Math.min(this.deadlineMs, 2_000)),
    ]);
    return { recsvc, trainer };
  }

  close(): void {
    this.recommendations.close();
    this.trainer.close();
  }
}
