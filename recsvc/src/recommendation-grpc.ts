import {
  GenresTopFallback,
  RecommendationServiceService,
  type Movie,
  type RankedMovie,
  type RecommendationServiceServer,
} from '../../lib/src/proto.js';
import { bindService, type CallObserver, type ServiceBinding } from '../../lib/src/grpc/server.js';
import { modelTypeFromProto, modelTypeToProto, sourceToProto } from '../../lib/src/proto-mapping.js';
import { InvalidArgumentError } from '../../lib/src/errors.js';
import type { Logger } from '../../lib/src/logger.js';
import type { MovieDoc } from '../../lib/src/store/types.js';
import type { GenreCatalog } from './genre-catalog.js';
import { buildExperimentReport } from '../../lib/src/experiment-report.js';
import type { Recommender } from './recommender.js';
import type { EventIngest } from './event-ingest.js';
import { DEFAULT_REPORT_K, MAX_REPORT_K } from '../../lib/src/experiment-report.js';
import { boundedInt } from '../../lib/src/domain.js';
import type { Store } from '../../lib/src/store/types.js';

export const RECOMMENDATION_SERVICE_NAME = 'recsys.v1.RecommendationService';

export function toProtoMovie(movie: MovieDoc): Movie {
  return { movieId: movie.movieId, title: movie.title, genres: movie.genres, year: movie.year, rating: movie.rating };
}

export function rankedMovies(movies: readonly MovieDoc[], score: (movie: MovieDoc) => number): RankedMovie[] {
  return movies.map((movie, i) => ({ movie: toProtoMovie(movie), score: score(movie), rank: i + 1 }));
}

export interface RecommendationServiceDeps {
  catalog: GenreCatalog;
  recommender: Recommender;
  events: EventIngest;
  store: Store;
  log: Logger;
  observe?: CallObserver;
}

/** Translates between the protobuf messages and the domain services; no business logic here. */
export function recommendationService(deps: RecommendationServiceDeps): ServiceBinding {
  const { catalog, recommender, store } = deps;
  return bindService<RecommendationServiceServer>(
    RECOMMENDATION_SERVICE_NAME,
    RecommendationServiceService,
    {
      async setFavoriteGenres(request) {
        return catalog.setFavoriteGenres(request.userId, request.genres);
      },
      async getGenresTop(request) {
        const top = await catalog.genresTop(request.userId, request.limit);
        return {
          userId: top.userId,
          genres: top.genres,
          fallback: top.fallback === 'global' ? GenresTopFallback.GENRES_TOP_FALLBACK_GLOBAL : GenresTopFallback.GENRES_TOP_FALLBACK_UNSPECIFIED,
          items: rankedMovies(top.movies, (m) => m.popularity),
        };
      },
      async listGenres() {
        return { genres: [...catalog.listGenres()] };
      },
      async getRecommendations(request) {
        const result = await recommender.recommend(request.userId, modelTypeFromProto(request.modelType), request.k);
        return {
          sessionId: result.sessionId,
          userId: result.userId,
          modelType: modelTypeToProto(result.modelType),
          modelVersion: result.modelVersion,
          source: sourceToProto(result.source),
          arm: result.arm,
          items: result.items.map((i) => ({ movie: toProtoMovie(i.movie), score: i.score, rank: i.rank })),
        };
      },
      async submitFeedback(request) {
        return recommender.submitFeedback(request.sessionId, request.movieId, request.liked);
      },
      async ingestEvents(request) {
        return deps.events.ingest(request.events);
      },
      async getExperimentReport(request) {
        const k = boundedInt(request.k, 'k', 1, MAX_REPORT_K, DEFAULT_REPORT_K);
        const { since, until } = request;
        if (since && until && since >= until) throw new InvalidArgumentError('since must be before until');
        const report = buildExperimentReport(await store.experimentTotals({ k, since, until }), k);
        return {
          k: report.k,
          arms: report.arms.map((a) => ({ ...a, modelType: modelTypeToProto(a.modelType) })),
          comparison: report.comparison,
        };
      },
    },
    deps.log,
    deps.observe,
  );
}
