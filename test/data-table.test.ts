/**
 * Your own data (lib/data/): CSV records with their lines, the table's checks, the column
 * plan and the inferred task, the seeded split, statistics from the training rows only,
 * one-hot encoding, every bad value named by line and column, the model file's round trip
 * and its checks, RFC 4180 output, and in-process training with a resume that reproduces
 * the uninterrupted run bit-for-bit.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, test } from 'vitest';
import { stringifyCsv } from '../lib/data/csv.js';
import { forwardRows } from '../lib/data/model-file.js';
import { parseDecimal } from '../lib/data/table.js';
import {
  CimmDataError,
  decodeOutputs,
  encodeTable,
  fitPreprocessing,
  loadModelFile,
  MeanSquaredError,
  modelFileBody,
  parseCsvRecords,
  parseModelSpec,
  planColumns,
  predictTable,
  readTable,
  readTableFile,
  saveModelFile,
  splitRows,
  trainCsv,
} from '../lib/index.js';

const fixtures = resolve(import.meta.dirname, 'fixtures', 'csv');
const houses = join(fixtures, 'houses.csv');
const flowers = join(fixtures, 'flowers.csv');
const dir = mkdtempSync(join(tmpdir(), 'cimm-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CimmDataError `fn` throws (fails the test if it throws nothing or something else). */
function dataError(fn: () => unknown): CimmDataError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CimmDataError);
    return e as CimmDataError;
  }
  throw new Error('expected a CimmDataError');
}

describe('CSV records (csv-parse)', () => {
  test('quoted commas, line breaks and doubled quotes; CRLF, a BOM, blank lines; each record starts on its line', () => {
    const text = '\uFEFFa,b,c\r\n1,"x, y",3\r\n\r\n4,"two\r\nlines ""quoted""",6\r\n7, 8 ,"9"\r\n';
    const csv = parseCsvRecords(text, 't.csv');
    expect(csv.header).toEqual(['a', 'b', 'c']);
    expect(csv.records).toEqual([
      ['1', 'x, y', '3'],
      ['4', 'two\r\nlines "quoted"', '6'],
      ['7', '8', '9'],
    ]);
    expect(csv.lines).toEqual([2, 4, 6]);
    // the same with LF, with CR only, and with non-ASCII text before the break (line counting uses UTF-8 offsets)
    expect(parseCsvRecords(text.replace(/\r\n/g, '\n'), 't.csv').lines).toEqual([2, 4, 6]);
    expect(parseCsvRecords(text.replace(/\r\n/g, '\r'), 't.csv').lines).toEqual([2, 4, 6]);
    expect(parseCsvRecords('é,"ü\r\nü"\r\n"ß\r\n\r\nß",2\r\n\r\n\r\n3,4', 'u.csv').lines).toEqual([3, 8]);
  });

  test('the fixtures: multi-line quoted categories start on the right line', () => {
    const csv = parseCsvRecords(readFileSync(houses, 'utf8'), 'houses.csv');
    expect(csv.header).toEqual(['size', 'rooms', 'city', 'note', 'price']);
    expect(csv.records[1][2]).toBe('Shelbyville,\nIL');
    expect(csv.lines.slice(0, 4)).toEqual([2, 3, 5, 7]);
    expect(csv.records.every((r) => r.length === 5)).toBe(true);
  });

  test('not CSV, or empty: an error naming the source and the line', () => {
    expect(dataError(() => parseCsvRecords('a,b\n1,"2\n3,4\n', 'q.csv')).message).toMatch(
      /^cimm: q\.csv is not valid CSV: Quote Not Closed.*line 3/,
    );
    expect(dataError(() => parseCsvRecords('', 'e.csv')).message).toBe(
      'cimm: e.csv is empty (expected a header line and rows)',
    );
    expect(dataError(() => parseCsvRecords('\n\n', 'e.csv')).message).toContain('is empty');
  });

  test('output quoting (csv-stringify) round-trips through the parser', () => {
    const rows = [
      ['prediction', 'p(a, b)'],
      ['two\nlines', 'say "hi"'],
      [' padded ', ''],
    ];
    const text = stringifyCsv(rows);
    expect(text).toBe('prediction,"p(a, b)"\n"two\nlines","say ""hi"""\n padded ,\n');
    expect(parse(text)).toEqual(rows);
  });

  test('numbers are read strictly', () => {
    for (const ok of ['1', '-2.5', '+.5', '1e3', '3.', '1E-2']) expect(parseDecimal(ok)).toBe(Number(ok));
    for (const bad of ['', 'NaN', 'Infinity', '0x10', '1,5', '1e999', '--1', '1 2', 'abc']) {
      expect(parseDecimal(bad)).toBeNaN();
    }
  });
});

describe('the table: shape errors name the line and the column', () => {
  test('a short row names the first missing column; a long row says how many fields', () => {
    const e = dataError(() => readTable('a,b,c\n1,2,3\n1,2\n"x\ny",2,3,4\n', 'r.csv'));
    expect(e.badRows).toEqual([
      { line: 3, reason: 'column "c" is missing (the row has 2 field(s), the header 3)' },
      { line: 4, reason: '4 fields, more than the header\'s 3 (the last column is "c")' },
    ]);
    expect(e.message).toMatch(/^cimm: r\.csv has 2 bad field\(s\): line 3: column "c" is missing/);
  });

  test('header problems and a header without rows', () => {
    expect(dataError(() => readTable('a,b\n', 'h.csv')).message).toBe('cimm: h.csv has a header but no rows');
    expect(dataError(() => readTable('a,,c\n1,2,3\n', 'h.csv')).message).toBe(
      'cimm: h.csv line 1: column 2 of the header has no name',
    );
    expect(dataError(() => readTable('a,b,a\n1,2,3\n', 'h.csv')).message).toBe(
      'cimm: h.csv line 1: the header names column "a" twice (columns 1 and 3)',
    );
    expect(dataError(() => readTableFile(join(dir, 'nope.csv'))).message).toMatch(
      /cannot read .*nope\.csv: no such file/,
    );
  });
});

describe('the column plan', () => {
  const table = readTableFile(houses);

  test('a target that is not there: did-you-mean and the columns there are', () => {
    expect(dataError(() => planColumns(table, { target: 'prise' })).message).toBe(
      `cimm: ${houses} has no column "prise" (the target); did you mean "price"?; its columns are "size", "rooms", "city", "note", "price"`,
    );
    expect(dataError(() => planColumns(table, { target: 'price', ignore: ['nots'] })).message).toContain(
      'has no column "nots" (the ignored column); did you mean "note"?',
    );
  });

  test('kinds and the inferred task, with the reason', () => {
    const plan = planColumns(table, { target: 'price', ignore: ['note'] });
    expect(plan.features).toEqual([
      { name: 'size', kind: 'numeric' },
      { name: 'rooms', kind: 'numeric' },
      { name: 'city', kind: 'categorical' },
    ]);
    expect(plan.task).toBe('regression');
    expect(plan.inferred).toBe('the target "price" holds numbers');
    expect(planColumns(table, { target: 'rooms', ignore: ['note'] })).toMatchObject({
      task: 'classification',
      inferred: 'the target "rooms" holds 6 distinct integers; --task regression fits it as a number',
    });
    expect(planColumns(table, { target: 'rooms', task: 'regression', categorical: ['size'] })).toMatchObject({
      task: 'regression',
      inferred: null,
      features: [
        { name: 'size', kind: 'categorical' },
        { name: 'city', kind: 'categorical' },
        { name: 'note', kind: 'categorical' },
        { name: 'price', kind: 'numeric' },
      ],
    });
    expect(() => planColumns(table, { target: 'price', task: 'ranking' as never })).toThrow(
      'Expected one of "regression", "classification" for task but received "ranking" of type string',
    );
    const species = planColumns(readTableFile(flowers), { target: 'species' });
    expect(species.task).toBe('classification');
    expect(species.inferred).toBe('the target "species" holds text');
  });

  test('a mostly numeric column with a typo stays numeric: the typo is an error naming line and column', () => {
    const t = readTable('x,c,y\n1,a,1.5\n2,b,2.5\n3x,a,3.5\n4,b,\n', 'typo.csv');
    const plan = planColumns(t, { target: 'y' });
    expect(plan.features).toEqual([
      { name: 'x', kind: 'numeric' },
      { name: 'c', kind: 'categorical' },
    ]);
    const e = dataError(() => fitPreprocessing(t, plan, [0, 1, 2, 3]));
    expect(e.badRows).toEqual([
      {
        line: 4,
        reason: 'column "x" is "3x", not a number (the column is numeric; --categorical x treats it as categories)',
      },
      {
        line: 5,
        reason: 'column "y" is empty (missing values are not filled in: fill or drop the row)',
      },
    ]);
  });

  test('a missing classification target and a missing category name their line (the start of a multi-line record)', () => {
    const t = readTable('a,"the\nlabel"\n"1\n2",x\n,y\n3,\n4,x\n', 'm.csv');
    const plan = planColumns(t, { target: 'the\nlabel', task: 'classification', categorical: ['a'] });
    const e = dataError(() => fitPreprocessing(t, plan, [0, 1, 2, 3]));
    expect(e.badRows.map((b) => b.line)).toEqual([5, 6]);
    expect(e.badRows[0].reason).toBe('column "a" is empty (missing values are not filled in: fill or drop the row)');
    expect(e.badRows[1].reason).toBe('column "the\\nlabel" is empty (the target is missing)');
  });
});

describe('split, statistics and encoding', () => {
  test('the split is seeded, disjoint and complete', () => {
    const a = splitRows(50, 0.2, 3);
    expect(a.validation.length).toBe(10);
    expect([...a.train, ...a.validation].sort((p, q) => p - q)).toEqual([...Array(50).keys()]);
    expect(splitRows(50, 0.2, 3)).toEqual(a);
    expect(splitRows(50, 0.2, 4).validation).not.toEqual(a.validation);
    expect(splitRows(7, 0, 1).validation.length).toBe(0);
  });

  test('μ, σ and the categories come from the training rows only; an unseen category encodes as zeros', () => {
    const t = readTable('x,c,y\n1,a,10\n3,b,20\n100,z,30\n', 's.csv');
    const plan = planColumns(t, { target: 'y', task: 'regression', categorical: ['c'] });
    const prep = fitPreprocessing(t, plan, [0, 1]);
    expect(prep.features).toEqual([
      { name: 'x', kind: 'numeric', mean: 2, std: 1 },
      { name: 'c', kind: 'categorical', categories: ['a', 'b'] },
    ]);
    expect(prep.targetScale).toEqual({ mean: 15, std: 5 });
    const enc = encodeTable(t, prep, { target: 'required' });
    expect([...enc.x]).toEqual([-1, 1, 0, 1, 0, 1, 98, 0, 0]);
    expect([...(enc.y as Float32Array)]).toEqual([-1, 1, 3]);
    expect(enc.unseen).toEqual([{ column: 'c', count: 1, firstLine: 4, value: 'z' }]);
    // a constant column has σ = 1 (z = x − μ), not a division by zero
    const flat = fitPreprocessing(
      readTable('x,y\n5,1\n5,2\n', 'f.csv'),
      { target: 'y', task: 'regression', inferred: null, features: [{ name: 'x', kind: 'numeric' }], notes: [] },
      [0, 1],
    );
    expect(flat.features[0]).toMatchObject({ mean: 5, std: 1 });
  });

  test('classes are sorted (numerically when numbers); one class is an error', () => {
    const t = readTable('x,y\n1,10\n2,9\n3,10\n4,2\n', 'c.csv');
    const prep = fitPreprocessing(t, planColumns(t, { target: 'y' }), [0, 1, 2, 3]);
    expect(prep.classes).toEqual(['2', '9', '10']);
    const one = readTable('x,y\n1,a\n2,a\n', 'one.csv');
    expect(dataError(() => fitPreprocessing(one, planColumns(one, { target: 'y' }), [0, 1])).message).toContain(
      'has only one class ("a")',
    );
  });

  test('decoded outputs: ŷ = μ + σ·o; softmax probabilities and the most probable label', () => {
    const reg = decodeOutputs(
      { target: 'y', task: 'regression', features: [], targetScale: { mean: 10, std: 2 }, classes: null },
      Float32Array.of(0.5, -1),
      2,
    );
    expect(reg).toEqual({ task: 'regression', values: Float64Array.of(11, 8) });
    const cls = decodeOutputs(
      { target: 'y', task: 'classification', features: [], targetScale: null, classes: ['a', 'b'] },
      Float32Array.of(0, Math.log(3), 2, 2),
      2,
    );
    if (cls.task !== 'classification') throw new Error('classification expected');
    expect(cls.labels).toEqual(['b', 'a']);
    expect(cls.probabilities[0]).toBeCloseTo(0.25, 6);
    expect(cls.probabilities[1]).toBeCloseTo(0.75, 6);
    expect([cls.probabilities[2], cls.probabilities[3]]).toEqual([0.5, 0.5]);
  });
});

describe('model specs', () => {
  test('linear, mlp sizes and an activation; anything else names --model', () => {
    expect(parseModelSpec('linear')).toEqual({ hidden: [], activation: 'identity' });
    expect(parseModelSpec('mlp:64,64')).toEqual({ hidden: [64, 64], activation: 'relu' });
    expect(parseModelSpec('mlp:8:tanh')).toEqual({ hidden: [8], activation: 'tanh' });
    for (const bad of ['mlp', 'mlp:', 'mlp:0', 'mlp:8,x', 'mlp:8:swish', 'cnn:3']) {
      expect(() => parseModelSpec(bad)).toThrow(/for model but received/);
    }
  });
});

describe('training in-process, the model file, predictions', () => {
  const base = {
    data: houses,
    target: 'price',
    ignore: ['note'],
    model: 'mlp:16',
    learningRate: 0.01,
    epochs: 40,
    seed: 2,
  };

  test('regression on the quoted-field fixture learns; the saved model predicts exactly what the model does', async () => {
    const r = await trainCsv(base);
    expect(r.interrupted).toBe(false);
    expect(r.history.stopReason).toBe('epochs');
    expect(r.split.validation.length).toBe(16);
    expect(r.scores.validation?.task === 'regression' && r.scores.validation.r2).toBeGreaterThan(0.9);
    expect(r.prep.features[2]).toMatchObject({
      name: 'city',
      categories: ['Capital "City"', 'Shelbyville,\nIL', 'Springfield, IL'],
    });
    const path = join(dir, 'houses.json');
    saveModelFile(path, r.model, r.prep, r.summary);
    const loaded = loadModelFile(path);
    expect(loaded.prep).toEqual(r.prep);
    const { decoded } = predictTable(loaded, readTableFile(houses));
    const enc = encodeTable(r.table, r.prep, { target: 'required' });
    const direct = decodeOutputs(r.prep, forwardRows(r.model, enc.x, enc.rows), enc.rows);
    expect(decoded).toEqual(direct);
    // the Trainer's validation rows are this seeded split's (its loss there is the MSE of the standardized target)
    const valRows = r.split.validation;
    const width = r.model.inputSize;
    const xv = new Float32Array(valRows.length * width);
    const yv = new Float32Array(valRows.length);
    valRows.forEach((row, i) => {
      xv.set(enc.x.subarray(row * width, (row + 1) * width), i * width);
      yv[i] = (enc.y as Float32Array)[row];
    });
    const mse = new MeanSquaredError().evaluate(forwardRows(r.model, xv, valRows.length), yv, valRows.length);
    expect(r.history.epochs.at(-1)?.valLoss).toBeCloseTo(mse, 9);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('classification on the CRLF/BOM fixture (labels with a comma and a line break)', async () => {
    const r = await trainCsv({ data: flowers, target: 'species', model: 'mlp:16', learningRate: 0.01, epochs: 20 });
    expect(r.prep.classes).toEqual(['setosa, var. a', 'versi\ncolor', 'virginica']);
    expect(r.scores.validation).toMatchObject({ task: 'classification' });
    expect((r.scores.validation as { accuracy: number }).accuracy).toBeGreaterThan(0.9);
  });

  test('stopped by its signal, then resumed from the checkpoint: the same weights as one uninterrupted run', async () => {
    const whole = await trainCsv({ ...base, epochs: 6 });
    const ckpt = join(dir, 'resume.ckpt.json');
    const controller = new AbortController();
    const first = await trainCsv({
      ...base,
      epochs: 6,
      checkpoint: { path: ckpt },
      signal: controller.signal,
      onStep: (done) => {
        if (done === 7) controller.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(first.summary.steps).toBe(7);
    expect(existsSync(ckpt)).toBe(true);
    const second = await trainCsv({ ...base, epochs: 6, checkpoint: { path: ckpt }, resumeFrom: ckpt });
    expect(second.interrupted).toBe(false);
    expect(second.summary.steps).toBe(whole.summary.steps);
    for (const [name, v] of Object.entries(whole.model.params)) expect(second.model.params[name]).toEqual(v);
    expect(second.history.epochs).toEqual(whole.history.epochs);
  });

  test('bad options name the parameter before any data is read', async () => {
    await expect(trainCsv({ ...base, validation: 0.95 })).rejects.toThrow(/for validation but received 0.95/);
    await expect(trainCsv({ ...base, optimizer: 'Adamm' })).rejects.toThrow(/for optimizer but received "Adamm"/);
    await expect(trainCsv({ ...base, model: 'mlp:x' })).rejects.toThrow(/for model/);
  });
});

describe('the model file is checked field by field', () => {
  async function body() {
    const r = await trainCsv({ data: houses, target: 'price', ignore: ['note'], model: 'linear', epochs: 1 });
    return JSON.parse(JSON.stringify(modelFileBody(r.model, r.prep, r.summary)));
  }
  // biome-ignore lint/suspicious/noExplicitAny: a parsed JSON document, spoiled one field at a time
  const cases: [string, (b: Record<string, any>) => void, RegExp][] = [
    ['format', (b) => (b.format = 'cimm-checkpoint'), /field "format" should be "cimm-csv-model"/],
    ['version', (b) => (b.version = 2), /field "version" should be 1/],
    [
      'a std',
      (b) => (b.preprocessing.features[0].std = 0),
      /field "preprocessing\.features\[0\]\.std" should be a positive finite number \(found 0\)/,
    ],
    ['a kind', (b) => (b.preprocessing.features[2].kind = 'text'), /field "preprocessing\.features\[2\]\.kind"/],
    ['the task', (b) => (b.preprocessing.task = 'ranking'), /field "preprocessing\.task"/],
    ['a weight', (b) => (b.params['0.weight'] = 'AAAA'), /field "params\.0\.weight" should be 5 float32 values/],
    ['the width', (b) => b.preprocessing.features.pop(), /field "model" should be a model of 2 inputs/],
  ];
  test.each(cases)('%s', async (_name, spoil, message) => {
    const b = await body();
    spoil(b);
    const path = join(dir, 'spoiled.json');
    writeFileSync(path, JSON.stringify(b));
    const e = dataError(() => loadModelFile(path));
    expect(e.message).toMatch(message);
    expect(e.message).toContain(path);
  });
});
