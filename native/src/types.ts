/**
 * Public types of the models library, and the low-level `Core` interface that both backends implement (the
 * native addon exactly as exported by native/cpp/addon.cc, and the pure-TypeScript fallback in ./ts).
 */
import type { CsrMatrix } from '../../lib/src/sparse.js';

export type { CsrMatrix };

export type Backend = 'native' | 'ts';

// ---------------------------------------------------------------------------------------------------------------
// ALS

export interface AlsParams {
  /** Latent factors. Default 64. */
  factors?: number;
  /**
   * L2 weight λ added to the diagonal of YᵀY (not scaled by the number of entries, as in implicit). Default 20:
   * the best on ML-100k-like data with 64 factors (0.01, implicit's default, overfits there).
   */
  regularization?: number;
  /** Confidence c = 1 + alpha * |weight| (negative weights: preference 0). Default 1. */
  alpha?: number;
  /** Alternating iterations (one user and one item half-step each). Default 15. */
  iterations?: number;
  /** Conjugate-gradient steps per row and half-step, warm-started from the previous factors. Default 3. */
  cgSteps?: number;
  /** 'cg' (default, fast) or 'cholesky' (exact solve per row, the reference). */
  solver?: 'cg' | 'cholesky';
  /** Seed of the initial factors. Default 0. */
  seed?: number;
  /** Threads of the native pool (0 = every core). Default 0. The TypeScript backend runs on one thread. */
  threads?: number;
  /** Compute the full training loss after every iteration. Default false. */
  computeLoss?: boolean;
  /** Stops the fit between units of work; the Promise then rejects with signal.reason. */
  signal?: AbortSignal;
}

export interface AlsModelState {
  factors: number;
  /** nUsers x factors, row-major. */
  userFactors: Float32Array;
  /** nItems x factors, row-major. */
  itemFactors: Float32Array;
}

export interface AlsFitResult {
  state: AlsModelState;
  /** One entry per iteration when computeLoss is set, else empty. */
  losses: number[];
  secondsPerIteration: number[];
}

/**
 * The training params (regularization and alpha must be those the model was trained with; the defaults are those
 * of AlsParams; the other fields are accepted and ignored, so the training params object can be passed as is).
 */
export interface AlsFoldInParams extends AlsParams {
  /** YᵀY from alsItemGramian(state), to avoid recomputing it (nItems x factors² operations) on every call. */
  gramian?: Float64Array;
}

// ---------------------------------------------------------------------------------------------------------------
// WARP

export interface WarpParams {
  /** Embedding size. Default 64. */
  noComponents?: number;
  /** Passes over the positive interactions. Default 15 (more overfits ML-100k-like data without L2). */
  epochs?: number;
  /** Adagrad base learning rate. Default 0.05. */
  learningRate?: number;
  /** Negatives drawn per positive before giving up. Default 10. */
  maxSampled?: number;
  /** L2 on item-feature parameters (lazy, through a scale factor). Default 0. */
  itemAlpha?: number;
  /** L2 on user-feature parameters. Default 0. */
  userAlpha?: number;
  /** Seed of the initial embeddings, of the shuffles and of the per-thread samplers. Default 0. */
  seed?: number;
  /** Threads of the native pool (0 = every core); more than one is Hogwild, not deterministic. Default 0. */
  threads?: number;
  signal?: AbortSignal;
}

/**
 * Side information. Identity features are implicit: item i always has its own feature (row i of itemEmbeddings,
 * weight 1); itemFeatures adds nItemFeatures more (rows nItems + f), with the weights given in its data.
 */
export interface WarpFeatures {
  /** nUsers x nUserFeatures, e.g. favourite genres. */
  userFeatures?: CsrMatrix;
  /** nItems x nItemFeatures, e.g. genres. */
  itemFeatures?: CsrMatrix;
}

export interface WarpModelState {
  noComponents: number;
  nUsers: number;
  nItems: number;
  /** Extra user features (identity excluded). */
  nUserFeatures: number;
  /** Extra item features (identity excluded). */
  nItemFeatures: number;
  /** (nUsers + nUserFeatures) x noComponents: identity rows first, then the features. */
  userEmbeddings: Float32Array;
  /** nUsers + nUserFeatures. WARP never changes them (they cancel in the ranking); kept for completeness. */
  userBiases: Float32Array;
  /** (nItems + nItemFeatures) x noComponents. */
  itemEmbeddings: Float32Array;
  /** nItems + nItemFeatures. */
  itemBiases: Float32Array;
}

export interface WarpFitResult {
  state: WarpModelState;
  secondsPerEpoch: number[];
}

export interface Representation {
  vector: Float32Array;
  bias: number;
}

export interface Representations {
  /** n x noComponents, row-major. */
  vectors: Float32Array;
  biases: Float32Array;
}

// ---------------------------------------------------------------------------------------------------------------
// Top-K

export interface TopKQuery {
  userVector: Float32Array;
  /** nItems x userVector.length, row-major. */
  itemVectors: Float32Array;
  itemBiases?: Float32Array;
  userBias?: number;
  /** Item ids never returned (seen, disliked). */
  exclude?: Int32Array;
  /** 1..nItems. */
  k: number;
}

export interface TopKResult {
  ids: Int32Array;
  scores: Float32Array;
}

export interface BatchTopKQuery {
  /** nUsers x dim. */
  userVectors: Float32Array;
  /** nItems x dim. */
  itemVectors: Float32Array;
  /** Vector size; may be left out when itemBiases, userBiases or exclude tells the row counts. */
  dim?: number;
  itemBiases?: Float32Array;
  userBiases?: Float32Array;
  /** nUsers x nItems: the items excluded for each user (row = user index in userVectors). */
  exclude?: CsrMatrix;
  /** 1..nItems. */
  k: number;
  /** The users (rows of userVectors) to rank, in output order. Default: every user. */
  users?: Int32Array;
  threads?: number;
}

export interface SimilarItemsQuery {
  itemVectors: Float32Array;
  dim: number;
  itemId: number;
  k: number;
  exclude?: Int32Array;
}

export type IterationCallback = (iteration: number, loss: number | undefined) => void;
export type EpochCallback = (epoch: number) => void;

/** The public API, identical for both backends. */
export interface ModelsApi {
  readonly backend: Backend;
  fitAls(userItems: CsrMatrix, params?: AlsParams, onIteration?: IterationCallback): Promise<AlsFitResult>;
  alsItemGramian(state: AlsModelState, threads?: number): Float64Array;
  alsRecalculateUser(
    state: AlsModelState,
    itemIds: Int32Array,
    weights: Float32Array,
    params?: AlsFoldInParams,
  ): Float32Array;
  fitWarp(
    interactions: CsrMatrix,
    features?: WarpFeatures,
    params?: WarpParams,
    onEpoch?: EpochCallback,
  ): Promise<WarpFitResult>;
  warpItemRepresentations(state: WarpModelState, itemFeatures?: CsrMatrix): Representations;
  warpUserRepresentations(state: WarpModelState, userFeatures?: CsrMatrix): Representations;
  warpUserRepresentation(
    state: WarpModelState,
    userIndex: number | null,
    userFeatureIds?: Int32Array,
    weights?: Float32Array,
  ): Representation;
  warpNewItemRepresentation(state: WarpModelState, itemFeatureIds: Int32Array, weights?: Float32Array): Representation;
  topK(query: TopKQuery): TopKResult;
  batchTopK(query: BatchTopKQuery): Promise<TopKResult>;
  similarItems(query: SimilarItemsQuery): TopKResult;
}

// ---------------------------------------------------------------------------------------------------------------
// The low-level core: normalised, already validated arguments; outputs allocated by the caller.

export type ProgressCallback = (index: number, loss: number, seconds: number) => void;

export interface CoreAlsFitArgs {
  userItems: CsrMatrix;
  factors: number;
  regularization: number;
  alpha: number;
  iterations: number;
  cgSteps: number;
  cholesky: boolean;
  threads: number;
  computeLoss: boolean;
  /** In: initial factors; out: fitted factors. */
  userFactors: Float32Array;
  itemFactors: Float32Array;
  /** control[0] = 1 asks the fit to stop. */
  control: Int32Array;
}

export interface CoreAlsRecalculateArgs {
  itemFactors: Float32Array;
  factors: number;
  itemIds: Int32Array;
  weights: Float32Array;
  regularization: number;
  alpha: number;
  gramian: Float64Array | undefined;
  out: Float32Array;
}

export interface CoreWarpFitArgs {
  interactions: CsrMatrix;
  /** nItems x (nItems + nItemFeatures), identity columns included. */
  itemFeatures: CsrMatrix;
  /** nUsers x (nUsers + nUserFeatures), identity columns included. */
  userFeatures: CsrMatrix;
  noComponents: number;
  learningRate: number;
  maxSampled: number;
  itemAlpha: number;
  userAlpha: number;
  epochs: number;
  seed: number;
  threads: number;
  itemEmbeddings: Float32Array;
  itemBiases: Float32Array;
  userEmbeddings: Float32Array;
  userBiases: Float32Array;
  control: Int32Array;
}

export interface CoreBatchTopKArgs {
  userVectors: Float32Array;
  itemVectors: Float32Array;
  dim: number;
  itemBiases: Float32Array | undefined;
  userBiases: Float32Array | undefined;
  exclude: CsrMatrix | undefined;
  users: Int32Array | undefined;
  k: number;
  threads: number;
  outIds: Int32Array;
  outScores: Float32Array;
}

export interface Core {
  alsFit(args: CoreAlsFitArgs, onIteration: ProgressCallback): Promise<void>;
  alsGramian(itemFactors: Float32Array, factors: number, threads: number, out: Float64Array): void;
  alsRecalculateUser(args: CoreAlsRecalculateArgs): void;
  warpFit(args: CoreWarpFitArgs, onEpoch: ProgressCallback): Promise<void>;
  topK(
    userVector: Float32Array,
    itemVectors: Float32Array,
    itemBiases: Float32Array | undefined,
    userBias: number,
    exclude: Int32Array | undefined,
    k: number,
    outIds: Int32Array,
    outScores: Float32Array,
  ): number;
  similarItems(
    itemVectors: Float32Array,
    dim: number,
    itemId: number,
    k: number,
    exclude: Int32Array | undefined,
    outIds: Int32Array,
    outScores: Float32Array,
  ): number;
  batchTopK(args: CoreBatchTopKArgs): Promise<void>;
}
