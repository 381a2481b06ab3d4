import { Type, type TUnsafe } from 'typebox';
import { JOB_NAMES } from '../../lib/src/domain.js';
import { ContributionKind, ExplanationKind, GenresTopFallback, InteractionType, JobState, ModelType, RecommendationSource, TimeBucket, TrainingRunState } from '../../lib/src/proto.js';
import { protoEnumNames } from '../../lib/src/proto-mapping.js';

/**
 * A string enum for OpenAPI and validation: `{"type": "string", "enum": [...]}` (one schema that every OpenAPI tool
 * renders as a pick list, unlike anyOf of constants). A wrong value is a 400 that lists `values`.
 */
export function StringEnum<T extends string>(values: readonly string[], options: { description?: string; default?: T } = {}): TUnsafe<T> {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}

/**
 * The REST enums, each derived from its protobuf enum (lib/src/proto-mapping.ts protoEnumNames), so that REST,
 * gRPC and the OpenAPI document cannot drift; gateway/test/schemas.test.ts checks every one of them.
 */
export const REST_ENUMS = {
  model: protoEnumNames(ModelType, 'MODEL_TYPE_'),
  source: protoEnumNames(RecommendationSource, 'RECOMMENDATION_SOURCE_'),
  explanationKind: protoEnumNames(ExplanationKind, 'EXPLANATION_KIND_'),
  contributionKind: protoEnumNames(ContributionKind, 'CONTRIBUTION_KIND_'),
  bucket: protoEnumNames(TimeBucket, 'TIME_BUCKET_'),
  interactionType: protoEnumNames(InteractionType, 'INTERACTION_TYPE_'),
  fallback: protoEnumNames(GenresTopFallback, 'GENRES_TOP_FALLBACK_'),
  trainingRunState: [...protoEnumNames(TrainingRunState, 'TRAINING_RUN_STATE_'), 'unspecified'],
  jobState: [...protoEnumNames(JobState, 'JOB_STATE_'), 'unspecified'],
  /** Job names are a string in the proto (recsys.v1.Job.name); their one list is JOB_NAMES. */
  jobName: Object.values(JOB_NAMES),
  /** A search range's scale (recsys.v1.ParamRange.scale, a string in the proto). */
  paramScale: ['log', 'linear'],
  /** Where a model's settings come from (recsys.v1.ModelConfig.source, a string in the proto). */
  configSource: ['environment', 'stored'],
} as const;

/**
 * An integer request field carried by a protobuf int32: bounded to the int32 range so that any JSON number either
 * reaches the service (which checks the domain range and names it) or is a 400 here, never an encoding failure (500).
 */
export function Int32(options: { minimum?: number; maximum?: number; description?: string } = {}) {
  return Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647, ...options });
}
