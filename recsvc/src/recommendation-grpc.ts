import {
  ContributionKind,
  ExplanationKind,
  GenresTopFallback,
  TimeBucket,
  RecommendationServiceService,
  type ArmReport as ProtoArmReport,
  type Explanation as ProtoExplanation,
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
import { experimentReportFromStore, type ArmReport } from '../../lib/src/experiment-report.js';
import type { Recommender } from './recommender.js';
import type { EventIngest } from './event-ingest.js';
import { DEFAULT_REPORT_K, MAX_REPORT_K } from '../../lib/src/experiment-report.js';
import { assertId, boundedInt } from '../../lib/src/domain.js';
import { NotFoundError } from '../../lib/src/errors.js';
import type { Store, TimeBucketName } from '../../lib/src/store/types.js';
import { topListExplanation, type Explanation } from './explanations.js';

export const RECOMMENDATION_SERVICE_NAME = 'recsys.v1.RecommendationService';

/** An IMDb id as "tt" and at least 7 digits ("114709" and "tt0114709" both become "tt0114709"); "" otherwise. */
export function normalizeImdbId(id: string | undefined): string {
  const digits = /^(?:tt)?(\d{1,10})$/.exec(id?.trim() ?? '')?.[1];
  return digits ? `tt${digits.padStart(7, '0')}` : '';
}

export function toProtoMovie(movie: MovieDoc): Movie {
  const imdbId = normalizeImdbId(movie.imdbId);
  const imdbUrl = imdbId ? `https://www.imdb.com/title/${imdbId}/` : /^https?:\/\//.test(movie.imdbUrl ?? '') ? movie.imdbUrl! : '';
  return { movieId: movie.movieId, title: movie.title, genres: movie.genres, year: movie.year, rating: movie.rating, imdbId, imdbUrl };
}

const EXPLANATION_KINDS: Record<Explanation['kind'], ExplanationKind> = {
  similar_to_history: ExplanationKind.EXPLANATION_KIND_SIMILAR_TO_HISTORY,
  features: ExplanationKind.EXPLANATION_KIND_FEATURES,
  top_list: ExplanationKind.EXPLANATION_KIND_TOP_LIST,
};
const CONTRIBUTION_KINDS: Record<Explanation['contributions'][number]['kind'], ContributionKind> = {
  movie: ContributionKind.CONTRIBUTION_KIND_MOVIE,
  genre: ContributionKind.CONTRIBUTION_KIND_GENRE,
  item_identity: ContributionKind.CONTRIBUTION_KIND_ITEM_IDENTITY,
  user_bias: ContributionKind.CONTRIBUTION_KIND_USER_BIAS,
};

export function toProtoExplanation(e: Explanation | undefined): ProtoExplanation | undefined {
  if (!e) return undefined;
  return {
    kind: EXPLANATION_KINDS[e.kind],
    text: e.text,
    contributions: e.contributions.map((c) => ({ kind: CONTRIBUTION_KINDS[c.kind], id: c.id, label: c.label, value: c.value })),
    genres: e.genres,
  };
}

export function rankedMovies(movies: readonly MovieDoc[], score: (movie: MovieDoc) => number, explanation?: Explanation): RankedMovie[] {
  const proto = toProtoExplanation(explanation);
  return movies.map((movie, i) => ({ movie: toProtoMovie(movie), score: score(movie), rank: i + 1, explanation: proto }));
}

function toProtoArm(a: ArmReport): ProtoArmReport {
  return { ...a, modelType: modelTypeToProto(a.modelType) };
}

const BUCKETS: Record<TimeBucket, TimeBucketName | undefined> = {
  [TimeBucket.TIME_BUCKET_UNSPECIFIED]: 'day',
  [TimeBucket.TIME_BUCKET_DAY]: 'day',
  [TimeBucket.TIME_BUCKET_HOUR]: 'hour',
  [TimeBucket.UNRECOGNIZED]: undefined,
};

export const DEFAULT_HISTORY_LIMIT = 20;
export const MAX_HISTORY_LIMIT = 100;

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
          items: rankedMovies(top.movies, (m) => m.popularity, topListExplanation(top.fallback === 'global' ? 'global_top' : 'genres_top', top.genres)),
        };
      },
      async listGenres() {
        return { genres: await catalog.listGenres() };
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
          items: result.items.map((i) => ({ movie: toProtoMovie(i.movie), score: i.score, rank: i.rank, explanation: toProtoExplanation(i.explanation) })),
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
        const bucket = BUCKETS[request.bucket] as TimeBucketName | undefined;
        if (!bucket) throw new InvalidArgumentError('bucket must be one of: TIME_BUCKET_HOUR, TIME_BUCKET_DAY (UNSPECIFIED means DAY)');
        const report = await experimentReportFromStore(store, { k, since, until, bucket });
        return {
          k: report.k,
          arms: report.arms.map(toProtoArm),
          comparison: report.comparison,
          forced: report.forced.map(toProtoArm),
          bucket: report.bucket === 'hour' ? TimeBucket.TIME_BUCKET_HOUR : TimeBucket.TIME_BUCKET_DAY,
          series: report.series.map((s) => ({ modelType: modelTypeToProto(s.modelType), points: s.points })),
        };
      },
      async getUserHistory(request) {
        const userId = assertId(request.userId, 'user_id');
        const limit = boundedInt(request.limit, 'limit', 1, MAX_HISTORY_LIMIT, DEFAULT_HISTORY_LIMIT);
        const [user, weights] = await Promise.all([store.getUser(userId), store.userInteractionWeights(userId)]);
        if (!user && weights.size === 0) throw new NotFoundError(`user '${userId}' not found`);
        const strongest = [...weights].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, limit);
        const movies = await store.getMovies(strongest.map(([id]) => id));
        return {
          userId,
          total: weights.size,
          items: strongest.flatMap(([id, weight]) => {
            const movie = movies.get(id);
            return movie ? [{ movie: toProtoMovie(movie), weight }] : [];
          }),
        };
      },
    },
    deps.log,
    deps.observe,
  );
}
