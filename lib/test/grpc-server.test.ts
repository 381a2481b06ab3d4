import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { MemoryCache } from '../src/cache/memory-cache.js';
import { DirectoryObjectStore } from '../src/objectstore/directory-object-store.js';
import { createLogger } from '../src/logger.js';
import { callUnary, checkHealth } from '../src/grpc/client.js';
import { RecommendationServiceClient, TrainerServiceClient } from '../src/proto.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { loadRecsvcConfig } from '../../recsvc/src/config.js';
import { startRecsvc } from '../../recsvc/src/server.js';
import { loadTrainerConfig } from '../../trainer/src/config.js';
import { startTrainerApi } from '../../trainer/src/server.js';
import type { RunningGrpcServer } from '../src/grpc/server.js';

const log = createLogger('test', 'silent');
const embedded = () => ({
  store: new MemoryStore(),
  cache: new MemoryCache(),
  objects: new DirectoryObjectStore(mkdtempSync(join(tmpdir(), 'recsys-grpc-'))),
});
const require = createRequire(import.meta.url);

function reflectionListServices(address: string): Promise<string[]> {
  const protoDir = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto');
  const definition = protoLoader.loadSync(join(protoDir, 'grpc/reflection/v1/reflection.proto'), { includeDirs: [protoDir] });
  const pkg = grpc.loadPackageDefinition(definition) as any;
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo({ deadline: new Date(Date.now() + 5_000) });
    call.on('data', (response: any) => {
      resolve(response.listServicesResponse.service.map((s: { name: string }) => s.name));
      call.end();
      client.close();
    });
    call.on('error', reject);
    call.write({ listServices: '' });
  });
}

describe('gRPC servers', () => {
  let recsvc: RunningGrpcServer;
  let trainer: Awaited<ReturnType<typeof startTrainerApi>>;
  let recsvcClient: RecommendationServiceClient;
  let trainerClient: TrainerServiceClient;
  const address = (s: RunningGrpcServer) => `127.0.0.1:${s.port}`;

  beforeAll(async () => {
    recsvc = await startRecsvc(loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0' }), log, embedded());
    trainer = await startTrainerApi(loadTrainerConfig({ TRAINER_PORT: '0', TRAINER_METRICS_PORT: '0' }), log);
    recsvcClient = new RecommendationServiceClient(address(recsvc), grpc.credentials.createInsecure());
    trainerClient = new TrainerServiceClient(address(trainer), grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    recsvcClient.close();
    trainerClient.close();
    await Promise.all([recsvc.shutdown(1_000), trainer.shutdown(1_000)]);
  });

  it('answer grpc.health.v1 for the server and each service', async () => {
    expect(await checkHealth(address(recsvc), 2_000)).toBe(true);
    expect(await checkHealth(address(recsvc), 2_000, 'recsys.v1.RecommendationService')).toBe(true);
    expect(await checkHealth(address(trainer), 2_000, 'recsys.v1.TrainerService')).toBe(true);
  });

  it('offer server reflection of their own service, health and reflection (lib/test/grpc-reflection.test.ts goes further with grpcurl)', async () => {
    const others = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];
    expect((await reflectionListServices(address(recsvc))).sort()).toEqual(['recsys.v1.RecommendationService', ...others].sort());
    expect((await reflectionListServices(address(trainer))).sort()).toEqual(['recsys.v1.TrainerService', ...others].sort());
  });

  it('map domain errors to INVALID_ARGUMENT and NOT_FOUND', async () => {
    const opts = { timeoutMs: 2_000 };
    await expect(
      callUnary(recsvcClient, recsvcClient.setFavoriteGenres, { userId: 'u1', genres: ['Nope'] }, opts),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/unknown genre 'Nope'/) });
    await expect(
      callUnary(recsvcClient, recsvcClient.setFavoriteGenres, { userId: '', genres: ['Comedy'] }, opts),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/user_id/) });
    await expect(
      callUnary(recsvcClient, recsvcClient.setFavoriteGenres, { userId: 'u1', genres: ['Comedy', 'War', 'Drama', 'Crime'] }, opts),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/at most 3/) });
    await expect(callUnary(recsvcClient, recsvcClient.getGenresTop, { userId: 'ghost', limit: 5 }, opts)).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    await expect(callUnary(recsvcClient, recsvcClient.getGenresTop, { userId: 'ghost', limit: 500 }, opts)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: 'limit must be an integer from 1 to 100',
    });
  });

  it('round-trip the genre RPCs', async () => {
    const opts = { timeoutMs: 2_000 };
    const set = await callUnary(recsvcClient, recsvcClient.setFavoriteGenres, { userId: 'u2', genres: ['Western'] }, opts);
    expect(set).toEqual({ userId: 'u2', genres: ['Western'], created: true });
    const top = await callUnary(recsvcClient, recsvcClient.getGenresTop, { userId: 'u2', limit: 0 }, opts);
    expect(top).toMatchObject({ userId: 'u2', genres: ['Western'], items: [] });
    const genres = await callUnary(recsvcClient, recsvcClient.listGenres, {}, opts);
    expect(genres.genres).toHaveLength(18);
  });

  it('serve Prometheus metrics with gRPC handling times', async () => {
    await callUnary(trainerClient, trainerClient.listModels, { modelType: 0 }, { timeoutMs: 2_000 });
    const body = await (await fetch(`http://127.0.0.1:${trainer.metricsPort}/metrics`)).text();
    expect(body).toMatch(/grpc_server_handling_seconds_count\{[^}]*method="recsys.v1.TrainerService\/listModels"/);
    expect(body).toMatch(/process_cpu_user_seconds_total/);
  });

  it('shut down gracefully: NOT_SERVING, then the port closes', async () => {
    const extra = await startRecsvc(loadRecsvcConfig({ RECSVC_PORT: '0', RECSVC_METRICS_PORT: '0' }), log, embedded());
    expect(await checkHealth(address(extra), 2_000)).toBe(true);
    await extra.shutdown(1_000);
    expect(await checkHealth(address(extra), 500)).toBe(false);
    await extra.shutdown(1_000); // idempotent
  });
});

describe('configuration', () => {
  it('lists every problem at once', () => {
    let problems: string[] = [];
    try {
      loadRecsvcConfig({ RECSVC_PORT: 'abc', MONGO_URL: 'http://x', LOG_LEVEL: 'loud' });
    } catch (err) {
      problems = (err as { problems: string[] }).problems;
    }
    expect(problems.sort()).toEqual([
      expect.stringMatching(/^LOG_LEVEL: /),
      expect.stringMatching(/^MONGO_URL: must be a mongodb:\/\/ URL/),
      expect.stringMatching(/^RECSVC_PORT: /),
    ]);
  });

  it('treats blank variables as unset and applies defaults', () => {
    const config = loadTrainerConfig({ MONGO_URL: '', TRAINER_PORT: '' });
    expect(config.MONGO_URL).toBeUndefined();
    expect(config.TRAINER_PORT).toBe(50052);
  });

  it('requires S3 credentials with an S3 endpoint', () => {
    expect(() => loadTrainerConfig({ S3_ENDPOINT: 'http://127.0.0.1:9000' })).toThrow(/S3_ACCESS_KEY and S3_SECRET_KEY are required/);
  });
});

