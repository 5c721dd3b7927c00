/**
 * The base of cimm's optimizers as `tf.Optimizer`s (docs/theory.md, "TensorFlow.js"): a
 * `tf.Optimizer` subclass that holds one of cimm's own optimizers (lib/optim) and hands it,
 * each step, the variables' values and their gradients as Float32Arrays, so every update is
 * cimm's arithmetic on cimm's selected backend (rust, cpp or js), bit for bit what
 * `optimizer.cimm.step(params, grads, { loss })` gives.
 *
 * - The loss. `model.fit` (tfjs-layers) and a hand-written loop call
 *   `optimizer.minimize(lossFn, returnCost, varList)`; minimize() here computes the loss and
 *   its gradients (`computeGradients`, as tf.Optimizer does) and passes the loss value — the
 *   mini-batch's objective, regularizers included — to the step as `observation.loss`, which
 *   the entropy-balanced rule reads. A caller of `applyGradients(grads)` directly passes it
 *   as the second argument: `applyGradients(grads, { loss })`.
 * - One step: each variable's values are copied out (`dataSync().slice()`: on the CPU
 *   backend dataSync is the variable's own storage, which other tensors may share), updated
 *   in place by cimm, and installed with `variable.assign` (TF.js's own optimizers also
 *   assign new tensors). A gradient that is null (a variable the loss does not reach) leaves
 *   its variable alone, as TF.js's optimizers do.
 * - Names. cimm keeps its state per parameter name: the variable's name when first stepped.
 *   A model loaded in a process that already holds its variable names gets suffixed names
 *   (`dense_Dense1/kernel_1`); a state loaded with setWeights() then maps onto the
 *   variables of the next step by position, as TF.js's own optimizers' state does, when
 *   their names are not the saved ones.
 * - Weights. getWeights() is TF.js's `iter` scalar, then one string scalar holding the JSON
 *   of cimm's state (kind, config, step counts, the rules' state: numbers print as the
 *   shortest decimal that parses back to the same double), then every state tensor
 *   (`<parameter>/<slot>`) as float32: setWeights() restores it bit for bit, and
 *   `model.save(handler, { includeOptimizer: true })` / `tf.loadLayersModel` carry it.
 * - Config. getConfig() is cimm's config (JSON); the static fromConfig builds the
 *   optimizer from it. tfjs-layers rewrites snake_case strings of a saved
 *   training config to camelCase on load, so a string option with an underscore (a
 *   powercapRoot path, say) does not survive `tf.loadLayersModel` unchanged.
 */
import type { NamedTensorMap, Optimizer, Scalar, serialization, Tensor, Variable } from '@tensorflow/tfjs-core';
import { argumentError, CimmDivergenceError } from '../errors.js';
import type { AnyOptimizer, OptimizerState, StepObservation, TensorMap } from '../optim/index.js';
import { tf } from './peer.js';

/** A weight of getWeights() (tfjs-core's NamedTensor, which its index does not export). */
export type NamedTensor = Awaited<ReturnType<Optimizer['getWeights']>>[number];

/** The format of the JSON weight getWeights() writes. */
export const TFJS_STATE_FORMAT = 'cimm-tfjs-optimizer';
export const TFJS_STATE_VERSION = 1;

/** The JSON weight: cimm's state less its tensors, which follow as weights of their own. */
interface SavedHeader {
  format: string;
  version: number;
  kind: string;
  config: unknown;
  scalars: OptimizerState['scalars'];
  /** The parameter names in the order they were first stepped. */
  parameters: string[];
  /** The state tensors' names, in the order their weights follow. */
  tensors: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v);

/**
 * A cimm optimizer as a `tf.Optimizer`. Subclasses name the cimm optimizer they hold and
 * their registered `className`; each is registered with `tf.serialization.registerClass`.
 */
export abstract class CimmTfOptimizer<C extends AnyOptimizer = AnyOptimizer> extends tf.Optimizer {
  /** cimm's optimizer that makes every update (read its lastReport, learningRate, …). */
  readonly cimm: C;
  /** Parameter names in the order first stepped (the order setWeights maps by). */
  private order: string[] = [];
  private known = new Set<string>();
  /** Variable name → cimm parameter name, where they differ (a loaded state mapped by position). */
  private alias = new Map<string, string>();
  /** Names of a state loaded by setWeights, until the next step maps the variables onto them. */
  private pending: string[] | null = null;

  protected constructor(cimm: C) {
    super();
    this.cimm = cimm;
  }

  /**
   * The optimizer of a config (getConfig()'s). tfjs-layers' deserializer adds its
   * `customObjects` to the config it passes: that key is not an option and is left out.
   */
  static override fromConfig<T extends serialization.Serializable>(
    cls: serialization.SerializableConstructor<T>,
    config: serialization.ConfigDict,
  ): T {
    const { customObjects: _, ...options } = isRecord(config) ? config : { customObjects: undefined };
    return new cls(isRecord(config) ? options : config);
  }

  /**
   * Compute the loss f() and its gradients, and step with the loss as the observation.
   * tfjs-layers' `model.fit` calls this with `returnCost` true and the model's trainable
   * variables.
   */
  override minimize(f: () => Scalar, returnCost = false, varList?: Variable[]): Scalar | null {
    const { value, grads } = this.computeGradients(f, varList);
    try {
      const loss = value.dataSync()[0];
      const list = varList ? varList.map((v) => ({ name: v.name, tensor: grads[v.name] })) : grads;
      this.applyGradients(list, Number.isFinite(loss) ? { loss } : {});
    } catch (error) {
      value.dispose();
      throw error;
    } finally {
      tf.dispose(grads);
    }
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /**
   * Update the variables from their gradients with cimm's optimizer. `observation` is what
   * cimm's step() takes besides the gradients (the loss at the current values, …);
   * minimize() passes the loss.
   */
  override applyGradients(variableGradients: NamedTensorMap | NamedTensor[], observation?: StepObservation): void {
    const list: [string, Tensor | null | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g, i) => {
          if (!isRecord(g) || typeof g.name !== 'string') {
            throw argumentError(`variableGradients[${i}]`, 'a {name, tensor} of a variable and its gradient', g);
          }
          return [g.name, g.tensor as Tensor | null | undefined];
        })
      : isRecord(variableGradients)
        ? Object.entries(variableGradients as NamedTensorMap)
        : (() => {
            throw argumentError(
              'variableGradients',
              'an object of gradients by variable name or an array of {name, tensor}',
              variableGradients,
            );
          })();
    const registered = tf.engine().registeredVariables;
    const names = list.map(([name]) => name);
    const alias = this.aliasFor(names);
    const params: TensorMap = {};
    const grads: TensorMap = {};
    const variables: [string, Variable][] = [];
    for (const [name, grad] of list) {
      if (grad == null) continue;
      const at = `variableGradients[${JSON.stringify(name)}]`;
      const variable = Object.hasOwn(registered, name) ? registered[name] : undefined;
      if (!variable) throw argumentError(`${at}.name`, 'the name of a registered tf.Variable', name);
      if (!(grad instanceof tf.Tensor) || grad.dtype !== 'float32' || grad.size !== variable.size) {
        const what = `a float32 tf.Tensor of ${variable.size} values (the variable's shape [${variable.shape}])`;
        throw argumentError(at, what, grad instanceof tf.Tensor ? `${grad.dtype} [${grad.shape}]` : grad);
      }
      if (variable.dtype !== 'float32') {
        throw argumentError(`${at}.name`, 'a float32 variable (cimm updates float32 parameters)', variable.dtype);
      }
      const key = alias.get(name) ?? name;
      params[key] = (variable.dataSync() as Float32Array).slice();
      grads[key] = grad.dataSync() as Float32Array;
      variables.push([key, variable]);
    }
    try {
      this.cimm.step(params, grads, observation);
    } catch (error) {
      // A step that made a parameter non-finite completed: install it, as cimm's step() did.
      if (error instanceof CimmDivergenceError) this.install(params, variables, alias);
      throw error;
    }
    this.install(params, variables, alias);
  }

  /** Commit a completed step: the new values, the names, the count. */
  private install(params: TensorMap, variables: [string, Variable][], alias: Map<string, string>): void {
    this.alias = alias;
    this.pending = null;
    tf.tidy(() => {
      for (const [key, variable] of variables) variable.assign(tf.tensor(params[key], variable.shape, 'float32'));
    });
    for (const [key] of variables) {
      if (!this.known.has(key)) {
        this.known.add(key);
        this.order.push(key);
      }
    }
    this.iterations_ = this.cimm.iterations;
  }

  /**
   * Variable name → parameter name for a step over `names`. After setWeights: the names
   * themselves when the variables carry the saved names, else every variable mapped onto the
   * saved parameter at its position (TF.js's own rule for optimizer weights). Committed by
   * install() when the step completes, so a rejected step maps nothing.
   */
  private aliasFor(names: string[]): Map<string, string> {
    const saved = this.pending;
    if (saved === null) return this.alias;
    const alias = new Map<string, string>();
    if (saved.length === 0 || names.every((n) => saved.includes(n))) return alias;
    if (names.length !== saved.length) {
      throw argumentError(
        'variableGradients',
        `gradients of the ${saved.length} variables the loaded optimizer state has (${saved.join(', ')})`,
        names,
      );
    }
    for (const [i, name] of names.entries()) alias.set(name, saved[i]);
    return alias;
  }

  /** cimm's JSON config of the optimizer (fromConfig builds the optimizer from it). */
  override getConfig(): serialization.ConfigDict {
    return this.cimm.getConfig() as unknown as serialization.ConfigDict;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const state = this.cimm.state();
    const prefix = this.getClassName();
    const names = Object.keys(state.tensors);
    const header: SavedHeader = {
      format: TFJS_STATE_FORMAT,
      version: TFJS_STATE_VERSION,
      kind: state.kind,
      config: state.config,
      scalars: state.scalars,
      parameters: [...this.order],
      tensors: names,
    };
    return [
      await this.saveIterations(),
      { name: `${prefix}/state`, tensor: tf.scalar(JSON.stringify(header), 'string') },
      // TF.js variables are f32, so the state tensors are Float32Arrays (their parameters' dtype)
      ...names.map((name) => ({
        name: `${prefix}/${name}`,
        tensor: tf.tensor1d(state.tensors[name] as Float32Array, 'float32'),
      })),
    ];
  }

  /**
   * Restore getWeights()'s weights (TF.js's `iter` first). Everything is checked before
   * anything changes; on an error the optimizer keeps its state.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues) || weightValues.length < 2) {
      throw argumentError(
        'weightValues',
        `the weights of a ${this.getClassName()}'s getWeights() (iter, state, …)`,
        weightValues,
      );
    }
    weightValues.forEach((w, i) => {
      if (!isRecord(w) || typeof w.name !== 'string' || !(w.tensor instanceof tf.Tensor)) {
        throw argumentError(`weightValues[${i}]`, 'a {name, tensor} with a tf.Tensor', w);
      }
    });
    const iter = weightValues[0].tensor;
    const iterations = iter.size === 1 ? (await iter.data())[0] : Number.NaN;
    if (!Number.isSafeInteger(iterations) || iterations < 0) {
      throw argumentError('weightValues[0]', 'the iteration count (a scalar integer >= 0)', iterations);
    }
    const header = await this.readHeader(weightValues[1]);
    const rest = weightValues.slice(2);
    if (rest.length !== header.tensors.length) {
      throw argumentError(
        'weightValues',
        `${2 + header.tensors.length} weights (iter, state, ${header.tensors.length} tensors)`,
        weightValues.length,
      );
    }
    const prefix = `${this.getClassName()}/`;
    const tensors: TensorMap = {};
    for (let i = 0; i < rest.length; i++) {
      const { name, tensor } = rest[i];
      const want = header.tensors[i];
      if (name !== `${prefix}${want}` || tensor.dtype !== 'float32') {
        throw argumentError(
          `weightValues[${i + 2}]`,
          `the float32 weight "${prefix}${want}"`,
          `${name} (${tensor.dtype})`,
        );
      }
      Object.defineProperty(tensors, want, {
        value: (tensor.dataSync() as Float32Array).slice(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    this.cimm.loadState({ kind: header.kind, config: header.config, scalars: header.scalars, tensors });
    this.order = [...header.parameters];
    this.known = new Set(header.parameters);
    this.alias = new Map();
    this.pending = [...header.parameters];
    this.iterations_ = this.cimm.iterations;
  }

  private async readHeader(weight: NamedTensor): Promise<SavedHeader> {
    const at = 'weightValues[1]';
    const expected = `the ${this.getClassName()} state ("${this.getClassName()}/state", a string scalar of ${TFJS_STATE_FORMAT} JSON)`;
    if (
      weight.name !== `${this.getClassName()}/state` ||
      weight.tensor.dtype !== 'string' ||
      weight.tensor.size !== 1
    ) {
      throw argumentError(at, expected, weight.name);
    }
    const [text] = (await weight.tensor.data()) as unknown as string[];
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch {
      throw argumentError(at, expected, text);
    }
    if (!isRecord(header) || header.format !== TFJS_STATE_FORMAT) throw argumentError(at, expected, text);
    if (header.version !== TFJS_STATE_VERSION) {
      throw argumentError(
        `${at}.version`,
        `${TFJS_STATE_VERSION} (this cimm reads version ${TFJS_STATE_VERSION} only)`,
        header.version,
      );
    }
    if (header.kind !== this.cimm.kind) throw argumentError(`${at}.kind`, JSON.stringify(this.cimm.kind), header.kind);
    const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (!strings(header.parameters))
      throw argumentError(`${at}.parameters`, 'an array of parameter names', header.parameters);
    if (!strings(header.tensors))
      throw argumentError(`${at}.tensors`, 'an array of state tensor names', header.tensors);
    return header as unknown as SavedHeader;
  }
}
