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

export type MeasuredRun = WorkerResult & { loadBefore: number[] };
export interface FailedRun {
  spec: Omit<WorkerSpec, 'outFile'>;
  loadBefore: number[];
  error: string;
}
export type Run = MeasuredRun | FailedRun;

export function isMeasured(run: Run): run is MeasuredRun {
  return !('error' in run);
}

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
