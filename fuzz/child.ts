/**
 * One fuzz batch, run by fuzz/run.ts in a child process: calls [from, to) of one target set
 * on one backend. Before each call it writes `start <index>` to fd 3 (synchronously, so the
 * parent knows which call was running when the process died or hung), then the call's
 * outcome as one JSON line, and `done` at the end.
 *
 * node --import ./fuzz/register.mjs fuzz/child.ts <set> <backend> <seed> <from> <to>
 */

import * as nodeFs from 'node:fs';
import { writeSync } from 'node:fs';
import * as nodeOs from 'node:os';
import * as nodePath from 'node:path';
import { getBackend, setBackend } from '../lib/backend.js';
import * as cimm from '../lib/index.js';
import type { BackendName, Kernels } from '../lib/kernels.js';
import { fuzzBuildArgs, fuzzCheckGuards } from './build.js';
import { allFinite, changed, classifyError, hasNaN, type OutcomeClass, snapshot } from './classify.js';
import type { CallRecord } from './plan.js';
import { scenarioOf } from './scenarios.js';
import { makeCall, TARGET_SETS, type TargetSetName } from './targets.js';

/** One call's line: the index and class, with the details when it is not a plain result. */
export interface OutcomeLine {
  i: number;
  target: string;
  cls: OutcomeClass;
  detail?: string;
}

const [set, backend, seedText, fromText, toText] = process.argv.slice(2);
const seed = Number(seedText);
const from = Number(fromText);
const to = Number(toText);
const FD = 3;
let current = -1;

function emit(line: string): void {
  writeSync(FD, `${line}\n`);
}

function errorText(e: unknown): string {
  if (e instanceof Error)
    return `${e.constructor.name}${(e as { code?: unknown }).code ? `[${String((e as { code?: unknown }).code)}]` : ''}: ${e.message.split('\n')[0].slice(0, 300)}`;
  return `non-Error ${typeof e}: ${String(e).slice(0, 200)}`;
}

process.on('uncaughtException', (e) =>
  emit(JSON.stringify({ i: current, target: '?', cls: 'uncaught', detail: errorText(e) })),
);
process.on('unhandledRejection', (e) =>
  emit(JSON.stringify({ i: current, target: '?', cls: 'uncaught', detail: `unhandled rejection: ${errorText(e)}` })),
);

const lib = { ...cimm, __node: { fs: nodeFs, os: nodeOs, path: nodePath } } as unknown as Record<string, unknown>;
const kernels: Kernels | undefined = set === 'kernels' ? getBackend(backend as BackendName) : undefined;
if (set === 'facade') setBackend(backend as BackendName);

async function invoke(call: CallRecord, args: unknown[]): Promise<unknown> {
  if (kernels) {
    const fn = (kernels as unknown as Record<string, (...a: unknown[]) => unknown>)[call.target];
    return await fn.apply(kernels, args);
  }
  const scenario = scenarioOf(call.target) as ((...a: unknown[]) => Promise<unknown>) | undefined;
  if (scenario) return await scenario(lib, ...args);
  return await (lib[call.target] as (...a: unknown[]) => unknown)(...args);
}

async function runOne(call: CallRecord): Promise<OutcomeLine> {
  const { args, guards } = fuzzBuildArgs(call.plans);
  const spec = TARGET_SETS[set as TargetSetName][call.target];
  const finiteIn = call.moderate && !call.hostile && allFinite(args);
  const inputs =
    call.aliased || call.hostile ? [] : args.map((a, i) => (call.roles[i] === 'in' ? snapshot(a) : undefined));
  let result: unknown;
  let error: unknown;
  let threw = false;
  try {
    result = await invoke(call, args);
  } catch (e) {
    error = e;
    threw = true;
  }
  const line = (cls: OutcomeClass, detail?: string): OutcomeLine => ({
    i: call.index,
    target: call.target,
    cls,
    detail,
  });
  const oob = fuzzCheckGuards(guards);
  if (oob) return line('oob', oob);
  for (let i = 0; i < inputs.length; i++) {
    const before = inputs[i];
    if (before && changed(args[i], before)) return line('inputWritten', `${call.names[i]} changed`);
  }
  if (threw) {
    const cls = classifyError(error, call);
    return line(cls, cls === 'result' ? undefined : errorText(error));
  }
  const contract = spec.finite ?? true;
  const applies = typeof contract === 'function' ? contract(call, args) : contract;
  if (applies && finiteIn) {
    const written = args.filter((_, i) => call.roles[i] !== 'in');
    if (
      hasNaN(result) ||
      written.some((a) => hasNaN(a)) ||
      args.some((a, i) => call.plans[i].t === 'object' && hasNaN(a))
    ) {
      return line('silentNaN', `NaN in ${hasNaN(result) ? 'the result' : 'a written array'}`);
    }
  }
  return line('result');
}

for (let i = from; i < to; i++) {
  current = i;
  const call = makeCall(set as TargetSetName, backend, seed, i);
  emit(`start ${i}`);
  let outcome: OutcomeLine;
  try {
    outcome = await runOne(call);
  } catch (e) {
    // A bug of the harness itself: loud, under its own name, never a pass.
    outcome = { i, target: call.target, cls: 'uncaught', detail: `fuzz harness: ${errorText(e)}` };
  }
  // Only failures and errors carry details; plain results stay one short line.
  emit(JSON.stringify(outcome));
}
emit('done');
process.exit(0);
