/**
 * `cimm train --data` and `cimm predict`, as child processes on a build of the sources in
 * build/cli-data-test (its own output directory, so it never rewrites dist/ under
 * test/cli.test.ts's feet): training on the fixtures with quoted fields, the inferred task
 * said, predictions equal to the in-process model's, resume, bad data named by line and
 * column with no file left behind, output paths refused before any work.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardRows } from '../lib/data/model-file.js';
import { decodeOutputs, encodeTable, loadModelFile, trainCsv } from '../lib/index.js';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'build', 'cli-data-test');
const fixtures = join(root, 'test', 'fixtures', 'csv');
const houses = join(fixtures, 'houses.csv');
const flowers = join(fixtures, 'flowers.csv');
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'cimm-cli-data-'));
  dirs.push(d);
  return d;
};

beforeAll(() => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
    { cwd: root, stdio: 'inherit' },
  );
}, 240_000);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cimm(...args: string[]) {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.CIMM_DEBUG;
  const r = spawnSync(process.execPath, [join(out, 'lib', 'cli', 'main.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: env as NodeJS.ProcessEnv,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HOUSES = ['--data', houses, '--target', 'price', '--ignore', 'note', '--model', 'mlp:16', '--lr', '0.01'];

describe('cimm train --data / cimm predict', () => {
  it('regression: trains, says what it inferred, saves; predict reproduces the in-process model exactly', async () => {
    const dir = tmp();
    const model = join(dir, 'model.json');
    const r = cimm('train', ...HOUSES, '--epochs', '30', '--seed', '5', '--save', model);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('note: --task inferred: regression (the target "price" holds numbers)');
    expect(r.stdout).toMatch(/^regression of "price" on 80 rows \(64 training, 16 validation; 3 columns → 5 inputs\)/);
    expect(r.stdout).toMatch(/validation rows: RMSE [\d.]+, MAE [\d.]+, R² 0\.9\d+/);
    expect(r.stdout).toContain(`model saved to ${model}`);
    expect(readdirSync(dir)).toEqual(['model.json']);

    const p = cimm('predict', '--model', model, '--data', houses, '--out', join(dir, 'p.csv'));
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^80 predictions written to .*p\.csv; against "price": RMSE/);
    expect(p.stderr).toContain('note: columns the model does not read: "note"');
    const written = (parse(readFileSync(join(dir, 'p.csv'), 'utf8')) as string[][]).map((row) => row[0]);
    expect(written[0]).toBe('prediction');

    // the same training in-process gives the same weights, and its predictions are the file's
    const same = await trainCsv({
      data: houses,
      target: 'price',
      ignore: ['note'],
      model: 'mlp:16',
      learningRate: 0.01,
      epochs: 30,
      seed: 5,
    });
    const loaded = loadModelFile(model);
    for (const [name, v] of Object.entries(same.model.params)) expect(loaded.model.params[name]).toEqual(v);
    const enc = encodeTable(same.table, same.prep, { target: 'required' });
    const direct = decodeOutputs(same.prep, forwardRows(same.model, enc.x, enc.rows), enc.rows);
    if (direct.task !== 'regression') throw new Error('regression expected');
    expect(written.slice(1).map(Number)).toEqual([...direct.values]);
  });

  it('classification: labels with commas and line breaks round-trip through the predictions CSV (stdout)', () => {
    const dir = tmp();
    const model = join(dir, 'flowers.json');
    const r = cimm(
      'train',
      '--data',
      flowers,
      '--target',
      'species',
      '--model',
      'mlp:16',
      '--lr',
      '0.01',
      '--epochs',
      '15',
      '--save',
      model,
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      task: 'classification',
      inferred: 'the target "species" holds text',
      classes: ['setosa, var. a', 'versi\ncolor', 'virginica'],
      features: [
        { name: 'petal length', kind: 'numeric' },
        { name: 'petal width', kind: 'numeric' },
        { name: 'color', kind: 'categorical' },
      ],
      saved: model,
      interrupted: false,
    });
    expect(doc.scores.validation.accuracy).toBeGreaterThan(0.9);
    const p = cimm('predict', '--model', model, '--data', flowers);
    expect(p.code, p.stderr).toBe(0);
    const rows = parse(p.stdout) as string[][];
    expect(rows[0]).toEqual(['prediction', 'p(setosa, var. a)', 'p(versi\ncolor)', 'p(virginica)']);
    expect(rows.length).toBe(91);
    expect(new Set(rows.slice(1).map((row) => row[0]))).toEqual(new Set(doc.classes));
    for (const row of rows.slice(1)) expect(row.slice(1).reduce((s, v) => s + Number(v), 0)).toBeCloseTo(1, 12);
    expect(p.stderr).toMatch(/against "species": accuracy 0\.9\d+|accuracy 1\.0000/);
  });

  it('--checkpoint, then --resume with more epochs: the same model as one run of all the epochs', () => {
    const dir = tmp();
    const ckpt = join(dir, 'run.ckpt');
    const a = cimm('train', ...HOUSES, '--epochs', '3', '--checkpoint', ckpt);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain(`checkpoint: ${ckpt}`);
    const b = cimm(
      'train',
      ...HOUSES,
      '--epochs',
      '6',
      '--checkpoint',
      ckpt,
      '--resume',
      '--save',
      join(dir, 'resumed.json'),
    );
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain(`(resumed from ${ckpt})`);
    const c = cimm('train', ...HOUSES, '--epochs', '6', '--save', join(dir, 'whole.json'));
    expect(c.code, c.stderr).toBe(0);
    const resumed = JSON.parse(readFileSync(join(dir, 'resumed.json'), 'utf8'));
    const whole = JSON.parse(readFileSync(join(dir, 'whole.json'), 'utf8'));
    expect(resumed.params).toEqual(whole.params);
    expect(resumed.training.steps).toBe(whole.training.steps);
    // a checkpoint of another model is refused as a usage error
    const d = cimm('train', ...HOUSES.slice(0, -4), '--model', 'mlp:8', '--epochs', '6', '--resume', ckpt);
    expect(d.code).toBe(2);
    expect(d.stderr.split('\n').find((l) => l.startsWith('cimm:'))).toMatch(
      /^cimm: --resume .*run\.ckpt: not a checkpoint of this run/,
    );
  });
});

describe('Ctrl-C', () => {
  it('ends the run without a model file; the last checkpoint is whole and resumes', async () => {
    const dir = tmp();
    const ckpt = join(dir, 'run.ckpt');
    const model = join(dir, 'm.json');
    // 2000 epochs of one step (batches of 64 = the 64 training rows): seconds, cut short below
    const args = [...HOUSES, '--batch-size', '64', '--epochs', '2000', '--checkpoint', ckpt];
    const child = spawn(
      process.execPath,
      [join(out, 'lib', 'cli', 'main.js'), 'train', ...args, '--checkpoint-every', '20', '--save', model],
      { cwd: root, stdio: 'ignore' },
    );
    const exited = once(child, 'exit');
    const t0 = Date.now();
    while (!existsSync(ckpt) && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const [code, signal] = await exited;
    // 130 when fit yields between steps (it stops after the current one); killed by the
    // signal when fit runs synchronously (atomic writes: the checkpoint stays whole)
    expect(code === 130 || signal === 'SIGINT', `code ${code}, signal ${signal}`).toBe(true);
    expect(existsSync(model)).toBe(false);
    const r = cimm('train', ...args, '--resume', '--save', model);
    expect(r.code, r.stderr).toBe(0);
    expect(loadModelFile(model).training.steps).toBe(2000);
  }, 120_000);
});

describe('bad data: an error naming the line and the column, and no file left', () => {
  const cases: [string, string, string[], RegExp][] = [
    [
      'a non-number in a numeric column',
      'x,c,y\n1,a,1\n2,b,2\n"3,5",a,3\n4,b,4.5\n',
      [],
      /line 4: column "x" is "3,5", not a number/,
    ],
    ['a missing target', 'x,y\n1,1.5\n2,\n3,3.5\n', [], /line 3: column "y" is empty/],
    [
      'a ragged row',
      'x,y\n1,1.5\n2\n3,3.5\n',
      [],
      /line 3: column "y" is missing \(the row has 1 field\(s\), the header 2\)/,
    ],
    [
      'an unknown target (did you mean)',
      'x,yy\n1,1.5\n',
      [],
      /has no column "y" \(the target\); did you mean "(x|yy)"\?; its columns are "x", "yy"/,
    ],
    ['an empty file', '', [], /is empty \(expected a header line and rows\)/],
    ['a header only', 'x,y\n', [], /has a header but no rows/],
    [
      'a bad multi-line record',
      'x,note,y\n1,"a\nb",1.5\n2,"c\nd",oops\n3,e,3.5\n4,f,4.5\n',
      ['--ignore', 'note', '--task', 'regression'],
      /line 4: column "y" is "oops", not a number/,
    ],
  ];
  it.each(cases)('%s', (_name, text, extra, message) => {
    const dir = tmp();
    const data = join(dir, 'bad.csv');
    writeFileSync(data, text);
    const r = cimm(
      'train',
      '--data',
      data,
      '--target',
      'y',
      ...extra,
      '--checkpoint',
      join(dir, 'c.json'),
      '--save',
      join(dir, 'm.json'),
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(message);
    expect(r.stderr.split('\n')[0]).toMatch(/^cimm: (?!cimm:)/);
    expect(r.stdout).toBe('');
    expect(readdirSync(dir)).toEqual(['bad.csv']);
  });

  it('a diverging run says so, with the step and η, and saves no model', () => {
    const dir = tmp();
    const r = cimm(
      'train',
      ...HOUSES.slice(0, -2),
      '--optimizer',
      'SGD',
      '--lr',
      '1e6',
      '--epochs',
      '20',
      '--save',
      join(dir, 'm.json'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').find((l) => l.startsWith('cimm:'))).toMatch(
      /^cimm: training diverged at step \d+ \(.*\); try a smaller --lr \(η was 1000000\)/,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('predict: a missing feature column (did you mean), a bad value in a row', () => {
    const dir = tmp();
    const model = join(dir, 'm.json');
    expect(cimm('train', ...HOUSES, '--epochs', '1', '--save', model).code).toBe(0);
    writeFileSync(join(dir, 'a.csv'), 'sise,rooms,city\n50,2,"Springfield, IL"\n');
    const a = cimm('predict', '--model', model, '--data', join(dir, 'a.csv'), '--out', join(dir, 'p.csv'));
    expect(a.code).toBe(1);
    expect(a.stderr.split('\n')[0]).toMatch(/has no column "size" \(the feature\); did you mean "sise"\?/);
    writeFileSync(join(dir, 'b.csv'), 'rooms,size,city\n2,50,"Springfield, IL"\n3,abc,"Capital ""City"""\n');
    const b = cimm('predict', '--model', model, '--data', join(dir, 'b.csv'), '--out', join(dir, 'p.csv'));
    expect(b.code).toBe(1);
    expect(b.stderr.split('\n')[0]).toMatch(/line 3: column "size" is "abc", not a number/);
    expect(existsSync(join(dir, 'p.csv'))).toBe(false);
    // columns in another order, no target, an unseen city: predicted, with a note
    writeFileSync(join(dir, 'c.csv'), 'rooms,size,city\n2,50,"Springfield, IL"\n3,60,Ogdenville\n');
    const c = cimm('predict', '--model', model, '--data', join(dir, 'c.csv'), '--out', join(dir, 'p.csv'));
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain(
      'note: column "city": 1 row(s) have a category the training rows did not have (first "Ogdenville" on line 3)',
    );
    expect((parse(readFileSync(join(dir, 'p.csv'), 'utf8')) as string[][]).length).toBe(3);
  });

  it('predict: a model file that is not one is a usage error naming the file and the field', () => {
    const dir = tmp();
    const model = join(dir, 'm.json');
    writeFileSync(model, JSON.stringify({ format: 'cimm-checkpoint', version: 1 }));
    const r = cimm('predict', '--model', model, '--data', houses);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      `cimm: --model ${model}: ${model}: field "format" should be "cimm-csv-model" (a file written by cimm train --data … --save; a training checkpoint is not a model file) (found "cimm-checkpoint")`,
    );
  });
});

describe('usage: checked before any work', () => {
  it.each([
    [
      ['--target', 'price', '--save', '/nonexistent-dir/m.json'],
      /^cimm: --save \/nonexistent-dir\/m\.json: the directory \/nonexistent-dir does not exist/,
    ],
    [['--target', 'price', '--checkpoint', fixtures], /is a directory; name a file in it/],
    [['--target', 'price', '--save', houses], /--save .* is the file --data reads/],
    [
      ['--target', 'price', '--task', 'regresion'],
      /--task with --data is regression or classification, got "regresion"; did you mean "regression"\?/,
    ],
    [['--target', 'price', '--model', 'mlp:0'], /^cimm: --model mlp:0: /],
    [['--target', 'price', '--optimizer', 'Adamm'], /unknown "Adamm"; did you mean "Adam"\?/],
    [['--target', 'price', '--validation', '1'], /--validation must be a fraction in \[0, 0\.9\]/],
    [['--target', 'price', '--resume'], /--resume needs a checkpoint/],
    [['--target', 'price', '--steps', '5'], /--steps is not an option of train --data/],
    [[], /train --data needs --target COLUMN/],
    [['--target', 'price', '--queue', 'redis://127.0.0.1:1'], /--queue takes a task run \(--task …\), not --data/],
  ])('train --data houses.csv %j', (args, message) => {
    const r = cimm('train', '--data', houses, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('a data-only option without --data, and --resume without a file in task mode', () => {
    const a = cimm('train', '--task', 'iris', '--optimizer', 'Adam', '--save', 'm.json');
    expect(a.code).toBe(2);
    expect(a.stderr.split('\n')[0]).toBe('cimm: --save is an option of train --data FILE.csv (no --data given)');
    const b = cimm('train', '--task', 'iris', '--optimizer', 'Adam', '--resume');
    expect(b.code).toBe(2);
    expect(b.stderr.split('\n')[0]).toBe('cimm: --resume needs a checkpoint file: --resume FILE');
  });
});
