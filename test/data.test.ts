/** The embedded data files are exact copies of their packages' files. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { packageRoot } from '../lib/paths.js';

const require = createRequire(import.meta.url);

test('data/sp500-2000.csv is byte-identical to vega-datasets 3.2.1', () => {
  const ours = readFileSync(join(packageRoot(), 'data', 'sp500-2000.csv'));
  // the package's exports hide package.json: locate it from its main module (build/index.js)
  const theirs = readFileSync(join(require.resolve('vega-datasets'), '..', '..', 'data', 'sp500-2000.csv'));
  expect(ours.equals(theirs)).toBe(true);
  expect(createHash('sha256').update(ours).digest('hex')).toBe(
    '9409e9342d0657c747324e4cfabce8a8c7f663bc485b95a3378f36b0a160f8c8',
  );
  const lines = ours.toString('utf8').trim().split('\n');
  expect(lines[0]).toBe('date,open,high,low,close,adjclose,volume');
  expect(lines.length - 1).toBe(5105);
});

test('data/seattle-weather.csv is byte-identical to vega-datasets 3.2.1', () => {
  const ours = readFileSync(join(packageRoot(), 'data', 'seattle-weather.csv'));
  const theirs = readFileSync(join(require.resolve('vega-datasets'), '..', '..', 'data', 'seattle-weather.csv'));
  expect(ours.equals(theirs)).toBe(true);
  expect(createHash('sha256').update(ours).digest('hex')).toBe(
    '0845078a290b48e3149ab8639966824110a251db4e06fc144c06ebb534af23be',
  );
});

test('data/movies-imdb.csv is what scripts/extract-movies.mjs extracts from vega-datasets 3.2.1', async () => {
  const ours = readFileSync(join(packageRoot(), 'data', 'movies-imdb.csv'), 'utf8');
  const { moviesCsv } = await import(join(packageRoot(), 'scripts', 'extract-movies.mjs'));
  const source = join(require.resolve('vega-datasets'), '..', '..', 'data', 'movies.json');
  expect(moviesCsv(JSON.parse(readFileSync(source, 'utf8')))).toBe(ours);
  expect(createHash('sha256').update(ours).digest('hex')).toBe(
    '8c5ab55d48d5c14d800a2d6701fc1cf2aeaeb903464f704ffca29349f0d1853b',
  );
});
