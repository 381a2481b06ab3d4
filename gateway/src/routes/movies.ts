import { Type } from 'typebox';
import { MOVIE_LIMITS } from '../../../lib/src/catalogue.js';
import { ID_PATTERN_SOURCE } from '../../../lib/src/domain.js';
import { HiddenFilter, type CatalogueMovie, type UpdateMovieRequest } from '../../../lib/src/proto.js';
import { ErrorResponse, errorResponses } from '../schemas.js';
import { Int32 } from '../enums.js';
import type { RouteModule } from './types.js';

/**
 * The movie catalogue's admin routes over the Trainer's catalogue RPCs (CreateMovie, UpdateMovie, GetMovie,
 * ListMovies); field rules in lib/src/catalogue.ts (MOVIE_LIMITS), checked there and named in every 400.
 */
const MovieId = Type.String({ pattern: ID_PATTERN_SOURCE, description: '1-64 characters of [A-Za-z0-9_-]' });
const L = MOVIE_LIMITS;
const writable = {
  title: Type.String({ minLength: 1, maxLength: L.titleMaxLength, description: `1 to ${L.titleMaxLength} characters` }),
  year: Int32({ description: `${L.yearMin} to ${L.yearMax}, or 0 when unknown` }),
  genres: Type.Array(Type.String(), {
    maxItems: L.genresMax,
    description: `At most ${L.genresMax} names of 1 to ${L.genreMaxLength} characters; a name no movie had before is a new genre (GET /genres lists them)`,
  }),
  rating: Type.Number({ description: `Average rating, ${L.ratingMin} to ${L.ratingMax}, or 0 when unknown` }),
  imdb_id: Type.String({ maxLength: 12, description: 'IMDb title id: "tt" and digits (tt0114709) or digits; empty for none' }),
  tmdb_id: Type.String({ maxLength: 10, description: 'The Movie Database id (digits); empty for none' }),
  hidden: Type.Boolean({ description: 'A hidden movie is never recommended nor in top lists (at once, cached lists included)' }),
};

export const CreateMovieBody = Type.Object(
  {
    movie_id: MovieId,
    title: writable.title,
    year: Type.Optional(writable.year),
    genres: Type.Optional(writable.genres),
    rating: Type.Optional(writable.rating),
    imdb_id: Type.Optional(writable.imdb_id),
    tmdb_id: Type.Optional(writable.tmdb_id),
    hidden: Type.Optional(writable.hidden),
  },
  { additionalProperties: false },
);

export const UpdateMovieBody = Type.Object(
  {
    title: Type.Optional(writable.title),
    year: Type.Optional(writable.year),
    genres: Type.Optional(writable.genres),
    rating: Type.Optional(writable.rating),
    imdb_id: Type.Optional(writable.imdb_id),
    tmdb_id: Type.Optional(writable.tmdb_id),
    hidden: Type.Optional(writable.hidden),
  },
  { additionalProperties: false, minProperties: 1, description: 'The fields to change (at least one); absent fields keep their values' },
);

export const CatalogueMovieSchema = Type.Object({
  movie_id: Type.String(),
  title: Type.String(),
  year: Type.Integer({ description: '0 when unknown' }),
  genres: Type.Array(Type.String()),
  rating: Type.Number({ description: 'Average rating 1-10, 0 when unknown' }),
  imdb_id: Type.Union([Type.String(), Type.Null()]),
  tmdb_id: Type.Union([Type.String(), Type.Null()]),
  imdb_url: Type.Union([Type.String(), Type.Null()]),
  hidden: Type.Boolean(),
  popularity: Type.Number({ description: 'Interaction weights x rating factor; 0 until the movie has interactions' }),
  created_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'Null for imported movies' }),
  updated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const MovieParams = Type.Object({ movie_id: MovieId });

export const ListMoviesQuery = Type.Object(
  {
    hidden: Type.Optional(Type.Boolean({ description: 'true: only hidden movies; false: only visible ones; absent: all' })),
    page_size: Type.Optional(Int32({ minimum: 1, maximum: L.pageSizeMax, description: `1 to ${L.pageSizeMax}, default ${L.pageSizeDefault}` })),
    page_token: Type.Optional(Type.String({ pattern: ID_PATTERN_SOURCE, description: 'next_page_token of the previous page' })),
  },
  { additionalProperties: false },
);

export const ListMoviesResponse = Type.Object({
  movies: Type.Array(CatalogueMovieSchema, { description: 'Ordered by movie_id' }),
  next_page_token: Type.Union([Type.String(), Type.Null()], { description: 'Null on the last page' }),
});

const iso = (date: Date | undefined) => (date ? date.toISOString() : null);

function toRestMovie(movie: CatalogueMovie | undefined) {
  if (!movie) throw new Error('trainer answered without a movie');
  return {
    movie_id: movie.movieId,
    title: movie.title,
    year: movie.year,
    genres: movie.genres,
    rating: movie.rating,
    imdb_id: movie.imdbId || null,
    tmdb_id: movie.tmdbId || null,
    imdb_url: movie.imdbUrl || null,
    hidden: movie.hidden,
    popularity: movie.popularity,
    created_at: iso(movie.createdAt),
    updated_at: iso(movie.updatedAt),
  };
}

const admin = { scope: 'admin' } as const;
const withConflict = { ...errorResponses, 409: ErrorResponse };

export const movieRoutes: RouteModule = (app, upstreams) => {
  const trainer = upstreams.trainer;
  const update = (request: UpdateMovieRequest, requestId: string) => upstreams.call(trainer, trainer.updateMovie, request, requestId);

  app.post(
    '/movies',
    {
      config: admin,
      schema: {
        summary: 'Add a movie to the catalogue (409 when the id is taken); with genres, the hybrid model scores it at once',
        tags: ['catalogue'],
        body: CreateMovieBody,
        response: { 201: CatalogueMovieSchema, ...withConflict },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const res = await upstreams.call(
        trainer,
        trainer.createMovie,
        {
          movie: {
            movieId: b.movie_id,
            title: b.title,
            year: b.year ?? 0,
            genres: b.genres ?? [],
            rating: b.rating ?? 0,
            imdbId: b.imdb_id ?? '',
            tmdbId: b.tmdb_id ?? '',
            imdbUrl: '',
            hidden: b.hidden ?? false,
            popularity: 0,
          },
        },
        request.id,
      );
      return reply.status(201).header('location', `/movies/${encodeURIComponent(b.movie_id)}`).send(toRestMovie(res.movie));
    },
  );

  app.get(
    '/movies',
    {
      config: admin,
      schema: {
        summary: 'The catalogue, a page at a time by movie_id, hidden movies included unless filtered',
        tags: ['catalogue'],
        querystring: ListMoviesQuery,
        response: { 200: ListMoviesResponse, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const hidden = q.hidden === undefined ? HiddenFilter.HIDDEN_FILTER_UNSPECIFIED : q.hidden ? HiddenFilter.HIDDEN_FILTER_HIDDEN : HiddenFilter.HIDDEN_FILTER_VISIBLE;
      const res = await upstreams.call(trainer, trainer.listMovies, { pageSize: q.page_size ?? 0, pageToken: q.page_token ?? '', hidden }, request.id);
      return { movies: res.movies.map(toRestMovie), next_page_token: res.nextPageToken || null };
    },
  );

  app.get(
    '/movies/:movie_id',
    {
      config: admin,
      schema: {
        summary: 'One movie of the catalogue, hidden or not',
        tags: ['catalogue'],
        params: MovieParams,
        response: { 200: CatalogueMovieSchema, ...errorResponses },
      },
    },
    async (request) => toRestMovie((await upstreams.call(trainer, trainer.getMovie, { movieId: request.params.movie_id }, request.id)).movie),
  );

  app.patch(
    '/movies/:movie_id',
    {
      config: admin,
      schema: {
        summary: 'Change a movie: title, year, genres, rating, external ids, hidden (absent fields keep their values)',
        tags: ['catalogue'],
        params: MovieParams,
        body: UpdateMovieBody,
        response: { 200: CatalogueMovieSchema, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      const res = await update(
        {
          movieId: request.params.movie_id,
          title: b.title,
          year: b.year,
          genres: b.genres && { genres: b.genres },
          rating: b.rating,
          imdbId: b.imdb_id,
          tmdbId: b.tmdb_id,
          hidden: b.hidden,
        },
        request.id,
      );
      return toRestMovie(res.movie);
    },
  );

  for (const [method, hidden] of [['put', true], ['delete', false]] as const) {
    app[method](
      '/movies/:movie_id/hidden',
      {
        config: admin,
        schema: {
          summary: hidden
            ? 'Hide a movie: it leaves every list at once, cached lists included (idempotent)'
            : 'Unhide a movie: it may be recommended and listed again (idempotent)',
          tags: ['catalogue'],
          params: MovieParams,
          // No body is expected; one that is sent anyway is refused as on every route (too large, not JSON).
          response: { 200: CatalogueMovieSchema, ...errorResponses, 413: ErrorResponse, 415: ErrorResponse },
        },
      },
      async (request) => toRestMovie((await update({ movieId: request.params.movie_id, hidden }, request.id)).movie),
    );
  }
};
