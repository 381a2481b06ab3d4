import { Catalogue } from '../../lib/src/catalogue.js';
import { InvalidArgumentError } from '../../lib/src/errors.js';
import { throwIfCancelled, type Handlers } from '../../lib/src/grpc/server.js';
import { HiddenFilter, type CatalogueMovie, type TrainerServiceServer } from '../../lib/src/proto.js';
import type { MovieDoc } from '../../lib/src/store/types.js';
import type { TrainerRuntime } from './runtime.js';

/** A stored movie as the catalogue RPCs return it. */
export function toCatalogueMovie(movie: MovieDoc): CatalogueMovie {
  return {
    movieId: movie.movieId,
    title: movie.title,
    year: movie.year,
    genres: movie.genres,
    rating: movie.rating,
    imdbId: movie.imdbId ?? '',
    tmdbId: movie.tmdbId ?? '',
    imdbUrl: movie.imdbUrl ?? '',
    hidden: movie.hidden === true,
    popularity: movie.popularity,
    createdAt: movie.createdAt,
    updatedAt: movie.updatedAt,
  };
}

const hiddenFilters: Partial<Record<HiddenFilter, boolean | undefined>> = {
  [HiddenFilter.HIDDEN_FILTER_UNSPECIFIED]: undefined,
  [HiddenFilter.HIDDEN_FILTER_HIDDEN]: true,
  [HiddenFilter.HIDDEN_FILTER_VISIBLE]: false,
};

type CatalogueHandlers = Pick<Handlers<TrainerServiceServer>, 'createMovie' | 'updateMovie' | 'getMovie' | 'listMovies'>;

/** The Trainer's catalogue RPCs (scope admin, trainer/src/auth.ts) over lib/src/catalogue.ts. */
export function catalogueHandlers(runtime: Pick<TrainerRuntime, 'store' | 'cache' | 'log'>): CatalogueHandlers {
  const catalogue = new Catalogue(runtime.store, runtime.cache, runtime.log);
  return {
    async createMovie(request, context) {
      const m = request.movie;
      if (!m) throw new InvalidArgumentError('movie is required');
      throwIfCancelled(context);
      const movie = await catalogue.create(m.movieId, {
        title: m.title,
        year: m.year,
        genres: m.genres,
        rating: m.rating,
        imdbId: m.imdbId,
        tmdbId: m.tmdbId,
        hidden: m.hidden,
      });
      return { movie: toCatalogueMovie(movie) };
    },
    async updateMovie(request, context) {
      throwIfCancelled(context);
      const movie = await catalogue.update(request.movieId, {
        title: request.title,
        year: request.year,
        genres: request.genres?.genres,
        rating: request.rating,
        imdbId: request.imdbId,
        tmdbId: request.tmdbId,
        hidden: request.hidden,
      });
      return { movie: toCatalogueMovie(movie) };
    },
    async getMovie(request) {
      return { movie: toCatalogueMovie(await catalogue.get(request.movieId)) };
    },
    async listMovies(request) {
      if (!(request.hidden in hiddenFilters)) {
        throw new InvalidArgumentError('hidden must be HIDDEN_FILTER_UNSPECIFIED, HIDDEN_FILTER_HIDDEN or HIDDEN_FILTER_VISIBLE');
      }
      const page = await catalogue.list({ pageSize: request.pageSize, pageToken: request.pageToken, hidden: hiddenFilters[request.hidden] });
      return { movies: page.movies.map(toCatalogueMovie), nextPageToken: page.nextPageToken };
    },
  };
}
