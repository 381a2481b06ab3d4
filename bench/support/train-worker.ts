/**
 * One measurement of the training benchmark, in a process of its own so that its peak memory is its own:
 *
 *   node dist/bench/support/train-worker.js '<WorkerSpec as JSON>'
 *
 * Reads a split written by writeSplit (train-data.ts), fits ALS or WARP on one backend with the given threads,
 * samples the resident set size while it fits, evaluates the model when the split has a test set, and writes a
 * WorkerResult as JSON to spec.outFile.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { evaluateTopK, mulberry32, type RankingMetrics } from '../../lib/src/evaluation.js';
import {
  getBackend,
  type AlsParams,
  type Backend,
  type CsrMatrix,
  type Representations,
  type WarpParams,
} from '../../native/src/index.js';
import { readSplit } from './train-data.js';

export type ModelName = 'als' | 'warp';

export interface WorkerSpec {
  dataDir: string;
  model: ModelName;
  backend: Backend;
  threads: number;
  /** ALS iterations or WARP epochs. */
  iterations: number;
  /** A discarded fit of one iteration/epoch first (thread pool start-up, page faults, JIT). */
  warmup: boolean;
  factors: number;
  seed: number;
  k: number;
  /** Hyper-parameters other than the library defaults (ALS: regularization, alpha; WARP: learningRate, ...). */
  params?: Omit<AlsParams, 'signal'> & Omit<WarpParams, 'signal'>;
  /** WARP: estimate the negatives drawn per positive on the fitted model (see estimateSampling). */
  estimateSampling?: boolean;
  outFile: string;
}

export interface SamplingEstimate {
  /** Positives examined (uniform over the training entries). */
  positives: number;
  /** Mean negatives drawn (not counting the user's own positives, which are skipped) per positive. */
  meanDraws: number;
  /** Share of positives for which a violating negative was found, i.e. an update would be made. */
  updateRate: number;
  maxSampled: number;
}

export interface WorkerResult {
  spec: WorkerSpec;
  nnz: number;
  /** Wall-clock seconds of the timed fit (validation, initialisation and output included). */
  fitSeconds: number;
  /** fitSeconds / iterations: the figure compared with the reference libraries. */
  secondsPerIteration: number;
  /** The per-iteration (per-epoch) times measured by the core. */
  iterationSeconds: number[];
  medianIterationSeconds: number;
  warmupSeconds: number | null;
  /** CPU seconds (user + system, all threads) of the timed fit: cpuSeconds / fitSeconds = cores actually used. */
  cpuSeconds: number;
  /** Resident set size after loading the data, before fitting (MB). */
  rssBeforeFitMb: number;
  /** Highest sampled RSS while fitting (MB), sampled every 5 ms. */
  rssPeakFitMb: number;
  /** process.resourceUsage().maxRSS at the end (MB): the process's peak, data loading and evaluation included. */
  maxRssMb: number;
  metrics: RankingMetrics | null;
  sampling: SamplingEstimate | null;
}

const MB = 1024 * 1024;

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function pick<T extends object>(o: T | undefined, keys: readonly (keyof T)[]): Partial<T> {
  const out: Partial<T> = {};
  if (o !== undefined) for (const key of keys) if (o[key] !== undefined) out[key] = o[key];
  return out;
}

/**
 * Replays WARP's negative sampling on the fitted model for a uniform sample of training entries: draw items
 * uniformly, skip the user's positives, stop at the first whose score exceeds the positive's minus 1 or after
 * maxSampled draws. The fit itself does this with the model of the moment, so this is the sampling cost of a late
 * epoch (early epochs find violations sooner).
 */
function estimateSampling(
  train: CsrMatrix,
  reps: { items: Representations; users: Representations },
  dim: number,
  maxSampled: number,
  seed: number,
): SamplingEstimate {
  const rng = mulberry32(seed ^ 0x5eed);
  const nnz = train.indices.length;
  const nItems = train.nCols;
  const positives = Math.min(20_000, nnz);
  const U = reps.users.vectors;
  const V = reps.items.vectors;
  const b = reps.items.biases;
  const score = (u: number, i: number): number => {
    let s = b[i];
    for (let d = 0; d < dim; d++) s += U[u * dim + d] * V[i * dim + d];
    return s;
  };
  const isPositive = (u: number, i: number): boolean => {
    let lo = train.indptr[u];
    let hi = train.indptr[u + 1] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = train.indices[mid];
      if (c === i) return train.data[mid] > 0;
      if (c < i) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  };
  let draws = 0;
  let updates = 0;
  for (let n = 0; n < positives; n++) {
    const e = Math.floor(rng() * nnz);
    // The entry's user: the row whose span holds e.
    let lo = 0;
    let hi = train.nRows - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (train.indptr[mid] <= e) lo = mid;
      else hi = mid - 1;
    }
    const u = lo;
    if (train.indptr[u + 1] - train.indptr[u] >= nItems) continue;
    const threshold = score(u, train.indices[e]) - 1;
    for (let sampled = 0; sampled < maxSampled; ) {
      const neg = Math.floor(rng() * nItems);
      if (isPositive(u, neg)) continue;
      sampled++;
      draws++;
      if (score(u, neg) > threshold) {
        updates++;
        break;
      }
    }
  }
  return { positives, meanDraws: draws / positives, updateRate: updates / positives, maxSampled };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as WorkerSpec;
  const api = getBackend(spec.backend);
  const { train, test, itemFeatures } = readSplit(spec.dataDir);
  const hasFeatures = itemFeatures.nCols > 0;

  const fit = async (iterations: number) => {
    if (spec.model === 'als') {
      const r = await api.fitAls(train, {
        ...pick(spec.params, ['regularization', 'alpha', 'cgSteps', 'solver']),
        factors: spec.factors,
        iterations,
        threads: spec.threads,
        seed: spec.seed,
      });
      return { als: r.state, warp: undefined, seconds: r.secondsPerIteration };
    }
    const r = await api.fitWarp(
      train,
      hasFeatures ? { itemFeatures } : {},
      {
        ...pick(spec.params, ['learningRate', 'maxSampled', 'itemAlpha', 'userAlpha']),
        noComponents: spec.factors,
        epochs: iterations,
        threads: spec.threads,
        seed: spec.seed,
      },
    );
    return { als: undefined, warp: r.state, seconds: r.secondsPerEpoch };
  };

  let warmupSeconds: number | null = null;
  if (spec.warmup) {
    const t = performance.now();
    await fit(1);
    warmupSeconds = (performance.now() - t) / 1000;
  }

  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 5);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await fit(spec.iterations);
  const fitSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());

  let metrics: RankingMetrics | null = null;
  let sampling: SamplingEstimate | null = null;
  let warpReps: { items: Representations; users: Representations } | undefined;
  if (result.warp) {
    warpReps = {
      items: api.warpItemRepresentations(result.warp, hasFeatures ? itemFeatures : undefined),
      users: api.warpUserRepresentations(result.warp),
    };
    if (spec.estimateSampling) {
      sampling = estimateSampling(train, warpReps, spec.factors, spec.params?.maxSampled ?? 10, spec.seed);
    }
  }
  if (test.indices.length > 0) {
    let query: { userVectors: Float32Array; itemVectors: Float32Array; itemBiases?: Float32Array };
    if (result.als) {
      query = { userVectors: result.als.userFactors, itemVectors: result.als.itemFactors };
    } else {
      const { items, users } = warpReps!;
      // The user bias is the same for all of a user's items: it cannot change the ranking.
      query = { userVectors: users.vectors, itemVectors: items.vectors, itemBiases: items.biases };
    }
    const exclude: CsrMatrix = train;
    const top = await api.batchTopK({ ...query, dim: spec.factors, exclude, k: spec.k, threads: spec.threads });
    metrics = evaluateTopK({ train, test, k: spec.k, topK: top.ids });
  }

  const out: WorkerResult = {
    spec,
    nnz: train.indices.length,
    fitSeconds,
    secondsPerIteration: fitSeconds / spec.iterations,
    iterationSeconds: result.seconds,
    medianIterationSeconds: median(result.seconds),
    warmupSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    rssBeforeFitMb: rssBefore / MB,
    rssPeakFitMb: rssPeak / MB,
    maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
    metrics,
    sampling,
  };
  writeFileSync(spec.outFile, `${JSON.stringify(out)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`train-worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
