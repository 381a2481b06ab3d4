import { ModelType, TimeBucket, type ArmReport } from '../../../lib/src/proto.js';
import { modelTypeName, modelTypeToProto, protoEnumName, protoEnumValue, sourceFromProto } from '../../../lib/src/proto-mapping.js';
import {
  HistoryParams,
  HistoryQuery,
  HistoryResponse,
  FeedbackBody,
  FeedbackParams,
  FeedbackResponse,
  RecommendationsParams,
  RecommendationsQuery,
  RecommendationsResponse,
  ReportQuery,
  ReportResponse,
  errorResponses,
} from '../schemas.js';
import { toRestItem, toRestMovie } from './genres.js';
import type { RouteModule } from './types.js';

export const recommendationRoutes: RouteModule = (app, upstreams) => {
  const recsvc = upstreams.recommendations;

  app.get(
    '/recommendations/:user_id',
    {
      schema: {
        summary: 'Recommendations from the ALS or the LightFM-style model (A/B split, or forced with ?model=)',
        tags: ['recommendations'],
        params: RecommendationsParams,
        querystring: RecommendationsQuery,
        response: { 200: RecommendationsResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { model, k } = request.query;
      const res = await upstreams.call(
        recsvc,
        recsvc.getRecommendations,
        {
          userId: request.params.user_id,
          modelType: model ? modelTypeToProto(model) : ModelType.MODEL_TYPE_UNSPECIFIED,
          k: k ?? 10,
        },
        request.id,
      );
      return {
        session_id: res.sessionId,
        user_id: res.userId,
        model_type: modelTypeName(res.modelType) as 'als' | 'lightfm',
        model_version: res.modelVersion,
        source: sourceFromProto(res.source),
        arm: res.arm,
        items: res.items.map(toRestItem),
      };
    },
  );

  app.post(
    '/feedback/:session_id',
    {
      schema: {
        summary: 'A like or dislike on a movie of a served recommendation list',
        tags: ['recommendations'],
        params: FeedbackParams,
        body: FeedbackBody,
        response: { 200: FeedbackResponse, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(
        recsvc,
        recsvc.submitFeedback,
        { sessionId: request.params.session_id, movieId: request.body.movie_id, liked: request.body.liked },
        request.id,
      );
      return { session_id: res.sessionId, movie_id: res.movieId, liked: res.liked, created: res.created };
    },
  );

  app.get(
    '/experiments/report',
    {
      schema: {
        summary: 'Precision@K, Recall@K and like rate per model, with a significance test of the like rates',
        tags: ['experiments'],
        querystring: ReportQuery,
        response: { 200: ReportResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { k, since, until, bucket } = request.query;
      const res = await upstreams.call(
        recsvc,
        recsvc.getExperimentReport,
        {
          k: k ?? 3,
          since: since ? new Date(since) : undefined,
          until: until ? new Date(until) : undefined,
          bucket: protoEnumValue(TimeBucket, 'TIME_BUCKET_', bucket ?? 'day'),
        },
        request.id,
      );
      const c = res.comparison;
      const enough = c?.enoughData ?? false;
      const figure = (value: number | undefined) => (enough ? (value ?? 0) : null);
      return {
        k: res.k,
        arms: res.arms.map(toRestArm),
        comparison: {
          enough_data: enough,
          note: c?.note ?? '',
          difference: figure(c?.difference),
          ci95_low: figure(c?.ci95Low),
          ci95_high: figure(c?.ci95High),
          z: figure(c?.z),
          p_value: figure(c?.pValue),
          required_feedback_per_arm: enough && c?.requiredFeedbackPerArm ? c.requiredFeedbackPerArm : null,
        },
        forced: res.forced.map(toRestArm),
        bucket: protoEnumName(TimeBucket, 'TIME_BUCKET_', res.bucket) === 'hour' ? ('hour' as const) : ('day' as const),
        series: res.series.map((s) => ({
          model_type: modelTypeName(s.modelType) as 'als' | 'lightfm',
          points: s.points.map((p) => ({
            start: (p.start ?? new Date(0)).toISOString(),
            feedback_count: p.feedbackCount,
            likes: p.likes,
            like_rate: p.likeRate,
          })),
        })),
      };
    },
  );

  app.get(
    '/users/:user_id/history',
    {
      schema: {
        summary: "The movies a user watched, liked or bookmarked, strongest model-input weight first (404 for an unknown user)",
        tags: ['recommendations'],
        params: HistoryParams,
        querystring: HistoryQuery,
        response: { 200: HistoryResponse, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(
        recsvc,
        recsvc.getUserHistory,
        { userId: request.params.user_id, limit: request.query.limit ?? 20 },
        request.id,
      );
      return {
        user_id: res.userId,
        total: res.total,
        items: res.items.map((i) => ({ ...toRestMovie(i.movie), weight: i.weight })),
      };
    },
  );
};

function toRestArm(a: ArmReport) {
  return {
    model_type: modelTypeName(a.modelType) as 'als' | 'lightfm',
    sessions: a.sessions,
    sessions_with_feedback: a.sessionsWithFeedback,
    feedback_count: a.feedbackCount,
    likes: a.likes,
    like_rate: a.likeRate,
    like_rate_ci95: { low: a.likeRateCi95Low, high: a.likeRateCi95High },
    precision_at_k: a.precisionAtK,
    recall_at_k: a.recallAtK,
  };
}
