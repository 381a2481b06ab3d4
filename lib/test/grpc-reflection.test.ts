import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { seedServingWorld } from './support/fixtures.js';
import { requireServers } from './support/servers.js';
import { startStack, TEST_API_KEY, type TestStack } from './support/stack.js';

/**
 * Server reflection checked with a real reflection client: grpcurl (github.com/fullstorydev/grpcurl, built by
 * `scripts/test-servers.sh install` into the test-server cache). Every service of both servers is listed, described
 * (with its messages, down to google.protobuf.Timestamp) and every method is called, with no .proto file given.
 */
const grpcurlBinary = join(process.env.RECSYS_TEST_CACHE ?? join(homedir(), '.cache/recsys-test-servers'), 'bin/grpcurl');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function grpcurl(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    // The test stack's key on every call (the Trainer refuses state-changing calls without one; recsvc ignores it).
    execFile(grpcurlBinary, ['-plaintext', '-max-time', '20', '-H', `authorization: Bearer ${TEST_API_KEY}`, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** grpcurl exits with 64 + the gRPC status code when the call fails with a status. */
const exitFor = { OK: 0, INVALID_ARGUMENT: 64 + 3, NOT_FOUND: 64 + 5, DEADLINE_EXCEEDED: 64 + 4 } as const;

/** `rpc Name ( .pkg.Req ) returns ( .pkg.Res );` lines of a `describe <service>` output. */
function methodsOf(description: string): { name: string; input: string; output: string }[] {
  return [...description.matchAll(/rpc (\w+) \( (?:stream )?\.([\w.]+) \) returns \( (?:stream )?\.([\w.]+) \)/g)].map((m) => ({
    name: m[1]!,
    input: m[2]!,
    output: m[3]!,
  }));
}

const haveGrpcurl = existsSync(grpcurlBinary);
const suite = haveGrpcurl ? describe : requireServers ? describe : describe.skip;

suite(haveGrpcurl ? 'gRPC reflection, seen by grpcurl' : `gRPC reflection, seen by grpcurl — skipped: ${grpcurlBinary} missing (run scripts/test-servers.sh install)`, () => {
  let stack: TestStack;
  beforeAll(async () => {
    if (!haveGrpcurl) throw new Error(`${grpcurlBinary} missing but RECSYS_REQUIRE_SERVERS=1: run scripts/test-servers.sh install`);
    const store = new MemoryStore();
    await seedServingWorld(store);
    stack = await startStack(store, { trainerEnv: { ALS_ITERATIONS: '1', WARP_EPOCHS: '1', TRAIN_THREADS: '1' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Calls every method of every service on one server with grpcurl and checks its exit code. */
  async function describeAndCallAll(address: string, ownService: string, calls: Record<string, () => Promise<{ args: string[]; expect: keyof typeof exitFor; output?: RegExp }>>) {
    const listed = await grpcurl(address, 'list');
    expect(listed.stderr).toBe('');
    expect(listed.stdout.trim().split('\n').sort()).toEqual(
      [ownService, 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'].sort(),
    );
    const called: string[] = [];
    for (const service of [ownService, 'grpc.health.v1.Health']) {
      const described = await grpcurl(address, 'describe', service);
      expect(described.code, described.stderr).toBe(0);
      const methods = methodsOf(described.stdout);
      // Every method reflection shows has a call case below, and no case is for a method it does not show.
      const cases = Object.keys(calls).filter((name) => name.startsWith(`${service}/`));
      expect(methods.map((m) => `${service}/${m.name}`).sort()).toEqual([...cases].sort());
      for (const method of methods) {
        // Each message the method uses, resolved through reflection with every type it refers to.
        for (const message of [method.input, method.output]) {
          const d = await grpcurl(address, 'describe', message);
          expect(d.code, `describe ${message}: ${d.stderr}`).toBe(0);
          expect(d.stdout).toContain(`message ${message.split('.').pop()} {`);
        }
      }
      // Calls in the order of the cases (a later one may use an earlier one's answer).
      for (const full of cases) {
        const call = await calls[full]!();
        const run = await grpcurl(...call.args, address, full);
        expect(run.code, `${full} ${call.args.join(' ')}: ${run.stderr} ${run.stdout}`).toBe(exitFor[call.expect]);
        if (call.output) expect(run.stdout + run.stderr).toMatch(call.output);
        called.push(full);
      }
    }
    return called;
  }

  const health = (service: string) => ({
    'grpc.health.v1.Health/Check': async () => ({ args: ['-d', JSON.stringify({ service })], expect: 'OK' as const, output: /"status": "SERVING"/ }),
    'grpc.health.v1.Health/List': async () => ({ args: ['-d', '{}'], expect: 'OK' as const, output: new RegExp(service.replace(/\./g, '\\.')) }),
    // A server stream that stays open: the first message arrives, then grpcurl's -max-time ends it.
    'grpc.health.v1.Health/Watch': async () => ({ args: ['-max-time', '1', '-d', JSON.stringify({ service })], expect: 'DEADLINE_EXCEEDED' as const, output: /"status": "SERVING"/ }),
  });

  it('describes google.protobuf.Timestamp through the messages that use it', async () => {
    const run = await grpcurl(stack.trainerAddress, 'describe', 'recsys.v1.TrainingRun');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('.google.protobuf.Timestamp created_at = 6;');
    const ts = await grpcurl(stack.trainerAddress, 'describe', 'google.protobuf.Timestamp');
    expect(ts.stdout).toContain('int64 seconds = 1;');
  });

  it('RecommendationService: lists, describes and calls every method with reflection alone', async () => {
    let sessionId = '';
    let movieId = '';
    const called = await describeAndCallAll(stack.recsvcAddress, 'recsys.v1.RecommendationService', {
      'recsys.v1.RecommendationService/SetFavoriteGenres': async () => ({ args: ['-d', '{"user_id":"u5","genres":["Horror"]}'], expect: 'OK', output: /"genres": \[\s*"Horror"/ }),
      'recsys.v1.RecommendationService/GetGenresTop': async () => ({ args: ['-d', '{"user_id":"u4","limit":2}'], expect: 'OK', output: /"movieId": "m\d"/ }),
      'recsys.v1.RecommendationService/ListGenres': async () => ({ args: ['-d', '{}'], expect: 'OK', output: /"Comedy"/ }),
      'recsys.v1.RecommendationService/GetRecommendations': async () => {
        const run = await grpcurl('-d', '{"user_id":"u4","model_type":"MODEL_TYPE_ALS","k":3}', stack.recsvcAddress, 'recsys.v1.RecommendationService/GetRecommendations');
        const body = JSON.parse(run.stdout) as { sessionId: string; items: { movie: { movieId: string } }[] };
        sessionId = body.sessionId;
        movieId = body.items[0]!.movie.movieId;
        return { args: ['-d', '{"user_id":"u4","k":2}'], expect: 'OK', output: /"sessionId": "/ };
      },
      'recsys.v1.RecommendationService/SubmitFeedback': async () => ({
        args: ['-d', JSON.stringify({ session_id: sessionId, movie_id: movieId, liked: true })],
        expect: 'OK',
        output: new RegExp(`"movieId": "${movieId}"`),
      }),
      'recsys.v1.RecommendationService/GetExperimentReport': async () => ({
        args: ['-d', '{"k":3,"since":"2020-01-01T00:00:00Z","until":"2100-01-01T00:00:00Z"}'],
        expect: 'OK',
        output: /"since": "2020-01-01T00:00:00Z"|MODEL_TYPE_ALS/,
      }),
      'recsys.v1.RecommendationService/GetUserHistory': async () => ({ args: ['-d', '{"user_id":"u4","limit":3}'], expect: 'OK', output: /"userId": "u4"/ }),
      'recsys.v1.RecommendationService/IngestEvents': async () => ({
        args: ['-d', JSON.stringify({ events: [{ event_id: 'reflection-1', user_id: 'u4', movie_id: 'm1', type: 'INTERACTION_TYPE_BOOKMARKED', occurred_at: '2026-11-29T12:00:00Z' }] })],
        expect: 'OK',
        output: /"accepted": 1/,
      }),
      ...health('recsys.v1.RecommendationService'),
    });
    expect(called).toHaveLength(11);
  });

  it('TrainerService: lists, describes and calls every method with reflection alone', async () => {
    let runId = '';
    const called = await describeAndCallAll(stack.trainerAddress, 'recsys.v1.TrainerService', {
      'recsys.v1.TrainerService/StartTraining': async () => {
        const run = await grpcurl('-d', '{"model_types":["MODEL_TYPE_ALS"],"als_params":{"factors":4}}', stack.trainerAddress, 'recsys.v1.TrainerService/StartTraining');
        runId = (JSON.parse(run.stdout) as { run: { runId: string } }).run.runId;
        // Once more: the run already queued or active comes back (or a new one once it has finished).
        return { args: ['-d', '{"model_types":["MODEL_TYPE_ALS"]}'], expect: 'OK', output: /"runId": "/ };
      },
      'recsys.v1.TrainerService/GetTrainingRun': async () => ({ args: ['-d', JSON.stringify({ run_id: runId })], expect: 'OK', output: /"createdAt": "\d{4}-/ }),
      'recsys.v1.TrainerService/ListModels': async () => ({ args: ['-d', '{}'], expect: 'OK' }),
      'recsys.v1.TrainerService/ActivateModel': async () => ({
        args: ['-d', '{"model_type":"MODEL_TYPE_ALS","version":"20200101T000000000Z-abcdef"}'],
        expect: 'NOT_FOUND',
      }),
      'recsys.v1.TrainerService/RefreshRecommendations': async () => ({ args: ['-d', '{}'], expect: 'OK', output: /"jobId": "/ }),
      'recsys.v1.TrainerService/GetJob': async () => ({ args: ['-d', JSON.stringify({ job_id: runId })], expect: 'OK', output: /"name": "train_model"/ }),
      'recsys.v1.TrainerService/GetModelConfig': async () => ({ args: ['-d', '{"model_type":"MODEL_TYPE_ALS"}'], expect: 'OK', output: /"values"/ }),
      'recsys.v1.TrainerService/UpdateModelConfig': async () => ({
        args: ['-d', '{"model_type":"MODEL_TYPE_ALS","values":{"regularization":-1}}'],
        expect: 'INVALID_ARGUMENT',
        output: /regularization must be at least 0/,
      }),
      'recsys.v1.TrainerService/CreateMovie': async () => ({
        args: ['-d', '{"movie":{"movie_id":"grpcurl-1","title":"Reflected","year":2026,"genres":["Comedy"]}}'],
        expect: 'OK',
        output: /"movieId": "grpcurl-1"/,
      }),
      'recsys.v1.TrainerService/UpdateMovie': async () => ({ args: ['-d', '{"movie_id":"grpcurl-1","hidden":true}'], expect: 'OK', output: /"hidden": true/ }),
      'recsys.v1.TrainerService/GetMovie': async () => ({ args: ['-d', '{"movie_id":"no-such-movie"}'], expect: 'NOT_FOUND', output: /movie 'no-such-movie' not found/ }),
      'recsys.v1.TrainerService/ListMovies': async () => ({ args: ['-d', '{"hidden":"HIDDEN_FILTER_HIDDEN"}'], expect: 'OK', output: /"movieId": "grpcurl-1"/ }),
      ...health('recsys.v1.TrainerService'),
    });
    expect(called).toHaveLength(15);
  });

  it('the reflection service itself can be called', async () => {
    const run = await grpcurl('-d', '{"list_services":""}', stack.recsvcAddress, 'grpc.reflection.v1.ServerReflection/ServerReflectionInfo');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('recsys.v1.RecommendationService');
  });
});
