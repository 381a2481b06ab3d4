import { describe, expect, it } from 'vitest';
import { normalizeImdbId, toProtoMovie } from '../src/recommendation-grpc.js';

const base = { movieId: 'm1', title: 'Toy Story', year: 1995, genres: ['Comedy'], rating: 8, popularity: 1 };

describe('links to the film', () => {
  it('normalises IMDb ids from links.csv ("114709") and full ids ("tt0114709")', () => {
    expect(normalizeImdbId('114709')).toBe('tt0114709');
    expect(normalizeImdbId('tt0114709')).toBe('tt0114709');
    expect(normalizeImdbId('tt12345678')).toBe('tt12345678');
    for (const bad of [undefined, '', 'tt', 'abc', '12a', 'tt-1']) expect(normalizeImdbId(bad)).toBe('');
  });

  it('links by IMDb id first, then by the catalogue\'s own http(s) URL, never anything else', () => {
    expect(toProtoMovie({ ...base, imdbId: '114709' })).toMatchObject({ imdbId: 'tt0114709', imdbUrl: 'https://www.imdb.com/title/tt0114709/' });
    const ml100k = 'http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)';
    expect(toProtoMovie({ ...base, imdbUrl: ml100k })).toMatchObject({ imdbId: '', imdbUrl: ml100k });
    expect(toProtoMovie({ ...base, imdbUrl: 'javascript:alert(1)' })).toMatchObject({ imdbUrl: '' });
    expect(toProtoMovie(base)).toMatchObject({ imdbId: '', imdbUrl: '' });
  });
});
