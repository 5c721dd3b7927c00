/**
 * Facade targets that are a short sequence rather than one call: an optimizer stepping with
 * random gradients, its saved state loaded from mutated bytes, a Trainer on a tiny model,
 * a resume from a mutated checkpoint. Each takes the library as its first argument and uses
 * nothing else outside itself (a reproducer prints its source), except node:fs/os/path
 * handed in through `cimm.__node` by the runner.
 */

/** What the scenarios use of the library (its public exports, untyped: the fuzz hands them anything). */
// biome-ignore lint/suspicious/noExplicitAny: the scenarios call the public API with hostile values on purpose
type Lib = Record<string, any>;

/** `steps` optimizer steps of `kind` on {w, b} with the given grads (one map, reused each step). */
export async function fuzzOptimizerStep(
  cimm: Lib,
  kind: string,
  options: unknown,
  params: unknown,
  grads: unknown,
  steps: number,
): Promise<unknown> {
  const optimizer = new cimm[kind](options);
  for (let s = 0; s < steps; s++) optimizer.step(params, grads);
  return params;
}

/** Serialize a stepped optimizer's state, flip bits / truncate, and restore it. */
export async function fuzzStateBytes(
  cimm: Lib,
  kind: string,
  length: number,
  flips: number[],
  truncate: number,
): Promise<unknown> {
  const optimizer = new cimm[kind]({ learningRate: 0.01 });
  const w = new Float32Array(length).map((_, i) => Math.sin(i + 1));
  const g = new Float32Array(length).map((_, i) => Math.cos(i + 1));
  optimizer.step({ w }, { w: g });
  let bytes: Uint8Array = optimizer.serializeState();
  for (const f of flips) {
    const bit = f % (bytes.length * 8);
    bytes[bit >> 3] ^= 1 << (bit & 7);
  }
  if (truncate > 0) bytes = bytes.subarray(0, Math.max(0, bytes.length - truncate));
  const restored = cimm.restoreOptimizer(bytes);
  // A loaded state must at least step: its tensors are used right away.
  restored.step({ w }, { w: g });
  return w;
}

/** A tiny mlp trained by Trainer.fit on random rows. */
export async function fuzzTrainerFit(
  cimm: Lib,
  sizes: unknown,
  modelOptions: unknown,
  x: unknown,
  y: unknown,
  fit: unknown,
): Promise<unknown> {
  const model = cimm.mlp(sizes, modelOptions);
  const trainer = new cimm.Trainer({ model, loss: new cimm.MeanSquaredError(), optimizer: new cimm.Adam() });
  const history = await trainer.fit({ x, y }, fit);
  return history.steps.map((s: { loss: number }) => s.loss);
}

/** Fit with a checkpoint, mutate the file (bit flips, truncation, a field replaced), resume from it. */
export async function fuzzResume(cimm: Lib, flips: number[], truncate: number, replace: unknown[]): Promise<unknown> {
  const { mkdtempSync, readFileSync, writeFileSync, rmSync } = cimm.__node.fs;
  const dir = mkdtempSync(cimm.__node.path.join(cimm.__node.os.tmpdir(), 'cimm-fuzz-'));
  try {
    const path = cimm.__node.path.join(dir, 'c.json');
    const rows = 12;
    const x = new Float32Array(rows * 2).map((_, i) => Math.sin(i));
    const y = new Float32Array(rows).map((_, i) => Math.cos(i));
    const make = () =>
      new cimm.Trainer({
        model: cimm.mlp([2, 3, 1], { seed: 1 }),
        loss: new cimm.MeanSquaredError(),
        optimizer: new cimm.Adam(),
      });
    await make().fit({ x, y }, { epochs: 1, batchSize: 4, checkpoint: { path } });
    let text: string = readFileSync(path, 'utf8');
    if (replace.length === 2) {
      const saved = JSON.parse(text);
      const keys = String(replace[0]).split('.');
      let o = saved;
      for (const k of keys.slice(0, -1)) o = o?.[k];
      if (o && typeof o === 'object') o[keys[keys.length - 1]] = replace[1];
      text = JSON.stringify(saved);
    }
    const bytes = Buffer.from(text);
    for (const f of flips) {
      const bit = f % (bytes.length * 8);
      bytes[bit >> 3] ^= 1 << (bit & 7);
    }
    writeFileSync(path, truncate > 0 ? bytes.subarray(0, Math.max(0, bytes.length - truncate)) : bytes);
    const history = await make().fit({ x, y }, { epochs: 2, batchSize: 4, resumeFrom: path });
    return history.steps.length;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const SCENARIOS = { fuzzOptimizerStep, fuzzStateBytes, fuzzTrainerFit, fuzzResume } as const;

/** The scenario called `name`, if there is one. */
export function scenarioOf(name: string): ((cimm: Lib, ...args: never[]) => Promise<unknown>) | undefined {
  return Object.hasOwn(SCENARIOS, name) ? SCENARIOS[name as keyof typeof SCENARIOS] : undefined;
}
