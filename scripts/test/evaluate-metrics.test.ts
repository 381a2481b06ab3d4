import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../lib/src/store/memory-store.js';
import { evaluateMetrics, formatReport, main, parseEvaluateArgs } from '../evaluate-metrics.js';

describe('evaluate_metrics', () => {
  it('parses its flags and refuses bad ones with a clear message', () => {
    expect(parseEvaluateArgs([])).toEqual({ k: 3, model: undefined, since: undefined, until: undefined, json: false });
    expect(parseEvaluateArgs(['--k', '5', '--model', 'als', '--since', '2026-11-01', '--json'])).toMatchObject({
      k: 5,
      model: 'als',
      since: new Date('2026-11-01'),
      json: true,
    });
    expect(() => parseEvaluateArgs(['--k', '0'])).toThrow('--k must be an integer from 1 to 100');
    expect(() => parseEvaluateArgs(['--model', 'svd'])).toThrow('--model must be als or lightfm');
    expect(() => parseEvaluateArgs(['--since', 'soon'])).toThrow('--since must be an ISO 8601 date');
    expect(() => parseEvaluateArgs(['--since', '2026-11-02', '--until', '2026-11-01'])).toThrow('--since must be before --until');
    expect(() => parseEvaluateArgs(['--bogus'])).toThrow();
  });

  it('computes the report per model from logs and feedback', async () => {
    const store = new MemoryStore();
    const at = new Date('2026-11-10T12:00:00Z');
    const log = (sessionId: string, modelType: 'als' | 'lightfm') => ({
      sessionId, userId: 'u', modelType, modelVersion: 'v', arm: modelType, source: 'model' as const, items: [], createdAt: at,
    });
    await store.insertRecommendationLogs([log('a', 'als'), log('b', 'lightfm')]);
    const fb = (sessionId: string, modelType: 'als' | 'lightfm', movieId: string, liked: boolean, rank: number) =>
      store.upsertFeedback({ sessionId, userId: 'u', modelType, modelVersion: 'v', movieId, liked, rank, sessionCreatedAt: at });
    await fb('a', 'als', 'm1', true, 1);
    await fb('a', 'als', 'm2', true, 2);
    await fb('b', 'lightfm', 'm1', false, 1);
    const report = await evaluateMetrics(store, { k: 3, json: false });
    expect(report.arms.map((a) => [a.modelType, a.precisionAtK, a.recallAtK, a.likeRate])).toEqual([
      ['als', 2 / 3, 1, 1],
      ['lightfm', 0, 0, 0],
    ]);
    const onlyAls = await evaluateMetrics(store, { k: 3, model: 'als', json: false });
    expect(onlyAls.arms.map((a) => a.modelType)).toEqual(['als']);
    const text = formatReport(report);
    expect(text).toContain('| als | 1 | 1 | 2 | 2 | 100.00% | 0.6667 | 1.0000 |');
    expect(text).toMatch(/Like rate ALS − LightFM: 100.00%/);
  });

  it('refuses without MONGO_URL (exit code 2), saying how to get the report from the demo instead', async () => {
    let out = '';
    let err = '';
    const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: {} };
    expect(await main(['--k', '3'], io)).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('MONGO_URL is not set');
    expect(err).toContain('/experiments/report');
    expect(await main(['--k', 'x'], io)).toBe(2);
    expect(err).toContain('--k must be an integer from 1 to 100');
  });
});
