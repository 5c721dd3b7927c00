/**
 * The checkout's tests run against an installed cimm (scripts/test-package.mjs): every import
 * of the sources (`../lib/x.js`, `../../lib/x.js`) resolves to the same module of the installed
 * package's compiled `dist/lib/x.js` instead, which Node loads as a consumer's would (from
 * node_modules, with the rust backend from the platform package).
 */
import { defineConfig } from 'vitest/config';

const dist = process.env.CIMM_PACKAGE_DIST;
if (!dist) throw new Error('vitest.package.config.ts: set CIMM_PACKAGE_DIST to <project>/node_modules/cimm/dist/lib');

/** The tests run from the installed package: those that need no checkout-only file or devDependency. */
export const PACKAGE_TESTS = [
  'test/paths.test.ts',
  'test/optim-torch.test.ts',
  'test/optim-prodigy.test.ts',
  'test/optim-facade.test.ts',
  'test/trainer.test.ts',
  'test/optim-trainer.test.ts',
  'test/facade.test.ts',
  'test/energy.test.ts',
  'test/nn.test.ts',
  'test/task-run.test.ts',
  'test/tasks/iris.test.ts',
  'test/tasks/sp500.test.ts',
];

export default defineConfig({
  resolve: { alias: [{ find: /^(?:\.\.\/)+lib\/(.*)\.js$/, replacement: `${dist}/$1.js` }] },
  test: {
    include: PACKAGE_TESTS,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
