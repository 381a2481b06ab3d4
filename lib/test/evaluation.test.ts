import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import {
  evaluateRanking,
  evaluateTopK,
  mulberry32,
  popularityRecommender,
  randomHoldoutSplit,
  timeSplit,
  type Recommend,
} from '../src/evaluation.js';
import { cooToCsr, rowIndices, type CooMatrix, type CsrMatrix } from '../src/sparse.js';

/** Builds a CSR matrix (all values 1) from one item list per row. */
function csr(nCols: number, rows: number[][]): CsrMatrix {
  return cooToCsr(coo(nCols, rows));
}

function coo(nCols: number, rows: number[][]): CooMatrix {
  const r: number[] = [];
  const c: number[] = [];
  rows.forEach((items, u) => {
    for (const i of items) {
      r.push(u);
      c.push(i);
    }
  });
  return {
    nRows: rows.length,
    nCols,
    rows: Int32Array.from(r),
    cols: Int32Array.from(c),
    data: new Float32Array(r.length).fill(1),
  };
}

function rowsOf(m: CsrMatrix): number[][] {
  return Array.from({ length: m.nRows }, (_, u) => Array.from(rowIndices(m, u)));
}

const log2 = Math.log2;

describe('ranking metrics on a hand-computed example', () => {
  const k = 5;
  const train = csr(10, [[4, 5], [7], [0, 1], []]);
  const test = csr(10, [[1, 3, 7], [2, 4, 5, 6, 8, 9], [], [0]]);
  const lists: Record<number, number[]> = {
    0: [3, 0, 1, 9, 8], // hits at ranks 1 and 3
    1: [2, 4, 0, 1, 3], // hits at ranks 1 and 2, |test| = 6 > k
    2: [9, 8, 7, 6, 3], // user 2 has no test items: never evaluated
    3: [5, 0, -1, -1, -1], // hit at rank 2, padded
  };
  const idcg = (n: number): number => {
    let s = 0;
    for (let i = 1; i <= n; i++) s += 1 / log2(i + 1);
    return s;
  };
  const perUser = {
    precision: [2 / 5, 2 / 5, 1 / 5],
    recall: [2 / 3, 2 / 6, 1],
    ndcg: [(1 + 1 / log2(4)) / idcg(3), (1 + 1 / log2(3)) / idcg(5), 1 / log2(3) / idcg(1)],
    ap: [(1 / 1 + 2 / 3) / 3, (1 / 1 + 2 / 2) / 5, 1 / 2 / 1],
  };
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

  function expectExample(m: Awaited<ReturnType<typeof evaluateRanking>>): void {
    expect(m.k).toBe(5);
    expect(m.usersEvaluated).toBe(3);
    expect(m.precisionAtK).toBeCloseTo(mean(perUser.precision), 12);
    expect(m.recallAtK).toBeCloseTo(mean(perUser.recall), 12);
    expect(m.ndcgAtK).toBeCloseTo(mean(perUser.ndcg), 12);
    expect(m.mapAtK).toBeCloseTo(mean(perUser.ap), 12);
    // Items 0, 1, 2, 3, 4, 5, 8, 9 appear in the evaluated users' lists.
    expect(m.coverage).toBeCloseTo(8 / 10, 12);
  }

  it('the per-user values are what the definitions give', () => {
    expect(perUser.ndcg[0]).toBeCloseTo(1.5 / (1.5 + 1 / log2(3)), 12);
    expect(perUser.ap[0]).toBeCloseTo(5 / 9, 12);
    expect(perUser.ap[1]).toBeCloseTo(0.4, 12);
  });

  it('evaluateRanking computes P, R, nDCG, MAP and coverage, skipping users without test items', async () => {
    const calls: Array<[number, number, number[]]> = [];
    const recommend: Recommend = (user, kk, exclude) => {
      calls.push([user, kk, Array.from(exclude)]);
      return Int32Array.from(lists[user]);
    };
    expectExample(await evaluateRanking({ train, test, k, recommend }));
    // Training items are passed as `exclude`; user 2 (no test items) is never asked.
    expect(calls).toEqual([
      [0, 5, [4, 5]],
      [1, 5, [7]],
      [3, 5, []],
    ]);
  });

  it('accepts an async recommender', async () => {
    const recommend: Recommend = async (user) => Int32Array.from(lists[user]);
    expectExample(await evaluateRanking({ train, test, k, recommend }));
  });

  it('the batch form gives the same numbers', () => {
    const topK = new Int32Array(4 * k);
    for (let u = 0; u < 4; u++) topK.set(lists[u], u * k);
    expectExample(evaluateTopK({ train, test, k, topK }));
  });

  it('restricts to the given users', async () => {
    const m = await evaluateRanking({
      train,
      test,
      k,
      users: Int32Array.of(1, 2),
      recommend: (u) => Int32Array.from(lists[u]),
    });
    expect(m.usersEvaluated).toBe(1);
    expect(m.precisionAtK).toBeCloseTo(0.4, 12);
    expect(m.recallAtK).toBeCloseTo(1 / 3, 12);
    expect(m.mapAtK).toBeCloseTo(0.4, 12);
    expect(m.coverage).toBeCloseTo(5 / 10, 12);
  });

  it('keeps P@k over k when fewer than k items come back, and counts a repeated hit once', async () => {
    const m = await evaluateRanking({
      train,
      test,
      k,
      users: Int32Array.of(0),
      recommend: () => Int32Array.of(1, 1, 3),
    });
    // Hits at ranks 1 and 3 (the repeat of item 1 at rank 2 is a miss).
    expect(m.precisionAtK).toBeCloseTo(2 / 5, 12);
    expect(m.recallAtK).toBeCloseTo(2 / 3, 12);
    expect(m.ndcgAtK).toBeCloseTo((1 + 0.5) / idcg(3), 12);
    expect(m.mapAtK).toBeCloseTo((1 + 2 / 3) / 3, 12);
    expect(m.coverage).toBeCloseTo(2 / 10, 12);
  });

  it('a perfect ranking scores 1 on nDCG and MAP, and P@k is capped by |test| / k', () => {
    const t = csr(6, [[0, 1]]);
    const m = evaluateTopK({ train: csr(6, [[]]), test: t, k: 4, topK: Int32Array.of(1, 0, 5, 4) });
    expect(m.ndcgAtK).toBeCloseTo(1, 12);
    expect(m.mapAtK).toBeCloseTo(1, 12);
    expect(m.recallAtK).toBeCloseTo(1, 12);
    expect(m.precisionAtK).toBeCloseTo(0.5, 12);
  });

  it('returns zeros when no user has test items', () => {
    const m = evaluateTopK({ train, test: csr(10, [[], [], [], []]), k: 2, topK: new Int32Array(8).fill(-1) });
    expect(m).toEqual({ precisionAtK: 0, recallAtK: 0, ndcgAtK: 0, mapAtK: 0, coverage: 0, usersEvaluated: 0, k: 2 });
  });

  it('rejects bad arguments', async () => {
    const recommend: Recommend = () => new Int32Array(0);
    await expect(evaluateRanking({ train, test, k: 0, recommend })).rejects.toThrow(InvalidArgumentError);
    await expect(evaluateRanking({ train, test: csr(9, [[]]), k, recommend })).rejects.toThrow(/same shape/);
    await expect(evaluateRanking({ train, test, k, recommend: () => Int32Array.of(10) })).rejects.toThrow(
      /out of range/,
    );
    expect(() => evaluateTopK({ train, test, k, topK: new Int32Array(3) })).toThrow(/expected nUsers \* k = 20/);
    expect(() => evaluateTopK({ train, test, k, topK: new Int32Array(20), users: Int32Array.of(4) })).toThrow(
      /out of range/,
    );
  });
});

describe('randomHoldoutSplit', () => {
  /** 60 users with 0..59 distinct items each (some duplicated), over 100 items. */
  function sample(): CooMatrix {
    const rand = mulberry32(7);
    const rows: number[][] = [];
    for (let u = 0; u < 60; u++) {
      const items = new Set<number>();
      while (items.size < u) items.add(Math.floor(rand() * 100));
      rows.push([...items]);
    }
    rows[10].push(rows[10][0]); // a duplicate pair, merged before splitting
    return coo(100, rows);
  }

  it('is deterministic by seed and differs across seeds', () => {
    const data = sample();
    const a = randomHoldoutSplit(data, { seed: 42 });
    const b = randomHoldoutSplit(data, { seed: 42 });
    const c = randomHoldoutSplit(data, { seed: 43 });
    expect(rowsOf(a.train)).toEqual(rowsOf(b.train));
    expect(rowsOf(a.test)).toEqual(rowsOf(b.test));
    expect(rowsOf(a.test)).not.toEqual(rowsOf(c.test));
  });

  it('holds out round(f·n) of each user, partitions the data and keeps rows sorted', () => {
    const data = sample();
    const full = cooToCsr(data);
    for (const testFraction of [0.2, 0.5]) {
      const { train, test } = randomHoldoutSplit(data, { seed: 1, testFraction });
      expect([train.nRows, train.nCols, test.nRows, test.nCols]).toEqual([60, 100, 60, 100]);
      for (let u = 0; u < full.nRows; u++) {
        const n = full.indptr[u + 1] - full.indptr[u];
        const tr = Array.from(rowIndices(train, u));
        const te = Array.from(rowIndices(test, u));
        expect(te.length).toBe(Math.max(0, Math.min(Math.round(testFraction * n), n - 1)));
        expect([...tr, ...te].sort((x, y) => x - y)).toEqual(Array.from(rowIndices(full, u)));
        expect(tr).toEqual([...tr].sort((x, y) => x - y));
        expect(te).toEqual([...te].sort((x, y) => x - y));
      }
    }
    // The duplicate pair was summed, not split.
    const { train, test } = randomHoldoutSplit(data, { seed: 1 });
    const item = data.cols[data.rows.indexOf(10)];
    const where = rowIndices(train, 10).includes(item) ? train : test;
    const at = where.indptr[10] + rowIndices(where, 10).indexOf(item);
    expect(where.data[at]).toBe(2);
  });

  it('keeps at least minTrainPerUser items in train for users who have more', () => {
    const data = sample();
    const { train } = randomHoldoutSplit(data, { seed: 3, testFraction: 0.95 });
    for (let u = 2; u < 60; u++) expect(rowIndices(train, u).length).toBeGreaterThanOrEqual(1);
    const three = randomHoldoutSplit(data, { seed: 3, testFraction: 0.95, minTrainPerUser: 3 });
    for (let u = 3; u < 60; u++) expect(rowIndices(three.train, u).length).toBe(3);
    // A user with a single item keeps it in train.
    expect(rowIndices(train, 1).length).toBe(1);
  });

  it('draws every item with the same probability', () => {
    const one = coo(10, [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    const counts = new Array<number>(10).fill(0);
    const runs = 2000;
    for (let seed = 0; seed < runs; seed++) {
      for (const i of rowIndices(randomHoldoutSplit(one, { seed, testFraction: 0.3 }).test, 0)) counts[i]++;
    }
    for (const c of counts) expect(Math.abs(c / runs - 0.3)).toBeLessThan(0.05);
  });

  it('rejects bad options', () => {
    expect(() => randomHoldoutSplit(sample(), { seed: 1, testFraction: 1 })).toThrow(InvalidArgumentError);
    expect(() => randomHoldoutSplit(sample(), { seed: 1, minTrainPerUser: -1 })).toThrow(/minTrainPerUser/);
    expect(() => randomHoldoutSplit(sample(), { seed: Number.NaN })).toThrow(/seed/);
  });
});

describe('timeSplit', () => {
  it('sends the latest fraction of each user to test, using the first time of a repeated pair', () => {
    // user 0: items 0..9 at times 100 - 10·i (item 9 is the oldest); item 0 was also seen again at time 0.
    // user 1: 5 items, item 4 at the latest time and items 2 and 3 tied.
    const rows = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
    const cols = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 1, 2, 3, 4];
    const times = [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0, 1, 2, 5, 5, 9];
    const data: CooMatrix = {
      nRows: 2,
      nCols: 10,
      rows: Int32Array.from(rows),
      cols: Int32Array.from(cols),
      data: new Float32Array(rows.length).fill(1),
    };
    const ts = Float64Array.from(times);
    // round(0.2 · 10) = 2 latest of user 0: item 0 counts at time 0, so items 1 (90) and 2 (80).
    // round(0.2 · 5) = 1 latest of user 1: item 4.
    const a = timeSplit(data, ts);
    expect(rowsOf(a.test)).toEqual([[1, 2], [4]]);
    expect(rowsOf(a.train)).toEqual([
      [0, 3, 4, 5, 6, 7, 8, 9],
      [0, 1, 2, 3],
    ]);
    expect(a.train.data[0]).toBe(2); // the repeated pair is merged
    // 0.5: user 1 holds out round(2.5) = 3 items: 4, then the tie 2/3 and 3 wins (larger id is later) and 2.
    const b = timeSplit(data, ts, { testFraction: 0.5 });
    expect(rowsOf(b.test)[1]).toEqual([2, 3, 4]);
    const c = timeSplit(data, ts, { testFraction: 0.3 }); // round(1.5) = 2: item 4, then 3 of the tie
    expect(rowsOf(c.test)[1]).toEqual([3, 4]);
  });

  it('rejects timestamps of the wrong length', () => {
    expect(() => timeSplit(coo(3, [[0, 1]]), new Float64Array(3))).toThrow(/one per interaction/);
  });
});

describe('popularityRecommender', () => {
  it('ranks by the number of users and excludes the given items', () => {
    // Item counts: 3 → 3 users, 1 → 2, 0 → 2, 4 → 1, 2 → 0 (never recommended).
    const train = csr(5, [[3, 1, 0], [3, 1], [3, 0, 4], []]);
    const recommend = popularityRecommender(train);
    expect(Array.from(recommend(3, 3, new Int32Array(0)))).toEqual([3, 0, 1]); // tie 0/1 → lower id
    expect(Array.from(recommend(1, 5, rowIndices(train, 1)))).toEqual([0, 4, -1, -1, -1]);
    // The scratch marks are cleared between calls.
    expect(Array.from(recommend(3, 4, new Int32Array(0)))).toEqual([3, 0, 1, 4]);
  });

  it('never recommends a training item, and beats random on a skewed synthetic set', async () => {
    const nUsers = 400;
    const nItems = 300;
    const rand = mulberry32(12345);
    // Zipf-like item popularity: weight 1 / (rank + 1).
    const weights = Array.from({ length: nItems }, (_, i) => 1 / (i + 1));
    const total = weights.reduce((a, b) => a + b, 0);
    const rows: number[][] = [];
    for (let u = 0; u < nUsers; u++) {
      const items = new Set<number>();
      while (items.size < 25) {
        let x = rand() * total;
        let i = 0;
        while (i < nItems - 1 && x >= weights[i]) x -= weights[i++];
        items.add(i);
      }
      rows.push([...items]);
    }
    const { train, test } = randomHoldoutSplit(coo(nItems, rows), { seed: 9, testFraction: 0.2 });
    const pop = popularityRecommender(train);
    const checked: Recommend = (user, k, exclude) => {
      const out = pop(user, k, exclude);
      for (const i of out) expect(exclude.includes(i)).toBe(false);
      return out;
    };
    const rng = mulberry32(99);
    const random: Recommend = (_user, k, exclude) => {
      const ex = new Set(exclude);
      const out = new Set<number>();
      while (out.size < k) {
        const i = Math.floor(rng() * nItems);
        if (!ex.has(i)) out.add(i);
      }
      return Int32Array.from(out);
    };
    const popular = await evaluateRanking({ train, test, k: 10, recommend: checked });
    const baseline = await evaluateRanking({ train, test, k: 10, recommend: random });
    expect(popular.usersEvaluated).toBe(nUsers);
    expect(popular.precisionAtK).toBeGreaterThan(3 * baseline.precisionAtK);
    expect(popular.recallAtK).toBeGreaterThan(3 * baseline.recallAtK);
    expect(popular.ndcgAtK).toBeGreaterThan(3 * baseline.ndcgAtK);
    expect(popular.mapAtK).toBeGreaterThan(3 * baseline.mapAtK);
    expect(popular.coverage).toBeLessThan(baseline.coverage);
  });
});
