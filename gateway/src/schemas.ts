import { Type } from 'typebox';
import { GENRES, ID_PATTERN_SOURCE, JOB_NAMES, MAX_FAVORITE_GENRES, type ModelTypeName } from '../../lib/src/domain.js';
import type { RecommendationSourceName } from '../../lib/src/store/types.js';
import { TuningTraceSchema } from './model-config-schemas.js';

export { REST_ENUMS, StringEnum } from './enums.js';
import { Int32, REST_ENUMS, StringEnum } from './enums.js';


/** REST request/response schemas: validated on the way in, serialised on the way out, published at /docs. */
export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { description: 'Every 4xx/5xx answer' },
);

export const UserId = Type.String({ pattern: ID_PATTERN_SOURCE, description: '1-64 characters of [A-Za-z0-9_-]' });

export const ModelName = StringEnum<ModelTypeName>(REST_ENUMS.model, { description: 'The model: als (implicit-feedback ALS) or lightfm (LightFM-style WARP hybrid)' });

export const ContributionSchema = Type.Object({
  kind: StringEnum<'movie' | 'genre' | 'item_identity' | 'user_bias'>(REST_ENUMS.contributionKind, {
    description: 'movie: a movie of the user\'s history (ALS); genre / item_identity: a feature of the recommended movie, user_bias: the user\'s bias (LightFM-style)',
  }),
  id: Type.String({ description: 'A movie id or a genre' }),
  label: Type.String({ description: 'A title or a genre, for display' }),
  value: Type.Number({ description: 'The part of the score (same unit as score); all the parts together sum to the score, the strongest are listed' }),
});

export const ExplanationSchema = Type.Object(
  {
    kind: StringEnum<'similar_to_history' | 'features' | 'top_list'>(REST_ENUMS.explanationKind),
    text: Type.String({ description: 'One sentence for people' }),
    contributions: Type.Array(ContributionSchema, { description: 'The strongest parts of the score, largest first (at most 5)' }),
    genres: Type.Array(Type.String(), { description: 'Top lists: the genres the list was drawn from' }),
  },
  { description: 'Why the movie is recommended' },
);

const movieFields = {
  movie_id: Type.String(),
  title: Type.String(),
  genres: Type.Array(Type.String()),
  year: Type.Integer(),
  rating: Type.Number({ description: 'Average rating, 1-10' }),
  imdb_url: Type.Union([Type.String(), Type.Null()], { description: 'A link to the film on IMDb, null when unknown' }),
};

export const MovieItem = Type.Object({
  ...movieFields,
  score: Type.Number({ description: 'Popularity' }),
  rank: Type.Integer({ minimum: 1 }),
  explanation: ExplanationSchema,
});

export const SetGenresBody = Type.Object(
  {
    user_id: UserId,
    genres: Type.Array(Type.String({ description: 'A genre of the catalogue: one of those GET /genres lists' }), {
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
  fallback: Type.Union([StringEnum<'global'>(REST_ENUMS.fallback), Type.Null()], {
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

export const RecommendationsParams = Type.Object({ user_id: UserId });
export const RecommendationsQuery = Type.Object(
  {
    model: Type.Optional(
      StringEnum<ModelTypeName>(REST_ENUMS.model, {
        description: 'Force a model (the session is then reported apart from the experiment); otherwise the A/B split assigns one',
      }),
    ),
    k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  },
  { additionalProperties: false },
);

export const RecommendedItem = Type.Object({
  ...movieFields,
  score: Type.Number({ description: "The model's raw score: not comparable across models (compare rank)" }),
  rank: Type.Integer({ minimum: 1 }),
  explanation: ExplanationSchema,
});

export const RecommendationsResponse = Type.Object({
  session_id: Type.String({ format: 'uuid' }),
  user_id: Type.String(),
  model_type: ModelName,
  model_version: Type.String({ description: '"none" when no model is trained yet' }),
  source: StringEnum<RecommendationSourceName>(REST_ENUMS.source, { description: 'Where the list came from' }),
  arm: Type.String({ description: 'The experiment arm (als, lightfm), "forced" when ?model= chose the model, or "fallback" for a genres_top/global_top list (no model made it; not counted in the A/B report)' }),
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
    bucket: Type.Optional(StringEnum<'hour' | 'day'>(REST_ENUMS.bucket, { description: 'Bucket of the like-rate time series (UTC)', default: 'day' })),
  },
  { additionalProperties: false },
);

export const ArmReport = Type.Object({
  model_type: ModelName,
  sessions: Type.Integer({ description: 'Lists served' }),
  sessions_with_feedback: Type.Integer(),
  feedback_count: Type.Integer(),
  likes: Type.Integer(),
  like_rate: Type.Number({ description: 'likes / feedback_count (0 without feedback)' }),
  like_rate_ci95: Type.Object(
    { low: Type.Number(), high: Type.Number() },
    { description: '95% Wilson score interval of the like rate ([0, 1] without feedback)' },
  ),
  precision_at_k: Type.Number(),
  recall_at_k: Type.Number(),
});

export const ReportResponse = Type.Object({
  k: Type.Integer(),
  arms: Type.Array(ArmReport, { description: 'The experiment: lists whose model the A/B split chose' }),
  comparison: Type.Object({
    enough_data: Type.Boolean({ description: 'False when an arm has no feedback: the figures below are then null' }),
    note: Type.String({ description: 'Why there is not enough data, or what the result means' }),
    difference: Type.Union([Type.Number(), Type.Null()], { description: 'Like rate of ALS minus that of LightFM' }),
    ci95_low: Type.Union([Type.Number(), Type.Null()]),
    ci95_high: Type.Union([Type.Number(), Type.Null()]),
    z: Type.Union([Type.Number(), Type.Null()]),
    p_value: Type.Union([Type.Number(), Type.Null()]),
    required_feedback_per_arm: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Feedback per arm a two-sided test at alpha 0.05 needs to detect the observed difference with power 0.8; null when no difference is observed',
    }),
  }),
  forced: Type.Array(ArmReport, { description: 'Lists whose model the caller forced with ?model= (the console): not part of the experiment' }),
  bucket: StringEnum<'hour' | 'day'>(REST_ENUMS.bucket),
  series: Type.Array(
    Type.Object({
      model_type: ModelName,
      points: Type.Array(
        Type.Object({
          start: Type.String({ format: 'date-time', description: 'Start of the bucket (when the lists were served)' }),
          feedback_count: Type.Integer(),
          likes: Type.Integer(),
          like_rate: Type.Number(),
        }),
      ),
    }),
    { description: "The experiment's like rate per arm over time, buckets with feedback only" },
  ),
});

export const HistoryParams = Type.Object({ user_id: UserId });
export const HistoryQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) },
  { additionalProperties: false },
);
export const HistoryResponse = Type.Object({
  user_id: Type.String(),
  total: Type.Integer({ description: 'Movies the user interacted with in all' }),
  items: Type.Array(
    Type.Object({
      ...movieFields,
      weight: Type.Number({ description: 'Summed model-input weight of the interactions (README, "Data")' }),
    }),
    { description: 'Strongest weight first, at most limit' },
  ),
});

const NumberMap = Type.Record(Type.String(), Type.Number());

export const TrainingRunSchema = Type.Object({
  run_id: Type.String(),
  models: Type.Array(ModelName),
  state: StringEnum<'queued' | 'active' | 'completed' | 'failed' | 'unspecified'>(REST_ENUMS.trainingRunState),
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
          seed: Type.Optional(Int32({ minimum: 0, description: 'int32' })),
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
          seed: Type.Optional(Int32({ minimum: 0, description: 'int32' })),
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
  tuning: Type.Optional(TuningTraceSchema),
});
export const ModelsQuery = Type.Object({ model: Type.Optional(ModelName) }, { additionalProperties: false });
export const ModelsResponse = Type.Object({ models: Type.Array(ModelVersionSchema) });
export const ActivateParams = Type.Object({ model_type: ModelName });
export const ActivateBody = Type.Object({ version: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
export const RefreshBody = Type.Object(
  { user_id: Type.Optional(UserId) },
  { additionalProperties: false, description: 'Without user_id every user is refreshed' },
);
export const RefreshResponse = Type.Object({ job_id: Type.String({ description: 'Poll it with GET /jobs/{job_id}' }) });

/** Any job the API started (GET /jobs/{job_id}): a training run's run_id or a refresh's job_id. */
export const JobParams = Type.Object({ job_id: Type.String({ minLength: 1, maxLength: 128 }) });
export const JobSchema = Type.Object({
  job_id: Type.String(),
  name: StringEnum<(typeof JOB_NAMES)[keyof typeof JOB_NAMES]>(REST_ENUMS.jobName),
  state: StringEnum<'queued' | 'active' | 'completed' | 'failed' | 'unspecified'>(REST_ENUMS.jobState),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  created_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  error: Type.String(),
  attempts: Type.Integer(),
  stats: Type.Record(Type.String(), Type.Number(), { description: 'Numbers of the result (or progress), dotted keys, e.g. models.als.users' }),
});
