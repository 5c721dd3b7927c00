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
