/**
 * Where the library under test comes from: the checkout (npm test), or the installed package
 * when scripts/test-package.mjs runs the tests against it (CIMM_PACKAGE_DIST), which must then
 * load the rust backend from its platform package and have no crate/ or build tools.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { backendInfo, getBackend } from '../lib/backend.js';
import { isCheckout, packageRoot, packageVersion } from '../lib/paths.js';

const installed = process.env.CIMM_PACKAGE_DIST;

test('packageRoot is the checkout, or the installed package under test', () => {
  const root = packageRoot();
  expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version).toBe(packageVersion());
  if (installed) {
    expect(resolve(root, 'dist', 'lib')).toBe(resolve(installed));
    expect(isCheckout()).toBe(false);
    expect(existsSync(join(root, 'crate'))).toBe(false);
    expect(existsSync(join(root, 'scripts'))).toBe(false);
  } else {
    expect(root).toBe(resolve(import.meta.dirname, '..'));
    expect(isCheckout()).toBe(true);
  }
});

test.runIf(installed)('the installed package loads rust from its platform package', () => {
  const rust = getBackend('rust').describe();
  expect(rust.source).toMatch(/^cimm-(linux|darwin|win32)-/);
  expect(backendInfo().backends.find((b) => b.name === 'rust')?.available).toBe(true);
});
