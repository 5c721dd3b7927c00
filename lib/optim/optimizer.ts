/**
 * The optimizer base (TF.js's Optimizer and PyTorch's torch.optim.Optimizer, in cimm's
 * terms): named parameters updated in place, per-group options, state per named
 * parameter, JSON config and exact state round trips. docs/theory.md, "Optimizers".
 *
 * - `step(params, grads)` takes the parameters and their gradients by name (two objects
 *   with the same keys, Float32Array or Float64Array values of matching lengths, a
 *   gradient of its parameter's dtype) and updates every parameter in place: one native
 *   kernel call per parameter tensor, in the parameter's arithmetic (f32 or f64;
 *   docs/theory.md, "Float64 parameters"). A parameter's state tensors have its dtype.
 * - Options apply to every parameter unless a group names it: `groups: [{ params: ["bias"],
 *   weightDecay: 0 }]` (PyTorch's param_groups, by name so that the config is JSON).
 * - State (moment buffers) is created on a parameter's first step and kept per name; a
 *   parameter's own step count drives its bias corrections, as in PyTorch.
 * - Gradients are checked before anything is written: a NaN or ±∞ anywhere throws a
 *   CimmArgumentError naming the parameter and the index, and no parameter or state
 *   changes. A step that makes a parameter non-finite (an overflowing learning rate, or
 *   non-finite parameters passed in) completes and then throws a CimmDivergenceError naming
 *   it (the step and the parameter).
 */
import { kernels } from '../backend.js';
import { argumentError, CimmArgumentError, CimmDivergenceError, describeValue, typeOf } from '../errors.js';
import { boolean, detachedView, finiteNumber, float64Array, integer } from '../is.js';
import type { Kernels, Real } from '../kernels.js';
import {
  decodeOptimizerState,
  encodeOptimizerState,
  type OptimizerState,
  readOptimizerStateFile,
  type StateSource,
  setOwn,
  stateError,
  writeOptimizerStateFile,
} from './state.js';

export type { Real };

/** Float32Arrays by parameter name. */
export type TensorMap = Record<string, Float32Array>;

/**
 * Parameters, gradients or state tensors by name, each a Float32Array or a Float64Array
 * (the optimizers' argument type: a TensorMap is one).
 */
export type RealTensorMap = Record<string, Real>;

/** The typed-array constructor of `a`'s dtype. */
export function dtypeOf(a: Real): Float32ArrayConstructor | Float64ArrayConstructor {
  return a instanceof Float64Array ? Float64Array : Float32Array;
}

/**
 * A Float32Array or Float64Array (of `length`, when given), else an error naming `name`.
 * A Proxy of one passes `instanceof` but not ArrayBuffer.isView: it is refused, since its
 * elements could read one way for the check and another for the update.
 */
export function realArray(name: string, value: unknown, length?: number): Real {
  if (
    !(value instanceof Float32Array || value instanceof Float64Array) ||
    !ArrayBuffer.isView(value) ||
    (length !== undefined && value.length !== length)
  ) {
    const what = `a Float32Array or Float64Array${length === undefined ? '' : ` of length ${length}`}`;
    throw argumentError(name, what, value);
  }
  attached(name, value);
  return value;
}

/** A view whose buffer was detached or shrunk below it is an error naming it (every copy of it would throw). */
function attached(name: string, value: Real): void {
  if (detachedView(value)) {
    throw argumentError(
      name,
      `a ${value.constructor.name} whose buffer is attached and in bounds (not detached, transferred or shrunk)`,
      value,
    );
  }
}

/**
 * An array of `like`'s dtype (and length, when given), else an error naming `name`; when the
 * value is a float array of the other dtype, the message says whose dtype it must have.
 */
export function sameDtypeArray(name: string, value: unknown, like: Real, whose: string, length?: number): Real {
  const ctor = dtypeOf(like);
  if (!(value instanceof ctor) || !ArrayBuffer.isView(value) || (length !== undefined && value.length !== length)) {
    const sized = length === undefined ? '' : ` of length ${length}`;
    const mixed = value instanceof Float32Array || value instanceof Float64Array ? ` (the dtype of ${whose})` : '';
    throw argumentError(name, `a ${ctor.name}${sized}${value instanceof ctor ? '' : mixed}`, value);
  }
  attached(name, value);
  return value;
}

/**
 * What a training loop knows about the step besides the gradients, passed as step()'s
 * third argument (every optimizer accepts it; the plain ones ignore it). The loss-driven
 * optimizers (EntropyBalancedOptimizer, StabilizedOptimizer) read it; docs/theory.md,
 * "Entropy-balanced learning rate", says what each needs.
 */
export interface StepObservation {
  /** L(θ): the loss at the parameters the gradients were taken at (before this step). */
  loss?: number;
  /**
   * With mini-batches: the previous step's batch evaluated at the current parameters, so
   * the loss meter measures the last update on one batch (one extra forward pass).
   */
  previousBatchLoss?: number;
  /** Predictive probabilities at θ, N examples × K classes row-major (predictive-entropy meter). */
  probabilities?: Float32Array | Float64Array;
}

/**
 * The diagonal metric M of an optimizer's step for one parameter: its update is
 * Δθ = −η M⁻¹ d for some direction d, so ½ Δθᵀ M Δθ is the update's kinetic energy in
 * units where η is that optimizer's learning rate. M_i = weight · (√(tensor_i) · scale + ε)
 * when `tensor` is given (Adam's √v̂ + ε), else weight · 1. The learning-rate rules' kinetic
 * meter reads it (docs/theory.md, "Entropy-balanced learning rate").
 */
export interface StepMetric {
  weight: number;
  /** A live state tensor (not a copy; read it before the next step), or undefined for M = weight·I. */
  tensor?: Real;
  scale: number;
  epsilon: number;
}

/** M = I. */
export const IDENTITY_METRIC: Readonly<StepMetric> = Object.freeze({ weight: 1, scale: 1, epsilon: 0 });

/** Options of loadState: where the state came from, and the parameters it must fit. */
export interface LoadStateOptions extends StateSource {
  /** The model's parameters: the state's parameters must be among them, of their lengths and dtypes. */
  params?: RealTensorMap;
}

/** Options every optimizer has. */
export interface OptimizerOptions {
  /** η, the learning rate (≥ 0). */
  learningRate: number;
}

/** A parameter group: the parameters it names take these options instead of the optimizer's. */
export type ParameterGroup<O extends OptimizerOptions> = { params: string[] } & Partial<O>;

/** An optimizer's JSON configuration: its options and its groups. */
export type OptimizerConfig<O extends OptimizerOptions> = O & { groups: ParameterGroup<O>[] };

/** What an optimizer's constructor accepts: any options (defaults fill the rest) and groups. */
export type OptimizerArgs<O extends OptimizerOptions> = Partial<O> & { groups?: ParameterGroup<O>[] };

/** How one option is defaulted and validated. */
export interface OptionSpec {
  default: unknown;
  /** Returns the validated value or throws an error naming `name`. */
  check: (name: string, value: unknown) => unknown;
}

/** An empty Float32Array, for kernel arguments an optimizer does not use. */
export const NO_TENSOR: Float32Array = new Float32Array(0);

/** One parameter's sums of a measured step (measuredStep()), reused. */
const SUMS = new Float64Array(3);

/** What a measured step writes: the snapshot and the sums (measuredStep()). */
interface Measure {
  before: RealTensorMap;
  sums: Float64Array;
}

/** One parameter's part of a step (Optimizer.updateAll). */
export interface UpdateEntry<O> {
  name: string;
  params: Real;
  grads: Real;
  slots: RealTensorMap;
  options: O;
  /** This parameter's step number (1 on its first update). */
  step: number;
  /** True when its state was just created. */
  fresh: boolean;
}

interface ResolvedGroup<O> {
  params: string[];
  overrides: Partial<O>;
  options: O;
}

function plainObject(name: string, value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw argumentError(name, what, value);
  }
  return value as Record<string, unknown>;
}

const key = (name: string) => JSON.stringify(name);

/**
 * A plain copy of one of a step's maps (params, grads, before), each property read once: a
 * getter or a Proxy cannot show the checks one array and the update another, since
 * everything after this reads the copy (issue 15, "arguments read once").
 */
export function readOnce(name: string, value: unknown): RealTensorMap {
  const map = plainObject(name, value, 'an object of Float32Arrays or Float64Arrays by parameter name');
  const out: RealTensorMap = {};
  for (const k of Object.keys(map)) {
    // plain assignment is several times faster than defineProperty; "__proto__" needs the latter
    if (k === '__proto__') setOwn(out, k, map[k] as Real);
    else out[k] = map[k] as Real;
  }
  return out;
}

/** A step's observation with each field read once (a shallow copy); anything else as given, for the checks to refuse. */
export function observationOnce<T>(observation: T): T {
  return observation !== null && typeof observation === 'object' && !Array.isArray(observation)
    ? ({ ...observation } as T)
    : observation;
}

/**
 * The largest step count a saved state may hold: 2^53 − 1 (Number.MAX_SAFE_INTEGER), where
 * counting by one stops being exact. Nothing loops over a count.
 */
export const MAX_STEP_COUNT = Number.MAX_SAFE_INTEGER;

/** Every value of a loaded tensor finite and ≥ range.min (when given), else an error naming the index. */
export function checkValues(at: string, t: Real, range: { min?: number }): void {
  const min = range.min ?? Number.NEGATIVE_INFINITY;
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if (!(Number.isFinite(v) && v >= min)) {
      const what = range.min === undefined ? 'finite values' : `finite values >= ${range.min}`;
      throw new CimmArgumentError(
        at,
        what,
        `Expected ${what} for ${at} but received ${v} at index ${i} of ${describeValue(t)} of type ${typeOf(t)}`,
      );
    }
  }
}

export abstract class Optimizer<O extends OptimizerOptions> {
  private base!: O;
  private baseOverrides!: Partial<O>;
  private groupList: ResolvedGroup<O>[] = [];
  private groupOf = new Map<string, number>();
  private slotMap = new Map<string, RealTensorMap>();
  private stepMap = new Map<string, number>();
  private count = 0;

  protected constructor(args: OptimizerArgs<O> | undefined) {
    this.configure(args, '');
  }

  /** The registered name of this optimizer ("SGD", "Adam", …). */
  abstract get kind(): string;

  /** Each option's default and check (keys are the option names, learningRate included). */
  protected abstract optionSpecs(): Record<keyof O & string, OptionSpec>;

  /** Checks across options once they are all known (e.g. Nesterov needs momentum); `where` prefixes names. */
  protected checkOptions(_options: O, _where: string): void {}

  /** The state tensors a parameter with these options needs (e.g. ["m", "v"]). */
  protected abstract slotNames(options: O): readonly string[];

  /** Every slot name this optimizer may have (for validating loaded state). */
  protected abstract knownSlots(): readonly string[];

  /**
   * Update one parameter in place with the backend's kernel. `step` is this parameter's
   * step number (1 on its first update); `fresh` is true when its state was just created.
   * Returns false when a parameter became non-finite.
   */
  protected abstract update(
    k: Kernels,
    params: Real,
    grads: Real,
    slots: RealTensorMap,
    options: O,
    step: number,
    fresh: boolean,
  ): boolean;

  /**
   * Whether this optimizer implements updateMeasured() (its kernel measures the update in the
   * same pass). An optimizer that overrides update() must override both, or answer false.
   */
  protected get fusesMeasurement(): boolean {
    return false;
  }

  /**
   * update(), measuring the update in the same pass: `before` ← the parameter's values before
   * the update, out[0..3] ← the sums measuredStep() documents. Called only when
   * fusesMeasurement is true.
   */
  protected updateMeasured(
    _k: Kernels,
    _params: Real,
    _grads: Real,
    _slots: RealTensorMap,
    _options: O,
    _step: number,
    _fresh: boolean,
    _before: Real,
    _out: Float64Array,
  ): boolean {
    throw new Error(`cimm: ${this.kind} has no measured update`);
  }

  /**
   * Update every parameter of one step; returns the first parameter made non-finite. The
   * default calls update() per parameter; an optimizer whose step needs reductions over
   * all parameters first (Prodigy) overrides this.
   */
  protected updateAll(k: Kernels, entries: UpdateEntry<O>[]): string | undefined {
    let failed: string | undefined;
    for (const e of entries) {
      const ok = this.update(k, e.params, e.grads, e.slots, e.options, e.step, e.fresh);
      if (!ok && failed === undefined) failed = e.name;
    }
    return failed;
  }

  /** Optimizer-wide scalars kept in state().scalars.global (Prodigy's d estimate); none by default. */
  protected globalScalars(): Record<string, number> | undefined {
    return undefined;
  }

  /**
   * Validate saved global scalars (state.scalars.global, possibly undefined) and return a
   * function that installs them; called by loadState before anything changes, with the
   * saved step() count (a bound on counts among them).
   */
  protected loadGlobalScalars(_saved: unknown, _where: string, _iterations: number): () => void {
    return () => {};
  }

  /** The options a parameter group may set (all of them unless an optimizer restricts it). */
  protected groupOptionNames(): readonly string[] | undefined {
    return undefined;
  }

  /** η of the optimizer's options (groups that set their own learningRate keep it). */
  get learningRate(): number {
    return this.base.learningRate;
  }

  /** Set η for the next steps (every group without its own learningRate follows). */
  set learningRate(value: number) {
    finiteNumber('learningRate', value, { min: 0 });
    this.configure({ ...this.baseOverrides, learningRate: value, groups: this.groupConfigs() }, '');
  }

  /**
   * Whether step() reads `observation.previousBatchLoss` (the previous batch's loss after
   * its update); a training loop computes it only for optimizers that do.
   */
  get readsPreviousBatchLoss(): boolean {
    return false;
  }

  /**
   * The metric of this optimizer's latest update of parameter `name` (read it right after
   * step()): M = I unless the optimizer preconditions (Adam's √v̂ + ε, heavy-ball
   * momentum's (1 − μ)/(1 − τ)).
   */
  stepMetric(_name: string): StepMetric {
    return IDENTITY_METRIC;
  }

  /** step() calls completed so far. */
  get iterations(): number {
    return this.count;
  }

  /** The options in force for one parameter (its group's, or the optimizer's). */
  optionsFor(name: string): Readonly<O> {
    const g = this.groupOf.get(name);
    return g === undefined ? this.base : this.groupList[g].options;
  }

  /**
   * Update every parameter in place from its gradient. `params` and `grads` name the same
   * parameters; each gradient has its parameter's length; no array may share memory with
   * a parameter. Non-finite gradients are rejected before anything changes. The
   * observation (the loss, …) is for optimizers that use it; this one ignores it.
   */
  step(params: RealTensorMap, grads: RealTensorMap, _observation?: StepObservation): void {
    const p = readOnce('params', params);
    const g = readOnce('grads', grads);
    this.run(this.checkStep(p, g), p, g, undefined);
  }

  /**
   * step(), measuring each parameter's update as it is made (what the learning-rate rules
   * read, lib/optim/rule.ts): `before[name]` receives the parameter's values before the
   * update, and sums[3i … 3i + 3) — i the parameter's position in `params` — what
   * `updateEnergy(before, params, grads, M.tensor, M.scale, M.epsilon)` gives after it, with
   * M = stepMetric(name) (its weight is not applied): Σ wΔ², Σ gΔ, Σ |gΔ|. `before` has an
   * array of each parameter's length and dtype; `sums` is a Float64Array of at least 3 values per
   * parameter; neither may share memory with a parameter, a gradient, this optimizer's state
   * or each other. Errors as step(): a bad argument changes no parameter and no state (on
   * the generic path below `before` may already hold the copy: it is the caller's scratch);
   * a step that made a parameter non-finite completes (`before` and `sums` written) and
   * throws CimmDivergenceError.
   *
   * SGD, Adam and AdamW make the update and its measurement in one pass of their kernel
   * (sgdStepMeasured, adamStepMeasured); any other optimizer copies, steps and measures with
   * updateEnergy. The results are the same bit for bit.
   */
  measuredStep(
    params: RealTensorMap,
    grads: RealTensorMap,
    before: RealTensorMap,
    sums: Float64Array,
    observation?: StepObservation,
  ): void {
    // each map read once (readOnce); the copies are what every check and the update see
    params = readOnce('params', params);
    grads = readOnce('grads', grads);
    before = readOnce('before', before);
    const names = this.checkMeasured(params, grads, before, sums);
    if (this.fusesMeasurement) {
      this.run(names, params, grads, { before, sums });
      return;
    }
    for (const name of names) before[name].set(params[name]);
    let divergence: CimmDivergenceError | undefined;
    try {
      this.step(params, grads, observation);
    } catch (error) {
      if (!(error instanceof CimmDivergenceError)) throw error;
      divergence = error;
    }
    const k = kernels();
    names.forEach((name, i) => {
      const m = this.stepMetric(name);
      k.updateEnergy(
        before[name],
        params[name],
        grads[name],
        m.tensor ?? NO_TENSOR,
        { metricScale: m.scale, epsilon: m.epsilon },
        SUMS,
      );
      sums.set(SUMS, 3 * i);
    });
    if (divergence) throw divergence;
  }

  /**
   * @internal The live state tensors, named as state() names them (a wrapper's include its
   * inner optimizer's): measuredStep's snapshots must not share memory with them.
   */
  stateTensors(): [string, Real][] {
    const out: [string, Real][] = [];
    for (const [name, slots] of this.slotMap) {
      for (const [slot, t] of Object.entries(slots)) out.push([`${name}/${slot}`, t]);
    }
    return out;
  }

  /** One step over validated `names`, measured when `measure` is given. */
  private run(names: string[], params: RealTensorMap, grads: RealTensorMap, measure: Measure | undefined): void {
    const k = kernels();
    for (const name of names) {
      const g = grads[name];
      const i = k.firstNonFinite(g);
      if (i >= 0) {
        const at = `grads[${key(name)}]`;
        throw new CimmArgumentError(
          at,
          'finite values',
          `Expected finite values for ${at} but received ${g[i]} at index ${i} of ${describeValue(g)} of type ${typeOf(g)}`,
        );
      }
    }
    const entries: UpdateEntry<O>[] = names.map((name) => {
      const params_ = params[name];
      const options = this.optionsFor(name);
      const [slots, fresh] = this.slotsFor(name, params_, options);
      const step = (this.stepMap.get(name) ?? 0) + 1;
      return { name, params: params_, grads: grads[name], slots, options, step, fresh };
    });
    const failed = measure ? this.updateAllMeasured(k, entries, measure) : this.updateAll(k, entries);
    for (const e of entries) this.stepMap.set(e.name, e.step);
    this.count++;
    if (failed !== undefined) {
      const p = params[failed];
      const i = k.firstNonFinite(p);
      throw new CimmDivergenceError(
        `cimm: ${this.kind} step ${this.count} made params[${key(failed)}] non-finite (${p[i]} at index ${i}): ` +
          `the learning rate ${this.optionsFor(failed).learningRate} is too large for these gradients, ` +
          'or the parameters were not finite before the step',
        { step: this.count, parameter: failed, index: i, value: p[i] },
      );
    }
  }

  /** The JSON configuration: every option, and the groups with their own options. */
  getConfig(): OptimizerConfig<O> {
    return { ...this.base, groups: this.groupConfigs() };
  }

  /** A copy of the whole state: config, step counts and state tensors (`<parameter>/<slot>`). */
  state(): OptimizerState<OptimizerConfig<O>> {
    return this.snapshot(true);
  }

  /** The state as one binary buffer (lib/optim/state.ts describes the format). */
  serializeState(): Uint8Array {
    return encodeOptimizerState(this.snapshot(false));
  }

  /**
   * Write serializeState()'s bytes to `path` atomically (lib/atomic-file.ts); the
   * directory must exist.
   */
  saveState(path: string): void {
    writeOptimizerStateFile(path, this.serializeState());
  }

  /** loadState() from a file written by saveState(); errors name the file and the field. */
  loadStateFile(path: string): void {
    this.loadState(readOptimizerStateFile(path), { source: path });
  }

  /**
   * Replace config, step counts and state tensors with a saved state (from state() or
   * serializeState()) of an optimizer of the same kind. Everything is validated like user
   * input before anything changes (docs/notes-state.md): the config by the constructor's
   * checks, step counts integral with each parameter's ≤ the optimizer's, every tensor
   * finite and in its slot's range (second moments ≥ 0), a parameter's tensors of one
   * length and dtype and exactly the slots its options need. The tensors are copied.
   * `opts.source` (a file's path) is named in errors; with `opts.params` (the model's
   * parameters) every parameter of the state must be one of them, its tensors of its length
   * and dtype, so a state of another model is refused here rather than at the next step.
   */
  loadState(saved: OptimizerState | Uint8Array, opts: LoadStateOptions = {}): void {
    const source = opts.source ?? 'state';
    try {
      this.loadStateChecked(saved instanceof Uint8Array ? decodeOptimizerState(saved, opts) : saved, opts.params);
    } catch (error) {
      throw stateError(error, source);
    }
  }

  /**
   * The range of a slot's values beyond finiteness (e.g. Adam's v ≥ 0); none by default.
   * loadState checks every loaded tensor against it.
   */
  protected slotRange(_slot: string): { min?: number } {
    return {};
  }

  private loadStateChecked(state: OptimizerState, params: RealTensorMap | undefined): void {
    const model = params === undefined ? undefined : readOnce('params', params);
    plainObject('state', state, 'an optimizer state {kind, config, scalars, tensors}');
    if (state.kind !== this.kind) throw argumentError('state.kind', key(this.kind), state.kind);
    const config = plainObject('state.config', state.config, 'an optimizer config object');
    const scalars = plainObject('state.scalars', state.scalars, 'an object {iterations, steps}');
    const iterations = integer('state.scalars.iterations', scalars.iterations, { min: 0, max: MAX_STEP_COUNT });
    const steps = new Map<string, number>();
    for (const [name, n] of Object.entries(
      plainObject('state.scalars.steps', scalars.steps, 'an object of step counts by parameter'),
    )) {
      // a parameter is updated at most once per step() call
      steps.set(name, integer(`state.scalars.steps[${key(name)}]`, n, { min: 0, max: iterations }));
      if (model && !Object.hasOwn(model, name)) {
        const names = Object.keys(model);
        const listed = names.length > 8 ? `${names.slice(0, 8).join(', ')}, …` : names.join(', ');
        throw argumentError(
          `state.scalars.steps[${key(name)}]`,
          `a step count of a parameter of the model (${listed})`,
          n,
        );
      }
    }
    const tensors = plainObject('state.tensors', state.tensors, 'an object of Float32Arrays or Float64Arrays');
    const slots = new Map<string, RealTensorMap>();
    const known = this.knownSlots();
    for (const [full, value] of Object.entries(tensors)) {
      const at = `state.tensors[${key(full)}]`;
      const cut = full.lastIndexOf('/');
      const [name, slot] = [full.slice(0, cut), full.slice(cut + 1)];
      if (cut < 0 || !known.includes(slot)) {
        throw argumentError(at, `a tensor named "<parameter>/<slot>", slot one of ${known.join(', ')}`, value);
      }
      if (!steps.has(name)) {
        throw argumentError(at, `a tensor of a parameter with a step count (state.scalars.steps[${key(name)}])`, value);
      }
      if ((steps.get(name) as number) < 1) {
        throw argumentError(
          `state.scalars.steps[${key(name)}]`,
          'an integer >= 1 (the parameter has state tensors: it was updated)',
          steps.get(name),
        );
      }
      const own = slots.get(name) ?? {};
      const first = Object.values(own)[0];
      // one dtype per parameter: its state follows it
      const p = model?.[name];
      const t = p
        ? sameDtypeArray(at, value, realArray(`params[${key(name)}]`, p), `params[${key(name)}]`, p.length)
        : first
          ? sameDtypeArray(at, value, first, "the parameter's other state tensors", first.length)
          : realArray(at, value);
      checkValues(at, t, this.slotRange(slot));
      setOwn(own, slot, t.slice());
      slots.set(name, own);
    }
    const installGlobal = this.loadGlobalScalars(scalars.global, 'state.scalars.global', iterations);
    // All checked except the config: configure() validates it and commits it; the slots a
    // parameter's options need are checked against it, and the old config put back on error.
    const previous = { ...this.baseOverrides, groups: this.groupConfigs() } as OptimizerArgs<O>;
    this.configure(config as OptimizerArgs<O>, 'state.config.');
    try {
      for (const [name, n] of steps) {
        const need = this.slotNames(this.optionsFor(name));
        const own = slots.get(name);
        // an updated parameter has every slot its options need (a missing one would restart
        // from zero under a step count that says otherwise)
        if (own === undefined) {
          if (n > 0 && need.length > 0) {
            const at = `state.tensors[${key(`${name}/${need[0]}`)}]`;
            throw argumentError(
              at,
              `a tensor (${key(name)} was updated ${n} times; its options need the slots ${need.join(', ')})`,
              undefined,
            );
          }
          continue;
        }
        const have = Object.keys(own);
        const missing = need.find((s) => !have.includes(s));
        const extra = have.find((s) => !need.includes(s));
        if (missing !== undefined || extra !== undefined) {
          const at = `state.tensors[${key(`${name}/${missing ?? extra}`)}]`;
          throw argumentError(
            at,
            missing !== undefined
              ? `a tensor (the options of ${key(name)} need the slots ${need.join(', ')})`
              : `no tensor (the options of ${key(name)} need ${need.length === 0 ? 'no slots' : `the slots ${need.join(', ')}`})`,
            missing !== undefined ? undefined : own[extra as string],
          );
        }
      }
    } catch (error) {
      this.configure(previous, '');
      throw error;
    }
    installGlobal();
    this.count = iterations;
    this.stepMap = steps;
    this.slotMap = slots;
  }

  // -------------------------------------------------------------------------------

  /**
   * @internal A parameter's live state tensors and step count (undefined before its first
   * step): Adam's stepMetric reads its second moment here without copying it.
   */
  slotView(name: string): { slots: Readonly<RealTensorMap>; step: number } | undefined {
    const slots = this.slotMap.get(name);
    return slots && { slots, step: this.stepMap.get(name) ?? 0 };
  }

  /** Validate and install options and groups; names in errors are prefixed with `where`. */
  protected configure(args: OptimizerArgs<O> | undefined, where: string): void {
    const raw = args === undefined ? {} : plainObject(where || 'options', args, 'an options object');
    const specs = this.optionSpecs();
    const optionNames = Object.keys(specs);
    for (const k of Object.keys(raw)) {
      if (k !== 'groups' && !optionNames.includes(k)) {
        throw argumentError(
          `${where}${k}`,
          `an option of ${this.kind} (${[...optionNames, 'groups'].join(', ')})`,
          raw[k],
        );
      }
    }
    const { groups: rawGroups, ...overrides } = raw as OptimizerArgs<O>;
    const base = this.resolve(overrides as Partial<O>, undefined, where);
    const groupList: ResolvedGroup<O>[] = [];
    const groupOf = new Map<string, number>();
    if (rawGroups !== undefined) {
      if (!Array.isArray(rawGroups)) throw argumentError(`${where}groups`, 'an array of parameter groups', rawGroups);
      rawGroups.forEach((g, gi) => {
        const at = `${where}groups[${gi}]`;
        const group = plainObject(at, g, 'a parameter group {params, …options}');
        const restricted = this.groupOptionNames();
        const groupNames = restricted ?? optionNames;
        const what = restricted ? `an option a ${this.kind} group may set` : `an option of ${this.kind}`;
        for (const k of Object.keys(group)) {
          if (k !== 'params' && !groupNames.includes(k)) {
            throw argumentError(`${at}.${k}`, `${what} (${groupNames.join(', ')})`, group[k]);
          }
        }
        const names = group.params;
        if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
          throw argumentError(`${at}.params`, 'an array of parameter names', names);
        }
        for (const name of names) {
          if (groupOf.has(name)) {
            throw argumentError(`${at}.params`, `names not already in groups[${groupOf.get(name)}]`, name);
          }
          groupOf.set(name, gi);
        }
        const { params: _, ...own } = group;
        const options = this.resolve(own as Partial<O>, base, `${at}.`);
        groupList.push({ params: [...names], overrides: own as Partial<O>, options });
      });
    }
    this.base = base;
    this.baseOverrides = overrides as Partial<O>;
    this.groupList = groupList;
    this.groupOf = groupOf;
  }

  /** Options from `raw`, else `base`, else the defaults; validated. */
  private resolve(raw: Partial<O>, base: O | undefined, where: string): O {
    const out: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(this.optionSpecs()) as [string, OptionSpec][]) {
      const value = (raw as Record<string, unknown>)[name];
      if (value !== undefined) out[name] = spec.check(`${where}${name}`, value);
      else out[name] = base ? (base as Record<string, unknown>)[name] : spec.default;
    }
    const options = out as unknown as O;
    this.checkOptions(options, where);
    return options;
  }

  private groupConfigs(): ParameterGroup<O>[] {
    return this.groupList.map((g) => ({ params: [...g.params], ...g.overrides }) as ParameterGroup<O>);
  }

  /** The parameter's state tensors, created (zero, of its dtype) where missing; fresh when any was created. */
  private slotsFor(name: string, params: Real, options: O): [RealTensorMap, boolean] {
    let slots = this.slotMap.get(name);
    if (!slots) {
      slots = {};
      this.slotMap.set(name, slots);
    }
    let fresh = false;
    for (const slot of this.slotNames(options)) {
      if (!Object.hasOwn(slots, slot)) {
        setOwn(slots, slot, new (dtypeOf(params))(params.length));
        fresh = true;
      }
    }
    return [slots, fresh];
  }

  /** updateAll() with updateMeasured(): each parameter's sums into measure.sums in order. */
  private updateAllMeasured(k: Kernels, entries: UpdateEntry<O>[], measure: Measure): string | undefined {
    let failed: string | undefined;
    entries.forEach((e, i) => {
      const before = measure.before[e.name];
      const ok = this.updateMeasured(k, e.params, e.grads, e.slots, e.options, e.step, e.fresh, before, SUMS);
      measure.sums.set(SUMS, 3 * i);
      if (!ok && failed === undefined) failed = e.name;
    });
    return failed;
  }

  /** Validate a measured step's arguments (step()'s, the snapshots, the sums); returns the names. */
  private checkMeasured(
    params: RealTensorMap,
    grads: RealTensorMap,
    before: RealTensorMap,
    sums: Float64Array,
  ): string[] {
    const names = this.checkStep(params, grads);
    plainObject('before', before, 'an object of Float32Arrays or Float64Arrays by parameter name');
    const s = float64Array('sums', sums);
    if (s.length < 3 * names.length) {
      throw argumentError('sums', `a Float64Array of length >= ${3 * names.length} (3 per parameter)`, s);
    }
    const arrays: DisjointEntry[] = [];
    for (const name of names) {
      const p = params[name];
      const at = `before[${key(name)}]`;
      const b = sameDtypeArray(
        at,
        Object.hasOwn(before, name) ? before[name] : undefined,
        p,
        `params[${key(name)}]`,
        p.length,
      );
      arrays.push(
        { at: `params[${key(name)}]`, a: p, param: true },
        { at: `grads[${key(name)}]`, a: grads[name], param: false },
        { at, a: b, param: true },
      );
    }
    arrays.push({ at: 'sums', a: s, param: true });
    for (const [name, t] of this.stateTensors()) {
      arrays.push({ at: `the optimizer's state tensor ${key(name)}`, a: t, param: false, internal: true });
    }
    checkDisjoint(arrays);
    return names;
  }

  /**
   * @internal step()'s argument checks (maps, dtypes, lengths against the arguments and this
   * optimizer's state, names, shared memory) without the step: a wrapper that transforms
   * the gradients in place runs them first, so that a step the inner optimizer would refuse
   * changes nothing, the caller's gradients included. Returns the parameter names.
   */
  checkStepArguments(params: RealTensorMap, grads: RealTensorMap): string[] {
    return this.checkStep(params, grads);
  }

  /** Validate one step's arguments; returns the parameter names in order. */
  private checkStep(params: RealTensorMap, grads: RealTensorMap): string[] {
    plainObject('params', params, 'an object of Float32Arrays or Float64Arrays by parameter name');
    plainObject('grads', grads, 'an object of Float32Arrays or Float64Arrays by parameter name');
    const names = Object.keys(params);
    const arrays: DisjointEntry[] = [];
    for (const name of names) {
      const at = `params[${key(name)}]`;
      const p = realArray(at, params[name]);
      const slots = this.slotMap.get(name);
      const state = slots && Object.values(slots)[0];
      if (state !== undefined && (state.length !== p.length || dtypeOf(state) !== dtypeOf(p))) {
        const whose = dtypeOf(state) === dtypeOf(p) ? 'length' : 'dtype';
        const what = `a ${dtypeOf(state).name} of length ${state.length} (the ${whose} of its optimizer state)`;
        throw argumentError(at, what, p);
      }
      const g = sameDtypeArray(
        `grads[${key(name)}]`,
        Object.hasOwn(grads, name) ? grads[name] : undefined,
        p,
        at,
        p.length,
      );
      arrays.push({ at, a: p, param: true }, { at: `grads[${key(name)}]`, a: g, param: false });
    }
    for (const name of Object.keys(grads)) {
      if (!Object.hasOwn(params, name)) {
        const g = grads[name];
        const real = g instanceof Float32Array || g instanceof Float64Array;
        const what = `a ${real ? `${g.constructor.name} of length ${g.length}` : 'Float32Array or Float64Array'} (grads has ${key(name)})`;
        throw argumentError(`params[${key(name)}]`, what, undefined);
      }
    }
    checkDisjoint(arrays);
    return names;
  }

  private snapshot(copy: boolean): OptimizerState<OptimizerConfig<O>> {
    const tensors: RealTensorMap = {};
    for (const [name, slots] of this.slotMap) {
      for (const [slot, t] of Object.entries(slots)) setOwn(tensors, `${name}/${slot}`, copy ? t.slice() : t);
    }
    const steps: Record<string, number> = {};
    for (const [name, n] of this.stepMap) setOwn(steps, name, n);
    const global = this.globalScalars();
    const scalars = global
      ? { iterations: this.count, steps, global: { ...global } }
      : { iterations: this.count, steps };
    return { kind: this.kind, config: this.getConfig(), scalars, tensors };
  }
}

/**
 * An array of a step: `param` for those the step writes (they may share memory with nothing),
 * else read (they may share memory with each other); `internal` for the optimizer's own.
 */
interface DisjointEntry {
  at: string;
  a: Float32Array | Float64Array;
  param: boolean;
  internal?: boolean;
}

/**
 * No parameter may share memory with another parameter or with a gradient (gradients may
 * share memory with each other: they are only read). Sorted sweep per ArrayBuffer. The error
 * names the caller's array, never an internal one.
 */
function checkDisjoint(arrays: DisjointEntry[]): void {
  const byBuffer = new Map<ArrayBufferLike, { at: string; start: number; end: number; param: boolean }[]>();
  const named = new Map<string, DisjointEntry>();
  for (const entry of arrays) {
    const { at, a, param } = entry;
    named.set(at, entry);
    if (a.length === 0) continue;
    const list = byBuffer.get(a.buffer) ?? [];
    list.push({ at, start: a.byteOffset, end: a.byteOffset + a.byteLength, param });
    byBuffer.set(a.buffer, list);
  }
  for (const list of byBuffer.values()) {
    if (list.length < 2) continue;
    list.sort((x, y) => x.start - y.start);
    let widestAny: (typeof list)[number] | undefined;
    let widestParam: (typeof list)[number] | undefined;
    for (const e of list) {
      const other = e.param ? widestAny : widestParam;
      if (other && e.start < other.end) {
        const [mine, theirs] = named.get(e.at)!.internal ? [named.get(other.at)!, e] : [named.get(e.at)!, other];
        const what = `a ${mine.a.constructor.name} that does not share memory with ${theirs.at}`;
        throw argumentError(mine.at, what, mine.a);
      }
      if (!widestAny || e.end > widestAny.end) widestAny = e;
      if (e.param && (!widestParam || e.end > widestParam.end)) widestParam = e;
    }
  }
}

// ---------------------------------------------------------------------------------
// Option checks shared by the optimizers.

export const checks = {
  learningRate: (name: string, v: unknown) => finiteNumber(name, v, { min: 0 }),
  nonNegative: (name: string, v: unknown) => finiteNumber(name, v, { min: 0 }),
  fraction: (name: string, v: unknown) => finiteNumber(name, v, { min: 0, max: 1 }),
  /** A decay rate β ∈ [0, 1), as torch.optim.Adam requires. */
  beta: (name: string, v: unknown) => {
    if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw argumentError(name, 'a number >= 0 and < 1', v);
    return v;
  },
  boolean,
};

// ---------------------------------------------------------------------------------
// Registry: rebuild an optimizer from its config or saved state (TF.js's SerializationMap).

type AnyOptimizer = Optimizer<OptimizerOptions>;
const registry = new Map<string, (config: unknown) => AnyOptimizer>();

/** Register an optimizer class under its kind (the built-in ones register themselves). */
export function registerOptimizer(kind: string, fromConfig: (config: never) => AnyOptimizer): void {
  registry.set(kind, fromConfig as (config: unknown) => AnyOptimizer);
}

/** A new optimizer of a registered kind from its JSON config. */
export function optimizerFromConfig(kind: string, config: unknown): AnyOptimizer {
  const make = registry.get(kind);
  if (!make) throw argumentError('kind', `a registered optimizer (${[...registry.keys()].join(', ')})`, kind);
  return make(config);
}

/** An optimizer rebuilt from a saved state (state() or serializeState()), state loaded. */
export function restoreOptimizer(saved: OptimizerState | Uint8Array, opts: StateSource = {}): AnyOptimizer {
  try {
    const state = saved instanceof Uint8Array ? decodeOptimizerState(saved, opts) : saved;
    const optimizer = optimizerFromConfig(state.kind, state.config);
    optimizer.loadState(state);
    return optimizer;
  } catch (error) {
    throw stateError(error, opts.source ?? 'state');
  }
}

/** restoreOptimizer() from a file written by Optimizer.saveState(); errors name the file and the field. */
export function restoreOptimizerFile(path: string): AnyOptimizer {
  return restoreOptimizer(readOptimizerStateFile(path), { source: path });
}
