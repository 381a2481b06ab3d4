/** The result document of bench/train.ts (written as JSON under bench/results/). */
import type { RankingMetrics } from '../../lib/src/evaluation.js';
import type { WorkerResult, WorkerSpec } from './train-worker.js';

export interface Machine {
  cpuModel: string;
  cores: number;
  l3Cache: string | null;
  memoryGb: number;
  os: string;
  node: string;
  commit: string | null;
  /** os.loadavg() (1, 5, 15 minutes) when the benchmark started and ended; each run also records its own. */
  loadAverageStart: number[];
  loadAverageEnd: number[];
}

/** An attempt discarded because other work kept the fit's threads off the cores (busyShare below 0.85). */
export interface ContendedAttempt {
  loadBefore: number[];
  /** CPU seconds / wall seconds / expected busy cores. */
  busyShare: number;
  iterationSeconds: number[];
}
export type MeasuredRun = WorkerResult & { loadBefore: number[]; contendedAttempts?: ContendedAttempt[] };
export interface FailedRun {
  spec: Omit<WorkerSpec, 'outFile'>;
  loadBefore: number[];
  error: string;
  contendedAttempts?: ContendedAttempt[];
}
export type Run = MeasuredRun | FailedRun;

export function isMeasured(run: Run): run is MeasuredRun {
  return !('error' in run);
}

/** Cores a fit should keep busy: its threads (the TypeScript backend: one), at most the machine's cores. */
export function expectedBusy(spec: Omit<WorkerSpec, 'outFile'>, cores: number): number {
  return spec.backend === 'ts' ? 1 : Math.min(spec.threads, cores);
}

/** CPU seconds / wall seconds of the fit as a share of expectedBusy: below CONTENDED, other work took our cores. */
export function busyShareOf(run: Run, cores: number): number {
  return isMeasured(run) ? run.cpuSeconds / run.fitSeconds / expectedBusy(run.spec, cores) : NaN;
}
export const CONTENDED = 0.85;

/** train_reference.py's metrics (snake_case, same definitions as lib/src/evaluation.ts). */
export interface ReferenceMetrics {
  precision_at_k: number;
  recall_at_k: number;
  ndcg_at_k: number;
  map_at_k: number;
  coverage: number;
  users_evaluated: number;
  k: number;
}

export interface ReferenceOutput {
  dataset: Record<string, number | string>;
  params: Record<string, unknown>;
  versions: Record<string, string>;
  machine: { cpus: number; platform: string; max_rss_mb?: number };
  popularity: { metrics: ReferenceMetrics };
  implicit_als?: {
    model: string;
    iterations: number;
    fit_seconds: number;
    seconds_per_iteration: number;
    /** Per iteration, from implicit's fit callback. */
    iteration_seconds?: number[];
    median_seconds_per_iteration?: number | null;
    warmup_seconds: number;
    confidence: string;
    metrics: ReferenceMetrics;
  };
  lightfm_warp?: {
    model: string;
    epochs: number;
    fit_seconds: number;
    seconds_per_epoch: number;
    median_seconds_per_epoch: number;
    epoch_seconds: number[];
    item_features_normalized: boolean;
    sample_weight: boolean;
    metrics: ReferenceMetrics;
  };
}

export interface ReferenceRun {
  /** Which of bench/train.ts's REFERENCE_CONFIGS. */
  config: string;
  argv: string[];
  loadBefore: number[];
  output?: ReferenceOutput;
  error?: string;
}

export interface DatasetResult {
  name: string;
  description: Record<string, unknown>;
  users: number;
  items: number;
  genres: number;
  /** Training interactions (ML-100k: the train part of the split). */
  nnz: number;
  /** Loading or generating the data, and splitting (seconds). */
  prepSeconds: number;
  /** ALS iterations and WARP epochs of the timed fits (the TypeScript backend may do fewer at 1M+). */
  iterations: number;
  epochs: number;
  tsSkipped?: string;
  runs: Run[];
  popularity: RankingMetrics | null;
  references: ReferenceRun[];
}

export interface TrainBenchResult {
  benchmark: 'train';
  date: string;
  finishedAt: string;
  durationSeconds: number;
  machine: Machine;
  parameters: Record<string, unknown> & { compareThreads: number; referenceThreads: number; threads: number[]; k: number; factors: number };
  datasets: DatasetResult[];
}
