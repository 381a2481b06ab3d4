import type { MovieDoc, RecommendationSourceName } from '../../lib/src/store/types.js';
import type { ServingModel, UserRepresentation } from './serving-model.js';

/**
 * Why a movie is in a list. Computed at serve time for the K items served only (never cached), so cached lists,
 * lists refreshed by the trainer and fresh ones are all explained the same way.
 *
 * - ALS (`similar_to_history`): Hu, Koren & Volinsky 2008, section 5, as the `implicit` library's `explain`.
 *   With W_u = (YᵀC_uY + λI)⁻¹ the exact user vector is x_u = W_u Yᵀ C_u p(u), so the score of item i splits
 *   over the user's items j: ŷ_ui = Σ_j s^u_ij c_uj with s^u_ij = y_iᵀ W_u y_j and c_uj = 1 + α·w_uj (the confidence
 *   the trainer uses; w_uj the summed interaction weight). The contributions sum to the score of the exactly solved
 *   user vector (the trainer's conjugate-gradient vector is close to it, not equal).
 * - LightFM-style (`features`): the item representation is the sum of its feature embeddings (identity and genres),
 *   so score = Σ_f (u·e_f + b_f) + b_u splits exactly over the movie's features, plus the user's bias.
 * - Top lists (`top_list`): which list it came from (the user's favourite genres, or the global list).
 */
export type ExplanationKindName = 'similar_to_history' | 'features' | 'top_list';
export type ContributionKindName = 'movie' | 'genre' | 'item_identity' | 'user_bias';

export interface Contribution {
  kind: ContributionKindName;
  /** A movie id or a genre. */
  id: string;
  /** A title or a genre, for display. */
  label: string;
  /** The part of the score (same unit as the score; may be negative). */
  value: number;
}

export interface Explanation {
  kind: ExplanationKindName;
  text: string;
  /** Largest first, at most MAX_CONTRIBUTIONS. */
  contributions: Contribution[];
  /** Top lists: the genres the list was drawn from. */
  genres: string[];
}

export const MAX_CONTRIBUTIONS = 5;

// ---------------------------------------------------------------------------------------------------------------
// ALS: implicit's explain

export interface AlsExplainInput {
  factors: number;
  /** Item factors, row-major, nItems × factors. */
  itemFactors: Float32Array;
  /** YᵀY (factors × factors); computed when absent. */
  gramian?: Float64Array;
  regularization: number;
  alpha: number;
  /** The user's items (row indices) and their summed interaction weights; entries with weight ≤ 0 are ignored. */
  history: readonly { item: number; weight: number }[];
  /** The recommended items (row indices) to explain. */
  targets: readonly number[];
}

export interface AlsExplanation {
  /** Σ_j s^u_ij c_uj: the item's score for the exactly solved user vector. */
  total: number;
  /** One per history entry with weight > 0, in the order of `history`: s^u_ij c_uj. */
  contributions: { item: number; value: number }[];
}

/**
 * For every target item i: s^u_ij c_uj for each history item j (see the module comment), through one Cholesky
 * factorisation of YᵀC_uY + λI = YᵀY + λI + Σ_j (c_uj − 1) y_j y_jᵀ and one triangular solve per target.
 * Cost: O(n_u·f² + f³ + K·(f² + n_u·f)) for n_u history items, f factors and K targets.
 */
export function alsExplain(input: AlsExplainInput): AlsExplanation[] {
  const { factors: f, itemFactors: Y, regularization, alpha } = input;
  const history = input.history.filter((h) => h.weight > 0);
  const A = new Float64Array(f * f);
  if (input.gramian) A.set(input.gramian);
  else {
    const nItems = Y.length / f;
    for (let i = 0; i < nItems; i++) addOuter(A, Y, i * f, f, 1);
  }
  for (let a = 0; a < f; a++) A[a * f + a] += regularization;
  for (const h of history) addOuter(A, Y, h.item * f, f, alpha * h.weight);
  cholesky(A, f);
  const v = new Float64Array(f);
  return input.targets.map((target) => {
    for (let a = 0; a < f; a++) v[a] = Y[target * f + a];
    choleskySolveInPlace(A, v, f); // v = W_u y_i
    let total = 0;
    const contributions = history.map((h) => {
      let s = 0;
      for (let a = 0; a < f; a++) s += v[a] * Y[h.item * f + a];
      const value = s * (1 + alpha * h.weight);
      total += value;
      return { item: h.item, value };
    });
    return { total, contributions };
  });
}

/** A += scale · y yᵀ (lower triangle, which is all the factorisation reads). */
function addOuter(A: Float64Array, Y: Float32Array, offset: number, f: number, scale: number): void {
  for (let a = 0; a < f; a++) {
    const ya = scale * Y[offset + a];
    for (let c = 0; c <= a; c++) A[a * f + c] += ya * Y[offset + c];
  }
}

/** In-place Cholesky A = L Lᵀ of a symmetric positive definite matrix, reading and writing the lower triangle. */
function cholesky(A: Float64Array, f: number): void {
  for (let j = 0; j < f; j++) {
    let d = A[j * f + j];
    for (let p = 0; p < j; p++) d -= A[j * f + p] * A[j * f + p];
    if (!(d > 0)) throw new Error('ALS explanation: YᵀC_uY + λI is not positive definite');
    const l = Math.sqrt(d);
    A[j * f + j] = l;
    for (let i = j + 1; i < f; i++) {
      let s = A[i * f + j];
      for (let p = 0; p < j; p++) s -= A[i * f + p] * A[j * f + p];
      A[i * f + j] = s / l;
    }
  }
}

/** Solves L Lᵀ x = b in place. */
function choleskySolveInPlace(L: Float64Array, b: Float64Array, f: number): void {
  for (let i = 0; i < f; i++) {
    let s = b[i];
    for (let p = 0; p < i; p++) s -= L[i * f + p] * b[p];
    b[i] = s / L[i * f + i];
  }
  for (let i = f - 1; i >= 0; i--) {
    let s = b[i];
    for (let p = i + 1; p < f; p++) s -= L[p * f + i] * b[p];
    b[i] = s / L[i * f + i];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// LightFM-style: feature contributions

export interface FeatureExplainInput {
  factors: number;
  user: UserRepresentation;
  /** The item's representation (identity plus genre embeddings) and bias, as served. */
  itemVector: Float32Array;
  itemBias: number;
  /** The item's genre features: embedding and bias of each. */
  genres: readonly { genre: string; vector: Float32Array; bias: number }[];
}

/**
 * Splits score = u·(e_id + Σ_g e_g) + b_id + Σ_g b_g + b_u over the features: u·e_g + b_g per genre, the identity's
 * part (the representation minus the genre embeddings) and the user's bias. The parts sum to the score.
 */
export function featureContributions(input: FeatureExplainInput): { genre?: string; identity?: true; userBias?: true; value: number }[] {
  const { factors: f, user, itemVector, itemBias, genres } = input;
  const identity = Float64Array.from(itemVector);
  let identityBias = itemBias;
  const parts: { genre?: string; identity?: true; userBias?: true; value: number }[] = [];
  for (const g of genres) {
    let s = g.bias;
    for (let a = 0; a < f; a++) {
      s += user.vector[a] * g.vector[a];
      identity[a] -= g.vector[a];
    }
    identityBias -= g.bias;
    parts.push({ genre: g.genre, value: s });
  }
  let s = identityBias;
  for (let a = 0; a < f; a++) s += user.vector[a] * identity[a];
  parts.push({ identity: true, value: s });
  parts.push({ userBias: true, value: user.bias });
  return parts;
}

// ---------------------------------------------------------------------------------------------------------------
// Texts and the serve-time entry point

/** "A", "A and B", "A, B and C". */
export function listText(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

const movieLabel = (movie: MovieDoc | undefined, id: string) => (movie ? (movie.year ? `${movie.title} (${movie.year})` : movie.title) : id);

export function topListExplanation(source: 'genres_top' | 'global_top', genres: readonly string[]): Explanation {
  return source === 'genres_top' && genres.length
    ? { kind: 'top_list', text: `Among the most popular movies in your favourite genres (${listText(genres)})`, contributions: [], genres: [...genres] }
    : { kind: 'top_list', text: 'Among the most popular movies overall', contributions: [], genres: [] };
}

export interface ExplainRequest {
  model: ServingModel;
  source: RecommendationSourceName;
  user: UserRepresentation | null;
  /** The user's interaction weights (ALS). */
  interactions: ReadonlyMap<string, number>;
  items: readonly MovieDoc[];
  /** Titles of the user's movies (ALS), by movie id. */
  titles: (movieIds: readonly string[]) => Promise<Map<string, MovieDoc>>;
}

/** Explanations of a model's list, one per item, in order. */
export async function explainModelList(req: ExplainRequest): Promise<Explanation[]> {
  const { model, user, items } = req;
  const targets = items.map((m) => model.itemRow(m.movieId));
  if (model.modelType === 'als') {
    const history: { item: number; weight: number; movieId: string }[] = [];
    for (const [movieId, weight] of req.interactions) {
      const item = model.itemRow(movieId);
      if (item !== undefined && weight > 0) history.push({ item, weight, movieId });
    }
    if (history.length === 0) return items.map(() => ({ kind: 'similar_to_history', text: 'No history to explain it by', contributions: [], genres: [] }));
    const known = targets.filter((t): t is number => t !== undefined);
    const explained = alsExplain({ ...model.alsExplainState(), history, targets: known });
    const strongest = explained.map((e) =>
      e.contributions
        .map((c, j) => ({ movieId: history[j].movieId, value: c.value }))
        .sort((a, b) => b.value - a.value || a.movieId.localeCompare(b.movieId))
        .slice(0, MAX_CONTRIBUTIONS),
    );
    const titles = await req.titles([...new Set(strongest.flat().map((c) => c.movieId))]);
    let next = 0;
    return targets.map((t) => {
      if (t === undefined) return { kind: 'similar_to_history', text: '', contributions: [], genres: [] };
      const contributions: Contribution[] = strongest[next++].map((c) => ({
        kind: 'movie',
        id: c.movieId,
        label: movieLabel(titles.get(c.movieId), c.movieId),
        value: c.value,
      }));
      const positive = contributions.filter((c) => c.value > 0).slice(0, 3);
      const text = positive.length ? `Because of ${listText(positive.map((c) => c.label))} in your history` : 'Close to your history as a whole';
      return { kind: 'similar_to_history', text, contributions, genres: [] };
    });
  }
  return items.map((movie, i) => {
    const t = targets[i];
    // A movie created after training is scored through its genres alone (ServingModel.coldItems): so explained.
    const cold = t === undefined ? model.coldFeatureState(movie.genres) : undefined;
    if ((t === undefined && !cold) || !user) return { kind: 'features', text: '', contributions: [], genres: [] };
    const parts = featureContributions({ factors: model.dim, user, ...(cold ?? model.featureState(t!, movie.genres)) }).filter((p) => !(cold && p.identity));
    const contributions: Contribution[] = parts
      .map((p): Contribution =>
        p.genre !== undefined
          ? { kind: 'genre', id: p.genre, label: p.genre, value: p.value }
          : p.identity
            ? { kind: 'item_identity', id: movie.movieId, label: 'the movie itself', value: p.value }
            : { kind: 'user_bias', id: '', label: 'your overall taste', value: p.value },
      )
      .sort((a, b) => b.value - a.value || a.id.localeCompare(b.id))
      .slice(0, MAX_CONTRIBUTIONS);
    const positive = contributions.filter((c) => c.value > 0 && c.kind !== 'user_bias');
    const genres = positive.filter((c) => c.kind === 'genre').map((c) => c.label);
    if (cold) {
      const known = parts.filter((p) => p.genre !== undefined).map((p) => p.genre!);
      const text = genres.length
        ? `New in the catalogue: its genre${genres.length > 1 ? 's' : ''} ${listText(genres)} match${genres.length > 1 ? '' : 'es'} your taste`
        : `New in the catalogue: ranked by its genre${known.length > 1 ? 's' : ''} ${listText(known)} for your overall taste`;
      return { kind: 'features', text, contributions, genres: [] };
    }
    const text = positive.length === 0
      ? 'Ranked high for your overall taste'
      : positive[0].kind === 'genre'
        ? `Mostly its genre${genres.length > 1 ? 's' : ''} ${listText(genres)}, which match your taste`
        : genres.length
          ? `Mostly the movie itself (liked by people with your taste), and ${listText(genres)}`
          : 'Mostly the movie itself (liked by people with your taste)';
    return { kind: 'features', text, contributions, genres: [] };
  });
}
