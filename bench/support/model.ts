/**
 * Serving benchmarks need a model of realistic size, not a good one: deterministic random vectors for the generated
 * users (u1..uN) and movies (m1..mM), laid out as lib/src/models/layout.ts says, published and activated through
 * the ModelRegistry like a trained model.
 */
import { GENRES, type ModelTypeName } from '../../lib/src/domain.js';
import { movieIdOf, Rng, userIdOf } from '../../lib/src/data/synthetic.js';
import { newVersion, type ModelArtifact, type ModelManifest } from '../../lib/src/models/artifact.js';
import { ARTIFACT_ARRAYS as A, ARTIFACT_ID_MAPS as M } from '../../lib/src/models/layout.js';
import { ModelRegistry } from '../../lib/src/models/registry.js';
import type { ObjectStore } from '../../lib/src/objectstore/types.js';

export interface RandomModelSize {
  users: number;
  movies: number;
  factors: number;
  seed: number;
}

/** Normal(0, scale²) floats from a seeded generator. */
function normals(n: number, scale: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** The arrays and id maps of a random model of the given type (same seed, same model). */
export function randomModelArtifact(modelType: ModelTypeName, size: RandomModelSize, version = newVersion()): ModelArtifact {
  const { users, movies, factors, seed } = size;
  const rng = new Rng(seed, modelType === 'als' ? 1 : 2);
  // Scores of a few units, as trained factors give.
  const scale = 1 / Math.sqrt(Math.sqrt(factors));
  const arrays: Record<string, Float32Array> = {
    [A.userVectors]: normals(users * factors, scale, rng),
    [A.userBiases]: modelType === 'als' ? new Float32Array(users) : normals(users, 0.1, rng),
    [A.itemVectors]: normals(movies * factors, scale, rng),
    [A.itemBiases]: modelType === 'als' ? new Float32Array(movies) : normals(movies, 0.1, rng),
  };
  const idMaps: Record<string, string[]> = {
    [M.users]: Array.from({ length: users }, (_, i) => userIdOf(i)),
    [M.items]: Array.from({ length: movies }, (_, i) => movieIdOf(i)),
  };
  if (modelType === 'lightfm') {
    arrays[A.genreUserVectors] = normals(GENRES.length * factors, scale, rng);
    arrays[A.genreUserBiases] = normals(GENRES.length, 0.1, rng);
    arrays[A.genreItemVectors] = normals(GENRES.length * factors, scale, rng);
    arrays[A.genreItemBiases] = normals(GENRES.length, 0.1, rng);
    idMaps[M.genres] = [...GENRES];
  }
  const manifest: ModelManifest = {
    formatVersion: 1,
    modelType,
    version,
    createdAt: new Date().toISOString(),
    params: modelType === 'als' ? { factors, alpha: 10, regularization: 0.05 } : { noComponents: factors },
    dataStats: { users, items: movies },
    metrics: {},
    dimensions: { users, items: movies, factors, genres: modelType === 'lightfm' ? GENRES.length : 0 },
    files: [],
  };
  return { manifest, arrays, idMaps };
}

/** Publishes and activates a random model; returns its version. */
export async function publishRandomModel(objects: ObjectStore, modelType: ModelTypeName, size: RandomModelSize): Promise<string> {
  const registry = new ModelRegistry(objects);
  const { manifest, arrays, idMaps } = randomModelArtifact(modelType, size);
  const { files: _files, formatVersion: _format, ...base } = manifest;
  await registry.publish(base, arrays, idMaps);
  await registry.activate(modelType, manifest.version);
  return manifest.version;
}
