import { Type } from 'typebox';
import { GENRES, ID_PATTERN_SOURCE, MAX_FAVORITE_GENRES } from '../../lib/src/domain.js';

/** REST request/response schemas: validated on the way in, serialised on the way out, published at /docs. */
export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { description: 'Every 4xx/5xx answer' },
);

export const UserId = Type.String({ pattern: ID_PATTERN_SOURCE, description: '1-64 characters of [A-Za-z0-9_-]' });

export const MovieItem = Type.Object({
  movie_id: Type.String(),
  title: Type.String(),
  genres: Type.Array(Type.String()),
  year: Type.Integer(),
  rating: Type.Number({ description: 'Average rating, 1-10' }),
  score: Type.Number(),
  rank: Type.Integer({ minimum: 1 }),
});

export const SetGenresBody = Type.Object(
  {
    user_id: UserId,
    genres: Type.Array(Type.String({ description: `One of: ${GENRES.join(', ')}` }), {
      minItems: 1,
      maxItems: MAX_FAVORITE_GENRES,
      uniqueItems: true,
    }),
  },
  { additionalProperties: false },
);

export const SetGenresResponse = Type.Object({
  user_id: Type.String(),
  genres: Type.Array(Type.String()),
  created: Type.Boolean({ description: 'True when this call created the user' }),
});

export const GenresTopQuery = Type.Object(
  {
    user_id: UserId,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
  },
  { additionalProperties: false },
);

export const GenresTopResponse = Type.Object({
  user_id: Type.String(),
  genres: Type.Array(Type.String()),
  fallback: Type.Union([Type.Literal('global'), Type.Null()], {
    description: '"global" when the user has no favourite genres and the global top list is returned',
  }),
  items: Type.Array(MovieItem),
});

export const GenresResponse = Type.Object({ genres: Type.Array(Type.String()) });

export const errorResponses = {
  400: ErrorResponse,
  404: ErrorResponse,
  500: ErrorResponse,
  503: ErrorResponse,
  504: ErrorResponse,
} as const;
