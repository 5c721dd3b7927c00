/**
 * The checkout's tests run against an installed cimm (scripts/test-package.mjs): every import
 * of the sources (`../lib/x.js`, `../../lib/x.js`) resolves to the same module of the installed
 * package's compiled `dist/lib/x.js` instead, which Node loads as a consumer's would (from
 * node_modules, with the rust backend from the platform package).
 */
import { defineConfig } from 'vitest/config';

const dist = process.env.CIMM_PACKAGE_DIST;
if (!dist) throw new Error('vitest.package.config.ts: set CIMM_PACKAGE_DIST to <project>/node_modules/cimm/dist/lib');

/**
 * Every test runs from the installed package except these, which need the checkout itself:
 * - cli.test.ts and cli-data.test.ts run the checkout's command line after building it with tsc
 *   (test:package runs the installed command line instead);
 * - backend.test.ts and cpp.test.ts reload the library between tests (vi.resetModules), which
 *   an installed package, loaded by Node itself, does not allow;
 * - data.test.ts compares data/ with the vega-datasets devDependency;
 * - compare.test.ts renders plots with vega and vega-lite, optional peers a consumer lacks
 *   (test:package runs `cimm compare` without them);
 * - queue.test.ts and queue-faults.test.ts need bullmq and ioredis, optional peers a consumer
 *   lacks, and a redis-server (the faults run the checkout's bin/cimm);
 * - fuzz.test.ts runs its calls in child processes on the checkout's sources (fuzz/register.mjs),
 *   which the alias below cannot redirect to the installed package.
 */
export const CHECKOUT_ONLY = [
  'test/cli.test.ts',
  'test/cli-data.test.ts',
  'test/backend.test.ts',
  'test/cpp.test.ts',
  'test/data.test.ts',
  'test/compare.test.ts',
  'test/queue.test.ts',
  'test/queue-faults.test.ts',
  'test/families.test.ts',
  'test/fuzz.test.ts',
];

export default defineConfig({
  resolve: { alias: [{ find: /^(?:\.\.\/)+lib\/(.*)\.js$/, replacement: `${dist}/$1.js` }] },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: CHECKOUT_ONLY,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
