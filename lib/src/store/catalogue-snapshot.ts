import type { MovieDoc, TopMoviesQuery } from './types.js';
import { byPopularity } from './popularity.js';

/**
 * The version of the catalogue a snapshot was read at: `epoch` is fixed when the version record is created (a dropped
 * and re-imported database gets a new one), `rev` counts the catalogue writes since (movies created, changed, hidden,
 * imported, popularity set). Ordered within one epoch: a snapshot of rev r holds every write counted up to r.
 */
export interface CatalogueVersion {
  epoch: string;
  rev: number;
}

/** True when a snapshot read at `have` holds every write counted in `want` (same epoch, rev at least as high). */
export function coversVersion(have: CatalogueVersion, want: CatalogueVersion): boolean {
  return have.epoch === want.epoch && have.rev >= want.rev;
}

/** A copy a caller may change without changing the snapshot: its arrays (genres, tags, aliasIds) copied too. */
function copyOf(movie: MovieDoc): MovieDoc {
  const copy: Record<string, unknown> = { ...movie };
  for (const key in copy) if (Array.isArray(copy[key])) copy[key] = [...(copy[key] as unknown[])];
  return copy as unknown as MovieDoc;
}

/**
 * The whole movie catalogue in memory, ordered by popularity (descending, ties by movieId ascending: the order of
 * `Store.topMovies` in every store), with an index by movieId and the distinct genres. Built once per catalogue
 * version by MongoStore (lib/src/store/mongo-store.ts, "Catalogue reads"); answers the request-path catalogue reads
 * (top lists, movie info, genres) with no database scan. Immutable: every answer is a copy.
 */
export class CatalogueSnapshot {
  private readonly ordered: readonly MovieDoc[];
  private readonly byId: ReadonlyMap<string, MovieDoc>;
  private readonly genreList: readonly string[];

  /** `movies`: the catalogue as stored (any order); `loadedAt` in ms of the reader's clock. */
  constructor(
    movies: readonly MovieDoc[],
    readonly version: CatalogueVersion,
    readonly loadedAt: number,
  ) {
    this.ordered = [...movies].sort(byPopularity);
    this.byId = new Map(movies.map((m) => [m.movieId, m]));
    const genres = new Set<string>();
    for (const movie of movies) for (const g of movie.genres ?? []) if (typeof g === 'string') genres.add(g);
    this.genreList = [...genres];
  }

  get size(): number {
    return this.ordered.length;
  }

  /**
   * `Store.topMovies` over the snapshot: visible movies (hidden != true) with at least one of `query.genres` (any when
   * absent), without `query.excludeMovieIds`, the first `query.limit` by popularity. Walks the ordered list and stops
   * at `limit`: cost O(movies skipped + limit), not a sort.
   */
  top(query: TopMoviesQuery): MovieDoc[] {
    const genres = query.genres ? new Set(query.genres) : undefined;
    const excluded = query.excludeMovieIds?.length ? new Set(query.excludeMovieIds) : undefined;
    const out: MovieDoc[] = [];
    if (query.limit <= 0) return out;
    for (const movie of this.ordered) {
      if (movie.hidden === true || excluded?.has(movie.movieId)) continue;
      if (genres && !(movie.genres ?? []).some((g) => genres.has(g))) continue;
      out.push(copyOf(movie));
      if (out.length >= query.limit) break;
    }
    return out;
  }

  /** `Store.getMovies`: the movies of these ids that exist (copies), keyed by id. */
  get(movieIds: readonly string[]): Map<string, MovieDoc> {
    const found = new Map<string, MovieDoc>();
    for (const id of movieIds) {
      const movie = this.byId.get(id);
      if (movie && !found.has(id)) found.set(id, copyOf(movie));
    }
    return found;
  }

  /** `Store.distinctGenres`: every genre of every movie, hidden ones included (unordered). */
  genres(): string[] {
    return [...this.genreList];
  }
}
