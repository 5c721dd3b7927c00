/**
 * Classification on real tabular data (seed 000 §4): the day's weather in Seattle
 * (drizzle, fog, rain, snow, sun) from its measurements, on `data/seattle-weather.csv` —
 * a byte-identical copy of vega-datasets 3.2.1's file (BSD-3-Clause; NOAA's daily records
 * 2012–2015, 1,461 days; the category is synthesized by vega-datasets from several NOAA
 * fields; data/README.md).
 *
 * Features (6): log(1 + precipitation in mm) (precipitation is heavy-tailed), the daily
 * maximum and minimum temperature, the wind speed, and sin/cos of 2π·day-of-year/365.25
 * (the season, continuous across New Year), all standardized with the training days'
 * statistics only. A seeded stratified split holds out 20% of each class.
 * Model: an MLP 6 → hidden relu → 5 from the library's layers (`ModelTask`), softmax
 * cross-entropy. Metrics: test accuracy (the target metric) and test loss.
 */
import { CimmDataError } from '../errors.js';
import { options } from '../is.js';
import { Random } from '../random.js';
import { numericColumns, readDataCsv } from './csv.js';
import { ModelTask, modelTaskOptions, standardizeColumns, stratifiedSplit } from './model-task.js';

export interface SeattleWeatherOptions {
  /** Hidden relu units (default 32; 0 gives multinomial logistic regression). */
  hidden?: number;
  /** Fraction of each class held out for testing (default 0.2). */
  testFraction?: number;
  /** L2 coefficient on the weights (default 1e-4). */
  l2?: number;
  /** Mini-batch size (default: full batch; the comparison uses 32). */
  batchSize?: number;
  /** Seed of the split (default 0). */
  seed?: number;
}

export const SEATTLE_WEATHER_DEFAULTS = Object.freeze({ hidden: 32, testFraction: 0.2, l2: 1e-4, seed: 0 });
export const WEATHER_CLASSES = Object.freeze(['drizzle', 'fog', 'rain', 'snow', 'sun']);
export const WEATHER_FEATURES = 6;

/** The days as read: features (rows × 6, not yet standardized) and class indices. */
export interface WeatherDays {
  x: Float64Array;
  labels: Uint8Array;
  dates: string[];
}

let cached: WeatherDays | undefined;

/** Day of the year (1..366) of an ISO date. */
function dayOfYear(iso: string): number {
  const t = Date.parse(`${iso}T00:00:00Z`);
  return Math.round((t - Date.UTC(Number(iso.slice(0, 4)), 0, 1)) / 86_400_000) + 1;
}

/** Read data/seattle-weather.csv (once per thread), checking every field. */
export function loadSeattleWeather(): WeatherDays {
  if (cached) return cached;
  const table = readDataCsv('seattle-weather.csv', [
    'date',
    'precipitation',
    'temp_max',
    'temp_min',
    'wind',
    'weather',
  ]);
  const [precipitation, tmax, tmin, wind] = numericColumns(table, ['precipitation', 'temp_max', 'temp_min', 'wind']);
  const n = table.records.length;
  const x = new Float64Array(n * WEATHER_FEATURES);
  const labels = new Uint8Array(n);
  const bad: { line: number; reason: string }[] = [];
  table.records.forEach((r, i) => {
    const c = WEATHER_CLASSES.indexOf(r.weather);
    if (c < 0) bad.push({ line: table.lines[i], reason: `unknown weather ${JSON.stringify(r.weather)}` });
    if (!/^\d{4}-\d{2}-\d{2}$/.test(r.date) || Number.isNaN(Date.parse(r.date)))
      bad.push({ line: table.lines[i], reason: `date ${JSON.stringify(r.date)} is not an ISO date` });
    if (precipitation[i] < 0) bad.push({ line: table.lines[i], reason: 'negative precipitation' });
    const season = (2 * Math.PI * dayOfYear(r.date)) / 365.25;
    x.set(
      [Math.log1p(Math.max(0, precipitation[i])), tmax[i], tmin[i], wind[i], Math.sin(season), Math.cos(season)],
      i * WEATHER_FEATURES,
    );
    labels[i] = Math.max(0, c);
  });
  if (bad.length)
    throw new CimmDataError(
      `cimm: ${table.source} has ${bad.length} bad row(s): line ${bad[0].line}: ${bad[0].reason}`,
      bad,
    );
  cached = { x, labels, dates: table.records.map((r) => r.date) };
  return cached;
}

export class SeattleWeatherTask extends ModelTask {
  constructor(opts?: SeattleWeatherOptions) {
    const o = options<SeattleWeatherOptions>('options', opts);
    const { hidden, testFraction, l2, seed } = modelTaskOptions(o, SEATTLE_WEATHER_DEFAULTS);
    const days = loadSeattleWeather();
    const split = stratifiedSplit(days.labels, WEATHER_CLASSES.length, testFraction, new Random(seed));
    const x = Float64Array.from(days.x);
    standardizeColumns(x, WEATHER_FEATURES, split.trainRows);
    const k = WEATHER_CLASSES.length;
    super(
      { x: Float32Array.from(x), inputs: WEATHER_FEATURES, y: Float32Array.from(days.labels), ...split },
      {
        name: 'seattle-weather',
        kind: 'classification',
        sizes: hidden > 0 ? [WEATHER_FEATURES, hidden, k] : [WEATHER_FEATURES, k],
        activation: 'relu',
        l2,
        batchSize: o.batchSize,
        config: { source: 'data/seattle-weather.csv', hidden, testFraction, l2, seed, batchSize: o.batchSize },
        target: {
          metric: 'testAccuracy',
          value: 0.82,
          direction: 'max',
          reason:
            'best-tuned Adam (η 3e-3–3e-2, batches of 32) ends at 0.83–0.84 on 3 seeds and reaches 0.82 in ' +
            '75–180 steps at η 1e-2; always "rain" scores 0.44, and fog and drizzle are barely separable ' +
            'from these measurements, so 0.82 is near what the features allow',
        },
      },
    );
  }
}
