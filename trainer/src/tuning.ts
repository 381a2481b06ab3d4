/**
 * Self-tuning: each training run chooses its hyper-parameters on a validation split carved from its own training
 * part (never from the evaluation holdout), within a budget, starting from the parameters the active version chose.
 *
 * The search is a deterministic pattern (coordinate) search in the log domain, the method that needs the fewest fits
 * when every fit is expensive and the start is already good (Gorse's model search and Optuna's samplers need dozens
 * of trials to beat it):
 *   1. trial 0 fits the start point (the active version's choice, else the configured values);
 *   2. then, parameter by parameter in order of influence, it tries value × step and value / step (clamped to the
 *      range, integers rounded); a trial is kept when it beats the best validation score by more than
 *      `minImprovement` (so noise does not walk the search away from a good start);
 *   3. after a sweep over every parameter without improvement the step shrinks to √step; below 1.1 it has converged.
 * It stops when the budget is spent (seconds on the injected clock: `budgetFits` × the duration of trial 0, "a small
 * multiple of one fit", or `maxTrials`, whichever comes first), or when converged. Every trial is kept in the trace.
 */

/** The range a hyper-parameter is searched in (inclusive). `log`: steps multiply; linear ranges step by ±10% of the width. */
export interface ParamRange {
  min: number;
  max: number;
  integer: boolean;
  scale: 'log' | 'linear';
}

export type SearchSpace = Record<string, ParamRange>;

export interface TuningBudget {
  /** Whether to search at all (false: the start point is used as is, no validation fit). */
  enabled: boolean;
  /** Seconds allowed = budgetFits × seconds of trial 0 (the first fit). */
  budgetFits: number;
  /** Hard cap on trials (trial 0 included). */
  maxTrials: number;
  /** Fraction of each user's training items held out for validation, in (0, 0.5]. */
  validationFraction: number;
  /** A trial must beat the best validation score by more than this to be kept. */
  minImprovement: number;
}

export interface Trial {
  /** The searched values of this trial (the fixed ones are in TuningTrace.fixed). */
  params: Record<string, number>;
  /** Validation score (the promotion metric, e.g. nDCG@10), or -1 when the fit failed or scored a non-finite value. */
  score: number;
  seconds: number;
  kept: boolean;
}

export interface TuningTrace {
  metric: string;
  /** Where the search started: 'active:<version>' or 'configured'. */
  startedFrom: string;
  stoppedBy: 'disabled' | 'budget' | 'max_trials' | 'converged' | 'nothing_to_search';
  budgetSeconds: number;
  validationFraction: number;
  /** Searched parameters and their ranges. */
  space: SearchSpace;
  trials: Trial[];
  /** The index of the chosen trial in `trials` (-1 when disabled). */
  chosen: number;
}

export interface TuneOptions {
  start: Record<string, number>;
  space: SearchSpace;
  budget: TuningBudget;
  metric: string;
  startedFrom: string;
  /** Fits on the validation split's train part and scores on its held-out part. Higher is better. */
  evaluate: (params: Record<string, number>) => Promise<number>;
  /** Milliseconds; performance.now in production, a fake in tests. */
  clock: () => number;
  /** Called after every trial (progress). */
  onTrial?: (trial: Trial, index: number) => void;
}

export interface TuneResult {
  params: Record<string, number>;
  trace: TuningTrace;
}

function clamp(value: number, range: ParamRange): number {
  if (range.scale === 'log' && value === 0 && range.min > 0 && !range.integer) return 0; // 0 is "off" (e.g. no L2 penalty): kept as is
  const v = Math.min(range.max, Math.max(range.min, value));
  return range.integer ? Math.round(v) : Number(v.toPrecision(6));
}

/** The neighbour of `value` one step up or down (null when the range does not allow a different value). */
export function neighbour(value: number, range: ParamRange, step: number, up: boolean): number | null {
  let next: number;
  if (range.scale === 'log') {
    if (value <= 0) next = up ? Math.max(range.min, Number.MIN_VALUE) : 0;
    else next = up ? value * step : value / step;
    if (!up && range.min > 0 && next < range.min) next = range.min;
  } else {
    const delta = (range.max - range.min) * 0.1 * Math.log2(step) * 2;
    next = up ? value + delta : value - delta;
  }
  if (range.integer) {
    next = up ? Math.max(Math.round(next), value + 1) : Math.min(Math.round(next), value - 1);
  }
  const out = clamp(next, range);
  return out === value ? null : out;
}

/** Runs the search. The start point is always trial 0; the best trial's params (start merged) are returned. */
export async function tune(options: TuneOptions): Promise<TuneResult> {
  const { start, budget, metric, startedFrom, evaluate, clock } = options;
  // A range always includes the start (an operator's fixed value, or the active version's choice, may lie outside).
  const space: SearchSpace = {};
  for (const [name, range] of Object.entries(options.space)) {
    const v = options.start[name];
    space[name] = { ...range };
    if (typeof v === 'number' && Number.isFinite(v) && !(range.scale === 'log' && v === 0)) {
      space[name].min = Math.min(range.min, v);
      space[name].max = Math.max(range.max, v);
    }
  }
  const names = Object.keys(space);
  const trace: TuningTrace = {
    metric,
    startedFrom,
    stoppedBy: 'disabled',
    budgetSeconds: 0,
    validationFraction: budget.validationFraction,
    space,
    trials: [],
    chosen: -1,
  };
  if (!budget.enabled) return { params: { ...start }, trace };
  if (names.length === 0) trace.stoppedBy = 'nothing_to_search';

  const seen = new Set<string>();
  const keyOf = (p: Record<string, number>) => names.map((n) => p[n]).join('|');
  const t0 = clock();
  const run = async (params: Record<string, number>): Promise<Trial> => {
    const began = clock();
    let score: number;
    try {
      score = await evaluate(params);
      if (!Number.isFinite(score)) score = -1;
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err;
      score = -1;
    }
    const trial: Trial = { params: Object.fromEntries(names.map((n) => [n, params[n]])), score, seconds: (clock() - began) / 1000, kept: false };
    trace.trials.push(trial);
    seen.add(keyOf(params));
    options.onTrial?.(trial, trace.trials.length - 1);
    return trial;
  };

  let best = { ...start };
  for (const n of names) best[n] = clamp(best[n], space[n]);
  const first = await run(best);
  first.kept = true;
  trace.chosen = 0;
  let bestScore = first.score;
  trace.budgetSeconds = Math.max(0, budget.budgetFits * first.seconds);
  if (names.length === 0) return { params: best, trace };

  let step = 2;
  const spent = () => (clock() - t0) / 1000;
  for (;;) {
    let improved = false;
    for (const name of names) {
      for (const up of [true, false]) {
        if (trace.trials.length >= budget.maxTrials) {
          trace.stoppedBy = 'max_trials';
          return { params: best, trace };
        }
        // Stop before a trial that would probably overrun (the last trial's duration as the estimate).
        const last = trace.trials[trace.trials.length - 1].seconds;
        if (spent() + last > trace.budgetSeconds) {
          trace.stoppedBy = 'budget';
          return { params: best, trace };
        }
        const value = neighbour(best[name], space[name], step, up);
        if (value === null) continue;
        const candidate = { ...best, [name]: value };
        if (seen.has(keyOf(candidate))) continue;
        const trial = await run(candidate);
        if (trial.score >= 0 && trial.score > bestScore + budget.minImprovement) {
          for (const t of trace.trials) t.kept = false;
          trial.kept = true;
          trace.chosen = trace.trials.length - 1;
          best = candidate;
          bestScore = trial.score;
          improved = true;
          break; // keep going in the direction that helped on the next sweep, from the new point
        }
      }
    }
    if (!improved) {
      step = Math.sqrt(step);
      if (step < 1.1) {
        trace.stoppedBy = 'converged';
        return { params: best, trace };
      }
    }
  }
}

/**
 * The default search spaces (documented in trainer/README.md). ALS: regularization and alpha over two orders of
 * magnitude around the defaults, factors 16-128, iterations 5-30. WARP: learning rate, epochs (the fit length: the
 * core has no resumable Adagrad state, so early stopping is the search's move along the epochs axis, shortening
 * when fewer epochs validate better), components, max sampled, item/user L2 alpha.
 */
export const DEFAULT_SEARCH_SPACES: Record<'als' | 'lightfm', SearchSpace> = {
  als: {
    regularization: { min: 0.5, max: 500, integer: false, scale: 'log' },
    alpha: { min: 0.01, max: 20, integer: false, scale: 'log' },
    factors: { min: 16, max: 128, integer: true, scale: 'log' },
    iterations: { min: 5, max: 30, integer: true, scale: 'log' },
  },
  lightfm: {
    learningRate: { min: 0.005, max: 0.2, integer: false, scale: 'log' },
    epochs: { min: 5, max: 100, integer: true, scale: 'log' },
    maxSampled: { min: 5, max: 200, integer: true, scale: 'log' },
    noComponents: { min: 16, max: 128, integer: true, scale: 'log' },
    itemAlpha: { min: 1e-7, max: 1e-3, integer: false, scale: 'log' },
    userAlpha: { min: 1e-7, max: 1e-3, integer: false, scale: 'log' },
  },
};
