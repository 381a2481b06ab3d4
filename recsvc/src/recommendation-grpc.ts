import {
  GenresTopFallback,
  RecommendationServiceService,
  type Movie,
  type RankedMovie,
  type RecommendationServiceServer,
} from '../../lib/src/proto.js';
import { bindService, type CallObserver, type ServiceBinding } from '../../lib/src/grpc/server.js';
import { unimplemented } from '../../lib/src/grpc/status.js';
import type { Logger } from '../../lib/src/logger.js';
import type { MovieDoc } from '../../lib/src/store/types.js';
import type { GenreCatalog } from './genre-catalog.js';

export const RECOMMENDATION_SERVICE_NAME = 'recsys.v1.RecommendationService';

export function toProtoMovie(movie: MovieDoc): Movie {
  return { movieId: movie.movieId, title: movie.title, genres: movie.genres, year: movie.year, rating: movie.rating };
}

export function rankedMovies(movies: readonly MovieDoc[], score: (movie: MovieDoc) => number): RankedMovie[] {
  return movies.map((movie, i) => ({ movie: toProtoMovie(movie), score: score(movie), rank: i + 1 }));
}

export interface RecommendationServiceDeps {
  catalog: GenreCatalog;
  log: Logger;
  observe?: CallObserver;
}

/** Translates between the protobuf messages and the domain services; no business logic here. */
export function recommendationService(deps: RecommendationServiceDeps): ServiceBinding {
  const { catalog } = deps;
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
      async getRecommendations() {
        throw unimplemented('GetRecommendations');
      },
      async submitFeedback() {
        throw unimplemented('SubmitFeedback');
      },
      async getExperimentReport() {
        throw unimplemented('GetExperimentReport');
      },
    },
    deps.log,
    deps.observe,
  );
}
