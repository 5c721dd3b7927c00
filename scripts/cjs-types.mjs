#!/usr/bin/env node
/**
 * After `tsc -p tsconfig.build.json`: the CommonJS typings. `require('cimm')` loads the ES
 * module itself (cjs/index.cjs, through Node's require(esm)), but TypeScript in `node16` mode
 * calls a CommonJS declaration file that re-exports ES declarations an error (TS1479), so the
 * `require` condition gets its own copy: every dist/lib/**\/*.d.ts reachable from an entry (index.d.ts,
 * and tfjs/index.d.ts for `cimm/tfjs`) becomes dist/cjs/**\/*.d.cts, its relative `./x.js` specifiers rewritten to `./x.cjs`
 * (which TypeScript maps to `./x.d.cts`). Types only: at run time there is one module.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'dist', 'lib');
const to = join(root, 'dist', 'cjs');
// relative specifiers in `from '…'` and in inferred `import("…")` types (tsc writes double quotes there)
const SPECIFIER = /(from\s+['"]|import\(['"])(\.{1,2}\/[^'"]+)\.js(['"])/g;

rmSync(to, { recursive: true, force: true });
const seen = new Set();
const queue = [join(from, 'index.d.ts'), join(from, 'tfjs', 'index.d.ts')];
while (queue.length) {
  const file = queue.pop();
  if (seen.has(file)) continue;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(SPECIFIER)) queue.push(resolve(dirname(file), `${m[2]}.d.ts`));
  const out = join(to, relative(from, file).replace(/\.d\.ts$/, '.d.cts'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text.replace(SPECIFIER, '$1$2.cjs$3'));
}
console.error(`cjs-types: ${seen.size} declaration files → ${relative(root, to)}/**/*.d.cts`);
