/**
 * Regression on real tabular data (seed 000 §4): a film's IMDb rating from what is known
 * about it commercially, on `data/movies-imdb.csv` — the films of vega-datasets 3.2.1's
 * `movies.json` (BSD-3-Clause) with every column used here, extracted by
 * `scripts/extract-movies.mjs` (data/README.md has the provenance).
 *
 * Features (24): log₁₀ IMDb votes, log₁₀(1 + production budget), log₁₀(1 + US gross),
 * log₁₀(1 + worldwide gross), the release year — these five standardized with the
 * training rows' mean and sd only — and one-hots of the major genre (12) and the MPAA
 * rating (7). Target: the rating (1–10), standardized with the training rows' statistics.
 * Films dated after 2010 (two, both 1939 films that the source dates 2039: a two-digit
 * year read in the wrong century) are left out rather than guessed.
 *
 * Model: an MLP 24 → hidden relu → 1 from the library's layers (`ModelTask`), mean
 * squared error in standardized units. Split: seeded, 20% of the films held out.
 * Metrics: the test RMSE in rating points (the target metric), out-of-sample R² against
 * the training mean, and the test loss.
 */
import { CimmDataError } from '../errors.js';
import { options } from '../is.js';
import { Random } from '../random.js';
import { numericColumns, readDataCsv } from './csv.js';
import { ModelTask, modelTaskOptions, standardizeColumns } from './model-task.js';

export interface MovieRatingsOptions {
  /** Hidden relu units (default 32; 0 gives linear regression). */
  hidden?: number;
  /** Fraction of the films held out for testing (default 0.2). */
  testFraction?: number;
  /** L2 coefficient on the weights (default 1e-4). */
  l2?: number;
  /** Mini-batch size (default: full batch; the comparison uses 32). */
  batchSize?: number;
  /** Seed of the split (default 0). */
  seed?: number;
}

export const MOVIE_RATINGS_DEFAULTS = Object.freeze({ hidden: 32, testFraction: 0.2, l2: 1e-4, seed: 0 });

export const MOVIE_GENRES = Object.freeze([
  'Action',
  'Adventure',
  'Black Comedy',
  'Comedy',
  'Concert/Performance',
  'Documentary',
  'Drama',
  'Horror',
  'Musical',
  'Romantic Comedy',
  'Thriller/Suspense',
  'Western',
]);
export const MPAA_RATINGS = Object.freeze(['G', 'NC-17', 'Not Rated', 'Open', 'PG', 'PG-13', 'R']);
/** The source's data end in 2010; later dates are century errors. */
export const LAST_YEAR = 2010;

/** The films as read: numeric columns, year, genre and rating indices, and the CSV line. */
export interface MovieRows {
  rating: Float64Array;
  votes: Float64Array;
  budget: Float64Array;
  usGross: Float64Array;
  worldwideGross: Float64Array;
  year: Float64Array;
  genre: Uint8Array;
  mpaa: Uint8Array;
  /** Films left out (dated after LAST_YEAR), with their lines. */
  excluded: { line: number; title: string; date: string }[];
}

let cached: MovieRows | undefined;

/** Read data/movies-imdb.csv (once per thread), checking every field. */
export function loadMovies(): MovieRows {
  if (cached) return cached;
  const table = readDataCsv('movies-imdb.csv', [
    'title',
    'imdb_rating',
    'imdb_votes',
    'production_budget',
    'us_gross',
    'worldwide_gross',
    'release_date',
    'major_genre',
    'mpaa_rating',
  ]);
  const [rating, votes, budget, usGross, worldwideGross] = numericColumns(table, [
    'imdb_rating',
    'imdb_votes',
    'production_budget',
    'us_gross',
    'worldwide_gross',
  ]);
  const keep: number[] = [];
  const excluded: MovieRows['excluded'] = [];
  const bad: { line: number; reason: string }[] = [];
  const years: number[] = [];
  const genres: number[] = [];
  const mpaa: number[] = [];
  table.records.forEach((r, i) => {
    const line = table.lines[i];
    const date = /^[A-Z][a-z]{2} \d{2} (\d{4})$/.exec(r.release_date);
    const g = MOVIE_GENRES.indexOf(r.major_genre);
    const m = MPAA_RATINGS.indexOf(r.mpaa_rating);
    if (!date) bad.push({ line, reason: `release_date ${JSON.stringify(r.release_date)} is not "Mon DD YYYY"` });
    if (g < 0) bad.push({ line, reason: `unknown major_genre ${JSON.stringify(r.major_genre)}` });
    if (m < 0) bad.push({ line, reason: `unknown mpaa_rating ${JSON.stringify(r.mpaa_rating)}` });
    if (!(rating[i] >= 1 && rating[i] <= 10)) bad.push({ line, reason: `imdb_rating ${rating[i]} is outside 1..10` });
    if (!(votes[i] >= 1) || budget[i] < 0 || usGross[i] < 0 || worldwideGross[i] < 0)
      bad.push({ line, reason: 'votes must be ≥ 1, budget and grosses ≥ 0' });
    if (!date || g < 0 || m < 0) return;
    const year = Number(date[1]);
    if (year > LAST_YEAR) {
      excluded.push({ line, title: r.title, date: r.release_date });
      return;
    }
    keep.push(i);
    years.push(year);
    genres.push(g);
    mpaa.push(m);
  });
  if (bad.length)
    throw new CimmDataError(
      `cimm: ${table.source} has ${bad.length} bad row(s): line ${bad[0].line}: ${bad[0].reason}`,
      bad,
    );
  const pick = (a: Float64Array) => Float64Array.from(keep, (i) => a[i]);
  cached = {
    rating: pick(rating),
    votes: pick(votes),
    budget: pick(budget),
    usGross: pick(usGross),
    worldwideGross: pick(worldwideGross),
    year: Float64Array.from(years),
    genre: Uint8Array.from(genres),
    mpaa: Uint8Array.from(mpaa),
    excluded,
  };
  return cached;
}

/** Numeric features standardized with the training rows' statistics, then the one-hots. */
export const MOVIE_NUMERIC = 5;
export const MOVIE_FEATURES = MOVIE_NUMERIC + MOVIE_GENRES.length + MPAA_RATINGS.length;

export class MovieRatingsTask extends ModelTask {
  /** The training rows' rating mean and sd (what the model's output is scaled by). */
  readonly ratingMean: number;
  readonly ratingSd: number;

  constructor(opts?: MovieRatingsOptions) {
    const o = options<MovieRatingsOptions>('options', opts);
    const { hidden, testFraction, l2, seed } = modelTaskOptions(o, MOVIE_RATINGS_DEFAULTS);
    const films = loadMovies();
    const n = films.rating.length;
    const order = new Random(seed).shuffle(Uint32Array.from({ length: n }, (_, i) => i));
    const t = Math.round(testFraction * n);
    const testRows = order.slice(0, t).sort();
    const trainRows = order.slice(t).sort();
    const f = MOVIE_FEATURES;
    const x64 = new Float64Array(n * f);
    for (let i = 0; i < n; i++) {
      x64[i * f] = Math.log10(films.votes[i]);
      x64[i * f + 1] = Math.log10(1 + films.budget[i]);
      x64[i * f + 2] = Math.log10(1 + films.usGross[i]);
      x64[i * f + 3] = Math.log10(1 + films.worldwideGross[i]);
      x64[i * f + 4] = films.year[i];
      x64[i * f + MOVIE_NUMERIC + films.genre[i]] = 1;
      x64[i * f + MOVIE_NUMERIC + MOVIE_GENRES.length + films.mpaa[i]] = 1;
    }
    standardizeColumns(x64, f, trainRows, [0, 1, 2, 3, 4]);
    const y64 = Float64Array.from(films.rating);
    const { mean, sd } = standardizeColumns(y64, 1, trainRows);
    super(
      { x: Float32Array.from(x64), inputs: f, y: Float32Array.from(y64), trainRows, testRows },
      {
        name: 'movie-ratings',
        kind: 'regression',
        sizes: hidden > 0 ? [f, hidden, 1] : [f, 1],
        activation: 'relu',
        l2,
        batchSize: o.batchSize,
        targetScale: sd[0],
        config: { source: 'data/movies-imdb.csv', hidden, testFraction, l2, seed, batchSize: o.batchSize },
        target: {
          metric: 'testRmse',
          value: 0.95,
          direction: 'min',
          reason:
            'best-tuned Adam (η 1e-3–3e-3, batches of 32) ends at 0.89–0.92 rating points and gets below 0.95 in ' +
            '165–180 steps at η 3e-3 on 3 seeds; the linear model stops at 1.01 and the training mean scores ' +
            "about 1.26 (the ratings' sd), so 0.95 needs the hidden layer",
        },
      },
    );
    this.ratingMean = mean[0];
    this.ratingSd = sd[0];
  }
}
