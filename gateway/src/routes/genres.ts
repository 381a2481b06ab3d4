import { GenresTopFallback, type RankedMovie } from '../../../lib/src/proto.js';
import { GenresResponse, GenresTopQuery, GenresTopResponse, SetGenresBody, SetGenresResponse, errorResponses } from '../schemas.js';
import type { RouteModule } from './types.js';

export function toRestItem(item: RankedMovie) {
  const movie = item.movie;
  return {
    movie_id: movie?.movieId ?? '',
    title: movie?.title ?? '',
    genres: movie?.genres ?? [],
    year: movie?.year ?? 0,
    rating: movie?.rating ?? 0,
    score: item.score,
    rank: item.rank,
  };
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
