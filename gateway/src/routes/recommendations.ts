import { ModelType } from '../../../lib/src/proto.js';
import { modelTypeName, modelTypeToProto, sourceFromProto } from '../../../lib/src/proto-mapping.js';
import {
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
import { toRestItem } from './genres.js';
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
      const { k, since, until } = request.query;
      const res = await upstreams.call(
        recsvc,
        recsvc.getExperimentReport,
        { k: k ?? 3, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined },
        request.id,
      );
      return {
        k: res.k,
        arms: res.arms.map((a) => ({
          model_type: modelTypeName(a.modelType) as 'als' | 'lightfm',
          sessions: a.sessions,
          sessions_with_feedback: a.sessionsWithFeedback,
          feedback_count: a.feedbackCount,
          likes: a.likes,
          like_rate: a.likeRate,
          precision_at_k: a.precisionAtK,
          recall_at_k: a.recallAtK,
        })),
        comparison: {
          difference: res.comparison?.difference ?? 0,
          ci95_low: res.comparison?.ci95Low ?? 0,
          ci95_high: res.comparison?.ci95High ?? 0,
          z: res.comparison?.z ?? 0,
          p_value: res.comparison?.pValue ?? 1,
        },
      };
    },
  );
};
