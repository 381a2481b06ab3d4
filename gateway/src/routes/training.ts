import type { Job, ModelConfig, ModelVersion, ParamRange, TrainingRun, TuningTrace } from '../../../lib/src/proto.js';
import { ModelConfigParams, ModelConfigSchema, UpdateModelConfigBody } from '../model-config-schemas.js';
import { JobState, TrainingRunState } from '../../../lib/src/proto.js';
import { modelTypeName, modelTypeToProto } from '../../../lib/src/proto-mapping.js';
import { ModelType } from '../../../lib/src/proto.js';
import {
  ActivateBody,
  ActivateParams,
  JobParams,
  JobSchema,
  ModelVersionSchema,
  ModelsQuery,
  ModelsResponse,
  RefreshBody,
  RefreshResponse,
  RunParams,
  StartTrainingBody,
  StartTrainingResponse,
  TrainingRunSchema,
  errorResponses,
} from '../schemas.js';
import type { RouteModule } from './types.js';

const states: Record<TrainingRunState, 'queued' | 'active' | 'completed' | 'failed' | 'unspecified'> = {
  [TrainingRunState.TRAINING_RUN_STATE_UNSPECIFIED]: 'unspecified',
  [TrainingRunState.TRAINING_RUN_STATE_QUEUED]: 'queued',
  [TrainingRunState.TRAINING_RUN_STATE_ACTIVE]: 'active',
  [TrainingRunState.TRAINING_RUN_STATE_COMPLETED]: 'completed',
  [TrainingRunState.TRAINING_RUN_STATE_FAILED]: 'failed',
  [TrainingRunState.UNRECOGNIZED]: 'unspecified',
};

const iso = (date: Date | undefined) => (date ? date.toISOString() : null);
const modelName = (value: ModelType) => modelTypeName(value) as 'als' | 'lightfm';

function toRestRun(run: TrainingRun | undefined) {
  if (!run) throw new Error('trainer answered without a run');
  return {
    run_id: run.runId,
    models: run.modelTypes.map(modelName),
    state: states[run.state] ?? 'unspecified',
    progress: run.progress,
    stage: run.stage,
    created_at: iso(run.createdAt),
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    timings: run.timings,
    data_stats: run.dataStats,
    outcomes: run.outcomes.map((o) => ({
      model_type: modelName(o.modelType),
      version: o.version,
      promoted: o.promoted,
      reason: o.reason,
      metrics: o.metrics,
    })),
    error: run.error,
    attempts: run.attempts,
  };
}

const jobStates: Record<JobState, 'queued' | 'active' | 'completed' | 'failed' | 'unspecified'> = {
  [JobState.JOB_STATE_UNSPECIFIED]: 'unspecified',
  [JobState.JOB_STATE_QUEUED]: 'queued',
  [JobState.JOB_STATE_ACTIVE]: 'active',
  [JobState.JOB_STATE_COMPLETED]: 'completed',
  [JobState.JOB_STATE_FAILED]: 'failed',
  [JobState.UNRECOGNIZED]: 'unspecified',
};

function toRestJob(job: Job | undefined) {
  if (!job) throw new Error('trainer answered without a job');
  return {
    job_id: job.jobId,
    name: job.name as 'train_model' | 'update_recommendations' | 'update_all_recommendations',
    state: jobStates[job.state] ?? 'unspecified',
    progress: job.progress,
    created_at: iso(job.createdAt),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    error: job.error,
    attempts: job.attempts,
    stats: job.stats,
  };
}

const scaleOf = (scale: string) => (scale === 'linear' ? 'linear' : 'log') as 'log' | 'linear';
const toRestRanges = (ranges: Record<string, ParamRange>) =>
  Object.fromEntries(Object.entries(ranges).map(([name, r]) => [name, { min: r.min, max: r.max, integer: r.integer, scale: scaleOf(r.scale) }]));

function toRestTrace(trace: TuningTrace | undefined) {
  if (!trace) return undefined;
  return {
    metric: trace.metric,
    started_from: trace.startedFrom,
    stopped_by: trace.stoppedBy,
    budget_seconds: trace.budgetSeconds,
    validation_fraction: trace.validationFraction,
    space: toRestRanges(trace.space),
    trials: trace.trials.map((t) => ({ params: t.params, score: t.score, seconds: t.seconds, kept: t.kept })),
    chosen: trace.chosen,
  };
}

function toRestModel(model: ModelVersion | undefined) {
  if (!model) throw new Error('trainer answered without a model');
  return {
    model_type: modelName(model.modelType),
    version: model.version,
    created_at: iso(model.createdAt),
    params: model.params,
    data_stats: model.dataStats,
    metrics: model.metrics,
    active: model.active,
    ...(model.tuning ? { tuning: toRestTrace(model.tuning) } : {}),
  };
}

function toRestConfig(config: ModelConfig | undefined) {
  if (!config) throw new Error('trainer answered without a config');
  const t = config.tuning;
  return {
    model_type: modelName(config.modelType),
    values: config.values,
    search: toRestRanges(config.search),
    tuning: {
      enabled: t?.enabled,
      budget_fits: t?.budgetFits,
      max_trials: t?.maxTrials,
      validation_fraction: t?.validationFraction,
      min_improvement: t?.minImprovement,
    },
    source: config.source === 'stored' ? ('stored' as const) : ('environment' as const),
    updated_at: iso(config.updatedAt),
  };
}

export const trainingRoutes: RouteModule = (app, upstreams) => {
  const trainer = upstreams.trainer;

  app.post(
    '/training/runs',
    {
      schema: {
        summary: 'Start a training run (returns the queued or active run for the same models instead of starting another)',
        tags: ['training'],
        body: StartTrainingBody,
        response: { 202: StartTrainingResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { models, als_params: als, warp_params: warp } = request.body ?? {};
      const res = await upstreams.call(
        trainer,
        trainer.startTraining,
        {
          modelTypes: (models ?? []).map(modelTypeToProto),
          alsParams: als && {
            factors: als.factors ?? 0,
            regularization: als.regularization ?? 0,
            alpha: als.alpha ?? 0,
            iterations: als.iterations ?? 0,
            cgSteps: als.cg_steps ?? 0,
            seed: als.seed ?? 0,
          },
          warpParams: warp && {
            noComponents: warp.no_components ?? 0,
            epochs: warp.epochs ?? 0,
            learningRate: warp.learning_rate ?? 0,
            maxSampled: warp.max_sampled ?? 0,
            itemAlpha: warp.item_alpha ?? 0,
            userAlpha: warp.user_alpha ?? 0,
            seed: warp.seed ?? 0,
          },
        },
        request.id,
      );
      return reply.status(202).send({ run: toRestRun(res.run), existing: res.existing });
    },
  );

  app.get(
    '/training/runs/:run_id',
    {
      schema: {
        summary: 'State, progress, timings, metrics and produced versions of a training run',
        tags: ['training'],
        params: RunParams,
        response: { 200: TrainingRunSchema, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(trainer, trainer.getTrainingRun, { runId: request.params.run_id }, request.id);
      return toRestRun(res.run);
    },
  );

  app.get(
    '/models',
    {
      schema: {
        summary: 'Every stored model version, with its parameters, data statistics, offline metrics and which is active',
        tags: ['training'],
        querystring: ModelsQuery,
        response: { 200: ModelsResponse, ...errorResponses },
      },
    },
    async (request) => {
      const model = request.query.model;
      const res = await upstreams.call(
        trainer,
        trainer.listModels,
        { modelType: model ? modelTypeToProto(model) : ModelType.MODEL_TYPE_UNSPECIFIED },
        request.id,
      );
      return { models: res.models.map(toRestModel) };
    },
  );

  app.post(
    '/models/:model_type/activate',
    {
      schema: {
        summary: 'Make a stored version the active one (roll forward or back)',
        tags: ['training'],
        params: ActivateParams,
        body: ActivateBody,
        response: { 200: ModelVersionSchema, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(
        trainer,
        trainer.activateModel,
        { modelType: modelTypeToProto(request.params.model_type), version: request.body.version },
        request.id,
      );
      return toRestModel(res.model);
    },
  );

  app.get(
    '/models/:model_type/config',
    {
      schema: {
        summary: "A model's training settings: hyper-parameter values, search ranges, tuning budget (environment values until changed)",
        tags: ['training'],
        params: ModelConfigParams,
        response: { 200: ModelConfigSchema, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(trainer, trainer.getModelConfig, { modelType: modelTypeToProto(request.params.model_type) }, request.id);
      return toRestConfig(res.config);
    },
  );

  app.put(
    '/models/:model_type/config',
    {
      schema: {
        summary: "Change a model's training settings (used by every later run, scheduled ones included); 400 names the allowed range",
        tags: ['training'],
        params: ModelConfigParams,
        body: UpdateModelConfigBody,
        response: { 200: ModelConfigSchema, ...errorResponses },
      },
    },
    async (request) => {
      const body = request.body ?? {};
      const t = body.tuning;
      const res = await upstreams.call(
        trainer,
        trainer.updateModelConfig,
        {
          modelType: modelTypeToProto(request.params.model_type),
          values: body.values ?? {},
          search: Object.fromEntries(Object.entries(body.search ?? {}).map(([name, r]) => [name, { min: r.min, max: r.max, integer: false, scale: r.scale ?? '' }])),
          stopSearching: body.stop_searching ?? [],
          tuning: t && {
            enabled: t.enabled,
            budgetFits: t.budget_fits,
            maxTrials: t.max_trials,
            validationFraction: t.validation_fraction,
            minImprovement: t.min_improvement,
          },
          reset: body.reset ?? false,
        },
        request.id,
      );
      return toRestConfig(res.config);
    },
  );

  app.post(
    '/recommendations/refresh',
    {
      schema: {
        summary: 'Recompute the cached recommendations of one user, or of every user',
        tags: ['training'],
        body: RefreshBody,
        response: { 202: RefreshResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const res = await upstreams.call(trainer, trainer.refreshRecommendations, { userId: request.body?.user_id ?? '' }, request.id);
      return reply.status(202).send({ job_id: res.jobId });
    },
  );

  app.get(
    '/jobs/:job_id',
    {
      schema: {
        summary: 'Any job the API started: a training run (its run_id) or a refresh (the job_id of POST /recommendations/refresh)',
        tags: ['training'],
        params: JobParams,
        response: { 200: JobSchema, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(trainer, trainer.getJob, { jobId: request.params.job_id }, request.id);
      return toRestJob(res.job);
    },
  );
};
