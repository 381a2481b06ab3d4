import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { toGrpcError } from './status.js';
import { runInCallScope } from '../call-scope.js';

/** The compiled descriptor set of proto/ (written by `npm run generate`), used for server reflection. */
const descriptorSetPath = fileURLToPath(new URL('../../../gen/recsys.binpb', import.meta.url).href.replace('/dist/gen/', '/gen/'));

/** What a handler sees of a call: its deadline-aware abort signal, the metadata and a request-scoped logger. */
export interface CallContext {
  readonly signal: AbortSignal;
  readonly metadata: grpc.Metadata;
  readonly requestId: string;
  readonly log: Logger;
}

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

export const REQUEST_ID_HEADER = 'x-request-id';

/** Observes every finished call (for metrics). */
export type CallObserver = (method: string, code: grpc.status, seconds: number) => void;

/**
 * Adapts an async handler to grpc-js's callback style: the callback is called exactly once, errors are mapped
 * in one place, and the handler's signal aborts when the client cancels or the deadline passes.
 */
export function unary<Req, Res>(
  method: string,
  handler: UnaryHandler<Req, Res>,
  log: Logger,
  observe?: CallObserver,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const controller = new AbortController();
    // grpc-js emits 'cancelled' whenever the stream closes, also after a normal answer: only a close before the
    // answer is a cancellation.
    let answered = false;
    call.on('cancelled', () => {
      if (!answered) controller.abort(new Error('call cancelled'));
    });
    // The deadline aborts the signal too (grpc-js answers DEADLINE_EXCEEDED itself, but the handler would go on): a
    // plain timer, cleared with the answer. Not AbortSignal.timeout + AbortSignal.any: per call they register weak
    // references and finalizers, which cost CPU and, run in bulk after a major GC, stalled the event loop for tens of
    // milliseconds (node --cpu-prof of bench:serve, 2026-11-30).
    const deadline = deadlineOf(call.getDeadline());
    const deadlineTimer = Number.isFinite(deadline)
      ? setTimeout(() => controller.abort(new DeadlineExceededError(method)), Math.max(0, deadline - Date.now()))
      : undefined;
    const signal = controller.signal;
    const requestId = String(call.metadata.get(REQUEST_ID_HEADER)[0] ?? randomUUID());
    let callLog: Logger | undefined;
    const context: CallContext = {
      signal,
      metadata: call.metadata,
      requestId,
      // Made on first use (most calls log nothing): a pino child per call costs its bindings' serialisation.
      get log() {
        return (callLog ??= log.child({ requestId, method }));
      },
    };
    const finish = (code: grpc.status) => {
      clearTimeout(deadlineTimer);
      observe?.(method, code, Number(process.hrtime.bigint() - started) / 1e9);
    };
    // Dependency clients see the call's signal and deadline (lib/src/call-scope.ts) and stop once it is aborted.
    runInCallScope({ signal, deadline }, () => handler(call.request, context)).then(
      (response) => {
        answered = true;
        finish(grpc.status.OK);
        callback(null, response);
      },
      (err: unknown) => {
        answered = true;
        const grpcErr = toGrpcError(err, context.log);
        finish(grpcErr.code ?? grpc.status.UNKNOWN);
        callback(grpcErr, null);
      },
    );
  };
}

/** The abort reason of a call whose deadline passed (as AbortSignal.timeout's, named TimeoutError). */
class DeadlineExceededError extends Error {
  override readonly name = 'TimeoutError';
  constructor(method: string) {
    super(`the deadline of ${method} passed`);
  }
}

/** A grpc-js deadline (Date, epoch ms or Infinity) as epoch milliseconds. */
function deadlineOf(deadline: grpc.Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : Number(deadline);
}

/** Throws a clear error if the call was cancelled or its deadline passed: check before expensive work. */
export function throwIfCancelled(context: CallContext): void {
  if (context.signal.aborted) {
    const err = new Error('call cancelled or deadline exceeded') as Error & { code: number; details: string };
    err.code = grpc.status.CANCELLED;
    err.details = err.message;
    throw err;
  }
}

export interface ServiceBinding {
  /** Fully qualified service name, e.g. recsys.v1.RecommendationService (used for health). */
  name: string;
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
}

export interface RunningGrpcServer {
  readonly server: grpc.Server;
  readonly port: number;
  readonly health: HealthImplementation;
  /** NOT_SERVING, drain in-flight calls for up to `graceMs`, then force; finally runs the close hooks. */
  shutdown(graceMs?: number): Promise<void>;
  /** Health SERVING (for a server started with `notServingYet`); nothing once shutdown began. */
  markServing(): void;
}

export interface StartGrpcServerOptions {
  host: string;
  port: number;
  services: ServiceBinding[];
  log: Logger;
  /**
   * Closes each client connection after this long (plus a grace period of the same length for its calls), so
   * that clients resolving a name (dns:///recsvc:50051, round robin) look it up again and find new replicas.
   * Unset: connections live as long as the client keeps them.
   */
  maxConnectionAgeMs?: number;
  /** Closes clients (MongoDB, Redis...) after the server has stopped. */
  onClosed?: () => Promise<void>;
  /** Server interceptors run before every handler, e.g. the API-key check of lib/src/grpc/auth.ts. */
  interceptors?: grpc.ServerInterceptor[];
  /**
   * Health stays NOT_SERVING after the bind until `markServing()` (a service that listens while it still waits for
   * its dependencies, see deferredService). Default false: SERVING once bound.
   */
  notServingYet?: boolean;
}

/** Services every server reflects besides its own. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/** Canonical names of the bundled files whose package folders differ from their package (grpc-health-check's). */
const CANONICAL_NAMES: Record<string, string> = { 'health/v1/health.proto': 'grpc/health/v1/health.proto' };

let reflectionFiles: Uint8Array[] | undefined;
/**
 * Every file server reflection serves, exactly as buf compiled it into gen/recsys.binpb
 * (scripts/build-descriptor-set.sh): proto/ with the files it imports (google/protobuf/timestamp.proto), plus
 * grpc.health.v1 and grpc.reflection.v1/v1alpha. (Reflection built from proto-loader's package definition lost the
 * imports, so clients could not resolve google.protobuf.Timestamp, and had no health service.)
 */
function loadReflectionFiles(): Uint8Array[] {
  reflectionFiles ??= fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)).file.map((file) => {
    file.name = CANONICAL_NAMES[file.name] ?? file.name;
    return toBinary(FileDescriptorProtoSchema, file);
  });
  return reflectionFiles;
}

/** Server reflection (grpc.reflection.v1 and v1alpha) of the given services, health and reflection itself. */
export function reflectionService(services: readonly string[]): ReflectionService {
  // @grpc/reflection reads only `fileDescriptorProtos` of each entry: hand it the exact compiled files.
  const definition = { files: { fileDescriptorProtos: loadReflectionFiles() } } as unknown as protoLoader.PackageDefinition;
  return new ReflectionService(definition, { services: [...services, HEALTH_SERVICE, ...REFLECTION_SERVICES] });
}

/** Binds a gRPC server with health checking and server reflection; awaits the bind. */
export async function startGrpcServer(options: StartGrpcServerOptions): Promise<RunningGrpcServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    // No channelz service is served: its per-call counters would cost CPU for nothing (clientChannelOptions).
    'grpc.enable_channelz': 0,
    ...(options.maxConnectionAgeMs
      ? { 'grpc.max_connection_age_ms': options.maxConnectionAgeMs, 'grpc.max_connection_age_grace_ms': options.maxConnectionAgeMs }
      : {}),
    interceptors: options.interceptors ?? [],
  });
  for (const service of options.services) server.addService(service.definition, service.implementation);
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  reflectionService(options.services.map((s) => s.name)).addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, boundPort) =>
      err ? reject(err) : resolve(boundPort),
    );
  });
  const setAll = (status: 'SERVING' | 'NOT_SERVING') => {
    health.setStatus('', status);
    for (const service of options.services) health.setStatus(service.name, status);
  };
  let closing: Promise<void> | undefined;
  const markServing = () => {
    if (!closing) setAll('SERVING');
  };
  if (!options.notServingYet) markServing();
  options.log.info({ port, services: options.services.map((s) => s.name), serving: !options.notServingYet }, 'gRPC server listening');
  const shutdown = (graceMs = 10_000) => {
    closing ??= (async () => {
      setAll('NOT_SERVING');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          options.log.warn({ graceMs }, 'drain time limit reached, forcing shutdown');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await options.onClosed?.();
      options.log.info('gRPC server stopped');
    })();
    return closing;
  };
  return { server, port, health, shutdown, markServing };
}

/**
 * A service whose handlers come later: until `ready(implementation)`, every call answers UNAVAILABLE with
 * `startingMessage` (through `unary`, so the status is mapped in the one place, lib/src/grpc/status.ts). For a
 * server that binds at once (health NOT_SERVING) and connects its dependencies afterwards, with retries.
 */
export function deferredService(name: string, definition: grpc.ServiceDefinition, log: Logger, startingError: () => Error): {
  binding: ServiceBinding;
  ready(implementation: grpc.UntypedServiceImplementation): void;
} {
  let target: grpc.UntypedServiceImplementation | undefined;
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of Object.keys(definition)) {
    const starting = unary(`${name}/${method}`, async () => {
      throw startingError();
    }, log);
    implementation[method] = ((call: never, callback: never) =>
      ((target?.[method] ?? starting) as (call: never, callback: never) => void)(call, callback)) as grpc.UntypedHandleCall;
  }
  return {
    binding: { name, definition, implementation },
    ready: (impl) => void (target = impl),
  };
}

/** Runs `stop` once on SIGTERM or SIGINT, then exits. */
export function onShutdownSignal(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}

/** The async handlers of a generated grpc-js service interface. */
export type Handlers<Server> = {
  [K in keyof Server as string extends K ? never : K]: Server[K] extends grpc.handleUnaryCall<infer Req, infer Res> ? UnaryHandler<Req, Res> : never;
};

/** Builds a service binding from async handlers, each wrapped by `unary`. */
export function bindService<Server>(
  name: string,
  definition: grpc.ServiceDefinition,
  handlers: Handlers<Server>,
  log: Logger,
  observe?: CallObserver,
): ServiceBinding {
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers as Record<string, UnaryHandler<unknown, unknown>>)) {
    implementation[method] = unary(`${name}/${method}`, handler, log, observe);
  }
  return { name, definition, implementation };
}
