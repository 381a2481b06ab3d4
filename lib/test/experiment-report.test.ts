import { describe, expect, it } from 'vitest';
import {
  buildExperimentReport,
  compareProportions,
  normalCdf,
  requiredSampleSize,
  wilsonInterval,
} from '../src/experiment-report.js';
import type { ExperimentArmTotals } from '../src/store/types.js';

const empty = (modelType: 'als' | 'lightfm'): ExperimentArmTotals => ({
  modelType, sessions: 0, sessionsWithFeedback: 0, feedbackCount: 0, likes: 0, precisionSum: 0, recallSum: 0, sessionsWithLikes: 0,
});

describe('experiment report', () => {
  it('averages precision over sessions with feedback and recall over sessions with likes, with a Wilson interval per arm', () => {
    const report = buildExperimentReport({
      k: 3,
      experiment: [
        { modelType: 'als', sessions: 10, sessionsWithFeedback: 4, feedbackCount: 8, likes: 6, precisionSum: 2, recallSum: 1.5, sessionsWithLikes: 3 },
        empty('lightfm'),
      ],
      forced: [{ ...empty('als'), sessions: 7 }, empty('lightfm')],
      bucket: 'day',
      buckets: [],
    });
    expect(report.arms[0]).toMatchObject({
      modelType: 'als', sessions: 10, sessionsWithFeedback: 4, feedbackCount: 8, likes: 6, likeRate: 0.75, precisionAtK: 0.5, recallAtK: 0.5,
    });
    // Wilson 95% for 6/8 (Newcombe 1998, method 3): 0.4093 to 0.9285
    expect(report.arms[0].likeRateCi95Low).toBeCloseTo(0.4093, 4);
    expect(report.arms[0].likeRateCi95High).toBeCloseTo(0.9285, 4);
    expect(report.arms[1]).toMatchObject({ likeRate: 0, precisionAtK: 0, recallAtK: 0, likeRateCi95Low: 0, likeRateCi95High: 1 });
    // Forced sessions are reported apart and change nothing in the experiment.
    expect(report.forced[0]).toMatchObject({ modelType: 'als', sessions: 7 });
  });

  it('says "not enough data" instead of "difference 0, p = 1" when an arm has no feedback', () => {
    const c = compareProportions(3, 4, 0, 0);
    expect(c.enoughData).toBe(false);
    expect(c.note).toMatch(/not enough data.*LightFM/i);
    expect(c.requiredFeedbackPerArm).toBe(0);
    expect(compareProportions(0, 0, 0, 0).note).toMatch(/ALS and LightFM/);
    expect(compareProportions(1, 1, 0, 1).enoughData).toBe(true);
  });

  it('tests the difference of two like rates (checked against a textbook example)', () => {
    // 60/100 vs 45/100: pooled p = 0.525, z = 0.15 / sqrt(0.525*0.475*0.02) = 2.1239, two-sided p = 0.0337
    const result = compareProportions(60, 100, 45, 100);
    expect(result.difference).toBeCloseTo(0.15, 12);
    expect(result.z).toBeCloseTo(2.1239, 3);
    expect(result.pValue).toBeCloseTo(0.0337, 3);
    // unpooled SE = sqrt(0.6*0.4/100 + 0.45*0.55/100) = 0.06964
    expect(result.ci95Low).toBeCloseTo(0.15 - 1.96 * 0.06964, 3);
    expect(result.ci95High).toBeCloseTo(0.15 + 1.96 * 0.06964, 3);
    expect(result.enoughData).toBe(true);
    expect(result.note).toMatch(/ALS has the higher like rate, significant/);
    expect(compareProportions(5, 10, 5, 10).pValue).toBeCloseTo(1, 6);
    expect(compareProportions(5, 10, 5, 10).note).toBe('No difference observed.');
    // Not significant: the note says how much feedback a test would need.
    const small = compareProportions(6, 10, 5, 10);
    expect(small.note).toMatch(new RegExp(`needs about ${small.requiredFeedbackPerArm} feedback per arm`));
  });

  it('computes the Wilson score interval', () => {
    // 0 of 10: upper bound z²/(n + z²) = 3.8415/13.8415 = 0.2775
    const [low0, high0] = wilsonInterval(0, 10);
    expect(low0).toBe(0);
    expect(high0).toBeCloseTo(0.2775, 4);
    // 81 of 263 (Wilson 1927 style example, Wikipedia): 0.2553 to 0.3662
    const [low, high] = wilsonInterval(81, 263);
    expect(low).toBeCloseTo(0.2553, 3);
    expect(high).toBeCloseTo(0.3662, 3);
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
  });

  it('gives the minimum sample size for the observed effect (alpha 0.05 two-sided, power 0.8)', () => {
    // R: power.prop.test(p1 = 0.5, p2 = 0.6, power = 0.8) -> n = 387.3 per group
    expect(requiredSampleSize(0.5, 0.6)).toBe(388);
    expect(requiredSampleSize(0.6, 0.5)).toBe(388);
    // R: power.prop.test(p1 = 0.1, p2 = 0.2, power = 0.8) -> n = 198.96
    expect(requiredSampleSize(0.1, 0.2)).toBe(199);
    expect(requiredSampleSize(0.3, 0.3)).toBe(0);
    expect(compareProportions(50, 100, 60, 100).requiredFeedbackPerArm).toBe(388);
  });

  it('builds the like-rate time series per arm, oldest first', () => {
    const h = (hour: number) => new Date(Date.UTC(2026, 10, 29, hour));
    const report = buildExperimentReport({
      k: 3,
      experiment: [empty('als'), empty('lightfm')],
      forced: [],
      bucket: 'hour',
      buckets: [
        { modelType: 'als', start: h(11), feedbackCount: 4, likes: 1 },
        { modelType: 'als', start: h(10), feedbackCount: 2, likes: 2 },
        { modelType: 'lightfm', start: h(10), feedbackCount: 5, likes: 0 },
      ],
    });
    expect(report.bucket).toBe('hour');
    expect(report.series).toEqual([
      { modelType: 'als', points: [
        { start: h(10), feedbackCount: 2, likes: 2, likeRate: 1 },
        { start: h(11), feedbackCount: 4, likes: 1, likeRate: 0.25 },
      ] },
      { modelType: 'lightfm', points: [{ start: h(10), feedbackCount: 5, likes: 0, likeRate: 0 }] },
    ]);
  });

  it('has an accurate normal CDF', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
  });
});
