/**
 * `node --import ./fuzz/register.mjs fuzz/run.ts`: runs the fuzz harness (and the library it
 * loads) from the TypeScript sources, so a fuzz run never tests a stale dist/. The hooks
 * (ts-hooks.mjs) transpile each .ts file with the project's pinned TypeScript, type-stripping
 * only (`npm run typecheck` checks the types), and cache the output by content hash.
 */
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
