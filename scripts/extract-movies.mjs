#!/usr/bin/env node
/**
 * Regenerate data/movies-imdb.csv from the devDependency vega-datasets 3.2.1
 * (data/movies.json): the films with every column the movie-ratings task reads (the title
 * may be missing), those columns only, in the package's order of films. Run: node scripts/extract-movies.mjs
 * (test/data.test.ts checks that the committed file equals this script's output).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Source field → CSV column, in the CSV's order. */
export const MOVIE_COLUMNS = [
  ['Title', 'title'],
  ['IMDB Rating', 'imdb_rating'],
  ['IMDB Votes', 'imdb_votes'],
  ['Production Budget', 'production_budget'],
  ['US Gross', 'us_gross'],
  ['Worldwide Gross', 'worldwide_gross'],
  ['Release Date', 'release_date'],
  ['Major Genre', 'major_genre'],
  ['MPAA Rating', 'mpaa_rating'],
];

/** RFC 4180: quote a field holding a comma, a quote or a line break; double its quotes. */
function field(v) {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV text of the films from movies.json (an array of records). */
export function moviesCsv(movies) {
  const lines = [MOVIE_COLUMNS.map(([, c]) => c).join(',')];
  for (const m of movies) {
    // every column the task reads must be there; a missing title is written empty
    if (MOVIE_COLUMNS.some(([k]) => k !== 'Title' && (m[k] === null || m[k] === undefined))) continue;
    lines.push(MOVIE_COLUMNS.map(([k]) => field(m[k] ?? '')).join(','));
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // the package's exports hide package.json: locate its data from its main module
  const source = join(require.resolve('vega-datasets'), '..', '..', 'data', 'movies.json');
  const text = moviesCsv(JSON.parse(readFileSync(source, 'utf8')));
  writeFileSync(join(root, 'data', 'movies-imdb.csv'), text);
  process.stdout.write(`wrote data/movies-imdb.csv: ${text.trim().split('\n').length - 1} films\n`);
}
