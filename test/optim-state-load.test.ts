/**
 * Loading saved optimizer state (lib/optim/state.ts, Optimizer.loadState): format versions,
 * the checksum, validation of every field with the file and the field named, consistency
 * with the model's parameters, atomic files; and the bounded mkdir behind atomic writes.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { makeDirectory, writeFileAtomic } from '../lib/atomic-file.js';
import {
  Adam,
  CimmStateError,
  EntropyBalancedOptimizer,
  encodeOptimizerState,
  optimizerStateVersion,
  restoreOptimizer,
  restoreOptimizerFile,
  SGD,
} from '../lib/index.js';
import { expectError } from './helpers.js';
import { trainedWith } from './optimizer-kinds.js';

const dir = mkdtempSync(join(tmpdir(), 'cimm-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('optimizer state files', () => {
  test('saveState writes version 3 atomically; loadStateFile and restoreOptimizerFile read it back bit for bit', () => {
    const { opt } = trainedWith(() => new Adam({ learningRate: 0.01 }));
    const path = join(dir, 'adam.state');
    opt.saveState(path);
    const bytes = new Uint8Array(readFileSync(path));
    expect(optimizerStateVersion(bytes)).toBe(3);
    expect(bytes).toEqual(opt.serializeState());
    expect(restoreOptimizerFile(path).serializeState()).toEqual(bytes);
    const other = new Adam();
    other.loadStateFile(path);
    expect(other.serializeState()).toEqual(bytes);
  });

  test('a damaged file is refused naming the file; a bad field names the file and the field', () => {
    const { opt } = trainedWith(() => new Adam({ learningRate: 0.01 }));
    const path = join(dir, 'damaged.state');
    const bytes = opt.serializeState();
    const flipped = bytes.slice();
    flipped[40] ^= 4;
    writeFileSync(path, flipped);
    const target = new Adam();
    const before = target.serializeState();
    let error: unknown;
    try {
      target.loadStateFile(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CimmStateError);
    expect((error as CimmStateError).source).toBe(path);
    expect((error as Error).message).toBe(
      `cimm: optimizer state ${path}: not a usable cimm optimizer state: its bytes do not match their SHA-256: the state was damaged, cut short or edited`,
    );
    expect(target.serializeState()).toEqual(before);
    // a field: re-encoded (a valid checksum) with a negative second moment
    const state = opt.state();
    state.tensors['w/v'][1] = -1;
    writeFileSync(path, encodeOptimizerState(state));
    expect(() => target.loadStateFile(path)).toThrow(
      `cimm: optimizer state ${path}: Expected finite values >= 0 for state.tensors["w/v"] but received -1 at index 1 of Float32Array(5) of type Float32Array`,
    );
    expectError(() => restoreOptimizerFile(path), `${path}: state.tensors["w/v"]`);
    expect(() => restoreOptimizerFile(join(dir, 'missing.state'))).toThrow(/missing\.state: cannot read it/);
  });

  test('versions 1 and 2 load with the same validation (no checksum): a NaN or a negative v is refused', () => {
    const { opt } = trainedWith(() => new Adam({ learningRate: 0.01 }), false);
    const state = opt.state();
    for (const version of [1, 2] as const) {
      expect(restoreOptimizer(encodeOptimizerState(state, { version })).serializeState()).toEqual(opt.serializeState());
      const bad = structuredClone(state);
      bad.tensors['b/m'][0] = Number.NaN;
      expectError(() => restoreOptimizer(encodeOptimizerState(bad, { version })), 'state.tensors["b/m"]');
      const negative = structuredClone(state);
      negative.tensors['w/v'][2] = -0.5;
      expectError(() => restoreOptimizer(encodeOptimizerState(negative, { version })), 'state.tensors["w/v"]');
    }
  });

  test("a wrapper's inner state errors name the field as the wrapper's state names it", () => {
    const { opt } = trainedWith(() => new EntropyBalancedOptimizer({ computeMeter: null }));
    const state = opt.state();
    state.tensors['inner/w/v'][0] = -2;
    expectError(() => restoreOptimizer(state), 'state.tensors["inner/w/v"]');
    const scalars = structuredClone(state.scalars) as unknown as { inner: { scalars: { iterations: number } } };
    scalars.inner.scalars.iterations = -1;
    expectError(
      () => restoreOptimizer({ ...opt.state(), scalars: scalars as never }),
      'state.scalars.inner.scalars.iterations',
    );
  });

  test("loadState({ params }): the state must fit the model's parameters (names, lengths, dtypes)", () => {
    const { opt, params } = trainedWith(() => new Adam({ learningRate: 0.01 }));
    const bytes = opt.serializeState();
    const fresh = new Adam();
    fresh.loadState(bytes, { params });
    expect(fresh.serializeState()).toEqual(bytes);
    expectError(
      () => new Adam().loadState(bytes, { params: { ...params, w: new Float32Array(4) } }),
      'state.tensors["w/m"]',
      'Expected a Float32Array of length 4 for state.tensors["w/m"] but received Float32Array(5) of type Float32Array',
    );
    expectError(
      () => new Adam().loadState(bytes, { params: { ...params, b: new Float32Array(3) } }),
      'state.tensors["b/m"]',
    );
    expectError(() => new Adam().loadState(bytes, { params: { w: params.w } }), 'state.scalars.steps["b"]');
    // through a wrapper: the inner state is checked against the same parameters
    const eb = trainedWith(() => new EntropyBalancedOptimizer({ computeMeter: null }));
    expectError(
      () => new EntropyBalancedOptimizer().loadState(eb.opt.serializeState(), { params: { w: eb.params.w } }),
      'state.scalars.inner.scalars.steps["b"]',
    );
  });

  test('step counts: a parameter with state was updated (≥ 1), never more often than step() was called', () => {
    const { opt } = trainedWith(() => new SGD({ learningRate: 0.1, momentum: 0.9 }));
    const state = opt.state();
    expectError(
      () => restoreOptimizer({ ...state, scalars: { ...state.scalars, steps: { ...state.scalars.steps, w: 0 } } }),
      'state.scalars.steps["w"]',
    );
    expectError(
      () => restoreOptimizer({ ...state, scalars: { ...state.scalars, steps: { ...state.scalars.steps, w: 1.5 } } }),
      'state.scalars.steps["w"]',
    );
    expectError(
      () => restoreOptimizer({ ...state, scalars: { ...state.scalars, iterations: 2 ** 60 } }),
      'state.scalars.iterations',
    );
  });
});

describe('makeDirectory (mkdir -p for atomic writes)', () => {
  test('creates every missing level', () => {
    const deep = join(dir, 'a', 'b', 'c');
    makeDirectory(deep);
    expect(statSync(deep).isDirectory()).toBe(true);
    makeDirectory(deep); // exists: nothing to do
    writeFileAtomic(join(dir, 'x', 'y', 'file.txt'), 'hi');
    expect(readFileSync(join(dir, 'x', 'y', 'file.txt'), 'utf8')).toBe('hi');
  });

  test.runIf(process.platform === 'linux')(
    "under /proc it fails at once (Node's recursive mkdir spins for ever there)",
    () => {
      expect(() => makeDirectory('/proc/nope/deeper')).toThrow(/ENOENT|EACCES|EPERM/);
      expect(() => writeFileAtomic('/proc/nope/x.json', '{}')).toThrow(/ENOENT|EACCES|EPERM/);
    },
  );

  test('a file where a directory should be is an error', () => {
    writeFileSync(join(dir, 'plain'), '');
    expect(() => makeDirectory(join(dir, 'plain', 'sub'))).toThrow(/ENOTDIR|EEXIST/);
  });
});
