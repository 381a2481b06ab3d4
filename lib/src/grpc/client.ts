import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { REQUEST_ID_HEADER } from './server.js';

/** Per-call options every client call carries: a deadline always, a request id when one is known. */
export interface CallOptions {
  timeoutMs: number;
  requestId?: string;
}

export function callOptions(options: CallOptions): { metadata: grpc.Metadata; options: grpc.CallOptions } {
  const metadata = new grpc.Metadata();
  if (options.requestId) metadata.set(REQUEST_ID_HEADER, options.requestId);
  return { metadata, options: { deadline: new Date(Date.now() + options.timeoutMs) } };
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

/** Promise form of a generated unary client method, with a deadline on every call. */
export function callUnary<Req, Res>(
  client: grpc.Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: CallOptions,
): Promise<Res> {
  const { metadata, options: grpcOptions } = callOptions(options);
  return new Promise((resolve, reject) => {
    method.call(client, request, metadata, grpcOptions, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/** Asks a server's grpc.health.v1 service whether it (or one of its services) is SERVING. */
export function checkHealth(address: string, timeoutMs: number, serviceName = ''): Promise<boolean> {
  const client = new HealthClient(address, grpc.credentials.createInsecure());
  return new Promise<boolean>((resolve) => {
    (client as unknown as { check: UnaryMethod<{ service: string }, { status: string | number }> }).check(
      { service: serviceName },
      new grpc.Metadata(),
      { deadline: new Date(Date.now() + timeoutMs) },
      (err, response) => {
        client.close();
        resolve(!err && (response.status === 'SERVING' || response.status === 1));
      },
    );
  });
}
