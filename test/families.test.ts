/**
 * The family list (lib/kernels.ts, KERNEL_FAMILIES) mirrored file for file: every kernel is
 * defined in its family's file in every tree (docs/boundary.md), so a kernel's pieces are
 * found by one name. A kernel defined in another family's file, or a family file missing in
 * one tree, fails here. Reads the checkout's sources (checkout-only: the package ships no crate/).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ASYNC_KERNEL_NAMES, DECLARED_KERNELS, KERNEL_FAMILIES } from '../lib/kernels.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const isAsync = (name: string) => (ASYNC_KERNEL_NAMES as readonly string[]).includes(name);
const isDeclared = (name: string) => name in DECLARED_KERNELS;

/**
 * Where the generated bindings of the declared kernels are (scripts/gen-kernels.mjs): the
 * trees whose per-kernel code is generated keep it there, not in the family's file.
 */
const GENERATED: Record<string, string> = {
  'Rust binding': 'crate/src/binding/declared.rs',
  'C++ binding': 'native/src/binding/declared.cpp',
  'wasm C ABI': 'native/wasm/declared.cpp',
};
const families = Object.entries(KERNEL_FAMILIES) as [string, readonly string[]][];

/** The tree's file of `family`, and how a kernel's definition reads in it (null: not defined there). */
const TREES: [tree: string, file: (family: string) => string, defines: (kernel: string) => RegExp | null][] = [
  [
    'js reference',
    (f) => `lib/backends/js/${f}.ts`,
    (k) => (isAsync(k) ? null : new RegExp(`export function ${k}\\(`)),
  ],
  // the core functions of the declared kernels (the others' cores may be spread over support modules)
  ['Rust core', (f) => `crate/src/${f}.rs`, (k) => (isDeclared(k) ? new RegExp(`pub fn ${snake(k)}\\(`) : null)],
  ['Rust binding', (f) => `crate/src/binding/${f}.rs`, (k) => new RegExp(`pub fn ${snake(k)}\\b`)],
  ['C++ core', (f) => `native/src/${f}.cpp`, (k) => (isDeclared(k) ? new RegExp(`\\b${snake(k)}\\(`) : null)],
  ['C++ binding', (f) => `native/src/binding/${f}.cpp`, (k) => new RegExp(`"${k}"`)],
  [
    'wasm C ABI',
    (f) => `native/wasm/${f}.cpp`,
    (k) =>
      // the async kernels chunk the sync ones in the glue; memoryCopy is a copy within linear memory there
      isAsync(k) || k === 'memoryCopy' ? null : new RegExp(`\\bcimm_${snake(k)}\\b`),
  ],
  // the declared kernels' glue reads their declarations: one function serves them all
  ['wasm glue', (f) => `lib/backends/wasm/${f}.ts`, (k) => (isDeclared(k) ? null : new RegExp(`\\b${k}\\b`))],
  // the family's backend-parametrized tests; some kernels are also (or only) tested by topic, below
  ['tests', (f) => `test/${f}.test.ts`, () => null],
  // the GEMM rows of the linalg family share the fractal case's TensorFlow.js peer (docs/boundary.md)
  ['bench', (f) => `bench/cases/${f === 'linalg' ? 'fractal' : f}.ts`, () => null],
];

describe('every tree keeps each kernel family in one file of its name', () => {
  for (const [tree, file, defines] of TREES) {
    test(tree, () => {
      for (const [family, kernels] of families) {
        const path = file(family);
        expect(existsSync(join(root, path)), `${path} (the ${family} family)`).toBe(true);
        const text = read(path);
        for (const k of kernels) {
          const pattern = defines(k);
          const where = isDeclared(k) && GENERATED[tree] ? GENERATED[tree] : path;
          if (pattern && !pattern.test(where === path ? text : read(where))) {
            expect.fail(`${k} (the ${family} family) is not defined in ${where}`);
          }
        }
      }
    });
  }

  test('every kernel is called by name in a test file', () => {
    const tests = readdirSync(join(root, 'test'))
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => read(`test/${f}`))
      .join('\n');
    for (const [family, kernels] of families) {
      for (const k of kernels) {
        if (!new RegExp(`\\.${k}\\(`).test(tests)) expect.fail(`${k} (the ${family} family) is called by no test`);
      }
    }
  });

  test('no family file of the bindings defines another family’s kernel', () => {
    for (const [family] of families) {
      const rust = read(`crate/src/binding/${family}.rs`);
      const cpp = read(`native/src/binding/${family}.cpp`);
      for (const [other, kernels] of families) {
        if (other === family) continue;
        for (const k of kernels) {
          if (new RegExp(`pub fn ${snake(k)}\\(`).test(rust))
            expect.fail(`${k} (${other}) in crate/src/binding/${family}.rs`);
          if (new RegExp(`define\\(env, exports, "${k}"`).test(cpp)) {
            expect.fail(`${k} (${other}) registered in native/src/binding/${family}.cpp`);
          }
        }
      }
    }
  });
});

/** The formatters the generator runs its output through, or why they are missing. */
function missingFormatters(): string | null {
  const missing = [process.env.CLANG_FORMAT || 'clang-format-14', 'rustfmt'].filter((bin) => {
    try {
      execFileSync(bin, ['--version'], { stdio: 'pipe' });
      return false;
    } catch {
      return true;
    }
  });
  return missing.length > 0 ? `${missing.join(' and ')} not found` : null;
}
const formatters = missingFormatters();
if (formatters && process.env.CI === 'true')
  throw new Error(`CI: ${formatters} (the generated-files check needs them)`);
if (formatters) console.warn(`families.test.ts: skipping the generated-files check: ${formatters}`);

describe('the generated bindings', () => {
  test.skipIf(formatters !== null)(
    'are what scripts/gen-kernels.mjs writes from lib/kernels.ts now (`npm run gen`)',
    () => {
      // exits 1 naming the stale file; the output is formatted by rustfmt and clang-format 14
      // (what the build and CI have; elsewhere skipped, saying so)
      execFileSync(process.execPath, ['--import', './fuzz/register.mjs', 'scripts/gen-kernels.mjs', '--check'], {
        cwd: root,
        stdio: 'pipe',
      });
    },
  );

  test('declare only kernels of the interface, each in the family it names', () => {
    for (const [k, d] of Object.entries(DECLARED_KERNELS)) {
      expect(KERNEL_FAMILIES[d.family] as readonly string[]).toContain(k);
    }
  });
});
