import { ApiKeyStore, type ApiKeysEnv } from '../../lib/src/api-keys.js';
import { apiKeyInterceptor, type ServiceAuthPolicy } from '../../lib/src/grpc/auth.js';
import type { Logger } from '../../lib/src/logger.js';
import { TRAINER_SERVICE_NAME } from './trainer-grpc.js';

/**
 * Who may call what on the Trainer service: starting runs, activating versions and refreshing the cache need a key
 * with scope `admin`; reading runs and models is open unless REQUIRE_KEY_FOR_CLIENT_ROUTES (then scope `client`).
 * A method added later needs `admin` until listed here.
 */
export function trainerAuthPolicy(config: Pick<ApiKeysEnv, 'REQUIRE_KEY_FOR_CLIENT_ROUTES'>): ServiceAuthPolicy {
  const read = config.REQUIRE_KEY_FOR_CLIENT_ROUTES ? 'client' : null;
  return {
    service: TRAINER_SERVICE_NAME,
    methods: {
      StartTraining: 'admin',
      ActivateModel: 'admin',
      RefreshRecommendations: 'admin',
      UpdateModelConfig: 'admin',
      CreateMovie: 'admin',
      UpdateMovie: 'admin',
      GetMovie: 'admin',
      ListMovies: 'admin',
      GetTrainingRun: read,
      GetJob: read,
      ListModels: read,
      GetModelConfig: read,
    },
    defaultScope: 'admin',
  };
}

/** The Trainer API's key check: a server interceptor over the keys of API_KEYS_FILE / API_KEYS. */
export function trainerAuth(config: ApiKeysEnv, log: Logger, keys: ApiKeyStore = ApiKeyStore.fromEnv(config, log)) {
  return { keys, interceptor: apiKeyInterceptor(keys, [trainerAuthPolicy(config)], log) };
}
