import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../lib/src/errors.js';
import { loadTrainerConfig } from '../src/config.js';
import { resolveAlsParams, resolveWarpParams } from '../src/hyper-params.js';
import { decidePromotion } from '../src/promotion.js';

describe('promotion gate', () => {
  const gate = (candidate: number, active: number | null, margin = 0.01) =>
    decidePromotion({
      metric: 'ndcgAt10',
      margin,
      candidate: { ndcgAt10: candidate },
      active: active === null ? null : { version: 'v-active', metrics: { ndcgAt10: active } },
    });

  it('promotes the first version, a better one, and one worse by at most the margin', () => {
    expect(gate(0.1, null)).toEqual({ promote: true, reason: 'no active version yet; ndcgAt10 0.1000' });
    expect(gate(0.31, 0.3).promote).toBe(true);
    expect(gate(0.291, 0.3).promote).toBe(true);
    expect(gate(0.29, 0.3).promote).toBe(true);
    expect(gate(0.25, 0.3, 0.05).promote).toBe(true);
  });

  it('keeps the active version when the new one is worse by more than the margin, and says why', () => {
    expect(gate(0.2, 0.3)).toEqual({
      promote: false,
      reason: 'ndcgAt10 0.2000 is worse than active v-active (0.3000 on the same holdout) by 0.1000, more than the margin 0.01: stored as a candidate, v-active stays active',
    });
  });

  it('promotes when the active version has no value of the metric to compare with', () => {
    const decision = decidePromotion({ metric: 'recallAt10', margin: 0.01, candidate: { recallAt10: 0.1 }, active: { version: 'old', metrics: {} } });
    expect(decision).toMatchObject({ promote: true, reason: expect.stringMatching(/old has no recallAt10/) });
  });
});

describe('hyper-parameters', () => {
  const config = loadTrainerConfig({ ALS_FACTORS: '32', WARP_EPOCHS: '7' });

  it('keeps the configured defaults for unset (0) fields and applies the others', () => {
    expect(resolveAlsParams(config, { factors: 0, alpha: 4, iterations: 0 })).toEqual({
      factors: 32,
      regularization: config.ALS_REGULARIZATION,
      alpha: 4,
      iterations: config.ALS_ITERATIONS,
      cgSteps: config.ALS_CG_STEPS,
      seed: config.ALS_SEED,
    });
    expect(resolveWarpParams(config, undefined).epochs).toBe(7);
    expect(resolveWarpParams(config, { maxSampled: 50 }).maxSampled).toBe(50);
  });

  it('refuses values out of range, with the proto field name', () => {
    expect(() => resolveAlsParams(config, { iterations: 2.5 })).toThrow(new InvalidArgumentError('als_params.iterations must be an integer, got 2.5'));
    expect(() => resolveAlsParams(config, { cgSteps: 65 })).toThrow('als_params.cg_steps must be at least 1 and at most 64, got 65');
    expect(() => resolveWarpParams(config, { itemAlpha: -1 })).toThrow('warp_params.item_alpha must be at least 0');
    expect(() => resolveWarpParams(config, { learningRate: Number.NaN })).toThrow('warp_params.learning_rate must be a finite number');
    expect(() => resolveWarpParams(config, { bogus: 1 } as never)).toThrow(/not a known hyper-parameter/);
  });
});
