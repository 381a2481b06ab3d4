import { describe, expect, it } from 'vitest';
import { buildExperimentReport, compareProportions, normalCdf } from '../src/experiment-report.js';

describe('experiment report', () => {
  it('averages precision over sessions with feedback and recall over sessions with likes', () => {
    const report = buildExperimentReport(
      [
        { modelType: 'als', sessions: 10, sessionsWithFeedback: 4, feedbackCount: 8, likes: 6, precisionSum: 2, recallSum: 1.5, sessionsWithLikes: 3 },
        { modelType: 'lightfm', sessions: 0, sessionsWithFeedback: 0, feedbackCount: 0, likes: 0, precisionSum: 0, recallSum: 0, sessionsWithLikes: 0 },
      ],
      3,
    );
    expect(report.arms[0]).toEqual({
      modelType: 'als', sessions: 10, sessionsWithFeedback: 4, feedbackCount: 8, likes: 6, likeRate: 0.75, precisionAtK: 0.5, recallAtK: 0.5,
    });
    expect(report.arms[1]).toMatchObject({ likeRate: 0, precisionAtK: 0, recallAtK: 0 });
    expect(report.comparison).toEqual({ difference: 0, ci95Low: 0, ci95High: 0, z: 0, pValue: 1 });
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
    expect(compareProportions(5, 10, 5, 10).pValue).toBeCloseTo(1, 6);
  });

  it('has an accurate normal CDF', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
  });
});
