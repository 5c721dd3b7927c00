import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;
let manifest: { name?: string; version?: string } | undefined;

/** The cimm package root, found from this module whether it runs from lib/ (sources) or dist/lib/. */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) {
      try {
        const body = JSON.parse(readFileSync(path, 'utf8'));
        if (body.name === 'cimm') {
          root = dir;
          manifest = body;
          return dir;
        }
      } catch {
        // an unreadable manifest is not ours: keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cimm: cannot find the package root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** cimm's version (package.json). */
export function packageVersion(): string {
  packageRoot();
  return String(manifest?.version);
}

/**
 * True in a source checkout (the Rust crate is there), false in an installed package: fixes
 * in messages differ (`npm run build:rust` works only in a checkout).
 */
export function isCheckout(): boolean {
  return existsSync(join(packageRoot(), 'crate', 'Cargo.toml'));
}
