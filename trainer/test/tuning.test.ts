import { describe, expect, it } from 'vitest';
import { neighbour, tune, type SearchSpace, type TuningBudget } from '../src/tuning.js';

/** A fake clock: every evaluation takes `secondsPerFit` seconds of it; nothing depends on wall-clock time. */
function fakeClock(secondsPerFit: number) {
  let now = 0;
  return { clock: () => now, advance: () => (now += secondsPerFit * 1000) };
}

const space: SearchSpace = {
  regularization: { min: 0.5, max: 500, integer: false, scale: 'log' },
  factors: { min: 16, max: 128, integer: true, scale: 'log' },
};
const budget = (patch: Partial<TuningBudget> = {}): TuningBudget => ({
  enabled: true,
  budgetFits: 100,
  maxTrials: 100,
  validationFraction: 0.2,
  minImprovement: 0.001,
  ...patch,
});

/** A smooth objective with its peak at regularization 40, factors 64 (log domain). */
const objective = (p: Record<string, number>) =>
  1 - 0.05 * Math.log2(p.regularization / 40) ** 2 - 0.05 * Math.log2(p.factors / 64) ** 2;

describe('hyper-parameter search', () => {
  it('starts from the start point, climbs to the optimum and converges, every trial in the trace', async () => {
    const { clock, advance } = fakeClock(1);
    const result = await tune({
      start: { regularization: 5, factors: 16, seed: 42 },
      space,
      budget: budget(),
      metric: 'ndcgAt10',
      startedFrom: 'configured',
      clock,
      evaluate: async (p) => {
        advance();
        return objective(p);
      },
    });
    expect(result.trace.trials[0].params).toEqual({ regularization: 5, factors: 16 });
    expect(result.trace.stoppedBy).toBe('converged');
    expect(result.params.seed).toBe(42); // not searched: kept
    expect(result.params.regularization).toBeGreaterThan(30);
    expect(result.params.regularization).toBeLessThan(55);
    expect(result.params.factors).toBeGreaterThanOrEqual(54);
    expect(result.params.factors).toBeLessThanOrEqual(76);
    const chosen = result.trace.trials[result.trace.chosen];
    expect(chosen.kept).toBe(true);
    expect(chosen.params).toEqual({ regularization: result.params.regularization, factors: result.params.factors });
    expect(result.trace.trials.filter((t) => t.kept)).toHaveLength(1);
    expect(Math.max(...result.trace.trials.map((t) => t.score))).toBe(chosen.score);
  });

  it('stops when the budget (a multiple of the first fit, on the injected clock) is spent', async () => {
    const { clock, advance } = fakeClock(10);
    const result = await tune({
      start: { regularization: 5, factors: 16 },
      space,
      budget: budget({ budgetFits: 3 }),
      metric: 'ndcgAt10',
      startedFrom: 'configured',
      clock,
      evaluate: async (p) => {
        advance();
        return objective(p);
      },
    });
    expect(result.trace.budgetSeconds).toBe(30);
    expect(result.trace.stoppedBy).toBe('budget');
    // 10 s per fit: the first fit and two more fit in 30 s; a fourth would overrun.
    expect(result.trace.trials).toHaveLength(3);
  });

  it('stops at max_trials and keeps the start when nothing beats it by more than min_improvement', async () => {
    const { clock } = fakeClock(0);
    const result = await tune({
      start: { regularization: 40, factors: 64 },
      space,
      budget: budget({ maxTrials: 4, minImprovement: 0.5 }),
      metric: 'ndcgAt10',
      startedFrom: 'active:v1',
      clock,
      evaluate: async (p) => objective(p),
    });
    expect(result.trace).toMatchObject({ stoppedBy: 'max_trials', chosen: 0, startedFrom: 'active:v1' });
    expect(result.trace.trials).toHaveLength(4);
    expect(result.params).toEqual({ regularization: 40, factors: 64 });
  });

  it('scores a failed or non-finite fit -1 and never chooses it', async () => {
    const { clock } = fakeClock(0);
    const result = await tune({
      start: { regularization: 40, factors: 64 },
      space: { regularization: space.regularization },
      budget: budget({ maxTrials: 3 }),
      metric: 'ndcgAt10',
      startedFrom: 'configured',
      clock,
      evaluate: async (p) => {
        if (p.regularization > 40) throw new Error('diverged');
        if (p.regularization < 40) return Number.NaN;
        return 0.1;
      },
    });
    expect(result.trace.trials.map((t) => t.score)).toEqual([0.1, -1, -1]);
    expect(result.params.regularization).toBe(40);
  });

  it('does not search when disabled, and widens a range to include a start outside it', async () => {
    const disabled = await tune({
      start: { regularization: 3 },
      space,
      budget: budget({ enabled: false }),
      metric: 'ndcgAt10',
      startedFrom: 'configured',
      clock: () => 0,
      evaluate: async () => {
        throw new Error('must not fit');
      },
    });
    expect(disabled.trace).toMatchObject({ stoppedBy: 'disabled', trials: [], chosen: -1 });
    expect(disabled.params).toEqual({ regularization: 3 });

    const outside = await tune({
      start: { regularization: 40, factors: 8 },
      space,
      budget: budget({ maxTrials: 1 }),
      metric: 'ndcgAt10',
      startedFrom: 'configured',
      clock: () => 0,
      evaluate: async (p) => objective(p),
    });
    expect(outside.trace.trials[0].params.factors).toBe(8);
    expect(outside.trace.space.factors.min).toBe(8);
  });

  it('steps integers by at least one and stays in range', () => {
    const range = { min: 1, max: 10, integer: true, scale: 'log' as const };
    expect(neighbour(1, range, 1.2, true)).toBe(2);
    expect(neighbour(1, range, 2, false)).toBeNull();
    expect(neighbour(8, range, 2, true)).toBe(10);
    expect(neighbour(0, { min: 1e-6, max: 1e-3, integer: false, scale: 'log' }, 2, true)).toBe(1e-6);
  });
});
