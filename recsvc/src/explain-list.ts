import type { Logger } from '../../lib/src/logger.js';
import type { RecommendationSourceName, Store } from '../../lib/src/store/types.js';
import { explainModelList, topListExplanation, type Explanation } from './explanations.js';
import type { MovieInfoCache } from './movie-info.js';
import type { RecommendedMovie } from './recommender.js';
import type { ServingModel } from './serving-model.js';

export type { Explanation } from './explanations.js';

export interface ExplainDeps {
  store: Store;
  movies: MovieInfoCache;
  log: Logger;
}

export interface ExplainListRequest {
  userId: string;
  model: ServingModel | undefined;
  source: RecommendationSourceName;
  /** Set on the items, in place. */
  items: RecommendedMovie[];
  /** The user's interaction weights when the request already read them (undefined on a cache hit). */
  interactions: Map<string, number> | undefined;
  favoriteGenres: readonly string[];
}

/**
 * Sets `explanation` on each served item, at serve time and for the K served items only. A cache hit reads the
 * user's interactions (ALS needs them); if that read fails the list is still served, with a short explanation that
 * says it could not be computed (a log line says why).
 */
export async function explainList(deps: ExplainDeps, req: ExplainListRequest): Promise<void> {
  const { items, source, model } = req;
  if (items.length === 0) return;
  if (source === 'genres_top' || source === 'global_top' || !model) {
    const explanation = topListExplanation(source === 'genres_top' ? 'genres_top' : 'global_top', req.favoriteGenres);
    for (const item of items) item.explanation = explanation;
    return;
  }
  let explanations: Explanation[];
  try {
    let interactions = req.interactions;
    let favoriteGenres = req.favoriteGenres;
    // A cache hit read nothing from MongoDB: ALS needs the interactions; a user unknown to the model (never cached
    // today, but cheap to handle) needs what fold-in needs.
    const known = model.knowsUser(req.userId);
    if (!interactions && (model.modelType === 'als' || !known)) {
      const [weights, user] = await Promise.all([
        deps.store.userInteractionWeights(req.userId),
        known ? Promise.resolve(null) : deps.store.getUser(req.userId),
      ]);
      interactions = weights;
      if (!known) favoriteGenres = user?.favoriteGenres ?? [];
    }
    interactions ??= new Map();
    const user = model.userRepresentation(req.userId) ?? model.foldIn(interactions, favoriteGenres);
    explanations = await explainModelList({
      model,
      source,
      user,
      interactions,
      items: items.map((i) => i.movie),
      titles: (ids) => deps.movies.get(ids),
    });
  } catch (err) {
    deps.log.warn({ err: String(err), userId: req.userId, modelType: model.modelType }, 'explanations could not be computed');
    explanations = items.map(() => ({
      kind: model.modelType === 'als' ? 'similar_to_history' : 'features',
      text: 'No explanation available right now',
      contributions: [],
      genres: [],
    }));
  }
  items.forEach((item, i) => (item.explanation = explanations[i]));
}
