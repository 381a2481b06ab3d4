import { Type } from 'typebox';
import { GENRES, ID_PATTERN_SOURCE, MAX_FAVORITE_GENRES } from '../../lib/src/domain.js';

/** REST request/response schemas: validated on the way in, serialised on the way out, published at /docs. */
export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { description: 'Every 4xx/5xx answer' },
);

export const UserId = Type.String({ pattern: ID_PATTERN_SOURCE, description: '1-64 characters of [A-Za-z0-9_-]' });

export const MovieItem = Type.Object({
  movie_id: Type.String(),
  title: Type.String(),
  genres: Type.Array(Type.String()),
  year: Type.Integer(),
  rating: Type.Number({ description: 'Average rating, 1-10' }),
  score: Type.Number(),
  rank: Type.Integer({ minimum: 1 }),
});

export const SetGenresBody = Type.Object(
  {
    user_id: UserId,
    genres: Type.Array(Type.String({ description: `One of: ${GENRES.join(', ')}` }), {
      minItems: 1,
      maxItems: MAX_FAVORITE_GENRES,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);

export const SetGenresResponse = Type.Object({
  user_id: Type.String(),
  genres: Type.Array(Type.String()),
  created: Type.Boolean({ description: 'True when this call created the user' }),
});

export const GenresTopQuery = Type.Object(
  {
    user_id: UserId,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  },
  { additionalProperties: false },
);

export const GenresTopResponse = Type.Object({
  user_id: Type.String(),
  genres: Type.Array(Type.String()),
  fallback: Type.Union([Type.Literal('global'), Type.Null()], {
    description: '"global" when the user has no favourite genres and the global top list is returned',
  }),
  items: Type.Array(MovieItem),
});

export const GenresResponse = Type.Object({ genres: Type.Array(Type.String()) });

export const errorResponses = {
  400: ErrorResponse,
  404: ErrorResponse,
  500: ErrorResponse,
  503: ErrorResponse,
  504: ErrorResponse,
} as const;

export const ModelName = Type.Union([Type.Literal('als'), Type.Literal('lightfm')]);

export const RecommendationsParams = Type.Object({ user_id: UserId });
export const RecommendationsQuery = Type.Object(
  {
    model: Type.Optional(
      Type.Union([Type.Literal('als'), Type.Literal('lightfm')], { description: 'Force a model; otherwise the A/B split assigns one' }),
    ),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  },
  { additionalProperties: false },
);

export const RecommendedItem = Type.Object({
  movie_id: Type.String(),
  title: Type.String(),
  genres: Type.Array(Type.String()),
  year: Type.Integer(),
  rating: Type.Number(),
  score: Type.Number(),
  rank: Type.Integer({ minimum: 1 }),
});

export const RecommendationsResponse = Type.Object({
  session_id: Type.String({ format: 'uuid' }),
  user_id: Type.String(),
  model_type: ModelName,
  model_version: Type.String({ description: '"none" when no model is trained yet' }),
  source: Type.Union([
    Type.Literal('cache'),
    Type.Literal('model'),
    Type.Literal('fold_in'),
    Type.Literal('genres_top'),
    Type.Literal('global_top'),
  ]),
  arm: Type.String({ description: 'The experiment arm, or "forced" when ?model= chose the model' }),
  items: Type.Array(RecommendedItem),
});

export const FeedbackParams = Type.Object({ session_id: Type.String({ description: 'session_id of a recommendation response' }) });
export const FeedbackBody = Type.Object(
  { movie_id: Type.String({ pattern: ID_PATTERN_SOURCE }), liked: Type.Boolean() },
  { additionalProperties: false },
);
export const FeedbackResponse = Type.Object({
  session_id: Type.String(),
  movie_id: Type.String(),
  liked: Type.Boolean(),
  created: Type.Boolean({ description: 'False when this replaced earlier feedback on the same movie of the session' }),
});

export const ReportQuery = Type.Object(
  {
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 3 })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

export const ArmReport = Type.Object({
  model_type: ModelName,
  sessions: Type.Integer(),
  sessions_with_feedback: Type.Integer(),
  feedback_count: Type.Integer(),
  likes: Type.Integer(),
  like_rate: Type.Number(),
  precision_at_k: Type.Number(),
  recall_at_k: Type.Number(),
});

export const ReportResponse = Type.Object({
  k: Type.Integer(),
  arms: Type.Array(ArmReport),
  comparison: Type.Object({
    difference: Type.Number({ description: 'Like rate of ALS minus that of LightFM' }),
    ci95_low: Type.Number(),
    ci95_high: Type.Number(),
    z: Type.Number(),
    p_value: Type.Number(),
  }),
});

const NumberMap = Type.Record(Type.String(), Type.Number());

export const TrainingRunSchema = Type.Object({
  run_id: Type.String(),
  models: Type.Array(ModelName),
  state: Type.Union([Type.Literal('queued'), Type.Literal('active'), Type.Literal('completed'), Type.Literal('failed'), Type.Literal('unspecified')]),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  stage: Type.String(),
  created_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  timings: NumberMap,
  data_stats: NumberMap,
  outcomes: Type.Array(
    Type.Object({ model_type: ModelName, version: Type.String(), promoted: Type.Boolean(), reason: Type.String(), metrics: NumberMap }),
  ),
  error: Type.String(),
  attempts: Type.Integer(),
});

export const StartTrainingBody = Type.Object(
  {
    models: Type.Optional(Type.Array(ModelName, { uniqueItems: true, maxItems: 2, description: 'Default: both models' })),
    als_params: Type.Optional(
      Type.Object(
        {
          factors: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
          regularization: Type.Optional(Type.Number({ minimum: 0 })),
          alpha: Type.Optional(Type.Number({ minimum: 0 })),
          iterations: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          cg_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647, description: 'int32' })),
        },
        { additionalProperties: false },
      ),
    ),
    warp_params: Type.Optional(
      Type.Object(
        {
          no_components: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
          epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          learning_rate: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          max_sampled: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          item_alpha: Type.Optional(Type.Number({ minimum: 0 })),
          user_alpha: Type.Optional(Type.Number({ minimum: 0 })),
          seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647, description: 'int32' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const StartTrainingResponse = Type.Object({ run: TrainingRunSchema, existing: Type.Boolean() });
export const RunParams = Type.Object({ run_id: Type.String({ minLength: 1, maxLength: 128 }) });

export const ModelVersionSchema = Type.Object({
  model_type: ModelName,
  version: Type.String(),
  created_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  params: NumberMap,
  data_stats: NumberMap,
  metrics: NumberMap,
  active: Type.Boolean(),
});
export const ModelsQuery = Type.Object({ model: Type.Optional(ModelName) }, { additionalProperties: false });
export const ModelsResponse = Type.Object({ models: Type.Array(ModelVersionSchema) });
export const ActivateParams = Type.Object({ model_type: ModelName });
export const ActivateBody = Type.Object({ version: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export const RefreshBody = Type.Object(
  { user_id: Type.Optional(UserId) },
  { additionalProperties: false, description: 'Without user_id every user is refreshed' },
);
export const RefreshResponse = Type.Object({ job_id: Type.String() });
