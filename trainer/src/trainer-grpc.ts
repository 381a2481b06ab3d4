import { TrainerServiceService, type TrainerServiceServer } from '../../lib/src/proto.js';
import { bindService, type ServiceBinding } from '../../lib/src/grpc/server.js';
import { unimplemented } from '../../lib/src/grpc/status.js';
import type { Logger } from '../../lib/src/logger.js';

export const TRAINER_SERVICE_NAME = 'recsys.v1.TrainerService';

/** The Trainer service's gRPC surface. */
export function trainerService(log: Logger): ServiceBinding {
  return bindService<TrainerServiceServer>(
    TRAINER_SERVICE_NAME,
    TrainerServiceService,
    {
      async startTraining() {
        throw unimplemented('StartTraining');
      },
      async getTrainingRun() {
        throw unimplemented('GetTrainingRun');
      },
      async listModels() {
        throw unimplemented('ListModels');
      },
      async activateModel() {
        throw unimplemented('ActivateModel');
      },
      async refreshRecommendations() {
        throw unimplemented('RefreshRecommendations');
      },
    },
    log,
  );
}
