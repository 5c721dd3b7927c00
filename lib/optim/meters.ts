/**
 * The meters of the entropy-balanced learning rate (design.md §2 eq. 13, seed 000 §3):
 * dE/dt, the energy an iteration expended, and dI/dt, the structured information it
 * gained. docs/theory.md, "Entropy-balanced learning rate", gives the definitions, the
 * defaults and why. The update meters read what the RuleDrivenOptimizer measured of the
 * last update (`UpdateReadings`, lib/optim/rule.ts).
 *
 * Energy meters (readings ≥ 0, one per iteration):
 * - `kinetic` (default): the work done on the parameters, by the work-energy theorem the
 *   kinetic energy ½ Δθᵀ M Δθ of the update, M the inner optimizer's metric (I for SGD,
 *   diag(√v̂ + ε) for Adam, so that E/I has the units of that optimizer's η). Deterministic.
 * - `gradient-work`: Σ |g_i Δθ_i|, the work of the gradient force counted per coordinate
 *   (in loss units: η = E/I is then a pure number; offered, not the default).
 * - `compute`: measured joules — Linux powercap/RAPL counters when readable, else this
 *   process's CPU time × a power per core (an estimate). Not deterministic.
 *
 * Information meters (bits, signed: negative when the quantity went up):
 * - `gradient` (default): the loss decrease of the last update by the trapezoid rule,
 *   ½(−g·Δθ − g'·Δθ) with the slopes at its start (the gradients it was made from) and its
 *   end (this step's gradients) — exact on a quadratic, needs no extra forward pass, and
 *   its noise shrinks with the step (docs/theory.md, "The gradient meter").
 * - `loss`: the decrease of the observed loss, (L_prev − L)·scale/ln 2 (nats). With
 *   mini-batches consecutive losses come from different batches (observation
 *   `previousBatchLoss` fixes that at the cost of a forward pass).
 * - `predictive-entropy`: the decrease of the mean Shannon entropy (bits) of the model's
 *   predictive distributions.
 *
 * Meters keep small JSON states (getState/setState round-trip exactly) so a run resumes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { argumentError, CimmArgumentError } from '../errors.js';
import { finiteNumber, integer, oneOf, options } from '../is.js';
import type { StepObservation } from './optimizer.js';
import type { UpdateReadings } from './rule.js';

/** A meter's state: JSON-safe values (finite numbers, strings, null, arrays of numbers). */
export type MeterState = Record<string, number | string | null | number[]>;

export interface EnergyMeter {
  readonly kind: string;
  /** 'J' for measured joules; 'work' for the meters in the parameters' own units. */
  readonly unit: 'J' | 'work';
  /**
   * p in E ∝ η^p along a fixed update direction (kinetic 2, gradient work 1, compute 0):
   * it fixes the sign of the QPL loop's correction (lib/optim/balance.ts).
   */
  readonly etaOrder: number;
  /** Whether it reads the update's readings (the driver then measures each update). */
  readonly needsUpdate: boolean;
  /** The energy of the last iteration (≥ 0), or null when there is no reading. */
  take(readings?: UpdateReadings | null): number | null;
  getConfig(): EnergyMeterConfig;
  getState(): MeterState;
  setState(state: MeterState): void;
}

/** Bits gained by the last iteration and the size of the quantity measured (for the noise floor). */
export interface InformationReading {
  bits: number;
  /** |quantity| in bits (the loss, the entropy): differences below floor × scale are noise. */
  scale: number;
}

export interface InformationMeter {
  readonly kind: string;
  /** Whether it reads the update's readings. */
  readonly needsUpdate: boolean;
  /** Bits per loss unit (the gradient and loss meters; 0 for meters not in loss units). */
  readonly bitsPerLoss: number;
  /** Record this step's observation; the bits the last iteration gained (null without a reading). */
  observe(observation: StepObservation | undefined, readings: UpdateReadings | null): InformationReading | null;
  getConfig(): InformationMeterConfig;
  getState(): MeterState;
  setState(state: MeterState): void;
}

export type EnergyMeterConfig = { kind: string } & Record<string, unknown>;
export type InformationMeterConfig = { kind: string } & Record<string, unknown>;

/** A meter by kind name, or its config object {kind, …options}. */
export type EnergyMeterSpec = string | EnergyMeterConfig;
export type InformationMeterSpec = string | InformationMeterConfig;

const nullableNumber = (name: string, v: unknown) => (v === null ? null : finiteNumber(name, v));

// ---------------------------------------------------------------------------------------
// Energy meters on the update.

/** ½ Δθᵀ M Δθ (kind "kinetic") or Σ |g Δθ| (kind "gradient-work") of the last update. */
class UpdateWorkMeter implements EnergyMeter {
  readonly unit = 'work' as const;
  readonly needsUpdate = true;
  readonly etaOrder: number;

  constructor(readonly kind: 'kinetic' | 'gradient-work') {
    this.etaOrder = kind === 'kinetic' ? 2 : 1;
  }

  take(readings: UpdateReadings | null = null): number | null {
    if (readings === null) return null;
    return this.kind === 'kinetic' ? readings.kinetic : readings.work;
  }

  getConfig(): EnergyMeterConfig {
    return { kind: this.kind };
  }

  getState(): MeterState {
    return {};
  }

  setState(state: MeterState): void {
    options<MeterState>('state', state);
  }
}

// ---------------------------------------------------------------------------------------
// Measured compute energy.

export type ComputeSource = 'auto' | 'rapl' | 'cpu-time';

export const COMPUTE_METER_DEFAULTS = Object.freeze({
  source: 'auto' as ComputeSource,
  /**
   * W per busy core for the CPU-time estimate: an assumed round figure (a server core
   * under load draws roughly 5–15 W, a desktop core up to ~20 W). An estimate, not a
   * measurement; set it for the machine at hand.
   */
  wattsPerCore: 15,
  powercapRoot: '/sys/class/powercap',
});

export interface ComputeMeterOptions {
  /** 'rapl' (powercap counters), 'cpu-time' (CPU seconds × wattsPerCore), or 'auto' (RAPL when readable). */
  source?: ComputeSource;
  wattsPerCore?: number;
  /** Where the powercap zones are (default /sys/class/powercap; tests point it elsewhere). */
  powercapRoot?: string;
}

interface RaplZone {
  energy: string;
  /** The counter's range in µJ: it wraps to 0 after max_energy_range_uj. */
  range: number;
}

/** The package-level RAPL zones under `root` whose counters this process can read, or []. */
export function raplZones(root: string): RaplZone[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const zones: RaplZone[] = [];
  // Top-level zones only ("intel-rapl:0", not the "intel-rapl:0:0" sub-zones they contain).
  for (const name of names.filter((n) => /^[a-z]+-rapl:\d+$/.test(n)).sort()) {
    const energy = join(root, name, 'energy_uj');
    try {
      const range = Number(readFileSync(join(root, name, 'max_energy_range_uj'), 'utf8').trim());
      const first = Number(readFileSync(energy, 'utf8').trim());
      if (Number.isFinite(range) && range > 0 && Number.isFinite(first)) zones.push({ energy, range });
    } catch {
      // unreadable (since Linux 5.10 energy_uj is root-only by default): not a usable zone
    }
  }
  return zones;
}

/**
 * Joules per iteration: the RAPL package counters (whole-package energy: other processes'
 * work is counted too) or this process's CPU time × wattsPerCore. The state holds the
 * source in use, the last counter readings and the total so far.
 */
class ComputeMeter implements EnergyMeter {
  readonly kind = 'compute';
  readonly unit = 'J' as const;
  readonly etaOrder = 0;
  readonly needsUpdate = false;
  private readonly config: Required<ComputeMeterOptions>;
  private zones: RaplZone[];
  private source: 'rapl' | 'cpu-time';
  /** Last readings: µJ per RAPL zone, or CPU µs (one value). */
  private baseline: number[] | null = null;
  private joules = 0;

  constructor(opts: ComputeMeterOptions, name = 'computeMeter') {
    const o = options<ComputeMeterOptions>(name, opts);
    const source = oneOf(`${name}.source`, o.source ?? COMPUTE_METER_DEFAULTS.source, ['auto', 'rapl', 'cpu-time']);
    const root = o.powercapRoot ?? COMPUTE_METER_DEFAULTS.powercapRoot;
    if (typeof root !== 'string') throw argumentError(`${name}.powercapRoot`, 'a path string', root);
    this.config = {
      source,
      wattsPerCore: finiteNumber(`${name}.wattsPerCore`, o.wattsPerCore ?? COMPUTE_METER_DEFAULTS.wattsPerCore, {
        above: 0,
      }),
      powercapRoot: root,
    };
    this.zones = source === 'cpu-time' ? [] : raplZones(root);
    if (source === 'rapl' && this.zones.length === 0) {
      throw argumentError(`${name}.source`, `"auto" or "cpu-time" (no readable RAPL zone under ${root})`, source);
    }
    this.source = this.zones.length > 0 ? 'rapl' : 'cpu-time';
  }

  /** The counters now: µJ per zone, or the process's CPU µs. Null when a RAPL read fails. */
  private read(): number[] | null {
    if (this.source === 'cpu-time') {
      const u = process.cpuUsage();
      return [u.user + u.system];
    }
    try {
      return this.zones.map((z) => Number(readFileSync(z.energy, 'utf8').trim()));
    } catch {
      return null;
    }
  }

  take(): number | null {
    const now = this.read();
    if (now === null) {
      // RAPL became unreadable: CPU time from here on.
      this.source = 'cpu-time';
      this.baseline = this.read();
      return null;
    }
    const before = this.baseline;
    this.baseline = now;
    if (before === null || before.length !== now.length) return null;
    let joules = 0;
    if (this.source === 'cpu-time') {
      const us = now[0] - before[0];
      // CPU µs are per process: a negative difference means a state from another process
      if (!(us >= 0)) return null;
      joules = us * 1e-6 * this.config.wattsPerCore;
    } else {
      for (let z = 0; z < now.length; z++) {
        let uj = now[z] - before[z];
        // The counter wrapped past max_energy_range_uj (at most once between iterations).
        if (uj < 0) uj += this.zones[z].range;
        if (!(uj >= 0)) return null;
        joules += uj * 1e-6;
      }
    }
    this.joules += joules;
    return joules;
  }

  getConfig(): EnergyMeterConfig {
    return { kind: this.kind, ...this.config };
  }

  getState(): MeterState {
    return { source: this.source, baseline: this.baseline && [...this.baseline], joules: this.joules };
  }

  setState(state: MeterState): void {
    const s = options<MeterState>('state', state);
    const source = oneOf('state.source', s.source, ['rapl', 'cpu-time']);
    const b = s.baseline ?? null;
    if (b !== null && !(Array.isArray(b) && b.every((v) => Number.isFinite(v)))) {
      throw argumentError('state.baseline', 'null or an array of finite numbers', b);
    }
    const joules = finiteNumber('state.joules', s.joules, { min: 0 });
    // A RAPL state restored where RAPL is unreadable continues on CPU time.
    const usable = source === 'rapl' && this.zones.length === 0 ? 'cpu-time' : source;
    this.source = usable;
    this.baseline = usable === source && b !== null ? [...b] : null;
    this.joules = joules;
  }

  /** Joules measured so far. */
  get total(): number {
    return this.joules;
  }

  /** The source in use: 'rapl' or 'cpu-time'. */
  get activeSource(): 'rapl' | 'cpu-time' {
    return this.source;
  }
}

// ---------------------------------------------------------------------------------------
// Information meters.

export interface LossMeterOptions {
  /** The loss's unit: 'nats' (natural-log likelihoods, the default) or 'bits'. */
  unit?: 'nats' | 'bits';
  /**
   * Multiplies ΔL before the unit conversion. For a squared error ½‖r‖²/n, the Gaussian
   * negative log-likelihood per example with noise variance σ² is L/σ² + const nats:
   * scale = 1/σ². Default 1.
   */
  scale?: number;
}

/** The unit conversion of the loss meters: loss units → bits. */
function lossUnits(
  opts: LossMeterOptions,
  name: string,
): { unit: 'nats' | 'bits'; scale: number; bitsPerLoss: number } {
  const o = options<LossMeterOptions>(name, opts);
  const unit = oneOf(`${name}.unit`, o.unit ?? 'nats', ['nats', 'bits']);
  const scale = finiteNumber(`${name}.scale`, o.scale ?? 1, { above: 0 });
  return { unit, scale, bitsPerLoss: scale / (unit === 'nats' ? Math.LN2 : 1) };
}

/**
 * The last update's loss decrease by the trapezoid rule on its two end slopes, in bits:
 * ½(−g·Δθ − g'·Δθ)·bitsPerLoss. Exact when the loss is quadratic along the step; the
 * start slope uses the gradients the update was made from (with mini-batches it carries
 * their noise, which the loss-stream calibration of the QPL loop corrects).
 */
class GradientMeter implements InformationMeter {
  readonly kind = 'gradient';
  readonly needsUpdate = true;
  private readonly unit: 'nats' | 'bits';
  private readonly scale: number;
  readonly bitsPerLoss: number;

  constructor(opts: LossMeterOptions, name = 'informationMeter') {
    ({ unit: this.unit, scale: this.scale, bitsPerLoss: this.bitsPerLoss } = lossUnits(opts, name));
  }

  observe(_observation: StepObservation | undefined, r: UpdateReadings | null): InformationReading | null {
    if (r === null || r.endDecrease === null) return null;
    const decrease = (r.predictedDecrease + r.endDecrease) / 2;
    const size = Math.max(Math.abs(r.predictedDecrease), Math.abs(r.endDecrease));
    return { bits: decrease * this.bitsPerLoss, scale: size * this.bitsPerLoss };
  }

  getConfig(): InformationMeterConfig {
    return { kind: this.kind, unit: this.unit, scale: this.scale };
  }

  getState(): MeterState {
    return {};
  }

  setState(state: MeterState): void {
    options<MeterState>('state', state);
  }
}

/** Loss decrease in bits: (L_prev − L)·scale/ln 2 (nats) or ·scale (bits). */
class LossMeter implements InformationMeter {
  readonly kind = 'loss';
  readonly needsUpdate = false;
  private readonly unit: 'nats' | 'bits';
  private readonly scale: number;
  readonly bitsPerLoss: number;
  private previous: number | null = null;

  constructor(opts: LossMeterOptions, name = 'informationMeter') {
    ({ unit: this.unit, scale: this.scale, bitsPerLoss: this.bitsPerLoss } = lossUnits(opts, name));
  }

  observe(observation: StepObservation | undefined): InformationReading | null {
    const loss = finiteNumber('observation.loss', observation?.loss);
    const same = observation?.previousBatchLoss;
    const after = same === undefined ? loss : finiteNumber('observation.previousBatchLoss', same);
    const prev = this.previous;
    this.previous = loss;
    if (prev === null) return null;
    // With mini-batches, previousBatchLoss (the previous batch at the current parameters)
    // measures the last update on one batch; without it, consecutive batches' losses differ
    // by their sampling noise as well.
    const b = this.bitsPerLoss;
    return { bits: (prev - after) * b, scale: Math.max(Math.abs(prev), Math.abs(after)) * b };
  }

  getConfig(): InformationMeterConfig {
    return { kind: this.kind, unit: this.unit, scale: this.scale };
  }

  getState(): MeterState {
    return { previous: this.previous };
  }

  setState(state: MeterState): void {
    const s = options<MeterState>('state', state);
    this.previous = nullableNumber('state.previous', s.previous ?? null);
  }
}

export interface PredictiveEntropyMeterOptions {
  /** K, the classes per predictive distribution (≥ 2). */
  classes?: number;
  /**
   * Supplies the N × K predictive probabilities at the current parameters (row-major);
   * without it they come from observation.probabilities. Not part of the config.
   */
  source?: () => Float32Array | Float64Array;
}

/** Mean entropy in bits of the rows of an N × K matrix of non-negative masses (each row normalized). */
export function meanEntropyBits(p: Float32Array | Float64Array, classes: number, name: string): number {
  if (!(p instanceof Float32Array || p instanceof Float64Array) || p.length === 0 || p.length % classes !== 0) {
    throw argumentError(name, `a Float32Array or Float64Array of N×${classes} probabilities (N >= 1)`, p);
  }
  let total = 0;
  for (let r = 0; r < p.length; r += classes) {
    let mass = 0;
    for (let j = r; j < r + classes; j++) {
      const v = p[j];
      if (!(v >= 0 && v <= Number.MAX_VALUE)) {
        throw new CimmArgumentError(
          name,
          'non-negative finite probabilities',
          `Expected non-negative finite probabilities for ${name} but received ${v} at index ${j} of ${p.constructor.name}(${p.length}) of type ${p.constructor.name}`,
        );
      }
      mass += v;
    }
    if (mass === 0) throw argumentError(`${name} row ${r / classes}`, 'a row with positive mass', 0);
    let h = 0;
    for (let j = r; j < r + classes; j++) {
      const q = p[j] / mass;
      if (q > 0) h -= q * Math.log2(q);
    }
    total += h;
  }
  return total / (p.length / classes);
}

/** Decrease of the mean predictive entropy H̄ = (1/N) Σ_n H(p_n), in bits. */
class PredictiveEntropyMeter implements InformationMeter {
  readonly kind = 'predictive-entropy';
  readonly needsUpdate = false;
  readonly bitsPerLoss = 0;
  private readonly classes: number;
  private readonly source: (() => Float32Array | Float64Array) | undefined;
  private previous: number | null = null;

  constructor(opts: PredictiveEntropyMeterOptions, name = 'informationMeter') {
    const o = options<PredictiveEntropyMeterOptions>(name, opts);
    this.classes = integer(`${name}.classes`, o.classes, { min: 2 });
    if (o.source !== undefined && typeof o.source !== 'function') {
      throw argumentError(`${name}.source`, 'a function returning the predictive probabilities', o.source);
    }
    this.source = o.source;
  }

  observe(observation: StepObservation | undefined): InformationReading | null {
    const h = this.source
      ? meanEntropyBits(this.source(), this.classes, 'informationMeter.source()')
      : meanEntropyBits(observation?.probabilities as Float64Array, this.classes, 'observation.probabilities');
    const prev = this.previous;
    this.previous = h;
    if (prev === null) return null;
    // The scale of an entropy over K classes is its maximum, log₂ K.
    return { bits: prev - h, scale: Math.log2(this.classes) };
  }

  getConfig(): InformationMeterConfig {
    return { kind: this.kind, classes: this.classes };
  }

  getState(): MeterState {
    return { previous: this.previous };
  }

  setState(state: MeterState): void {
    const s = options<MeterState>('state', state);
    this.previous = nullableNumber('state.previous', s.previous ?? null);
  }
}

// ---------------------------------------------------------------------------------------
// Registries: meters are rebuilt from their JSON config (a run's state names them).

/** What a meter gets besides its JSON config: functions that cannot be saved. */
export interface MeterRuntime {
  /** The predictive probabilities at the current parameters (predictive-entropy meter). */
  source?: () => Float32Array | Float64Array;
}

type EnergyFactory = (config: Record<string, unknown>) => EnergyMeter;
type InformationFactory = (config: Record<string, unknown>, runtime: MeterRuntime) => InformationMeter;

/** Reject keys a meter does not know (a misspelt option would otherwise be ignored). */
function known(name: string, config: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  for (const key of Object.keys(config)) {
    if (!keys.includes(key)) {
      throw argumentError(`${name}.${key}`, `an option of the meter (${['kind', ...keys].join(', ')})`, config[key]);
    }
  }
  return config;
}

const energyMeters = new Map<string, (config: Record<string, unknown>, name: string) => EnergyMeter>([
  ['kinetic', (c, n) => (known(n, c, []), new UpdateWorkMeter('kinetic'))],
  ['gradient-work', (c, n) => (known(n, c, []), new UpdateWorkMeter('gradient-work'))],
  [
    'compute',
    (c, n) => new ComputeMeter(known(n, c, ['source', 'wattsPerCore', 'powercapRoot']) as ComputeMeterOptions, n),
  ],
]);

const informationMeters = new Map<
  string,
  (config: Record<string, unknown>, runtime: MeterRuntime, name: string) => InformationMeter
>([
  ['gradient', (c, _r, n) => new GradientMeter(known(n, c, ['unit', 'scale']) as LossMeterOptions, n)],
  ['loss', (c, _r, n) => new LossMeter(known(n, c, ['unit', 'scale']) as LossMeterOptions, n)],
  [
    'predictive-entropy',
    (c, r, n) =>
      new PredictiveEntropyMeter({ ...(known(n, c, ['classes']) as PredictiveEntropyMeterOptions), ...r }, n),
  ],
]);

/** Register an energy meter kind (its factory receives the config without `kind`). */
export function registerEnergyMeter(kind: string, factory: EnergyFactory): void {
  energyMeters.set(kind, (c) => factory(c));
}

/** Register an information meter kind. */
export function registerInformationMeter(kind: string, factory: InformationFactory): void {
  informationMeters.set(kind, (c, r) => factory(c, r));
}

function spec(name: string, value: unknown, kinds: string[]): [string, Record<string, unknown>] {
  if (typeof value === 'string') return [oneOf(name, value, kinds), {}];
  const o = options<Record<string, unknown>>(name, value);
  const { kind, ...rest } = o;
  return [oneOf(`${name}.kind`, kind, kinds), rest];
}

/** An energy meter from a kind name or config ({kind: "compute", wattsPerCore: 10}). */
export function createEnergyMeter(value: EnergyMeterSpec, name = 'energyMeter'): EnergyMeter {
  const [kind, rest] = spec(name, value, [...energyMeters.keys()]);
  return energyMeters.get(kind)!(rest, name);
}

/** An information meter from a kind name or config ({kind: "loss", unit: "bits"}). */
export function createInformationMeter(
  value: InformationMeterSpec,
  name = 'informationMeter',
  runtime: MeterRuntime = {},
): InformationMeter {
  const [kind, rest] = spec(name, value, [...informationMeters.keys()]);
  return informationMeters.get(kind)!(rest, runtime.source ? { source: runtime.source } : {}, name);
}

/** The meter kinds registered now. */
export function meterKinds(): { energy: string[]; information: string[] } {
  return { energy: [...energyMeters.keys()], information: [...informationMeters.keys()] };
}
