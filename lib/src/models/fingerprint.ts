import { createHash } from 'node:crypto';
import type { CollectionName, Store } from '../store/types.js';

/**
 * What a model version was trained on, stored in its manifest as `data` (absent in versions made before it existed).
 *
 * - `catalogue`: sha256 (hex) over `${movieId}\t${title}\n` of every movie of the version's `items` id map (the whole
 *   catalogue when it was trained), in that order. recsvc refuses to serve a version whose catalogue fingerprint
 *   does not match the store (see checkCatalogue): another data set, or a catalogue that was replaced. A movie the
 *   catalogue API retitled hashes with its `sourceTitle` (the title before the first retitling): the same film.
 * - `movies`, `watched`, `likes`, `bookmarks`: documents of each collection read by the training run. The demo
 *   compares them (with the catalogue) with the store at start-up and retrains when any differs; a production service
 *   keeps serving while interactions grow between nightly runs, so recsvc does not compare them.
 */
export interface DataFingerprint {
  catalogue: string;
  movies: number;
  watched: number;
  likes: number;
  bookmarks: number;
}

/** Collections whose document counts a fingerprint records. */
export const FINGERPRINT_COUNTS: Readonly<Record<Exclude<keyof DataFingerprint, 'catalogue'>, CollectionName>> = {
  movies: 'movies',
  watched: 'watched_movies',
  likes: 'likes',
  bookmarks: 'bookmarks',
};

const CHUNK = 1000;

/**
 * The catalogue fingerprint of `items` as the store holds them now, and how many of them it lacks (a missing movie
 * hashes as `${movieId}\t\n`, so any missing movie changes the fingerprint).
 */
export async function catalogueFingerprint(store: Store, items: readonly string[]): Promise<{ fingerprint: string; missing: number }> {
  const hash = createHash('sha256');
  let missing = 0;
  for (let start = 0; start < items.length; start += CHUNK) {
    const chunk = items.slice(start, start + CHUNK);
    const movies = await store.getMovies(chunk);
    for (const id of chunk) {
      const movie = movies.get(id);
      if (!movie) missing++;
      hash.update(`${id}\t${movie?.sourceTitle ?? movie?.title ?? ''}\n`);
    }
  }
  return { fingerprint: hash.digest('hex'), missing };
}

/**
 * The rule recsvc applies before serving a version: null when the version may be served, else why not.
 * A version is refused exactly when it carries a fingerprint and the store's movies with the version's ids (in its
 * items order, with their current titles) hash differently: a movie it scores is gone or has another title.
 * Movies added to the catalogue since do not matter (the version does not score them until the next training); a
 * version without fingerprint (made before the field existed) is served.
 */
export async function catalogueMismatch(store: Store, data: DataFingerprint | undefined, items: readonly string[]): Promise<string | null> {
  if (!data) return null;
  const { fingerprint, missing } = await catalogueFingerprint(store, items);
  if (fingerprint === data.catalogue) return null;
  return (
    `trained on another catalogue: ${missing === 0 ? 'titles differ' : `${missing} of its ${items.length} movies are not in the store`}` +
    ` (catalogue fingerprint ${data.catalogue.slice(0, 12)}, the store's ${fingerprint.slice(0, 12)}); retrain on the current data`
  );
}

/** How the store's data differs from what a version was trained on, in words; null when it matches. */
export async function dataDifference(store: Store, data: DataFingerprint | undefined, items: readonly string[]): Promise<string | null> {
  if (!data) return 'it has no data fingerprint (made by an older version of the trainer)';
  const catalogue = await catalogueMismatch(store, data, items);
  if (catalogue) return catalogue;
  const changed: string[] = [];
  for (const [field, collection] of Object.entries(FINGERPRINT_COUNTS) as [keyof typeof FINGERPRINT_COUNTS, CollectionName][]) {
    const now = await store.count(collection);
    if (now !== data[field]) changed.push(`${collection} ${data[field]} → ${now}`);
  }
  return changed.length ? `the data changed since (${changed.join(', ')})` : null;
}
