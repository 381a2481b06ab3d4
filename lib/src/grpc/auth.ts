import * as grpc from '@grpc/grpc-js';
import { presentedSecret, type ApiKeyScope, type ApiKeyStore } from '../api-keys.js';
import type { Logger } from '../logger.js';

/**
 * Which scope each method of a service needs: `null` means open (no key), a method not listed needs the
 * `defaultScope` (so a new RPC is protected until someone decides otherwise).
 */
export interface ServiceAuthPolicy {
  /** Fully qualified service name, e.g. recsys.v1.TrainerService. */
  service: string;
  methods: Record<string, ApiKeyScope | null>;
  defaultScope: ApiKeyScope;
}

/**
 * A grpc-js server interceptor that checks `authorization: Bearer <key>` or `x-api-key: <key>` metadata against
 * the key store before the handler runs: UNAUTHENTICATED when the key is missing or unknown, PERMISSION_DENIED when
 * it lacks the method's scope. Calls to other services (health, reflection) pass through.
 */
export function apiKeyInterceptor(keys: ApiKeyStore, policies: ServiceAuthPolicy[], log?: Logger): grpc.ServerInterceptor {
  const byService = new Map(policies.map((p) => [p.service, p]));
  return (methodDescriptor, call) => {
    const [, service = '', method = ''] = methodDescriptor.path.split('/');
    const policy = byService.get(service);
    const scope = policy ? (method in policy.methods ? policy.methods[method] : policy.defaultScope) : null;
    if (!scope) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const result = keys.authorize(presentedSecret(metadata.get('authorization'), metadata.get('x-api-key')), scope);
            if (result.ok) {
              nextMetadata(metadata);
              return;
            }
            const code = result.reason === 'forbidden' ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED;
            log?.warn({ method: methodDescriptor.path, reason: result.reason }, 'gRPC call refused');
            call.sendStatus({ code, details: result.message, metadata: new grpc.Metadata() });
          },
        });
      },
    });
  };
}

/**
 * A grpc-js client interceptor that sends `authorization: Bearer <secret>` on every call of the client it is given
 * to: `new TrainerServiceClient(address, credentials, { interceptors: [sendApiKey(secret)] })`.
 */
export function sendApiKey(secret: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', `Bearer ${secret}`);
        next(metadata, listener);
      },
    });
}
