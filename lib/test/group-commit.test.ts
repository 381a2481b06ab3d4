import { describe, expect, it } from 'vitest';
import { currentCall, runInCallScope } from '../src/call-scope.js';
import { GroupCommit } from '../src/group-commit.js';

/** A write whose batches are recorded and finish only when the test says so. */
function controlledWrite() {
  const batches: number[][] = [];
  const finishers: ((fail?: Error) => void)[] = [];
  const write = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push(items);
      finishers.push((fail) => (fail ? reject(fail) : resolve(items.map((i) => `done ${i}`))));
    });
  return { batches, write, finish: (index: number, fail?: Error) => finishers[index](fail) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('writes a lone item at once, and the items submitted meanwhile together as the next batch', async () => {
    const { batches, write, finish } = controlledWrite();
    const commit = new GroupCommit(write);
    const first = commit.submit(1);
    expect(batches).toEqual([[1]]);
    const rest = [commit.submit(2), commit.submit(3), commit.submit(4)];
    expect(commit.load).toEqual({ waiting: 3, inFlight: 1 });
    finish(0);
    expect(await first).toBe('done 1');
    await settle();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    finish(1);
    expect(await Promise.all(rest)).toEqual(['done 2', 'done 3', 'done 4']);
    expect(commit.load).toEqual({ waiting: 0, inFlight: 0 });
  });

  it('splits at maxBatch and writes up to maxInFlight batches at once', async () => {
    const { batches, write, finish } = controlledWrite();
    const commit = new GroupCommit(write, { maxBatch: 2, maxInFlight: 2 });
    const all = [1, 2, 3, 4, 5].map((i) => commit.submit(i));
    expect(batches).toEqual([[1], [2]]);
    finish(0);
    finish(1);
    await settle();
    expect(batches).toEqual([[1], [2], [3, 4], [5]]);
    finish(2);
    finish(3);
    expect(await Promise.all(all)).toEqual(['done 1', 'done 2', 'done 3', 'done 4', 'done 5']);
  });

  it("rejects every item of a failed batch with the batch's error, and goes on with the next batch", async () => {
    const { batches, write, finish } = controlledWrite();
    const commit = new GroupCommit(write);
    const first = commit.submit(1);
    const second = commit.submit(2);
    const third = commit.submit(3);
    finish(0, new Error('database down'));
    await expect(first).rejects.toThrow('database down');
    await settle();
    finish(1, new Error('still down'));
    await expect(second).rejects.toThrow('still down');
    await expect(third).rejects.toThrow('still down');
    const fourth = commit.submit(4);
    expect(batches).toEqual([[1], [2, 3], [4]]);
    finish(2);
    expect(await fourth).toBe('done 4');
  });

  it('refuses a write that returns a result count other than its item count', async () => {
    const commit = new GroupCommit<number, string>(async (items) => items.slice(1).map(String));
    const lone = commit.submit(1);
    await expect(lone).rejects.toThrow('group commit: 0 results for 1 items');
  });

  it("writes for every submitter's call: aborted only when all of them are, with the latest deadline", async () => {
    const seen: { aborted: boolean; deadline: number; signal: AbortSignal }[] = [];
    const { write, finish } = controlledWrite();
    const commit = new GroupCommit<number, string>((items) => {
      const scope = currentCall()!;
      seen.push({ aborted: scope.signal.aborted, deadline: scope.deadline, signal: scope.signal });
      return write(items);
    });
    const a = new AbortController();
    const b = new AbortController();
    const c = new AbortController();
    const first = runInCallScope({ signal: a.signal, deadline: 1_000 }, () => commit.submit(1));
    const pair = [
      runInCallScope({ signal: b.signal, deadline: 2_000 }, () => commit.submit(2)),
      runInCallScope({ signal: c.signal, deadline: 3_000 }, () => commit.submit(3)),
    ];
    expect(seen[0]).toMatchObject({ aborted: false, deadline: 1_000 });
    finish(0);
    await first;
    await settle();
    expect(seen[1]).toMatchObject({ aborted: false, deadline: 3_000 });
    b.abort();
    expect(seen[1].signal.aborted).toBe(false);
    c.abort();
    expect(seen[1].signal.aborted).toBe(true);
    finish(1);
    await Promise.all(pair);
  });
});
