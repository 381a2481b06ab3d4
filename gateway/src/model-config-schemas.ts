import { Type } from 'typebox';
import type { ModelTypeName } from '../../lib/src/domain.js';
import { Int32, REST_ENUMS, StringEnum } from './enums.js';

/**
 * REST schemas of the model settings (`GET/PUT /models/{model_type}/config`) and of the tuning trace shown by
 * `GET /models`; they mirror recsys.v1.ModelConfig, UpdateModelConfigRequest and TuningTrace. Parameter names in the
 * maps are the camelCase names of `params` (factors, regularization, alpha, iterations, cgSteps, seed; noComponents,
 * epochs, learningRate, maxSampled, itemAlpha, userAlpha, seed). Ranges are checked by the trainer, whose 400 names
 * the allowed range.
 */
const NumberMap = Type.Record(Type.String(), Type.Number());

export const ParamRangeSchema = Type.Object(
  {
    min: Type.Number(),
    max: Type.Number(),
    integer: Type.Optional(Type.Boolean({ description: 'Set by the trainer from the parameter; ignored on input' })),
    scale: Type.Optional(StringEnum<'log' | 'linear'>(REST_ENUMS.paramScale, { description: 'log: steps multiply (min above 0)' })),
  },
  { additionalProperties: false },
);

export const TuningBudgetSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'false: the values are used as they are, no search' })),
    budget_fits: Type.Optional(Type.Number({ description: 'Seconds allowed = budget_fits x the duration of the first fit (0 to 100)' })),
    max_trials: Type.Optional(Int32({ description: 'Hard cap on fits, the first included (1 to 1000)' })),
    validation_fraction: Type.Optional(Type.Number({ description: "Share of each user's training items held out for validation (0.05 to 0.5)" })),
    min_improvement: Type.Optional(Type.Number({ description: 'A trial must beat the best validation score by more than this (0 to 0.1)' })),
  },
  { additionalProperties: false },
);

export const ModelConfigSchema = Type.Object({
  model_type: StringEnum<ModelTypeName>(REST_ENUMS.model),
  values: NumberMap,
  search: Type.Record(Type.String(), ParamRangeSchema),
  tuning: TuningBudgetSchema,
  source: StringEnum<'environment' | 'stored'>(REST_ENUMS.configSource),
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const ModelConfigParams = Type.Object({ model_type: StringEnum<ModelTypeName>(REST_ENUMS.model) });

export const UpdateModelConfigBody = Type.Object(
  {
    values: Type.Optional(Type.Record(Type.String(), Type.Number(), { description: 'Values to change; the others stay' })),
    search: Type.Optional(Type.Record(Type.String(), ParamRangeSchema, { description: 'Ranges to set; a parameter not searched so far starts being searched' })),
    stop_searching: Type.Optional(Type.Array(Type.String(), { maxItems: 32, description: 'Parameters whose value becomes fixed' })),
    tuning: Type.Optional(TuningBudgetSchema),
    reset: Type.Optional(Type.Boolean({ description: "Back to the environment's initial values (the other fields are then ignored)" })),
  },
  { additionalProperties: false },
);

export const TuningTraceSchema = Type.Object({
  metric: Type.String(),
  started_from: Type.String({ description: "'configured', or 'active:<version>' when warm-started from the active version's choice" }),
  stopped_by: Type.String({ description: 'disabled, budget, max_trials, converged or nothing_to_search' }),
  budget_seconds: Type.Number(),
  validation_fraction: Type.Number(),
  space: Type.Record(Type.String(), ParamRangeSchema),
  trials: Type.Array(
    Type.Object({
      params: NumberMap,
      score: Type.Number({ description: 'Validation score; -1 when the fit failed' }),
      seconds: Type.Number(),
      kept: Type.Boolean({ description: 'The chosen trial' }),
    }),
  ),
  chosen: Type.Integer(),
});
