/**
 * The one training loop (lib/train/loop.ts) and the one checkpoint format
 * (lib/train/checkpoint.ts): fit gives the event loop its turns and obeys an AbortSignal,
 * an aborted fit resumes bit for bit, fit and fitSync are the same loop, TaskRun steps
 * through it too, and a checkpoint that is truncated, bit-flipped, of another version or
 * kind, or has a bad field is refused with an error naming the file and the field.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { TaskRun } from '../lib/compare/run.js';
import { Adam, EntropyTracker, mlp, SoftmaxCrossEntropy, Trainer } from '../lib/index.js';
import {
  CHECKPOINT_VERSION,
  CimmCheckpointError,
  checkpointText,
  readCheckpoint,
  saveCheckpoint,
} from '../lib/train/checkpoint.js';
import { type LoopProgram, runLoop, runLoopSync, trainingLoop } from '../lib/train/loop.js';
import { classes } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cimm-loop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

function trainer(width = 16) {
  return new Trainer({
    model: mlp([2, width, 3], { activation: 'tanh', seed: 4 }),
    loss: new SoftmaxCrossEntropy(),
    optimizer: new Adam({ learningRate: 0.01 }),
  });
}

const paramBits = (t: Trainer) => Object.values(t.model.params).map(bits);
const json = (v: unknown) => JSON.parse(JSON.stringify(v));

describe('the loop', () => {
  test('calls the program in its documented order', () => {
    const calls: string[] = [];
    let stopAfter = Number.POSITIVE_INFINITY;
    let steps = 0;
    const program: LoopProgram = {
      stepsPerEpoch: 2,
      epochs: 3,
      maxSteps: Number.POSITIVE_INFINITY,
      checkpointEvery: 3,
      beginEpoch: (p) => calls.push(`begin ${p.epoch}.${p.batchIndex}`),
      step: (p) => {
        calls.push(`step ${p.step}`);
        steps++;
      },
      endEpoch: (p) => {
        calls.push(`end ${p.epoch}`);
        return null;
      },
      stopRequested: () => (steps >= stopAfter ? 'stopped' : null),
      save: (p, reason) => calls.push(`save ${p.step} ${reason}`),
    };
    const position = { epoch: 0, batchIndex: 0, step: 0 };
    expect(runLoopSync(trainingLoop(program, position))).toBe('epochs');
    expect(calls).toEqual([
      'begin 0.0',
      'step 0',
      'step 1',
      'end 0',
      'begin 1.0',
      'step 2',
      'save 3 null',
      'step 3',
      'end 1',
      'begin 2.0',
      'step 4',
      'step 5',
      'save 6 null',
      'end 2',
      'save 6 epochs',
    ]);
    expect(position).toEqual({ epoch: 3, batchIndex: 0, step: 6 });
    // resumed in the middle of an epoch: the order is restored before the next step;
    // a stop asked for after a step ends the loop before the next one (and is saved)
    calls.length = 0;
    steps = 0;
    stopAfter = 2;
    const middle = { epoch: 1, batchIndex: 1, step: 3 };
    expect(runLoopSync(trainingLoop(program, middle))).toBe('stopped');
    expect(calls).toEqual(['begin 1.1', 'step 3', 'end 1', 'begin 2.0', 'step 4', 'save 5 stopped']);
    // an aborted signal ends it before any step
    const ac = new AbortController();
    ac.abort();
    calls.length = 0;
    stopAfter = Number.POSITIVE_INFINITY;
    expect(runLoopSync(trainingLoop(program, { epoch: 0, batchIndex: 0, step: 0 }, ac.signal))).toBe('aborted');
    expect(calls).toEqual(['save 0 aborted']);
  });

  test('runLoop gives the event loop a turn after every step; runLoopSync does not', async () => {
    const turns: number[] = [];
    let step = 0;
    const program = (): LoopProgram => ({
      stepsPerEpoch: 5,
      epochs: 1,
      maxSteps: Number.POSITIVE_INFINITY,
      checkpointEvery: 0,
      beginEpoch: () => {},
      step: () => {
        step++;
        setImmediate(() => turns.push(step));
      },
      stopRequested: () => null,
    });
    await runLoop(trainingLoop(program(), { epoch: 0, batchIndex: 0, step: 0 }));
    expect(turns).toEqual([1, 2, 3, 4, 5]);
    turns.length = 0;
    step = 0;
    runLoopSync(trainingLoop(program(), { epoch: 0, batchIndex: 0, step: 0 }));
    expect(turns).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(turns).toEqual([5, 5, 5, 5, 5]);
  });
});

describe('Trainer.fit does not block the event loop', () => {
  test('a 10 ms interval timer fires during fit (and not during fitSync)', async () => {
    const data = classes(600);
    const opts = { epochs: 40, batchSize: 8 };
    const ticks = async (run: () => unknown) => {
      let n = 0;
      const timer = setInterval(() => n++, 10);
      const t0 = performance.now();
      await run();
      const ms = performance.now() - t0;
      clearInterval(timer);
      return { n, ms };
    };
    const sync = await ticks(() => trainer().fitSync(data, opts));
    const async_ = await ticks(() => trainer().fit(data, opts));
    expect(sync.n).toBe(0);
    // the run must be long enough for the test to mean something
    expect(async_.ms).toBeGreaterThan(50);
    expect(async_.n).toBeGreaterThanOrEqual(Math.floor(async_.ms / 10 / 4));
  });

  test('fit and fitSync are the same loop: bit-identical parameters and history', async () => {
    const data = classes(90);
    const opts = { epochs: 4, batchSize: 16, validationSplit: 0.2, seed: 3 };
    const a = trainer();
    const b = trainer();
    const ha = await a.fit(data, opts);
    const hb = b.fitSync(data, opts);
    expect(paramBits(a)).toEqual(paramBits(b));
    expect(json(ha)).toEqual(json(hb));
  });

  test('abort mid-fit: stops after the current step, keeps the checkpoint, resumes bit for bit', async () => {
    const data = classes(90);
    const opts = { epochs: 5, batchSize: 16, validationSplit: 0.2, seed: 3 };
    const straight = trainer();
    const h1 = await straight.fit(data, opts);

    const path = join(dir, 'aborted.json');
    const ac = new AbortController();
    const first = trainer();
    // abort from a timer-like source while the fit is awaiting its turn: after step 7
    const h = await first.fit(data, {
      ...opts,
      signal: ac.signal,
      checkpoint: { path, every: 100 },
      callbacks: { onStepEnd: (e) => e.record.step === 7 && setImmediate(() => ac.abort()) },
    });
    expect(h.stopReason).toBe('aborted');
    // the abort is seen after the step in flight when it arrived, not later
    expect(h.steps).toHaveLength(8);
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.body.progress.step).toBe(8);
    expect(saved.body.history.stopReason).toBe('aborted');

    const resumed = trainer(16);
    resumed.model.params['0.weight'].fill(0.25);
    const h2 = await resumed.fit(data, { ...opts, resumeFrom: path });
    expect(json(h2)).toEqual(json(h1));
    expect(paramBits(resumed)).toEqual(paramBits(straight));
  });

  test('an already aborted signal runs no step; a second concurrent fit is refused', async () => {
    const ac = new AbortController();
    ac.abort();
    const t = trainer();
    const before = paramBits(t);
    const h = await t.fit(classes(30), { signal: ac.signal });
    expect(h.stopReason).toBe('aborted');
    expect(h.steps).toEqual([]);
    expect(paramBits(t)).toEqual(before);
    const running = t.fit(classes(300), { epochs: 3, batchSize: 4 });
    await expect(t.fit(classes(30))).rejects.toThrow(/already fitting/);
    await running;
    await expect(t.fit(classes(30), { signal: 'stop' as unknown as AbortSignal })).rejects.toThrow(/signal/);
  });

  test('the checkpoint path is checked before any step: a missing directory or a directory is refused', async () => {
    const t = trainer();
    const before = paramBits(t);
    await expect(t.fit(classes(30), { checkpoint: { path: join(dir, 'nope', 'x.json') } })).rejects.toThrow(
      /checkpoint\.path.*does not exist/,
    );
    await expect(t.fit(classes(30), { checkpoint: { path: dir } })).rejects.toThrow(/is a directory/);
    expect(paramBits(t)).toEqual(before);
    expect(t.history.steps).toEqual([]);
  });
});

describe('TaskRun steps through the same loop', () => {
  const job = {
    id: 0,
    task: 'iris' as const,
    optimizer: 'Adam',
    lr: 0.01,
    seed: 3,
    steps: 40,
    points: 5,
    atDefault: false,
  };

  test('run() with an AbortSignal stops after the current step, saves, and resumes bit for bit', async () => {
    const whole = new TaskRun({ ...job, taskOptions: { batchSize: 16 } });
    whole.runUntil();
    const path = join(dir, 'task-run.json');
    const run = new TaskRun({ ...job, taskOptions: { batchSize: 16 } });
    const ac = new AbortController();
    const reason = await run.run(undefined, {
      signal: ac.signal,
      checkpoint: { path, every: 1000 },
      onProgress: (done) => done === 13 && ac.abort(),
    });
    expect(reason).toBe('aborted');
    expect(run.stepsDone).toBe(13);
    const back = TaskRun.load(path);
    expect(back.stepsDone).toBe(13);
    expect(await back.run()).toBe('maxSteps');
    expect(bits(back.parameters() as Float32Array)).toBe(bits(whole.parameters() as Float32Array));
    expect(back.result()).toEqual(whole.result());
  });
});

describe('the checkpoint file', () => {
  const data = classes(40);
  const opts = { epochs: 2, batchSize: 8, seed: 1 };
  const good = join(dir, 'good.json');
  const make = () => trainer().fitSync(data, { ...opts, maxSteps: 3, checkpoint: { path: good } });
  const resume = (path: string) => () => trainer().fitSync(data, { ...opts, resumeFrom: path });
  const copy = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('is the envelope {format, version, kind, sha256, body} and resumes', () => {
    make();
    const text = readFileSync(good, 'utf8');
    const file = JSON.parse(text);
    expect(Object.keys(file)).toEqual(['format', 'version', 'kind', 'sha256', 'body']);
    expect(file).toMatchObject({ format: 'cimm-checkpoint', version: CHECKPOINT_VERSION, kind: 'fit' });
    expect(checkpointText('fit', file.body)).toBe(text);
    expect(resume(good)().steps).toHaveLength(10);
  });

  test('a truncated file is refused, naming the file', () => {
    make();
    const text = readFileSync(good, 'utf8');
    for (const cut of [0, 1, 40, Math.floor(text.length / 2), text.length - 3]) {
      const path = copy(`cut-${cut}.json`, text.slice(0, cut));
      expect(resume(path), `cut at ${cut}`).toThrow(CimmCheckpointError);
      expect(resume(path)).toThrow(new RegExp(`checkpoint ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not JSON`));
    }
  });

  test('a flipped bit anywhere in the body fails the checksum (or the JSON)', () => {
    make();
    const bytes = readFileSync(good);
    const bodyStart = bytes.indexOf('"body":') + 7;
    // flip one bit in many places of the body: in a digit, a key, base64 of θ, …
    let checked = 0;
    for (let i = bodyStart; i < bytes.length - 2; i += 97) {
      const flipped = Buffer.from(bytes);
      flipped[i] ^= 0x04;
      const path = copy('flip.json', flipped.toString('latin1'));
      let err: unknown;
      try {
        resume(path)();
      } catch (e) {
        err = e;
      }
      expect(err, `bit flip at byte ${i}`).toBeInstanceOf(CimmCheckpointError);
      expect((err as Error).message).toMatch(/SHA-256|not JSON|body/);
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
    // the digest itself flipped
    const file = JSON.parse(bytes.toString('utf8'));
    file.sha256 = file.sha256.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    expect(resume(copy('digest.json', JSON.stringify(file)))).toThrow(/does not match its SHA-256/);
  });

  test('another format, version or kind is refused with what it is', () => {
    make();
    const file = JSON.parse(readFileSync(good, 'utf8'));
    const cases: [object, RegExp][] = [
      [{ ...file, version: 1 }, /version: expected 2 but found 1 .*no checksum/],
      [{ ...file, version: 3 }, /version: expected 2 but found 3/],
      [{ ...file, format: 'cimm-task-run' }, /format: .*old format/],
      [{ ...file, format: 'keras' }, /format: expected "cimm-checkpoint"/],
      [{ ...file, kind: 'task-run' }, /kind: expected "fit" .*cimm train/],
      [[1, 2], /a checkpoint \(a JSON object\)/],
    ];
    for (const [body, message] of cases) {
      const path = copy('other.json', JSON.stringify(body));
      expect(resume(path)).toThrow(message);
      expect(resume(path)).toThrow(path);
    }
    // a TaskRun refuses a fit checkpoint the same way
    expect(() => TaskRun.load(good)).toThrow(/kind: expected "task-run" .*Trainer\.fit/);
  });

  test('every field is validated like user input, by name, before anything changes', () => {
    make();
    const { body } = JSON.parse(readFileSync(good, 'utf8'));
    const p = body.progress;
    const cases: [string, (b: typeof body) => unknown, RegExp][] = [
      ['epoch past the plan', (b) => ({ ...b, progress: { ...p, epoch: 9 } }), /body\.progress\.epoch/],
      ['negative batch', (b) => ({ ...b, progress: { ...p, batchIndex: -1 } }), /body\.progress\.batchIndex/],
      ['step inconsistent', (b) => ({ ...b, progress: { ...p, step: 4 } }), /body\.progress\.step/],
      ['step a string', (b) => ({ ...b, progress: { ...p, step: '3' } }), /body\.progress\.step/],
      ['rng too short', (b) => ({ ...b, progress: { ...p, epochRng: [1, 2] } }), /body\.progress\.epochRng/],
      ['loss sum not a number', (b) => ({ ...b, progress: { ...p, epochLossSum: null } }), /epochLossSum/],
      ['wait past epochs', (b) => ({ ...b, progress: { ...p, wait: 5 } }), /body\.progress\.wait/],
      ['θ truncated', (b) => ({ ...b, params: { ...b.params, '0.weight': 'AAAA' } }), /body\.params\["0\.weight"\]/],
      ['θ not finite', (b) => ({ ...b, params: { ...b.params, '0.bias': nanBias(b) } }), /body\.params\["0\.bias"\]/],
      ['other batch size', (b) => ({ ...b, plan: { ...b.plan, batchSize: 4 } }), /body\.plan\.batchSize/],
      ['other data size', (b) => ({ ...b, plan: { ...b.plan, trainRows: 41 } }), /body\.plan\.trainRows/],
      ['other model', (b) => ({ ...b, model: { layers: [] } }), /body\.model/],
      ['other optimizer', (b) => ({ ...b, optimizer: { ...b.optimizer, kind: 'SGD' } }), /body\.optimizer\.kind/],
      ['optimizer bytes', (b) => ({ ...b, optimizer: { ...b.optimizer, state: 'AAAA' } }), /body\.optimizer\.state/],
      ['history too short', (b) => ({ ...b, history: { ...b.history, steps: [] } }), /body\.history\.steps/],
      [
        'history loss a string',
        (b) => ({ ...b, history: { ...b.history, steps: b.history.steps.map((s: object) => ({ ...s, loss: 'x' })) } }),
        /body\.history\.steps\[0\]\.loss/,
      ],
    ];
    for (const [name, edit, message] of cases) {
      const path = copy('field.json', checkpointText('fit', edit(structuredClone(body))));
      const t = trainer();
      const before = paramBits(t);
      expect(() => t.fitSync(data, { ...opts, resumeFrom: path }), name).toThrow(message);
      expect(() => t.fitSync(data, { ...opts, resumeFrom: path }), name).toThrow(path);
      // nothing was loaded
      expect(paramBits(t), name).toEqual(before);
    }
  });

  test('a trainer with an entropy tracker refuses a checkpoint without its state', () => {
    const withTracker = () =>
      new Trainer({
        model: mlp([2, 16, 3], { activation: 'tanh', seed: 4 }),
        loss: new SoftmaxCrossEntropy(),
        optimizer: new Adam({ learningRate: 0.01 }),
        entropy: new EntropyTracker(),
      });
    const path = join(dir, 'tracker.json');
    withTracker().fitSync(data, { ...opts, maxSteps: 3, checkpoint: { path } });
    const { body } = JSON.parse(readFileSync(path, 'utf8'));
    expect(body.entropy).not.toBeNull();
    expect(withTracker().fitSync(data, { ...opts, resumeFrom: path }).steps).toHaveLength(10);
    const edited = copy('tracker-edited.json', checkpointText('fit', { ...body, entropy: null }));
    expect(() => withTracker().fitSync(data, { ...opts, resumeFrom: edited })).toThrow(/body\.entropy/);
  });

  test('a killed writer’s stale .tmp is removed by the next save; a live one is left', () => {
    const path = join(dir, 'stale.json');
    // pid 2^22 + 1 is above Linux's pid_max default: no such process
    const stale = join(dir, `.stale.json.${2 ** 22 + 1}.tmp`);
    const live = join(dir, `.stale.json.${process.ppid}.tmp`);
    writeFileSync(stale, '{"format": "cimm-chec');
    writeFileSync(live, '{');
    saveCheckpoint(path, 'fit', { a: 1 });
    const left = readdirSync(dir).filter((f) => f.startsWith('.stale.json.'));
    expect(left).toEqual([`.stale.json.${process.ppid}.tmp`]);
    expect(readCheckpoint(path, 'fit')).toEqual({ a: 1 });
    rmSync(live);
  });
});

/** Base64 of the first layer's bias with a NaN in it. */
function nanBias(b: { params: Record<string, string> }): string {
  const v = new Float32Array(new Uint8Array(Buffer.from(b.params['0.bias'], 'base64')).buffer);
  v[0] = Number.NaN;
  return Buffer.from(v.buffer).toString('base64');
}
