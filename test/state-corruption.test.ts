/**
 * Corrupted saved state (issue 15, "Corrupted state"): every single-bit flip and every
 * truncation of an optimizer state of each kind lib/optim/state.ts handles, and of a
 * `cimm train` checkpoint, is refused with a CimmArgumentError — none loads, none hangs
 * (each load is timed; the slowest is reported), none throws a raw error.
 *
 * The full set runs here (it takes a few seconds). `CIMM_STATE_CORRUPTION_REPORT=1` also
 * runs the legacy formats (version 1 and 2 optimizer states: no checksum, so some flips
 * load with another meaning — that is what the checksum is for) and prints the table of
 * docs/notes-state.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Job } from '../lib/compare/index.js';
import { TaskRun } from '../lib/compare/run.js';
import {
  Adam,
  CimmArgumentError,
  encodeOptimizerState,
  mlp,
  restoreOptimizer,
  SoftmaxCrossEntropy,
  Trainer,
} from '../lib/index.js';
import { parseCheckpoint } from '../lib/train/checkpoint.js';
import { classes } from './helpers.js';
import { OPTIMIZER_KINDS as KINDS, trained } from './optimizer-kinds.js';

const REPORT = process.env.CIMM_STATE_CORRUPTION_REPORT === '1';

/** What one file kind's corruptions gave. */
interface CorruptionRow {
  kind: string;
  bytes: number;
  variants: number;
  loadedSilently: number;
  /** Of those, flips in the framing and header (bytes before `headerEnd`). */
  silentInHeader: number;
  rejected: number;
  /** Threw something other than a CimmArgumentError (a raw TypeError, a SyntaxError). */
  rawErrors: number;
  /** Loads that took longer than a second (a hang would stop the run here). */
  slow: number;
  slowestMs: number;
  /** The first few bits or lengths that loaded, for the report. */
  examples: string[];
}

/** Flip every bit of `bytes`, then cut it at every length; `load` must throw a CimmArgumentError. */
function corruptAll(
  kind: string,
  bytes: Uint8Array,
  load: (b: Uint8Array) => void,
  headerEnd = bytes.length,
): CorruptionRow {
  const row: CorruptionRow = {
    kind,
    bytes: bytes.length,
    variants: 0,
    loadedSilently: 0,
    silentInHeader: 0,
    rejected: 0,
    rawErrors: 0,
    slow: 0,
    slowestMs: 0,
    examples: [],
  };
  const attempt = (variant: Uint8Array, label: string, inHeader = false) => {
    row.variants++;
    const t0 = performance.now();
    try {
      load(variant);
      row.loadedSilently++;
      if (inHeader) row.silentInHeader++;
      if (row.examples.length < 5) row.examples.push(label);
    } catch (e) {
      if (e instanceof CimmArgumentError) row.rejected++;
      else {
        row.rawErrors++;
        if (row.examples.length < 5) row.examples.push(`${label}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
    const ms = performance.now() - t0;
    row.slowestMs = Math.max(row.slowestMs, ms);
    if (ms > 1000) row.slow++;
  };
  const copy = bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    for (let b = 0; b < 8; b++) {
      copy[i] ^= 1 << b;
      attempt(copy, `bit ${8 * i + b}`, i < headerEnd);
      copy[i] ^= 1 << b;
    }
  }
  for (let n = 0; n < bytes.length; n++) attempt(bytes.subarray(0, n), `cut at ${n}`);
  return row;
}

const rows: CorruptionRow[] = [];

describe('every bit flip and truncation of an optimizer state (format version 3) is refused', () => {
  test.each(KINDS)('%s', (name, make) => {
    const opt = trained(make);
    const bytes = opt.serializeState();
    // the intact bytes load (the test would pass vacuously otherwise)
    expect(restoreOptimizer(bytes).serializeState()).toEqual(bytes);
    const target = trained(make);
    const before = target.serializeState();
    const row = corruptAll(`${name} (v3)`, bytes, (b) => {
      restoreOptimizer(b);
    });
    // loadState into a live optimizer: refused, and the optimizer unchanged
    const live = corruptAll(`${name} (v3, loadState)`, bytes.subarray(0, Math.min(bytes.length, 256)), (b) =>
      target.loadState(b),
    );
    expect(target.serializeState()).toEqual(before);
    rows.push(row);
    expect(row.examples).toEqual([]);
    expect(row.loadedSilently).toBe(0);
    expect(row.rawErrors).toBe(0);
    expect(row.slow).toBe(0);
    expect(row.variants).toBe(9 * bytes.length);
    expect(live.loadedSilently + live.rawErrors).toBe(0);
  });
});

describe('a cimm train checkpoint: every bit flip and truncation of the file is refused', () => {
  const job: Job = {
    id: 0,
    task: 'least-squares',
    optimizer: 'Adam',
    lr: 0.01,
    seed: 3,
    steps: 10,
    points: 3,
    atDefault: false,
    taskOptions: { rows: 12, columns: 3 },
  };
  test('TaskRun checkpoint (kind task-run, with an Adam state inside)', () => {
    const run = new TaskRun(job);
    run.runUntil(4);
    const dir = mkdtempSync(join(tmpdir(), 'cimm-corrupt-'));
    const path = join(dir, 'run.json');
    run.save(path);
    const bytes = new Uint8Array(readFileSync(path));
    // each variant as TaskRun.load reads a file (utf8 text, then parse, checksum, bytes,
    // fields); every 61st also through a real file and TaskRun.load itself
    const variant = join(dir, 'variant.json');
    let n = 0;
    const load = (b: Uint8Array) => {
      if (n++ % 61 === 0) {
        writeFileSync(variant, b);
        TaskRun.load(variant);
      } else TaskRun.fromFileText(Buffer.from(b).toString('utf8'), variant);
    };
    load(bytes);
    const row = corruptAll('cimm train checkpoint', bytes, load);
    rmSync(dir, { recursive: true, force: true });
    rows.push(row);
    expect(row.examples).toEqual([]);
    expect(row.loadedSilently).toBe(0);
    expect(row.rawErrors).toBe(0);
    expect(row.slow).toBe(0);
  });
});

describe('a Trainer.fit checkpoint: every bit flip and truncation of the file is refused', () => {
  test('fit checkpoint (kind fit, an MLP and an Adam state inside)', async () => {
    const trainer = new Trainer({
      model: mlp([2, 3, 3], { activation: 'tanh', seed: 4 }),
      loss: new SoftmaxCrossEntropy(),
      optimizer: new Adam({ learningRate: 0.01 }),
    });
    const dir = mkdtempSync(join(tmpdir(), 'cimm-corrupt-fit-'));
    const path = join(dir, 'fit.json');
    await trainer.fit(classes(20), { epochs: 1, batchSize: 10, checkpoint: { path } });
    const bytes = new Uint8Array(readFileSync(path));
    rmSync(dir, { recursive: true, force: true });
    // the file layer of Trainer.fit({ resumeFrom }) (readCheckpoint: text, JSON, checksum,
    // exact bytes); a variant that passed it would meet the fields' checks next
    const load = (b: Uint8Array) => {
      parseCheckpoint(Buffer.from(b).toString('utf8'), 'fit', path);
    };
    load(bytes);
    const row = corruptAll('Trainer.fit checkpoint', bytes, load);
    rows.push(row);
    expect(row.examples).toEqual([]);
    expect(row.loadedSilently).toBe(0);
    expect(row.rawErrors).toBe(0);
    expect(row.slow).toBe(0);
  });
});

describe.runIf(REPORT)('legacy optimizer states (versions 1 and 2: no checksum), measured', () => {
  test.each(KINDS)('%s', (name, make) => {
    for (const version of [1, 2] as const) {
      // version 1 holds f32 tensors only
      const bytes = encodeOptimizerState(trained(make, version === 2).state(), { version });
      restoreOptimizer(bytes);
      const headerEnd = 12 + new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
      rows.push(corruptAll(`${name} (v${version})`, bytes, (b) => restoreOptimizer(b), headerEnd));
    }
  });
});

if (REPORT) {
  test('report', () => {
    const line = (r: CorruptionRow) =>
      `| ${r.kind} | ${r.bytes} | ${r.variants} | ${r.loadedSilently} (${r.silentInHeader}) | ${r.rejected} | ${r.rawErrors} | ${r.slow} | ${r.slowestMs.toFixed(1)} |`;
    console.log(
      [
        '| file kind | bytes | variants tried | loaded silently (of them in the header) | rejected | raw errors | hangs (> 1 s) | slowest load (ms) |',
        '|---|---|---|---|---|---|---|---|',
        ...rows.map(line),
      ].join('\n'),
    );
  });
}
