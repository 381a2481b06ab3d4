/**
 * In-process micro-benchmark of the scoring step of a cache miss: one user against every movie (dot product plus
 * biases), ~50 movies excluded, top-K selection. Through ServingModel.recommend (what recsvc runs, on the backend
 * chosen at load) and through topK of each backend directly.
 */
import { movieIdOf, Rng } from '../../lib/src/data/synthetic.js';
import { CACHED_LIST_LENGTH } from '../../lib/src/recommendation-cache.js';
import { backend as defaultBackend, getBackend, nativeLoadError, type Backend } from '../../native/src/index.js';
import { ServingModel } from '../../recsvc/src/serving-model.js';
import { randomModelArtifact, type RandomModelSize } from './model.js';

export interface MicroResult {
  name: string;
  backend: Backend;
  k: number;
  iterations: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface MicroReport {
  /** The backend ServingModel uses in this process (RECSYS_NATIVE, default auto). */
  servingBackend: Backend;
  nativeUnavailable?: string;
  excluded: number;
  results: MicroResult[];
}

function summarise(name: string, backend: Backend, k: number, samplesNs: number[]): MicroResult {
  const us = samplesNs.map((ns) => ns / 1000).sort((a, b) => a - b);
  const at = (q: number) => us[Math.min(us.length - 1, Math.ceil(q * us.length) - 1)];
  return {
    name,
    backend,
    k,
    iterations: us.length,
    meanUs: us.reduce((s, v) => s + v, 0) / us.length,
    p50Us: at(0.5),
    p99Us: at(0.99),
    maxUs: us[us.length - 1],
  };
}

/** Times `fn(i)` for `iterations` calls after `warmup` untimed ones; returns nanoseconds per call. */
function time(iterations: number, warmup: number, fn: (i: number) => unknown): number[] {
  let sink = 0;
  for (let i = 0; i < warmup; i++) sink += fn(i) ? 1 : 0;
  const samples = new Array<number>(iterations);
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    sink += fn(i) ? 1 : 0;
    samples[i] = Number(process.hrtime.bigint() - start);
  }
  if (sink < 0) console.log(sink); // keeps the calls observable
  return samples;
}

export function runScoringMicro(size: RandomModelSize, options: { iterations: number; warmup: number; excluded: number }): MicroReport {
  const artifact = randomModelArtifact('als', size);
  const model = ServingModel.fromArtifact(artifact);
  const itemVectors = artifact.arrays.itemVectors as Float32Array;
  const itemBiases = artifact.arrays.itemBiases as Float32Array;
  const rng = new Rng(size.seed, 99);
  // A different user and exclusion set per iteration, as requests are.
  const cases = Array.from({ length: 64 }, (_, c) => {
    const user = rng.int(size.users);
    const exclude = new Set<number>();
    while (exclude.size < options.excluded) exclude.add(rng.int(size.movies));
    const rep = model.userRepresentation(`u${user + 1}`)!;
    return { rep, excludeIds: [...exclude].map(movieIdOf), excludeIdx: Int32Array.from(exclude), c };
  });
  const results: MicroResult[] = [];
  for (const k of [CACHED_LIST_LENGTH, 10]) {
    results.push(
      summarise(`ServingModel.recommend (k=${k})`, defaultBackend, k, time(options.iterations, options.warmup, (i) => {
        const c = cases[i % cases.length];
        return model.recommend(c.rep, c.excludeIds, k).length;
      })),
    );
  }
  let nativeUnavailable: string | undefined;
  for (const name of ['native', 'ts'] as const) {
    if (name === 'native' && nativeLoadError()) {
      nativeUnavailable = nativeLoadError();
      continue;
    }
    const api = getBackend(name);
    for (const k of [CACHED_LIST_LENGTH, 10]) {
      results.push(
        summarise(`topK ${name} (k=${k})`, name, k, time(options.iterations, options.warmup, (i) => {
          const c = cases[i % cases.length];
          return api.topK({ userVector: c.rep.vector, userBias: c.rep.bias, itemVectors, itemBiases, exclude: c.excludeIdx, k }).ids.length;
        })),
      );
    }
  }
  return { servingBackend: defaultBackend, nativeUnavailable, excluded: options.excluded, results };
}
