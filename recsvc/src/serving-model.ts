import type { ModelTypeName } from '../../lib/src/domain.js';
import type { ModelArtifact, ModelManifest } from '../../lib/src/models/artifact.js';
import { ARTIFACT_ARRAYS as A, ARTIFACT_ID_MAPS as M } from '../../lib/src/models/layout.js';
import { CorruptModelError } from '../../lib/src/models/registry.js';
import * as models from '../../native/src/index.js';
import { userSeed, WARP_FOLD_IN_DEFAULTS, warpFoldIn } from './warp-fold-in.js';

export interface UserRepresentation {
  vector: Float32Array;
  bias: number;
}

export interface ScoredMovie {
  movieId: string;
  score: number;
}

/**
 * The live catalogue state a model list is filtered and extended by (recsvc/src/movie-info.ts keeps it per replica):
 * hidden movies are never in a list; movies the catalogue API created that the model has not seen are scored by the
 * hybrid model through their genres (item cold start).
 */
export interface CatalogueOverlay {
  /** Changes whenever the hidden set or the created movies change (cold representations are memoised by it). */
  readonly revision: number;
  isHidden(movieId: string): boolean;
  hiddenIds(): Iterable<string>;
  /** Movies the catalogue API created (cold-start candidates; the model's own items among them are skipped). */
  addedMovies(): readonly { movieId: string; genres: readonly string[]; hidden?: boolean }[];
}

/** Representations of the cold-start movies of one catalogue revision. */
interface ColdItems {
  revision: number;
  ids: string[];
  vectors: Float32Array;
  biases: Float32Array;
}

/**
 * A loaded model version, immutable once built: id maps, vectors and biases as laid out in lib/src/models/layout.ts.
 * The recommendation service swaps whole instances, so a request keeps the model it started with.
 */
export class ServingModel {
  readonly modelType: ModelTypeName;
  readonly version: string;
  readonly manifest: ModelManifest;
  readonly dim: number;
  private readonly userIndex: Map<string, number>;
  private readonly itemIds: readonly string[];
  private readonly itemIndex: Map<string, number>;
  private readonly genreIndex: Map<string, number>;
  private readonly userVectors: Float32Array;
  private readonly userBiases: Float32Array;
  private readonly itemVectors: Float32Array;
  private readonly itemBiases: Float32Array;
  private readonly genreUserVectors?: Float32Array;
  private readonly genreUserBiases?: Float32Array;
  private readonly genreItemVectors?: Float32Array;
  private readonly genreItemBiases?: Float32Array;
  /** ALS: YᵀY of the item factors, computed once per version for fast fold-in. */
  private readonly gramian?: Float64Array;
  /** The cold-start items of the last catalogue revision seen (replaced whole, never mutated). */
  private cold: ColdItems | undefined;

  private constructor(artifact: ModelArtifact) {
    const { manifest, arrays, idMaps } = artifact;
    this.manifest = manifest;
    this.modelType = manifest.modelType;
    this.version = manifest.version;
    const users = idMaps[M.users];
    const items = idMaps[M.items];
    const f32 = (name: string, length: number): Float32Array => {
      const array = arrays[name];
      if (!(array instanceof Float32Array) || array.length !== length) {
        throw new CorruptModelError(`${manifest.modelType} ${manifest.version}: ${name} is missing or has the wrong size`);
      }
      return array;
    };
    if (!users || !items) throw new CorruptModelError(`${manifest.modelType} ${manifest.version}: id maps are missing`);
    const dim = manifest.dimensions.factors;
    if (!Number.isInteger(dim) || dim <= 0) throw new CorruptModelError(`${manifest.modelType} ${manifest.version}: bad factors`);
    this.dim = dim;
    this.userVectors = f32(A.userVectors, users.length * dim);
    this.userBiases = f32(A.userBiases, users.length);
    this.itemVectors = f32(A.itemVectors, items.length * dim);
    this.itemBiases = f32(A.itemBiases, items.length);
    this.userIndex = new Map(users.map((id, i) => [id, i]));
    this.itemIds = items;
    this.itemIndex = new Map(items.map((id, i) => [id, i]));
    const genres = idMaps[M.genres] ?? [];
    this.genreIndex = new Map(genres.map((g, i) => [g, i]));
    if (genres.length) {
      this.genreUserVectors = f32(A.genreUserVectors, genres.length * dim);
      this.genreUserBiases = f32(A.genreUserBiases, genres.length);
      // Older artifacts may lack the item-side genre embeddings: explanations then credit the movie as a whole.
      if (arrays[A.genreItemVectors] && arrays[A.genreItemBiases]) {
        this.genreItemVectors = f32(A.genreItemVectors, genres.length * dim);
        this.genreItemBiases = f32(A.genreItemBiases, genres.length);
      }
    }
    if (this.modelType === 'als') {
      this.gramian = models.alsItemGramian({ factors: dim, userFactors: this.userVectors, itemFactors: this.itemVectors }, 1);
    }
  }

  static fromArtifact(artifact: ModelArtifact): ServingModel {
    return new ServingModel(artifact);
  }

  get itemCount(): number {
    return this.itemIds.length;
  }

  /**
   * When the data this version was trained on was read (ms since the epoch): the trainer's dataReadStartedAtMs,
   * or the version's creation time for artifacts without it. Interaction events applied later are not in it.
   */
  get dataSnapshotAt(): number {
    return this.manifest.dataStats?.dataReadStartedAtMs ?? Date.parse(this.manifest.createdAt);
  }

  knowsUser(userId: string): boolean {
    return this.userIndex.has(userId);
  }

  /** The trained representation of a user the model has seen. */
  userRepresentation(userId: string): UserRepresentation | null {
    const u = this.userIndex.get(userId);
    if (u === undefined) return null;
    return { vector: this.userVectors.subarray(u * this.dim, (u + 1) * this.dim), bias: this.userBiases[u] };
  }

  /**
   * A representation for a user the model has not seen: ALS solves for the user's vector from their interactions
   * with the item factors fixed; the hybrid model sums the embeddings of the user's favourite genres.
   * Null when there is nothing to fold in.
   */
  foldIn(interactions: ReadonlyMap<string, number>, favoriteGenres: readonly string[]): UserRepresentation | null {
    if (this.modelType === 'als') {
      const ids: number[] = [];
      const weights: number[] = [];
      for (const [movieId, weight] of interactions) {
        const i = this.itemIndex.get(movieId);
        if (i !== undefined && weight > 0) {
          ids.push(i);
          weights.push(weight);
        }
      }
      if (ids.length === 0) return null;
      const vector = models.alsRecalculateUser(
        { factors: this.dim, userFactors: this.userVectors, itemFactors: this.itemVectors },
        Int32Array.from(ids),
        Float32Array.from(weights),
        { alpha: this.manifest.params.alpha, regularization: this.manifest.params.regularization, gramian: this.gramian },
      );
      return { vector, bias: 0 };
    }
    if (!this.genreUserVectors || !this.genreUserBiases) return null;
    const genreRows = favoriteGenres.map((g) => this.genreIndex.get(g)).filter((g): g is number => g !== undefined);
    if (genreRows.length === 0) return null;
    const vector = new Float32Array(this.dim);
    let bias = 0;
    for (const g of genreRows) {
      for (let d = 0; d < this.dim; d++) vector[d] += this.genreUserVectors[g * this.dim + d];
      bias += this.genreUserBiases[g];
    }
    return { vector, bias };
  }

  /** The row of a movie in the item arrays, undefined when the model does not know it (explanations). */
  itemRow(movieId: string): number | undefined {
    return this.itemIndex.get(movieId);
  }

  /** What the ALS explanation needs (recsvc/src/explanations.ts): item factors, YᵀY, λ and α. */
  alsExplainState(): { factors: number; itemFactors: Float32Array; gramian?: Float64Array; regularization: number; alpha: number } {
    return {
      factors: this.dim,
      itemFactors: this.itemVectors,
      gramian: this.gramian,
      regularization: this.manifest.params.regularization,
      alpha: this.manifest.params.alpha,
    };
  }

  /** What the feature explanation needs for item row `row`: its representation, bias and genre embeddings. */
  featureState(row: number, genres: readonly string[]) {
    const d = this.dim;
    const features: { genre: string; vector: Float32Array; bias: number }[] = [];
    if (this.genreItemVectors && this.genreItemBiases) {
      for (const genre of new Set(genres)) {
        const g = this.genreIndex.get(genre);
        if (g !== undefined) features.push({ genre, vector: this.genreItemVectors.subarray(g * d, (g + 1) * d), bias: this.genreItemBiases[g] });
      }
    }
    return { itemVector: this.itemVectors.subarray(row * d, (row + 1) * d), itemBias: this.itemBiases[row], genres: features };
  }

  /**
   * The same for a movie the model has not seen (item cold start, coldItems): its representation is the sum of its
   * genres' item embeddings and biases, so it has no identity part. Undefined when none of its genres is known to the
   * model (or the model has no genre features).
   */
  coldFeatureState(genres: readonly string[]) {
    const { genres: features } = this.featureState(0, genres);
    if (features.length === 0) return undefined;
    const itemVector = new Float32Array(this.dim);
    let itemBias = 0;
    for (const g of features) {
      for (let j = 0; j < this.dim; j++) itemVector[j] += g.vector[j];
      itemBias += g.bias;
    }
    return { itemVector, itemBias, genres: features };
  }

  /**
   * The representation of a user from their CURRENT interactions (called after interaction events changed them),
   * with every item parameter fixed. ALS: the exact least-squares solve of implicit's recalculate_user (the same
   * solve the trained vector came from, now on today's interactions). LightFM-style: WARP updates of the user's
   * vector only (recsvc/src/warp-fold-in.ts), starting from the trained vector, or for a user the model has not
   * seen from the sum of their favourite genres' embeddings; the bias is kept. Null when there is nothing to use.
   */
  refreshUser(userId: string, interactions: ReadonlyMap<string, number>, favoriteGenres: readonly string[]): UserRepresentation | null {
    if (this.modelType === 'als') return this.foldIn(interactions, favoriteGenres);
    const start = this.userRepresentation(userId) ?? this.foldIn(interactions, favoriteGenres) ?? { vector: new Float32Array(this.dim), bias: 0 };
    const positives: { item: number; weight: number }[] = [];
    for (const [movieId, weight] of interactions) {
      const item = this.itemIndex.get(movieId);
      if (item !== undefined && weight > 0) positives.push({ item, weight });
    }
    if (positives.length === 0) return start.vector.some((v) => v !== 0) ? start : null;
    const params = this.manifest.params;
    const vector = warpFoldIn(start.vector, positives, this.itemVectors, this.itemBiases, {
      ...WARP_FOLD_IN_DEFAULTS,
      learningRate: params.learningRate ?? WARP_FOLD_IN_DEFAULTS.learningRate,
      maxSampled: params.maxSampled ?? WARP_FOLD_IN_DEFAULTS.maxSampled,
      seed: userSeed(userId),
    });
    return { vector, bias: start.bias };
  }

  /**
   * The k best movies for a representation, never any of `excludeMovieIds`. With a catalogue: never a hidden movie,
   * and (hybrid model) the movies created since training compete through their genres (coldItems).
   */
  recommend(user: UserRepresentation, excludeMovieIds: Iterable<string>, k: number, catalogue?: CatalogueOverlay): ScoredMovie[] {
    const excludedIds = new Set(excludeMovieIds);
    if (catalogue) for (const id of catalogue.hiddenIds()) excludedIds.add(id);
    const exclude = new Set<number>();
    for (const id of excludedIds) {
      const i = this.itemIndex.get(id);
      if (i !== undefined) exclude.add(i);
    }
    const available = this.itemIds.length - exclude.size;
    const result: ScoredMovie[] = [];
    if (available > 0) {
      const { ids, scores } = models.topK({
        userVector: user.vector,
        itemVectors: this.itemVectors,
        itemBiases: this.itemBiases,
        userBias: user.bias,
        exclude: Int32Array.from(exclude),
        k: Math.min(k, available),
      });
      for (let r = 0; r < ids.length; r++) if (ids[r] >= 0) result.push({ movieId: this.itemIds[ids[r]], score: scores[r] });
    }
    const cold = catalogue ? this.coldItems(catalogue) : undefined;
    if (!cold || cold.ids.length === 0) return result;
    const d = this.dim;
    for (let c = 0; c < cold.ids.length; c++) {
      if (excludedIds.has(cold.ids[c])) continue;
      let score = user.bias + cold.biases[c];
      for (let j = 0; j < d; j++) score += user.vector[j] * cold.vectors[c * d + j];
      result.push({ movieId: cold.ids[c], score });
    }
    return result.sort((a, b) => b.score - a.score || (a.movieId < b.movieId ? -1 : a.movieId > b.movieId ? 1 : 0)).slice(0, k);
  }

  /**
   * Item cold start (hybrid model only): a movie the model has not seen, with at least one genre the model knows, is
   * represented as training represents every item minus its identity feature, which it does not have yet: the sum of
   * its genres' item embeddings (genreItemVectors) and biases (genreItemBiases), each genre with weight 1 as in
   * trainer/src/training-data.ts's itemGenres. Genres the model does not know add nothing. ALS has no item features:
   * it cannot score a movie it was not trained on. Memoised per catalogue revision.
   */
  coldItems(catalogue: CatalogueOverlay): ColdItems | undefined {
    if (this.modelType !== 'lightfm' || !this.genreItemVectors || !this.genreItemBiases) return undefined;
    if (this.cold?.revision === catalogue.revision) return this.cold;
    const d = this.dim;
    const ids: string[] = [];
    const rows: number[][] = [];
    for (const movie of catalogue.addedMovies()) {
      if (movie.hidden || this.itemIndex.has(movie.movieId)) continue;
      const genreRows = [...new Set(movie.genres)].map((g) => this.genreIndex.get(g)).filter((g): g is number => g !== undefined);
      if (genreRows.length === 0) continue;
      ids.push(movie.movieId);
      rows.push(genreRows);
    }
    const vectors = new Float32Array(ids.length * d);
    const biases = new Float32Array(ids.length);
    rows.forEach((genreRows, c) => {
      for (const g of genreRows) {
        for (let j = 0; j < d; j++) vectors[c * d + j] += this.genreItemVectors![g * d + j];
        biases[c] += this.genreItemBiases![g];
      }
    });
    this.cold = { revision: catalogue.revision, ids, vectors, biases };
    return this.cold;
  }
}
