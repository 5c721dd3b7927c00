/**
 * A standalone reproducer for one call: plain JavaScript that builds the call's arguments
 * with the harness's own builder (printed from its source), makes the call on the same
 * backend and reports what happened, guard bytes included. Run it from the repository root
 * after `npm run build` (it imports the built package by name).
 */
import { BUILDER_FUNCTIONS } from './build.js';
import type { CallRecord } from './plan.js';
import { scenarioOf } from './scenarios.js';

export function reproducer(call: CallRecord): string {
  const scenario = scenarioOf(call.target) as ((...a: unknown[]) => Promise<unknown>) | undefined;
  const head = [
    `// cimm fuzz reproducer: ${call.set} ${call.target} on ${call.backend}, seed ${call.seed}, call ${call.index}`,
    `// ${call.mutations.length ? call.mutations.join('; ') : 'a valid call'}`,
    `// save as repro.mjs in the repository root and run \`node repro.mjs\` after npm run build`,
    `// (or: npm run fuzz -- --replay ${call.set}:${call.backend}:${call.seed}:${call.index})`,
    "import * as cimm from 'cimm';",
    ...(call.set === 'facade'
      ? ["import * as fs from 'node:fs'; import * as os from 'node:os'; import * as path from 'node:path';"]
      : []),
    ...BUILDER_FUNCTIONS.map((f) => f.toString()),
    ...(scenario ? [scenario.toString()] : []),
    `const plans = ${JSON.stringify(call.plans)};`,
    'const { args, guards } = fuzzBuildArgs(plans);',
  ];
  const invoke =
    call.set === 'kernels'
      ? `const k = cimm.getBackend(${JSON.stringify(call.backend)});\n  return await k.${call.target}(...args);`
      : scenario
        ? `cimm.setBackend(${JSON.stringify(call.backend)});\n  return await ${call.target}({ ...cimm, __node: { fs, os, path } }, ...args);`
        : `cimm.setBackend(${JSON.stringify(call.backend)});\n  return await cimm.${call.target}(...args);`;
  return [
    ...head,
    `async function call() {\n  ${invoke}\n}`,
    'try {',
    '  console.log("returned", await call());',
    '} catch (e) {',
    '  console.log("threw", e);',
    '}',
    'console.log("guards:", fuzzCheckGuards(guards) ?? "intact");',
    '',
  ].join('\n');
}
