import { GenresTopFallback, type Explanation, type Movie, type RankedMovie } from '../../../lib/src/proto.js';
import { ContributionKind, ExplanationKind } from '../../../lib/src/proto.js';
import { protoEnumName } from '../../../lib/src/proto-mapping.js';
import { GenresResponse, GenresTopQuery, GenresTopResponse, SetGenresBody, SetGenresResponse, errorResponses } from '../schemas.js';
import type { RouteModule } from './types.js';

export function toRestMovie(movie: Movie | undefined) {
  return {
    movie_id: movie?.movieId ?? '',
    title: movie?.title ?? '',
    genres: movie?.genres ?? [],
    year: movie?.year ?? 0,
    rating: movie?.rating ?? 0,
    imdb_url: movie?.imdbUrl || null,
  };
}

export function toRestExplanation(e: Explanation | undefined) {
  return {
    kind: protoEnumName(ExplanationKind, 'EXPLANATION_KIND_', e?.kind ?? 0) as 'similar_to_history' | 'features' | 'top_list',
    text: e?.text ?? '',
    contributions: (e?.contributions ?? []).map((c) => ({
      kind: protoEnumName(ContributionKind, 'CONTRIBUTION_KIND_', c.kind) as 'movie' | 'genre' | 'item_identity' | 'user_bias',
      id: c.id,
      label: c.label,
      value: c.value,
    })),
    genres: e?.genres ?? [],
  };
}

export function toRestItem(item: RankedMovie) {
  return { ...toRestMovie(item.movie), score: item.score, rank: item.rank, explanation: toRestExplanation(item.explanation) };
}

export const genreRoutes: RouteModule = (app, upstreams) => {
  const recsvc = upstreams.recommendations;

  app.get(
    '/genres',
    { schema: { summary: 'The genres the catalogue knows', tags: ['genres'], response: { 200: GenresResponse, ...errorResponses } } },
    async (request) => {
      const res = await upstreams.call(recsvc, recsvc.listGenres, {}, request.id);
      return { genres: res.genres };
    },
  );

  app.post(
    '/genres',
    {
      schema: {
        summary: "Set a user's favourite genres (1 to 3), creating the user if new",
        tags: ['genres'],
        body: SetGenresBody,
        response: { 200: SetGenresResponse, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(
        recsvc,
        recsvc.setFavoriteGenres,
        { userId: request.body.user_id, genres: request.body.genres },
        request.id,
      );
      return { user_id: res.userId, genres: res.genres, created: res.created };
    },
  );

  app.get(
    '/genres_top',
    {
      schema: {
        summary: "The most popular movies in the user's favourite genres, excluding movies already watched",
        tags: ['genres'],
        querystring: GenresTopQuery,
        response: { 200: GenresTopResponse, ...errorResponses },
      },
    },
    async (request) => {
      const res = await upstreams.call(
        recsvc,
        recsvc.getGenresTop,
        { userId: request.query.user_id, limit: request.query.limit ?? 10 },
        request.id,
      );
      return {
        user_id: res.userId,
        genres: res.genres,
        fallback: res.fallback === GenresTopFallback.GENRES_TOP_FALLBACK_GLOBAL ? ('global' as const) : null,
        items: res.items.map(toRestItem),
      };
    },
  );
};
