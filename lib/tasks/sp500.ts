/**
 * Financial forecasting on real data (seed 000 §4): the S&P 500 index, daily, 2000-01-03
 * to 2020-04-17 (`data/sp500-2000.csv`, from the npm package vega-datasets; provenance and
 * license in data/README.md).
 *
 * Series: daily log returns of the adjusted close, r_t = ln(P_t / P_{t−1}).
 *
 * Decision day t (after its close). Features, all known at t:
 *   - the window r_{t−k+1}, …, r_t of the past k log returns, and
 *   - (volatilityFeatures) the log realized volatility over the past 1, 5 and 22 days,
 *     ln √(mean r²) — the daily/weekly/monthly components of Corsi's HAR-RV model.
 * Targets (one primary, chosen by `target`):
 *   - 'volatility' (the default): y_t = ln √((1/h) Σ_{i=1..h} r²_{t+i}), the log realized
 *     volatility of the next h = 5 days. Volatility clusters, so it is predictable from its
 *     own past (R² around 0.3–0.5 out of sample is typical), which makes it a task where
 *     a better optimizer can show.
 *   - 'return': y_t = Σ_{i=1..h} r_{t+i} (h = 1: the next-day log return). Returns are close
 *     to unpredictable from their own past (weak-form efficiency): expect out-of-sample
 *     R² ≤ 0 for every model and directional accuracy near the share of up days. It is
 *     offered for honesty, not as a task an optimizer can win.
 *
 * Walk-forward split, no look-ahead: samples are in time order; fold f tests on the block
 * [I + f·B, I + (f+1)·B) (I initial training samples, B the block) and trains on every
 * earlier sample whose target ends before the block's first decision day — the last h − 1
 * samples before the block are purged, because their targets overlap the test period.
 * Features and targets are standardized with the training samples' mean and standard
 * deviation only. Baselines (naive forecasts) are scored on the same test block.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsvRecords } from '../data/csv.js';
import { argumentError, type BadRow, CimmDataError } from '../errors.js';
import { finiteNumber, float64Array, integer, oneOf, options } from '../is.js';
import { packageRoot } from '../paths.js';
import { ModelTask, TASK_ACTIVATIONS, type TaskActivation } from './model-task.js';
import { describeBatched, type Vector, vector } from './task.js';

// ---------------------------------------------------------------------------------------
// Loading and validating the CSV.

/** One validated row of a daily price file. */
export interface PriceRow {
  /** 1-based line number in the file. */
  line: number;
  date: string;
  open: number;
  high: number;
  low: number;
  close: number;
  adjclose: number;
  volume: number;
}

export interface ParsePriceOptions {
  /** Name used in messages (default "prices"). */
  source?: string;
  /** 'throw' (default): any bad row fails the parse; 'skip': drop bad rows, report them. */
  onBadRow?: 'throw' | 'skip';
}

const PRICE_COLUMNS = ['date', 'open', 'high', 'low', 'close', 'adjclose', 'volume'] as const;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function validDate(text: string): boolean {
  const m = ISO_DATE.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/**
 * Parse a daily price CSV with the header date,open,high,low,close,adjclose,volume (any
 * column order, any case; RFC 4180 quoting, BOM, CRLF and blank lines tolerated). Each row is checked: the
 * field count, an ISO date that is a real day and later than the previous row's, prices
 * finite and > 0, volume finite and ≥ 0. Bad rows are reported with their line numbers.
 */
export function parsePriceCsv(text: string, opts?: ParsePriceOptions): { rows: PriceRow[]; skipped: BadRow[] } {
  if (typeof text !== 'string') throw argumentError('text', 'a string', text);
  const o = options<ParsePriceOptions>('options', opts);
  const source = o.source ?? 'prices';
  const onBadRow = oneOf('onBadRow', o.onBadRow ?? 'throw', ['throw', 'skip'] as const);
  // csv-parse (lib/data/csv.ts): quoted fields, CRLF, a BOM, blank lines; each record keeps its line
  const csv = parseCsvRecords(text, source);
  const header = csv.header.map((h) => h.toLowerCase());
  const index = {} as Record<(typeof PRICE_COLUMNS)[number], number>;
  for (const col of PRICE_COLUMNS) {
    const i = header.indexOf(col);
    if (i < 0) {
      throw new CimmDataError(
        `cimm: ${source} line ${csv.headerLine}: the header lacks the column "${col}" (expected ${PRICE_COLUMNS.join(',')}; got ${csv.header.join(',').slice(0, 80)})`,
      );
    }
    index[col] = i;
  }
  const rows: PriceRow[] = [];
  const bad: BadRow[] = [];
  let lastDate = '';
  for (const [r, fields] of csv.records.entries()) {
    const line = csv.lines[r];
    if (fields.length !== header.length) {
      bad.push({ line, reason: `expected ${header.length} fields but found ${fields.length}` });
      continue;
    }
    const date = fields[index.date];
    let reason: string | undefined;
    if (!validDate(date)) reason = `date ${JSON.stringify(date)} is not a valid YYYY-MM-DD date`;
    else if (date <= lastDate) reason = `date ${date} is not after the previous row's ${lastDate}`;
    const values = {} as Record<string, number>;
    for (const col of PRICE_COLUMNS) {
      if (col === 'date' || reason !== undefined) continue;
      const f = fields[index[col]];
      const v = f === '' ? Number.NaN : Number(f);
      const ok = Number.isFinite(v) && (col === 'volume' ? v >= 0 : v > 0);
      if (!ok)
        reason = `${col} ${JSON.stringify(f)} is not a ${col === 'volume' ? 'finite number >= 0' : 'finite number > 0'}`;
      values[col] = v;
    }
    if (reason !== undefined) {
      bad.push({ line, reason });
      continue;
    }
    lastDate = date;
    rows.push({
      line,
      date,
      open: values.open,
      high: values.high,
      low: values.low,
      close: values.close,
      adjclose: values.adjclose,
      volume: values.volume,
    });
  }
  if (bad.length > 0 && onBadRow === 'throw') {
    const shown = bad
      .slice(0, 5)
      .map((b) => `line ${b.line}: ${b.reason}`)
      .join('; ');
    const more = bad.length > 5 ? ` (and ${bad.length - 5} more)` : '';
    throw new CimmDataError(`cimm: ${source} has ${bad.length} bad row(s): ${shown}${more}`, bad);
  }
  if (rows.length < 2) throw new CimmDataError(`cimm: ${source} has fewer than 2 valid rows`, bad);
  return { rows, skipped: bad };
}

/** A daily price series: dates and adjusted closes. */
export interface PriceSeries {
  dates: readonly string[];
  adjclose: Float64Array;
}

let sp500Cache: PriceSeries | undefined;

/** The embedded S&P 500 series (data/sp500-2000.csv), parsed and validated once. */
export function loadSp500(): PriceSeries {
  if (sp500Cache) return sp500Cache;
  const text = readFileSync(join(packageRoot(), 'data', 'sp500-2000.csv'), 'utf8');
  const { rows } = parsePriceCsv(text, { source: 'data/sp500-2000.csv' });
  sp500Cache = { dates: rows.map((r) => r.date), adjclose: Float64Array.from(rows, (r) => r.adjclose) };
  return sp500Cache;
}

/** r_t = ln(P_t / P_{t−1}) for t = 1..T−1 (length T − 1; r[i] is the return into day i + 1). */
export function logReturns(prices: Float64Array): Float64Array {
  const r = new Float64Array(Math.max(0, prices.length - 1));
  for (let t = 1; t < prices.length; t++) r[t - 1] = Math.log(prices[t] / prices[t - 1]);
  return r;
}

// ---------------------------------------------------------------------------------------
// The forecasting task.

export type Sp500Target = 'volatility' | 'return';
export type Sp500Model = 'linear' | 'mlp';

export interface Sp500Options {
  /** The primary target (default 'volatility'). */
  target?: Sp500Target;
  /** h, days ahead the target covers (default 5 for volatility, 1 for return). */
  horizon?: number;
  /** k, past log returns in the feature window (default 10). */
  window?: number;
  /** Add the log realized volatility over the past 1, 5, 22 days (default true). */
  volatilityFeatures?: boolean;
  /** 'linear' (default) or a one-hidden-layer 'mlp'. */
  model?: Sp500Model;
  /** Hidden units of the MLP (default 16). */
  hidden?: number;
  /** Hidden activation of the MLP (default 'tanh'). */
  activation?: TaskActivation;
  /** L2 coefficient on the weights (default 1e-4). */
  l2?: number;
  /** I, samples in the first training window (default 1260 ≈ 5 years). */
  initialTrain?: number;
  /** B, samples in each test block (default 252 ≈ 1 year). */
  testBlock?: number;
  /** Which walk-forward fold (default 0; `foldCount` says how many there are). */
  fold?: number;
  /** Mini-batch size (default: full batch). */
  batchSize?: number;
  /** Another price series in place of the embedded S&P 500 (tests, other indices). */
  prices?: PriceSeries;
}

export const SP500_DEFAULTS = Object.freeze({
  target: 'volatility' as Sp500Target,
  window: 10,
  volatilityFeatures: true,
  model: 'linear' as Sp500Model,
  hidden: 16,
  activation: 'tanh' as TaskActivation,
  l2: 1e-4,
  initialTrain: 1260,
  testBlock: 252,
  fold: 0,
});

/** Days of history a sample needs: the 22-day realized volatility is the longest look-back. */
const MONTH = 22;
/** Floor on a realized volatility before its logarithm (0.01% a day; days without a move exist). */
const VOL_FLOOR = 1e-4;

/** Out-of-sample scores of one forecast on the test block. */
export interface ForecastScores {
  mse: number;
  /** 1 − SSE / SSE(training mean): out-of-sample R² (Campbell & Thompson 2008). */
  r2: number;
  /** Share of test days where the forecast gets the direction right (see the docs). */
  directionalAccuracy: number;
}

/** The walk-forward split of one fold, in sample indices and dates. */
export interface Sp500Split {
  fold: number;
  foldCount: number;
  /** Training samples [0, trainEnd). */
  trainEnd: number;
  /** Test samples [testStart, testEnd). */
  testStart: number;
  testEnd: number;
  /** Decision dates of the first and last training and test samples. */
  trainDates: [string, string];
  testDates: [string, string];
  /** Index (into the price series) of the last price any training sample reads. */
  lastTrainingPriceDay: number;
}

/** The log realized volatility ln √(mean of r² over r[from..to)) with a floor. */
function logVol(r: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += r[i] * r[i];
  return Math.log(Math.max(Math.sqrt(s / (to - from)), VOL_FLOOR));
}

/** What scoring a forecast on the test block needs. */
interface ScoreContext {
  testStart: number;
  testEnd: number;
  rawTargets: Float64Array;
  lastValue: Float64Array;
  targetMean: number;
  targetKind: Sp500Target;
}

/**
 * MSE, out-of-sample R² against the training mean, and directional accuracy of a
 * forecast over the test block (forecast[i] for sample testStart + i). Direction: for
 * returns, sign(ŷ) = sign(y); for volatility, whether the forecast moves the same way as
 * the truth from the last observed value. Days where either side is exactly 0 are
 * skipped, so a forecast that never calls a direction (zero return, last value) gets NaN.
 */
function forecastScores(c: ScoreContext, forecast: ArrayLike<number>): ForecastScores {
  const { testStart, testEnd, rawTargets: y, lastValue: last } = c;
  let sse = 0;
  let sseMean = 0;
  let hits = 0;
  let counted = 0;
  for (let s = testStart; s < testEnd; s++) {
    const f = forecast[s - testStart];
    sse += (f - y[s]) ** 2;
    sseMean += (c.targetMean - y[s]) ** 2;
    const truth = c.targetKind === 'return' ? y[s] : y[s] - last[s];
    const guess = c.targetKind === 'return' ? f : f - last[s];
    if (truth !== 0 && guess !== 0) {
      counted++;
      if (Math.sign(guess) === Math.sign(truth)) hits++;
    }
  }
  const n = testEnd - testStart;
  return { mse: sse / n, r2: 1 - sse / sseMean, directionalAccuracy: counted > 0 ? hits / counted : Number.NaN };
}

/**
 * The forecasting task on the library's layers (`ModelTask`: a linear Dense, or Dense → σ
 * → Dense; f32), mean squared error in standardized target units plus the L2 penalty.
 */
export class Sp500Task extends ModelTask {
  readonly split: Readonly<Sp500Split>;
  readonly foldCount: number;
  /** Feature count per sample. */
  readonly features: number;
  /** Samples: price-day index of each decision day, raw features, raw targets. */
  readonly sampleDays: Int32Array;
  readonly rawFeatures: Float64Array;
  readonly rawTargets: Float64Array;
  /** Training-only standardization. */
  readonly featureMean: Float64Array;
  readonly featureStd: Float64Array;
  readonly targetMean: number;
  readonly targetStd: number;
  private readonly scoring: ScoreContext;
  private readonly forecast: Float64Array;
  private readonly naive: Record<string, Float64Array>;
  private readonly sp500Config: Record<string, unknown>;

  constructor(opts?: Sp500Options) {
    const o = options<Sp500Options>('options', opts);
    const target = oneOf('target', o.target ?? SP500_DEFAULTS.target, ['volatility', 'return'] as const);
    const horizon = integer('horizon', o.horizon ?? (target === 'volatility' ? 5 : 1), { min: 1, max: 260 });
    const k = integer('window', o.window ?? SP500_DEFAULTS.window, { min: 1, max: 1000 });
    const volFeatures = o.volatilityFeatures ?? SP500_DEFAULTS.volatilityFeatures;
    if (typeof volFeatures !== 'boolean') throw argumentError('volatilityFeatures', 'a boolean', volFeatures);
    const model = oneOf('model', o.model ?? SP500_DEFAULTS.model, ['linear', 'mlp'] as const);
    const hidden = integer('hidden', o.hidden ?? SP500_DEFAULTS.hidden, { min: 1, max: 100_000 });
    const activation = oneOf('activation', o.activation ?? SP500_DEFAULTS.activation, TASK_ACTIVATIONS);
    const l2 = finiteNumber('l2', o.l2 ?? SP500_DEFAULTS.l2, { min: 0 });
    const initialTrain = integer('initialTrain', o.initialTrain ?? SP500_DEFAULTS.initialTrain, { min: 2 });
    const testBlock = integer('testBlock', o.testBlock ?? SP500_DEFAULTS.testBlock, { min: 1 });
    const series = o.prices === undefined ? loadSp500() : checkSeries(o.prices);

    // samples: decision days t (indices into the price series) with a full look-back and
    // a full target horizon. Return r[i] is the move into price day i + 1.
    const r = logReturns(series.adjclose);
    const lookBack = Math.max(k, volFeatures ? MONTH : 0, MONTH);
    const firstDay = lookBack; // needs returns into days 1..firstDay
    const lastDay = series.adjclose.length - 1 - horizon; // needs returns into days t+1..t+h
    const samples = Math.max(0, lastDay - firstDay + 1);
    const p = k + (volFeatures ? 3 : 0);
    const sampleDays = new Int32Array(samples);
    const rawFeatures = new Float64Array(samples * p);
    const rawTargets = new Float64Array(samples);
    // naive forecasts, all from data known at t
    const naive: Record<string, Float64Array> = {
      lastValue: new Float64Array(samples),
      movingAverage: new Float64Array(samples),
      ...(target === 'return' ? { zero: new Float64Array(samples) } : {}),
    };
    for (let s = 0; s < samples; s++) {
      const t = firstDay + s;
      sampleDays[s] = t;
      // returns into days t−k+1..t are r[t−k..t−1]
      for (let j = 0; j < k; j++) rawFeatures[s * p + j] = r[t - k + j];
      if (volFeatures) {
        rawFeatures[s * p + k] = logVol(r, t - 1, t);
        rawFeatures[s * p + k + 1] = logVol(r, t - 5, t);
        rawFeatures[s * p + k + 2] = logVol(r, t - MONTH, t);
      }
      // the target: returns into days t+1..t+h are r[t..t+h−1]
      if (target === 'volatility') {
        rawTargets[s] = logVol(r, t, t + horizon);
        naive.lastValue[s] = logVol(r, Math.max(0, t - horizon), t);
        naive.movingAverage[s] = logVol(r, t - MONTH, t);
      } else {
        let y = 0;
        for (let i = t; i < t + horizon; i++) y += r[i];
        rawTargets[s] = y;
        let last = 0;
        for (let i = Math.max(0, t - horizon); i < t; i++) last += r[i];
        naive.lastValue[s] = last;
        let ma = 0;
        for (let i = t - MONTH; i < t; i++) ma += r[i];
        naive.movingAverage[s] = (horizon * ma) / MONTH;
      }
    }

    // the walk-forward fold
    const foldCount = Math.ceil((samples - initialTrain) / testBlock);
    if (foldCount < 1) {
      throw argumentError(
        'initialTrain',
        `an integer < ${samples} (the sample count) so one test block remains`,
        initialTrain,
      );
    }
    const fold = integer('fold', o.fold ?? SP500_DEFAULTS.fold, { min: 0, max: foldCount - 1 });
    const testStart = initialTrain + fold * testBlock;
    const testEnd = Math.min(samples, testStart + testBlock);
    // purge: the target of sample s reads returns up to day sampleDays[s] + h; it must not
    // reach past the first test decision day (trainEnd − 1 + h ≤ testStart)
    const trainEnd = testStart - (horizon - 1);
    if (trainEnd < 2) throw argumentError('initialTrain', `an integer >= ${horizon + 1} (horizon + 1)`, initialTrain);

    // standardization with training statistics only
    const featureMean = new Float64Array(p);
    const featureStd = new Float64Array(p);
    for (let j = 0; j < p; j++) {
      let sum = 0;
      for (let s = 0; s < trainEnd; s++) sum += rawFeatures[s * p + j];
      const mean = sum / trainEnd;
      let v = 0;
      for (let s = 0; s < trainEnd; s++) v += (rawFeatures[s * p + j] - mean) ** 2;
      featureMean[j] = mean;
      featureStd[j] = Math.sqrt(v / trainEnd) || 1;
    }
    let ty = 0;
    for (let s = 0; s < trainEnd; s++) ty += rawTargets[s];
    const targetMean = ty / trainEnd;
    let tv = 0;
    for (let s = 0; s < trainEnd; s++) tv += (rawTargets[s] - targetMean) ** 2;
    const targetStd = Math.sqrt(tv / trainEnd) || 1;
    const x = new Float32Array(samples * p);
    const y = new Float32Array(samples);
    for (let s = 0; s < samples; s++) {
      for (let j = 0; j < p; j++) x[s * p + j] = (rawFeatures[s * p + j] - featureMean[j]) / featureStd[j];
      y[s] = (rawTargets[s] - targetMean) / targetStd;
    }
    naive.trainMean = new Float64Array(samples).fill(targetMean);

    const scoring: ScoreContext = {
      testStart,
      testEnd,
      rawTargets,
      lastValue: naive.lastValue,
      targetMean,
      targetKind: target,
    };
    let best = Number.NEGATIVE_INFINITY;
    let bestName = '';
    for (const [name, f] of Object.entries(naive)) {
      const scores = forecastScores(scoring, f.subarray(testStart, testEnd));
      if (scores.r2 > best) [best, bestName] = [scores.r2, name];
    }
    const config = {
      target,
      horizon,
      window: k,
      volatilityFeatures: volFeatures,
      model,
      ...(model === 'mlp' ? { hidden, activation } : {}),
      l2,
      initialTrain,
      testBlock,
      fold,
      batchSize: o.batchSize,
      source: o.prices === undefined ? 'data/sp500-2000.csv' : 'caller',
    };
    super(
      {
        x,
        inputs: p,
        y,
        trainRows: Uint32Array.from({ length: trainEnd }, (_, i) => i),
        testRows: Uint32Array.from({ length: testEnd - testStart }, (_, i) => testStart + i),
      },
      {
        name: `sp500-${target}-${model}`,
        kind: 'regression',
        sizes: model === 'mlp' ? [p, hidden, 1] : [p, 1],
        activation,
        l2,
        batchSize: o.batchSize,
        config,
        target: {
          metric: 'r2',
          value: best,
          direction: 'max',
          reason:
            `beat every naive baseline out of sample: the best on this fold's test block is ` +
            `${bestName} (R² ${best.toFixed(4)}); a model that cannot beat it has learned nothing useful`,
        },
      },
    );
    const d = series.dates;
    this.split = Object.freeze({
      fold,
      foldCount,
      trainEnd,
      testStart,
      testEnd,
      trainDates: [d[sampleDays[0]], d[sampleDays[trainEnd - 1]]] as [string, string],
      testDates: [d[sampleDays[testStart]], d[sampleDays[testEnd - 1]]] as [string, string],
      lastTrainingPriceDay: sampleDays[trainEnd - 1] + horizon,
    });
    this.features = p;
    this.sampleDays = sampleDays;
    this.rawFeatures = rawFeatures;
    this.rawTargets = rawTargets;
    this.featureMean = featureMean;
    this.featureStd = featureStd;
    this.targetMean = targetMean;
    this.targetStd = targetStd;
    this.foldCount = foldCount;
    this.naive = naive;
    this.scoring = scoring;
    this.forecast = new Float64Array(testEnd - testStart);
    this.sp500Config = config;
  }

  /** The model's forecast (original units) for sample s (0 ≤ s < sample count). */
  predict(params: Vector, s: number): number {
    vector('params', params, this.dimension);
    integer('s', s, { min: 0, max: this.sampleDays.length - 1 });
    const out = this.predictRows(params, Uint32Array.of(s), new Float64Array(1));
    return out[0] * this.targetStd + this.targetMean;
  }

  /** Test-block scores of the model, plus its training loss (the objective, with the penalty). */
  override metrics(params: Vector): Record<string, number> {
    vector('params', params, this.dimension);
    const f = this.predictRows(params, this.testRows, this.forecast);
    for (let i = 0; i < f.length; i++) f[i] = f[i] * this.targetStd + this.targetMean;
    return { loss: this.evaluate(params), ...forecastScores(this.scoring, f) };
  }

  /** The naive forecasts' scores on this fold's test block. */
  baselines(): Record<string, ForecastScores> {
    const { testStart, testEnd } = this.split;
    const out: Record<string, ForecastScores> = {};
    for (const [name, f] of Object.entries(this.naive))
      out[name] = forecastScores(this.scoring, f.subarray(testStart, testEnd));
    return out;
  }

  override describe(): Record<string, unknown> {
    return describeBatched(this, this.sp500Config, {
      features: this.features,
      split: this.split,
      baselines: this.baselines(),
    });
  }
}

function checkSeries(value: unknown): PriceSeries {
  const s = options<PriceSeries>('prices', value);
  const adj = float64Array('prices.adjclose', s.adjclose, { finite: true });
  if (!Array.isArray(s.dates) || s.dates.length !== adj.length) {
    throw argumentError('prices.dates', `an Array of ${adj.length} date strings`, s.dates);
  }
  for (let i = 0; i < adj.length; i++) {
    if (!(adj[i] > 0)) throw argumentError(`prices.adjclose[${i}]`, 'a finite number > 0', adj[i]);
  }
  return { dates: s.dates, adjclose: adj };
}
