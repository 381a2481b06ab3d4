import type { ModelTypeName } from '../../lib/src/domain.js';
import { InvalidArgumentError } from '../../lib/src/errors.js';
import { bindService, throwIfCancelled, type CallObserver, type ServiceBinding } from '../../lib/src/grpc/server.js';
import type { Logger } from '../../lib/src/logger.js';
import {
  JobState as JobStateProto,
  ModelType,
  TrainerServiceService,
  TrainingRunState,
  type Job,
  type ModelConfig,
  type ModelOutcome,
  type ModelVersion,
  type TuningTrace as ProtoTuningTrace,
  type TrainerServiceServer,
  type TrainingRun,
} from '../../lib/src/proto.js';
import type { StoredSettings } from './model-settings.js';
import type { JobState } from './queue/types.js';
import type { JobView, ModelVersionView, TrainerService, TrainingRunView } from './trainer-service.js';
import type { TuningTrace } from './tuning.js';
import { catalogueHandlers } from './catalogue-grpc.js';

export const TRAINER_SERVICE_NAME = 'recsys.v1.TrainerService';

const modelTypeNames: Partial<Record<ModelType, ModelTypeName>> = {
  [ModelType.MODEL_TYPE_ALS]: 'als',
  [ModelType.MODEL_TYPE_LIGHTFM]: 'lightfm',
};
const modelTypeEnums: Record<ModelTypeName, ModelType> = { als: ModelType.MODEL_TYPE_ALS, lightfm: ModelType.MODEL_TYPE_LIGHTFM };

/** A model type of a request; UNSPECIFIED and unknown values are INVALID_ARGUMENT. */
function modelTypeName(value: ModelType, field: string): ModelTypeName {
  const name = modelTypeNames[value];
  if (!name) throw new InvalidArgumentError(`${field} must be MODEL_TYPE_ALS or MODEL_TYPE_LIGHTFM, got ${String(value)}`);
  return name;
}

const runStates: Record<JobState, TrainingRunState> = {
  queued: TrainingRunState.TRAINING_RUN_STATE_QUEUED,
  active: TrainingRunState.TRAINING_RUN_STATE_ACTIVE,
  completed: TrainingRunState.TRAINING_RUN_STATE_COMPLETED,
  failed: TrainingRunState.TRAINING_RUN_STATE_FAILED,
};

function toRun(run: TrainingRunView): TrainingRun {
  return {
    runId: run.runId,
    modelTypes: run.modelTypes.map((t) => modelTypeEnums[t]),
    state: runStates[run.state],
    progress: run.progress,
    stage: run.stage,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    timings: run.timings,
    dataStats: run.dataStats,
    outcomes: run.outcomes.map(
      (o): ModelOutcome => ({ modelType: modelTypeEnums[o.modelType], version: o.version, promoted: o.promoted, reason: o.reason, metrics: o.metrics }),
    ),
    error: run.error,
    attempts: run.attempts,
  };
}

const jobStates: Record<JobState, JobStateProto> = {
  queued: JobStateProto.JOB_STATE_QUEUED,
  active: JobStateProto.JOB_STATE_ACTIVE,
  completed: JobStateProto.JOB_STATE_COMPLETED,
  failed: JobStateProto.JOB_STATE_FAILED,
};

function toJob(view: JobView): Job {
  return { ...view, state: jobStates[view.state] };
}

function toTrace(trace: TuningTrace | undefined): ProtoTuningTrace | undefined {
  if (!trace) return undefined;
  return {
    metric: trace.metric,
    startedFrom: trace.startedFrom,
    stoppedBy: trace.stoppedBy,
    budgetSeconds: trace.budgetSeconds,
    validationFraction: trace.validationFraction,
    space: trace.space,
    trials: trace.trials.map((t) => ({ params: t.params, score: t.score ?? -1, seconds: t.seconds, kept: t.kept })),
    chosen: trace.chosen,
  };
}

function toModelVersion(view: ModelVersionView): ModelVersion {
  return {
    modelType: modelTypeEnums[view.modelType],
    version: view.version,
    createdAt: view.createdAt,
    params: view.params,
    dataStats: view.dataStats,
    metrics: view.metrics,
    active: view.active,
    tuning: toTrace(view.tuning),
  };
}

function toModelConfig(stored: StoredSettings): ModelConfig {
  return {
    modelType: modelTypeEnums[stored.modelType],
    values: stored.settings.values,
    search: stored.settings.search,
    tuning: stored.settings.tuning,
    source: stored.source,
    updatedAt: stored.updatedAt,
  };
}

/** The Trainer service's gRPC surface: request checks and proto mapping over TrainerService. */
export function trainerService(service: TrainerService, log: Logger, observe?: CallObserver): ServiceBinding {
  return bindService<TrainerServiceServer>(
    TRAINER_SERVICE_NAME,
    TrainerServiceService,
    {
      async startTraining(request, context) {
        const modelTypes = request.modelTypes.map((t, i) => modelTypeName(t, `model_types[${i}]`));
        throwIfCancelled(context);
        const { run, existing } = await service.startTraining({
          modelTypes,
          als: request.alsParams ? { ...request.alsParams } : undefined,
          warp: request.warpParams ? { ...request.warpParams } : undefined,
        });
        return { run: toRun(run), existing };
      },
      async getTrainingRun(request) {
        return { run: toRun(await service.getTrainingRun(request.runId)) };
      },
      async listModels(request) {
        const modelType = request.modelType === ModelType.MODEL_TYPE_UNSPECIFIED ? undefined : modelTypeName(request.modelType, 'model_type');
        return { models: (await service.listModels(modelType)).map(toModelVersion) };
      },
      async activateModel(request, context) {
        const modelType = modelTypeName(request.modelType, 'model_type');
        throwIfCancelled(context);
        return { model: toModelVersion(await service.activateModel(modelType, request.version)) };
      },
      async getModelConfig(request) {
        return { config: toModelConfig(await service.getModelConfig(modelTypeName(request.modelType, 'model_type'))) };
      },
      async updateModelConfig(request, context) {
        const modelType = modelTypeName(request.modelType, 'model_type');
        throwIfCancelled(context);
        const search = Object.fromEntries(
          Object.entries(request.search).map(([name, r]) => [name, { min: r.min, max: r.max, ...(r.scale ? { scale: r.scale as 'log' | 'linear' } : {}) }]),
        );
        const stored = await service.updateModelConfig(modelType, {
          values: request.values,
          search,
          stopSearching: request.stopSearching,
          tuning: request.tuning,
          reset: request.reset,
        });
        return { config: toModelConfig(stored) };
      },
      async refreshRecommendations(request) {
        const { jobId } = await service.refreshRecommendations(request.userId || undefined);
        return { jobId };
      },
      async getJob(request) {
        return { job: toJob(await service.getJob(request.jobId)) };
      },
      ...catalogueHandlers(service.runtime),
    },
    log,
    observe,
  );
}
