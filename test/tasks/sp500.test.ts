/** S&P 500 forecasting: CSV validation, returns, the walk-forward split without look-ahead, baselines, gradients. */
import { describe, expect, test } from 'vitest';
import { CimmDataError, loadSp500, logReturns, parsePriceCsv, Sp500Task } from '../../lib/index.js';
import { descend, sampledGradientError } from './helpers.js';

const HEADER = 'date,open,high,low,close,adjclose,volume';
const row = (date: string, adj: string | number, volume: string | number = 100) => `${date},1,1,1,1,${adj},${volume}`;

describe('price CSV', () => {
  test('parses a clean file (CRLF, BOM, trailing blank line, any column order)', () => {
    const text = `\uFEFF${HEADER}\r\n${row('2020-01-02', 10)}\r\n${row('2020-01-03', 11)}\r\n\r\n`;
    const { rows, skipped } = parsePriceCsv(text);
    expect(rows.map((r) => [r.line, r.date, r.adjclose])).toEqual([
      [2, '2020-01-02', 10],
      [3, '2020-01-03', 11],
    ]);
    expect(skipped).toEqual([]);
    const swapped = parsePriceCsv(
      'adjclose,date,open,high,low,close,volume\n5,2020-01-02,1,1,1,1,0\n6,2020-01-03,1,1,1,1,0',
    );
    expect(swapped.rows.map((r) => r.adjclose)).toEqual([5, 6]);
  });

  test('RFC 4180: quoted fields, a quoted comma or line break in an extra column, lines counted from where a record starts', () => {
    const text = `${HEADER},note\n"2020-01-02","1","1","1","1","10","100","up, a bit"\n${row('2020-01-03', 11)},"two\nlines"\n${row('2020-01-06', 'x')},n`;
    const { rows, skipped } = parsePriceCsv(text, { onBadRow: 'skip' });
    expect(rows.map((r) => [r.line, r.date, r.adjclose])).toEqual([
      [2, '2020-01-02', 10],
      [3, '2020-01-03', 11],
    ]);
    expect(skipped).toEqual([{ line: 5, reason: 'adjclose "x" is not a finite number > 0' }]);
  });

  test('reports every bad row with its line number', () => {
    const text = [
      HEADER,
      row('2020-01-02', 10),
      row('2020-02-30', 10), // line 3: not a day
      row('2020-01-01', 10), // line 4: goes back in time
      row('2020-01-06', 'abc'), // line 5
      row('2020-01-07', -1), // line 6
      '2020-01-08,1,1', // line 7: short
      row('2020-01-09', 12, -5), // line 8: negative volume
      row('2020-01-10', 13),
    ].join('\n');
    let error: CimmDataError | undefined;
    try {
      parsePriceCsv(text, { source: 'test.csv' });
    } catch (e) {
      error = e as CimmDataError;
    }
    expect(error).toBeInstanceOf(CimmDataError);
    expect(error!.badRows.map((b) => b.line)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(error!.message).toBe(
      'cimm: test.csv has 6 bad row(s): line 3: date "2020-02-30" is not a valid YYYY-MM-DD date; ' +
        "line 4: date 2020-01-01 is not after the previous row's 2020-01-02; " +
        'line 5: adjclose "abc" is not a finite number > 0; line 6: adjclose "-1" is not a finite number > 0; ' +
        'line 7: expected 7 fields but found 3 (and 1 more)',
    );
    const { rows, skipped } = parsePriceCsv(text, { onBadRow: 'skip' });
    expect(rows.map((r) => r.line)).toEqual([2, 9]);
    expect(skipped[5]).toEqual({ line: 8, reason: 'volume "-5" is not a finite number >= 0' });
  });

  test('a missing column or an empty file is an error; bad options name the parameter', () => {
    expect(() => parsePriceCsv('date,open,high,low,close,volume\n')).toThrow(
      'cimm: prices line 1: the header lacks the column "adjclose"',
    );
    expect(() => parsePriceCsv(`${HEADER}\n${row('2020-01-02', 1)}`)).toThrow('fewer than 2 valid rows');
    expect(() => parsePriceCsv(HEADER, { onBadRow: 'fix' as never })).toThrow(
      'Expected one of "throw", "skip" for onBadRow but received "fix" of type string',
    );
    expect(() => parsePriceCsv(42 as never)).toThrow('Expected a string for text but received 42 of type number');
  });

  test('the embedded S&P 500: 5,105 valid days, 2000-01-03 to 2020-04-17', () => {
    const s = loadSp500();
    expect(s.dates.length).toBe(5105);
    expect(s.dates[0]).toBe('2000-01-03');
    expect(s.dates.at(-1)).toBe('2020-04-17');
    const r = logReturns(s.adjclose);
    expect(r.length).toBe(5104);
    expect(r[0]).toBeCloseTo(Math.log(1399.420044 / 1455.219971), 12);
  });
});

/** A synthetic random-walk price series of `days` days. */
function syntheticPrices(days: number, seed = 1) {
  const dates: string[] = [];
  const adjclose = new Float64Array(days);
  let p = 100;
  let x = seed;
  for (let i = 0; i < days; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    p *= Math.exp(0.01 * (x / 2 ** 31 - 0.5) * (1 + (i % 7) / 3));
    adjclose[i] = p;
    dates.push(new Date(Date.UTC(2000, 0, 1 + i)).toISOString().slice(0, 10));
  }
  return { dates, adjclose };
}

describe('walk-forward split', () => {
  test('test blocks tile the samples; the purge drops the h − 1 samples whose targets overlap the block', () => {
    const first = new Sp500Task();
    let previousEnd = first.split.testStart;
    for (let fold = 0; fold < first.foldCount; fold++) {
      const s = new Sp500Task({ fold }).split;
      expect(s.testStart).toBe(previousEnd);
      expect(s.trainEnd).toBe(s.testStart - 4); // horizon 5
      previousEnd = s.testEnd;
    }
    expect(previousEnd).toBe(first.sampleDays.length);
    const daily = new Sp500Task({ target: 'return' });
    expect(daily.split.trainEnd).toBe(daily.split.testStart); // horizon 1: nothing to purge
  });

  for (const target of ['volatility', 'return'] as const) {
    test(`no look-ahead (${target}): changing prices after the first test day leaves training untouched`, () => {
      const prices = syntheticPrices(700);
      const opts = { target, initialTrain: 300, testBlock: 100, fold: 1, model: 'mlp' as const, prices };
      const task = new Sp500Task(opts);
      const cut = task.split.lastTrainingPriceDay; // = the first test decision day
      expect(cut).toBe(task.sampleDays[task.split.testStart]);
      const params = task.initialParameters(3);
      const grad = new Float64Array(task.dimension);
      const loss = task.evaluate(params, grad);

      const future = { dates: prices.dates, adjclose: prices.adjclose.slice() };
      for (let i = cut + 1; i < future.adjclose.length; i++) future.adjclose[i] *= 1 + 0.5 * Math.sin(i);
      const perturbed = new Sp500Task({ ...opts, prices: future });
      const grad2 = new Float64Array(task.dimension);
      expect(perturbed.evaluate(params, grad2)).toBe(loss);
      expect(grad2).toEqual(grad);
      expect(perturbed.featureMean).toEqual(task.featureMean);
      expect(perturbed.featureStd).toEqual(task.featureStd);
      expect(perturbed.targetMean).toBe(task.targetMean);
      expect(perturbed.targetStd).toBe(task.targetStd);
      expect(perturbed.metrics(params).mse).not.toBe(task.metrics(params).mse); // the test block did change

      // and the cut is tight: changing the first test day's price does reach training
      const atCut = { dates: prices.dates, adjclose: prices.adjclose.slice() };
      atCut.adjclose[cut] *= 1.05;
      expect(new Sp500Task({ ...opts, prices: atCut }).evaluate(params)).not.toBe(loss);
    });
  }

  test('standardized training features have mean 0 and unit variance', () => {
    const task = new Sp500Task({ fold: 3 });
    const p = task.features;
    const { trainEnd } = task.split;
    for (let j = 0; j < p; j++) {
      let s = 0;
      let v = 0;
      for (let i = 0; i < trainEnd; i++) {
        const z = (task.rawFeatures[i * p + j] - task.featureMean[j]) / task.featureStd[j];
        s += z;
        v += z * z;
      }
      expect(s / trainEnd).toBeCloseTo(0, 12);
      expect(v / trainEnd).toBeCloseTo(1, 12);
    }
  });
});

describe('forecasting task', () => {
  test('baselines: the training mean scores R² = 0; zero-return only for returns; target = best baseline R²', () => {
    const vol = new Sp500Task();
    const b = vol.baselines();
    expect(Object.keys(b).sort()).toEqual(['lastValue', 'movingAverage', 'trainMean']);
    expect(b.trainMean.r2).toBe(0);
    expect(b.lastValue.directionalAccuracy).toBeNaN(); // it never calls a direction
    expect(vol.target.value).toBe(Math.max(...Object.values(b).map((s) => s.r2)));
    const ret = new Sp500Task({ target: 'return' });
    expect(Object.keys(ret.baselines()).sort()).toEqual(['lastValue', 'movingAverage', 'trainMean', 'zero']);
    expect(ret.baselines().zero.mse).toBeGreaterThan(0);
  });

  test('analytic gradients match finite differences (linear and MLP, full and mini-batch)', () => {
    for (const model of ['linear', 'mlp'] as const) {
      const task = new Sp500Task({ model, hidden: 4, initialTrain: 200, testBlock: 50, batchSize: 64, l2: 0.01 });
      // lib/nn computes in f32: finite differences on the largest-|g| coordinates of each
      // tensor (test/tasks/helpers.ts, the model tasks' check and tolerance)
      const x = Float64Array.from(task.initialParameters(1));
      expect(sampledGradientError(task, x, undefined)).toBeLessThan(2e-2);
      expect(sampledGradientError(task, x, 1)).toBeLessThan(2e-2);
    }
  });

  test('plain gradient descent lowers the loss; metrics are deterministic', () => {
    const task = new Sp500Task();
    const x = task.initialParameters(0);
    const [before, after] = descend(task, x, 0.1, 20);
    expect(after).toBeLessThan(before);
    expect(task.metrics(x)).toEqual(task.metrics(x));
    expect(task.metrics(x).r2).toBeGreaterThan(-1);
  });

  test('bad options name the parameter', () => {
    expect(() => new Sp500Task({ target: 'price' as never })).toThrow(
      'Expected one of "volatility", "return" for target but received "price" of type string',
    );
    expect(() => new Sp500Task({ fold: 99 })).toThrow('Expected an integer >= 0 and <= 15 for fold but received 99');
    expect(() => new Sp500Task({ initialTrain: 6000 })).toThrow('for initialTrain but received 6000');
    expect(() => new Sp500Task({ prices: { dates: ['2020-01-01'], adjclose: new Float64Array([1, 2]) } })).toThrow(
      'Expected an Array of 2 date strings for prices.dates but received Array(1) of type Array',
    );
    expect(() => new Sp500Task({ prices: { dates: ['a', 'b'], adjclose: new Float64Array([1, -2]) } })).toThrow(
      'Expected a finite number > 0 for prices.adjclose[1] but received -2 of type number',
    );
    expect(() => new Sp500Task().predict(new Float32Array(1), 0)).toThrow('for params but received Float32Array(1)');
  });
});
