import { ApiKeyStore, type ApiKeysEnv } from '../../lib/src/api-keys.js';
import { apiKeyInterceptor, type ServiceAuthPolicy } from '../../lib/src/grpc/auth.js';
import type { Logger } from '../../lib/src/logger.js';
import { RECOMMENDATION_SERVICE_NAME } from './recommendation-grpc.js';

/**
 * Who may call what on the RecommendationService, as on the REST routes in front of it: writing interaction events
 * needs a key with scope `ingest`; the client calls (recommendations, genres, feedback, reports, history), writes
 * included, are open unless REQUIRE_KEY_FOR_CLIENT_ROUTES (then scope `client`). A method added later needs `admin`
 * until listed here (fail closed).
 */
export function recommendationAuthPolicy(config: Pick<ApiKeysEnv, 'REQUIRE_KEY_FOR_CLIENT_ROUTES'>): ServiceAuthPolicy {
  const client = config.REQUIRE_KEY_FOR_CLIENT_ROUTES ? 'client' : null;
  return {
    service: RECOMMENDATION_SERVICE_NAME,
    methods: {
      IngestEvents: 'ingest',
      SetFavoriteGenres: client,
      SubmitFeedback: client,
      GetGenresTop: client,
      ListGenres: client,
      GetRecommendations: client,
      GetExperimentReport: client,
      GetUserHistory: client,
    },
    defaultScope: 'admin',
  };
}

/** recsvc's key check: a server interceptor over the keys of API_KEYS_FILE / API_KEYS (or the store given). */
export function recommendationAuth(config: ApiKeysEnv, log: Logger, keys: ApiKeyStore = ApiKeyStore.fromEnv(config, log)) {
  return { keys, interceptor: apiKeyInterceptor(keys, [recommendationAuthPolicy(config)], log) };
}
