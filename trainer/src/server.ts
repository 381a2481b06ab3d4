import { startGrpcServer, type RunningGrpcServer } from '../../lib/src/grpc/server.js';
import type { Logger } from '../../lib/src/logger.js';
import type { TrainerConfig } from './config.js';
import { trainerService } from './trainer-grpc.js';

/** Starts the Trainer gRPC API. */
export async function startTrainerApi(config: TrainerConfig, log: Logger): Promise<RunningGrpcServer> {
  return startGrpcServer({ host: config.TRAINER_HOST, port: config.TRAINER_PORT, services: [trainerService(log)], log });
}
