/**
 * The base of the optimizers that drive another one (EntropyBalancedOptimizer,
 * QDTOptimizer, StabilizedOptimizer): each sets its inner optimizer's learning rate or
 * gradients and lets the inner one's fused kernel make the update.
 *
 * State: `state()` is an OptimizerState like any other, so `serializeState()` and
 * `restoreOptimizer()` work unchanged. Its scalars hold the wrapper's step count, its own
 * JSON state (`scalars.wrapper`) and the inner optimizer's kind, config and scalars
 * (`scalars.inner`); its tensors are the inner optimizer's under "inner/" and the
 * wrapper's own under "self/". Wrappers take no parameter groups (the inner optimizer's
 * options may have them).
 */
import { argumentError, CimmArgumentError } from '../errors.js';
import { integer } from '../is.js';
import {
  type LoadStateOptions,
  MAX_STEP_COUNT,
  Optimizer,
  type OptimizerArgs,
  type OptimizerConfig,
  type OptimizerOptions,
  type Real,
  type RealTensorMap,
  realArray,
} from './optimizer.js';
import {
  decodeOptimizerState,
  encodeOptimizerState,
  type OptimizerScalars,
  type OptimizerState,
  setOwn,
  stateError,
} from './state.js';

export type AnyOptimizer = Optimizer<OptimizerOptions>;

/** A JSON-safe object. */
export type JsonObject = Record<string, unknown>;

/** The scalars of a wrapper's state. */
export interface WrapperScalars extends OptimizerScalars {
  wrapper: JsonObject;
  inner: { kind: string; config: unknown; scalars: OptimizerScalars };
}

const isRecord = (v: unknown): v is JsonObject =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);

function record(name: string, value: unknown, what: string): JsonObject {
  if (!isRecord(value)) throw argumentError(name, what, value);
  return value;
}

/** The parameter names of a step, each checked to be a Float32Array or Float64Array (the inner step checks the rest). */
export function stepNames(params: RealTensorMap, grads: RealTensorMap): string[] {
  record('params', params, 'an object of Float32Arrays or Float64Arrays by parameter name');
  record('grads', grads, 'an object of Float32Arrays or Float64Arrays by parameter name');
  const names = Object.keys(params);
  for (const name of names) realArray(`params[${JSON.stringify(name)}]`, params[name]);
  return names;
}

/** Wrappers take no groups: reject them before the base stores the options. */
export function withoutGroups<O extends OptimizerOptions>(args: OptimizerArgs<O> | undefined): typeof args {
  if (isRecord(args) && args.groups !== undefined && !(Array.isArray(args.groups) && args.groups.length === 0)) {
    throw argumentError('groups', 'no parameter groups (give them to the inner optimizer)', args.groups);
  }
  return args;
}

/** The inner optimizer's loadState error, its field named as the wrapper's state names it. */
function innerField(error: unknown): unknown {
  if (!(error instanceof CimmArgumentError)) return error;
  const p = error.parameter;
  const renamed = p.startsWith('state.tensors["')
    ? `state.tensors["inner/${p.slice('state.tensors["'.length)}`
    : p.startsWith('state.')
      ? `state.scalars.inner.${p.startsWith('state.scalars') ? `scalars${p.slice('state.scalars'.length)}` : p.slice(6)}`
      : p === 'state'
        ? 'state.scalars.inner'
        : p;
  if (renamed === p) return error;
  const e = new CimmArgumentError(
    renamed,
    error.expected,
    error.message.replace(` for ${p} but`, ` for ${renamed} but`),
  );
  e.cause = error;
  return e;
}

export abstract class OptimizerWrapper<O extends OptimizerOptions> extends Optimizer<O> {
  private stepCount = 0;

  /** The optimizer that applies the update. */
  abstract get inner(): AnyOptimizer;

  /** Build the inner optimizer and helpers from the current config, with fresh state. */
  protected abstract rebuild(): void;

  /** The wrapper's own state (JSON: finite numbers, strings, null, arrays, objects). */
  protected abstract ownState(): JsonObject;

  /** Validate and install the own state (it may throw; loadState then restores the old state). */
  protected abstract loadOwnState(state: JsonObject): void;

  /** Own state tensors (stored under "self/"). */
  protected ownTensors(): RealTensorMap {
    return {};
  }

  protected loadOwnTensors(tensors: RealTensorMap): void {
    const names = Object.keys(tensors);
    if (names.length > 0)
      throw argumentError(`state.tensors["self/${names[0]}"]`, 'no tensor (none is kept)', tensors[names[0]]);
  }

  /** A wrapper keeps no per-parameter slots: its inner optimizer holds them. */
  protected slotNames(): readonly string[] {
    return [];
  }

  protected knownSlots(): readonly string[] {
    return [];
  }

  /** Never called: a wrapper's step() delegates the update to its inner optimizer. */
  protected update(): boolean {
    throw new Error(`cimm: ${this.kind} updates through its inner optimizer`);
  }

  override get iterations(): number {
    return this.stepCount;
  }

  /** @internal The inner optimizer's live state tensors ("inner/…") and the wrapper's own ("self/…"). */
  override stateTensors(): [string, Real][] {
    const own = Object.entries(this.ownTensors()).map(([name, t]): [string, Real] => [`self/${name}`, t]);
    return [...this.inner.stateTensors().map(([name, t]): [string, Real] => [`inner/${name}`, t]), ...own];
  }

  /** A wrapper passes the observation on: it reads what its inner optimizer reads. */
  override get readsPreviousBatchLoss(): boolean {
    return this.inner.readsPreviousBatchLoss;
  }

  /** Count one completed step. */
  protected countStep(): void {
    this.stepCount++;
  }

  override getConfig(): OptimizerConfig<O> {
    return { ...super.getConfig(), groups: [] };
  }

  override state(): OptimizerState<OptimizerConfig<O>> {
    const inner = this.inner.state();
    const tensors: RealTensorMap = {};
    for (const [name, t] of Object.entries(inner.tensors)) setOwn(tensors, `inner/${name}`, t);
    for (const [name, t] of Object.entries(this.ownTensors())) setOwn(tensors, `self/${name}`, t.slice());
    const scalars: WrapperScalars = {
      iterations: this.stepCount,
      steps: {},
      wrapper: this.ownState(),
      inner: { kind: inner.kind, config: inner.config, scalars: inner.scalars },
    };
    return { kind: this.kind, config: this.getConfig(), scalars, tensors };
  }

  override serializeState(): Uint8Array {
    return encodeOptimizerState(this.state());
  }

  /**
   * Replace config and state with a saved state of a wrapper of the same kind. Everything
   * is validated while loading; on any error the previous state is put back.
   */
  override loadState(saved: OptimizerState | Uint8Array, opts: LoadStateOptions = {}): void {
    try {
      this.loadWrapped(saved instanceof Uint8Array ? decodeOptimizerState(saved, opts) : saved, opts.params);
    } catch (error) {
      throw stateError(error, opts.source ?? 'state');
    }
  }

  private loadWrapped(state: OptimizerState, params: RealTensorMap | undefined): void {
    record('state', state, 'an optimizer state {kind, config, scalars, tensors}');
    if (state.kind !== this.kind) throw argumentError('state.kind', JSON.stringify(this.kind), state.kind);
    const config = record('state.config', state.config, 'an optimizer config object');
    const scalars = record('state.scalars', state.scalars, 'an object {iterations, steps, wrapper, inner}');
    const iterations = integer('state.scalars.iterations', scalars.iterations, { min: 0, max: MAX_STEP_COUNT });
    const own = record('state.scalars.wrapper', scalars.wrapper, "the wrapper's state object");
    const inner = record('state.scalars.inner', scalars.inner, 'an object {kind, config, scalars}');
    const tensors = record('state.tensors', state.tensors, 'an object of Float32Arrays or Float64Arrays');
    const innerTensors: RealTensorMap = {};
    const ownTensors: RealTensorMap = {};
    for (const [name, t] of Object.entries(tensors)) {
      if (name.startsWith('inner/')) setOwn(innerTensors, name.slice(6), t as Real);
      else if (name.startsWith('self/')) setOwn(ownTensors, name.slice(5), t as Real);
      else throw argumentError(`state.tensors[${JSON.stringify(name)}]`, 'a tensor named "inner/…" or "self/…"', t);
    }
    const backup = this.state();
    try {
      this.configure(config as OptimizerArgs<O>, 'state.config.');
      this.rebuild();
      try {
        this.inner.loadState(
          {
            kind: inner.kind as string,
            config: inner.config,
            scalars: inner.scalars as unknown as OptimizerScalars,
            tensors: innerTensors,
          },
          params === undefined ? {} : { params },
        );
      } catch (error) {
        throw innerField(error);
      }
      this.loadOwnState(own);
      this.loadOwnTensors(ownTensors);
      this.stepCount = iterations;
    } catch (error) {
      this.loadState(backup);
      throw error;
    }
  }
}
