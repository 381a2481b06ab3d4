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

/**
 * HTTP/2 keepalive of every client channel: a PING after `timeMs` without one (also with no call in flight), and the
 * connection is dropped when its answer has not come within `timeoutMs`. A server that is frozen (SIGSTOP, a hung
 * host: the kernel keeps the connection open, nothing answers) is thus noticed within about 3 s: its calls in flight
 * fail with UNAVAILABLE and are retried on another replica, and round_robin sends no new call there (a reconnect only
 * counts once the server answers the HTTP/2 handshake). Without it, every call sent to that replica waited for its
 * deadline. Our servers (grpc-js) accept pings at any rate.
 */
export const KEEPALIVE_MS = { timeMs: 2_000, timeoutMs: 1_000 };

/** Reconnect backoff of every client channel: first retry after `initial` ms, growing to at most `max` ms. */
export const RECONNECT_BACKOFF_MS = { initial: 100, max: 1_000 };

/**
 * Channel options of every client of our services. The target may name several servers: `dns:///recsvc:50051`
 * (every address DNS returns, e.g. each replica of a compose service), `ipv4:10.0.0.1:50051,10.0.0.2:50051`, or a
 * plain `host:port` (DNS too). The round_robin policy keeps a connection to every address and spreads calls over the
 * ready ones; an address that stops answering leaves the rotation at once and DNS is asked again, so replicas that
 * come and go are followed (servers also close connections after GRPC_MAX_CONNECTION_AGE_SECONDS, which makes
 * clients re-resolve and find new replicas). Calls that fail with UNAVAILABLE (a replica gone mid-call) are retried
 * on another address, at most `maxAttempts` times in all. A server that went away is dialled again after 100 ms, then
 * with a backoff growing to at most 1 s (grpc-js's default grows to 120 s: a restarted recsvc was left unused for
 * 5-6 s), so a restarted server is used again within about a second. Keepalive (KEEPALIVE_MS) finds a frozen one.
 */
export function clientChannelOptions(options: { services: readonly string[]; maxAttempts?: number }): grpc.ChannelOptions {
  const serviceConfig = {
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig: [
      {
        name: options.services.map((service) => ({ service })),
        retryPolicy: {
          maxAttempts: options.maxAttempts ?? 3,
          initialBackoff: '0.05s',
          maxBackoff: '0.5s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  };
  return {
    'grpc.service_config': JSON.stringify(serviceConfig),
    // A TXT record must not replace the policy above.
    'grpc.service_config_disable_resolution': 1,
    'grpc.enable_retries': 1,
    // After a replica goes away, look DNS up again within 5 s (grpc-js's default is 30 s).
    'grpc.dns_min_time_between_resolutions_ms': 5_000,
    'grpc.initial_reconnect_backoff_ms': RECONNECT_BACKOFF_MS.initial,
    'grpc.max_reconnect_backoff_ms': RECONNECT_BACKOFF_MS.max,
    'grpc.keepalive_time_ms': KEEPALIVE_MS.timeMs,
    'grpc.keepalive_timeout_ms': KEEPALIVE_MS.timeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    // Channelz (grpc-js's per-call and per-socket introspection counters) costs CPU on every call and nothing reads
    // it here: no channelz service is served.
    'grpc.enable_channelz': 0,
  };
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
