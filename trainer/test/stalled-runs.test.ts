import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { describeWithServers, serverUrl } from '../../lib/test/support/servers.js';
import { loadTrainerConfig } from '../src/config.js';
import { createTrainerRuntime, JOB_NAMES, TRAINING_QUEUE, type TrainerRuntime } from '../src/runtime.js';
import { TrainerService, type TrainingRunView } from '../src/trainer-service.js';
import { deleteRedisKeys, embeddedBackends, silentLog } from './support/harness.js';

const dyingWorker = fileURLToPath(new URL('./support/dying-worker.mjs', import.meta.url));

/** Starts a worker in a child process, waits until it has taken `runId` and reported progress, then SIGKILLs it. */
async function killWorkerMidRun(runtime: TrainerRuntime, runId: string): Promise<void> {
  const { REDIS_URL, QUEUE_PREFIX, JOB_LOCK_MS, JOB_STALLED_INTERVAL_MS } = runtime.config;
  const args = [dyingWorker, REDIS_URL!, QUEUE_PREFIX, TRAINING_QUEUE, String(JOB_LOCK_MS), String(JOB_STALLED_INTERVAL_MS)];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await expect.poll(() => output, { timeout: 30_000, interval: 25 }).toContain(`started ${runId}`);
  } finally {
    const exited = child.exitCode === null ? once(child, 'exit') : Promise.resolve();
    child.kill('SIGKILL');
    await exited;
  }
}

async function waitForRunState(service: TrainerService, runId: string, states: TrainingRunView['state'][]): Promise<TrainingRunView> {
  let run: TrainingRunView | undefined;
  await expect
    .poll(async () => ((run = await service.getTrainingRun(runId)), run.state), { timeout: 30_000, interval: 50 })
    .toSatisfy((state: TrainingRunView['state']) => states.includes(state));
  return run!;
}

describeWithServers(['REDIS_URL'], 'a run whose only worker died (BullMQ on real Redis, worker in a child process)', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const prefix of prefixes) await deleteRedisKeys(serverUrl('REDIS_URL')!, prefix);
  });

  async function trainerApi(maxStalledCount: number) {
    prefixes.push(`test-${randomUUID().slice(0, 8)}`);
    const config = loadTrainerConfig({
      REDIS_URL: serverUrl('REDIS_URL')!,
      QUEUE_PREFIX: prefixes.at(-1)!,
      JOB_LOCK_MS: '1000',
      JOB_STALLED_INTERVAL_MS: '300',
      JOB_MAX_STALLED_COUNT: String(maxStalledCount),
    });
    const runtime = await createTrainerRuntime(config, silentLog, await embeddedBackends());
    return { runtime, service: new TrainerService(runtime) };
  }

  it('is put back in the queue by the API\'s stalled check, finishes on the next worker without the dead attempt\'s error, and a new run can start', async () => {
    const { runtime, service } = await trainerApi(1);
    const stalledCheck = runtime.training.watchStalled(); // what startTrainerApi runs
    try {
      const { run } = await service.startTraining({ modelTypes: [] });
      await killWorkerMidRun(runtime, run.runId);
      // Its progress stays as the dead worker left it (the run is active until the lock expires).
      expect((await service.getTrainingRun(run.runId)).timings).toEqual({});

      // No worker runs now: the API's check alone finds the expired lock and queues the run for another attempt.
      const requeued = await waitForRunState(service, run.runId, ['queued', 'failed']);
      expect(requeued).toMatchObject({ state: 'queued', stage: 'retry_pending', attempts: 1 });
      expect((await service.startTraining({ modelTypes: [] })).run.runId).toBe(run.runId); // still the one run

      const worker = runtime.training.process(
        { [JOB_NAMES.train]: async (ctx) => ({ ...ctx.progress, fraction: 1, stage: 'done' }) },
        { concurrency: 1 },
      );
      try {
        const done = await waitForRunState(service, run.runId, ['completed', 'failed']);
        expect(done).toMatchObject({ state: 'completed', stage: 'done', progress: 1, attempts: 2, error: '' });
        const next = await service.startTraining({ modelTypes: [] });
        expect(next.existing).toBe(false);
        expect(next.run.runId).not.toBe(run.runId);
      } finally {
        await worker.close(2_000);
      }
    } finally {
      await stalledCheck.stop();
      await runtime.close();
    }
  });

  it('fails clearly once it stalled more often than JOB_MAX_STALLED_COUNT allows, without running it again, and a new StartTraining starts a new run', async () => {
    const { runtime, service } = await trainerApi(0);
    const stalledCheck = runtime.training.watchStalled();
    let calls = 0;
    try {
      const { run } = await service.startTraining({ modelTypes: ['als'] });
      await killWorkerMidRun(runtime, run.runId);

      // The API's check finds the expired lock. Past the limit, BullMQ marks the job to be failed by the next worker
      // that takes it (never run again); until a worker comes, the run says why.
      await expect
        .poll(async () => (await service.getTrainingRun(run.runId)).error, { timeout: 30_000, interval: 50 })
        .toMatch(/worker running this job died or stalled .* JOB_MAX_STALLED_COUNT=0/);

      const worker = runtime.training.process(
        { [JOB_NAMES.train]: async (ctx) => (calls++, { ...ctx.progress, fraction: 1, stage: 'done' }) },
        { concurrency: 1 },
      );
      try {
        const failed = await waitForRunState(service, run.runId, ['failed', 'completed']);
        expect(failed.state).toBe('failed');
        expect(failed.error).toMatch(/worker running this job died or stalled .* JOB_MAX_STALLED_COUNT=0.*start it again/);
        expect(failed.finishedAt).toBeInstanceOf(Date);
        expect(calls).toBe(0);

        const next = await service.startTraining({ modelTypes: ['als'] });
        expect(next.existing).toBe(false);
        expect(next.run.runId).not.toBe(run.runId);
        const done = await waitForRunState(service, next.run.runId, ['completed', 'failed']);
        expect(done).toMatchObject({ state: 'completed', attempts: 1, error: '' });
        expect(calls).toBe(1);
      } finally {
        await worker.close(2_000);
      }
    } finally {
      await stalledCheck.stop();
      await runtime.close();
    }
  });
});
