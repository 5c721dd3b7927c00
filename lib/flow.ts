/**
 * The energy flow of seed 002 §4.1 (design.md §2 eq. 10):
 *
 *   ∂E/∂t = κ(t)[T_q + F_g] + β∇²E + γ∇·(E∇Ψ),   κ(t) = sin(τ / ln τ), τ = t + t₀
 *
 * on an nx × ny grid (row-major, cell (i, j) at j·nx + i, spacing h), explicit in time.
 * Validated entry points over the active backend, and EnergyFlow, the integrator that
 * tracks t, evaluates κ(t) every step and keeps every step within the scheme's stable
 * limit. The choices (the sign of the diffusion, the time offset t₀, the upwind drift)
 * are argued in docs/theory.md.
 */
import { separate } from './aliasing.js';
import { abortSignal, throwIfAborted } from './async.js';
import { kernels } from './backend.js';
import { QDT } from './constants.js';
import { argumentError } from './errors.js';
import { finiteNumber, float64Array, integer, oneOf, readOptions } from './is.js';
import type { EnergyFlowParams, FlowBoundary } from './kernels.js';

export type { EnergyFlowParams, FlowBoundary } from './kernels.js';

export const FLOW_BOUNDARIES: readonly FlowBoundary[] = ['periodic', 'zeroFlux'];

/** How EnergyFlow treats a step longer than the stable limit. */
export type StepControl = 'substep' | 'reject';
export const STEP_CONTROLS: readonly StepControl[] = ['substep', 'reject'];

/** Defaults of the energy flow (β and γ default to the seed's constants). */
export const FLOW_DEFAULTS = Object.freeze({
  h: 1,
  dt: 0.1,
  boundary: 'periodic' as FlowBoundary,
  /** t₀ = e: τ = t + e starts where τ/ln τ has its minimum, so the phase only grows. */
  timeOffset: Math.E,
  stepControl: 'substep' as StepControl,
  maxSubsteps: 10_000,
});

/** Sub-steps per native call of EnergyFlow.runAsync (κ values, 512 KB): a run of more is several calls. */
const RUN_BATCH = 1 << 16;

/** Largest grid accepted (cells). */
const MAX_CELLS = 2 ** 32;

/**
 * κ(t) = sin(τ / ln τ) with τ = t + timeOffset (seed 002 §4.1's "time mediation").
 * sin(t / ln t) itself is singular at t = 1 (the phase diverges) and not defined for t ≤ 0,
 * so time is shifted: with the default offset e, τ ≥ e for t ≥ 0, where τ / ln τ is smooth
 * and increasing (its minimum is at τ = e) and changes at most ¼ per unit time.
 */
export function kappa(t: number, timeOffset: number = FLOW_DEFAULTS.timeOffset): number {
  const offset = finiteNumber('timeOffset', timeOffset, { above: 1 });
  finiteNumber('t', t, { above: 1 - offset });
  const tau = t + offset;
  return Math.sin(tau / Math.log(tau));
}

/** The grid's shape and spacing. */
export interface FlowGridOptions {
  /** Cells along x (columns of a row). */
  nx: number;
  /** Cells along y (rows). */
  ny: number;
  /** Spacing h (default 1). */
  h?: number;
  /** "periodic" (default) or "zeroFlux". */
  boundary?: FlowBoundary;
}

interface Grid {
  nx: number;
  ny: number;
  cells: number;
  h: number;
  boundary: FlowBoundary;
}

function gridOf(o: Partial<FlowGridOptions>): Grid {
  const nx = integer('nx', o.nx, { min: 1, max: MAX_CELLS });
  const ny = integer('ny', o.ny, { min: 1, max: MAX_CELLS });
  if (nx * ny > MAX_CELLS) throw argumentError('ny', `an integer with nx·ny <= ${MAX_CELLS}`, ny);
  const h = finiteNumber('h', o.h ?? FLOW_DEFAULTS.h, { above: 0 });
  const boundary = oneOf('boundary', o.boundary ?? FLOW_DEFAULTS.boundary, FLOW_BOUNDARIES);
  return { nx, ny, cells: nx * ny, h, boundary };
}

/** A finite Float64Array holding one value per cell. */
function gridArray(name: string, value: unknown, g: Grid): Float64Array {
  return float64Array(name, value, { length: g.cells, finite: true });
}

/** An output grid (the stencils read neighbours: lib/aliasing.ts rejects an out that overlaps an input). */
function outputGrid(value: unknown, g: Grid): Float64Array {
  return float64Array('out', value, { length: g.cells });
}

/** β ≥ 0: +β∇²E is diffusion; a negative β would make the step anti-diffusive (ill-posed). */
function betaOf(v: unknown): number {
  return finiteNumber('beta', v ?? QDT.beta, { min: 0 });
}

export interface MaxStepOptions extends FlowGridOptions {
  /** β ≥ 0 (default 0.25). */
  beta?: number;
  /** γ (default 0.35). */
  gamma?: number;
}

/**
 * The largest dt for which one explicit step is monotone (keeps E ≥ 0, never grows ∫|E|):
 * 1 / max_cells (4β/h² + Σ_faces max(0, γ(Ψ_i − Ψ_n))/h²); +Infinity when nothing limits it.
 * With Ψ constant this is the diffusion limit h²/(4β).
 */
export function energyFlowMaxStep(potential: Float64Array, opts: MaxStepOptions): number {
  const o = readOptions<MaxStepOptions>('options', opts, ['nx', 'ny', 'h', 'boundary', 'beta', 'gamma']);
  const g = gridOf(o);
  gridArray('potential', potential, g);
  const beta = betaOf(o.beta);
  const gamma = finiteNumber('gamma', o.gamma ?? QDT.gamma);
  return kernels().energyFlowMaxStep(potential, g.nx, g.ny, { h: g.h, beta, gamma, boundary: g.boundary });
}

export interface EnergyFlowStepOptions extends MaxStepOptions {
  /** The time step; must not exceed energyFlowMaxStep for this potential. */
  dt: number;
  /** κ for this step; default κ(t) with `t` and `timeOffset`. */
  kappa?: number;
  /** The step's start time for κ(t) (default 0). */
  t?: number;
  /** t₀ of κ(t) (default e). */
  timeOffset?: number;
  /** Where to write the new grid (must not overlap the inputs); a new array otherwise. */
  out?: Float64Array;
}

/**
 * One validated explicit step of eq. 10: out = E + dt·(κ·source + β∇²E + γ∇·(E∇Ψ)), with
 * `source` = T_q + F_g. Rejects a dt above the stable limit (EnergyFlow sub-steps instead).
 */
export function energyFlowStep(
  energy: Float64Array,
  potential: Float64Array,
  source: Float64Array,
  opts: EnergyFlowStepOptions,
): Float64Array {
  const o = readOptions<EnergyFlowStepOptions>('options', opts, [
    'nx',
    'ny',
    'h',
    'boundary',
    'beta',
    'gamma',
    'dt',
    'kappa',
    't',
    'timeOffset',
    'out',
  ]);
  const g = gridOf(o);
  const beta = betaOf(o.beta);
  const gamma = finiteNumber('gamma', o.gamma ?? QDT.gamma);
  const dt = finiteNumber('dt', o.dt, { above: 0 });
  const k =
    o.kappa === undefined ? kappa(o.t ?? 0, o.timeOffset ?? FLOW_DEFAULTS.timeOffset) : finiteNumber('kappa', o.kappa);
  gridArray('energy', energy, g);
  gridArray('potential', potential, g);
  gridArray('source', source, g);
  const out = o.out === undefined ? new Float64Array(g.cells) : outputGrid(o.out, g);
  separate('energyFlowStep', { energy, potential, source, out });
  const params = { h: g.h, dt, beta, gamma, kappa: k, boundary: g.boundary };
  const limit = kernels().energyFlowMaxStep(potential, g.nx, g.ny, params);
  if (dt > limit) throw stepTooLong(dt, limit);
  kernels().energyFlowStep(energy, potential, source, g.nx, g.ny, params, out);
  return out;
}

function stepTooLong(dt: number, limit: number, what = 'the stable step limit for this potential'): Error {
  return argumentError('dt', `a finite number > 0 and <= ${limit} (${what})`, dt);
}

export interface LaplacianOptions extends FlowGridOptions {
  /** Where to write ∇²E (must not overlap energy); a new array otherwise. */
  out?: Float64Array;
}

/** ∇²E by the 5-point stencil with the grid's boundary condition. */
export function laplacian(energy: Float64Array, opts: LaplacianOptions): Float64Array {
  const o = readOptions<LaplacianOptions>('options', opts, ['nx', 'ny', 'h', 'boundary', 'out']);
  const g = gridOf(o);
  gridArray('energy', energy, g);
  const out = o.out === undefined ? new Float64Array(g.cells) : outputGrid(o.out, g);
  separate('laplacian', { energy, out });
  kernels().laplacian(energy, g.nx, g.ny, { h: g.h, boundary: g.boundary }, out);
  return out;
}

export interface EnergyFlowOptions extends FlowGridOptions {
  /** Default time step of step() (default 0.1). */
  dt?: number;
  /** β ≥ 0 of +β∇²E (default 0.25). */
  beta?: number;
  /** γ of γ∇·(E∇Ψ) (default 0.35). */
  gamma?: number;
  /** t₀ of κ(t) = sin((t + t₀)/ln(t + t₀)), > 1 (default e). */
  timeOffset?: number;
  /** "substep" (default): split a step above the stable limit; "reject": throw. */
  stepControl?: StepControl;
  /** Most sub-steps one step may take (default 10 000). */
  maxSubsteps?: number;
  /** Start time (default 0). */
  t?: number;
  /** Initial E (copied; default 0 everywhere). */
  energy?: Float64Array;
  /** Ψ (copied; default 0 everywhere: no drift). */
  potential?: Float64Array;
  /** T_q, the quantum source (copied; default 0). */
  quantumSource?: Float64Array;
  /** F_g, the gradient force (copied; default 0). */
  gradientForce?: Float64Array;
}

/** Serializable configuration of an EnergyFlow (the grids and the time are state, not config). */
export interface EnergyFlowConfig {
  nx: number;
  ny: number;
  h: number;
  dt: number;
  beta: number;
  gamma: number;
  boundary: FlowBoundary;
  timeOffset: number;
  stepControl: StepControl;
  maxSubsteps: number;
}

/**
 * Seed 002 §4.1's energy flow as an explicit integrator. State: E (double-buffered, so a
 * step allocates nothing), Ψ, S = T_q + F_g, the time t. Each step evaluates κ at its start
 * time; a step longer than the stable limit (maxStableStep, recomputed when Ψ changes) is
 * split into equal sub-steps, or rejected with stepControl "reject".
 */
export class EnergyFlow {
  readonly config: Readonly<EnergyFlowConfig>;
  private readonly grid: Grid;
  private current: Float64Array;
  private previous: Float64Array;
  private readonly psi: Float64Array;
  private readonly source: Float64Array;
  private readonly params: EnergyFlowParams;
  private limit = Number.NaN;
  private time: number;
  private lastDt = 0;
  private substepCount = 0;
  private readonly sums = new Float64Array(3);
  private running = false;

  constructor(opts: EnergyFlowOptions) {
    const o = readOptions<EnergyFlowOptions>('options', opts, [
      'nx',
      'ny',
      'h',
      'boundary',
      'dt',
      'beta',
      'gamma',
      'timeOffset',
      'stepControl',
      'maxSubsteps',
      't',
      'energy',
      'potential',
      'quantumSource',
      'gradientForce',
    ]);
    const g = gridOf(o);
    const timeOffset = finiteNumber('timeOffset', o.timeOffset ?? FLOW_DEFAULTS.timeOffset, { above: 1 });
    this.config = Object.freeze({
      nx: g.nx,
      ny: g.ny,
      h: g.h,
      dt: finiteNumber('dt', o.dt ?? FLOW_DEFAULTS.dt, { above: 0 }),
      beta: betaOf(o.beta),
      gamma: finiteNumber('gamma', o.gamma ?? QDT.gamma),
      boundary: g.boundary,
      timeOffset,
      stepControl: oneOf('stepControl', o.stepControl ?? FLOW_DEFAULTS.stepControl, STEP_CONTROLS),
      maxSubsteps: integer('maxSubsteps', o.maxSubsteps ?? FLOW_DEFAULTS.maxSubsteps, { min: 1, max: 2 ** 31 }),
    });
    this.grid = g;
    this.time = finiteNumber('t', o.t ?? 0, { above: 1 - timeOffset });
    this.current = new Float64Array(g.cells);
    this.previous = new Float64Array(g.cells);
    this.psi = new Float64Array(g.cells);
    this.source = new Float64Array(g.cells);
    const { h, beta, gamma, boundary } = this.config;
    this.params = { h, dt: 0, beta, gamma, kappa: 0, boundary };
    if (o.energy !== undefined) this.setEnergy(o.energy);
    this.setPotential(o.potential);
    this.setSource(o.quantumSource, o.gradientForce);
  }

  static fromConfig(config: EnergyFlowConfig): EnergyFlow {
    return new EnergyFlow(config);
  }

  getConfig(): EnergyFlowConfig {
    return { ...this.config };
  }

  /** The current E grid (a live view: read it, or copy it to keep it across steps). */
  get energy(): Float64Array {
    return this.current;
  }

  /** Ψ (a live view; change it with setPotential so the step limit is recomputed). */
  get potential(): Float64Array {
    return this.psi;
  }

  /** The time t (the start time plus every step taken). */
  get t(): number {
    return this.time;
  }

  /** Sub-steps taken so far. */
  get substeps(): number {
    return this.substepCount;
  }

  /** The grid geometry (for StabilityController and laplacian). */
  get geometry(): Required<FlowGridOptions> {
    const { nx, ny, h, boundary } = this.grid;
    return { nx, ny, h, boundary };
  }

  /** The largest stable step for the current Ψ, β, γ, h (energyFlowMaxStep). */
  get maxStableStep(): number {
    return this.limit;
  }

  /** κ(t) of this flow (default: at the current time). */
  kappa(t: number = this.time): number {
    return kappa(t, this.config.timeOffset);
  }

  /** Replace E (copied). */
  setEnergy(energy: Float64Array): void {
    this.idle('setEnergy');
    this.current.set(gridArray('energy', energy, this.grid));
    this.lastDt = 0;
  }

  /** Replace Ψ (copied; undefined sets 0) and recompute the stable step limit. */
  setPotential(potential?: Float64Array): void {
    this.idle('setPotential');
    if (potential === undefined) this.psi.fill(0);
    else this.psi.set(gridArray('potential', potential, this.grid));
    const { nx, ny } = this.grid;
    this.limit = kernels().energyFlowMaxStep(this.psi, nx, ny, this.params);
  }

  /** Set the source S = T_q + F_g from the quantum source and the gradient force (either may be omitted). */
  setSource(quantumSource?: Float64Array, gradientForce?: Float64Array): void {
    this.idle('setSource');
    const tq = quantumSource === undefined ? undefined : gridArray('quantumSource', quantumSource, this.grid);
    const fg = gradientForce === undefined ? undefined : gridArray('gradientForce', gradientForce, this.grid);
    const s = this.source;
    if (tq) s.set(tq);
    else s.fill(0);
    if (fg) for (let i = 0; i < s.length; i++) s[i] += fg[i];
  }

  /**
   * Advance by dt (default config.dt): ⌈dt / maxStableStep⌉ equal sub-steps (one when dt is
   * within the limit), κ evaluated at each sub-step's start. Returns the sub-steps taken.
   */
  step(dt: number = this.config.dt): number {
    this.idle('step');
    const n = this.substepsOf(finiteNumber('dt', dt, { above: 0 }));
    const k = kernels();
    const { nx, ny } = this.grid;
    const sub = dt / n;
    const start = this.time;
    this.params.dt = sub;
    for (let s = 0; s < n; s++) {
      this.params.kappa = kappa(start + s * sub, this.config.timeOffset);
      k.energyFlowStep(this.current, this.psi, this.source, nx, ny, this.params, this.previous);
      [this.current, this.previous] = [this.previous, this.current];
      this.time = start + (s + 1) * sub;
    }
    this.time = start + dt;
    this.lastDt = sub;
    this.substepCount += n;
    return n;
  }

  /** The sub-steps a step of dt takes (1 within the stable limit); throws as step() does. */
  private substepsOf(dt: number): number {
    if (dt <= this.limit) return 1;
    if (this.config.stepControl === 'reject') throw stepTooLong(dt, this.limit);
    let n = Math.ceil(dt / this.limit);
    while (dt / n > this.limit) n++; // the division may round up past the limit
    if (n > this.config.maxSubsteps) {
      throw stepTooLong(dt, this.limit * this.config.maxSubsteps, 'maxSubsteps × the stable step limit');
    }
    return n;
  }

  /** Throws while runAsync is in flight: the run would overwrite what `what` does. */
  private idle(what: string): void {
    if (this.running) {
      throw new Error(`cimm: EnergyFlow.${what} was called while runAsync is running; await it (or abort it) first`);
    }
  }

  /** `steps` steps of config.dt; returns the sub-steps taken. */
  run(steps: number): number {
    integer('steps', steps, { min: 0, max: 2 ** 53 });
    this.idle('run');
    let total = 0;
    for (let i = 0; i < steps; i++) total += this.step();
    return total;
  }

  /**
   * run(steps) off the main thread (docs/theory.md, "Async kernels"): the same sub-steps,
   * bit for bit (κ of each sub-step is evaluated here, as step() does, and the kernel takes
   * one explicit step per κ). Ψ and the source are copied when the call starts; the flow's
   * E, t and sub-step count change only when the promise resolves, and not at all when it
   * rejects (an abort leaves the flow as it was). While it runs, the methods that change
   * the flow (step, run, runAsync, setEnergy, setPotential, setSource) throw. Resolves to
   * the sub-steps taken.
   */
  async runAsync(steps: number, opts?: { signal?: AbortSignal }): Promise<number> {
    integer('steps', steps, { min: 0, max: 2 ** 53 });
    const signal = abortSignal('signal', readOptions<{ signal?: AbortSignal }>('options', opts, ['signal']).signal);
    this.idle('runAsync');
    throwIfAborted(signal, 'EnergyFlow.runAsync');
    const { dt, timeOffset } = this.config;
    const n = this.substepsOf(dt);
    const sub = dt / n;
    const { nx, ny } = this.grid;
    const { h, beta, gamma, boundary } = this.config;
    const params = { h, dt: sub, beta, gamma, boundary };
    const psi = this.psi.slice();
    const source = this.source.slice();
    const stepsPerCall = Math.max(1, Math.floor(RUN_BATCH / n));
    let grids = { energy: this.current, previous: this.previous };
    let time = this.time;
    this.running = true;
    try {
      for (let done = 0; done < steps; ) {
        const count = Math.min(stepsPerCall, steps - done);
        const kappas = new Float64Array(count * n);
        for (let i = 0; i < count; i++) {
          const start = time;
          for (let s = 0; s < n; s++) kappas[i * n + s] = kappa(start + s * sub, timeOffset);
          time = start + dt;
        }
        grids = await kernels().energyFlowRunAsync(grids.energy, psi, source, nx, ny, params, kappas, signal);
        done += count;
      }
    } finally {
      this.running = false;
    }
    if (steps > 0) {
      this.current.set(grids.energy);
      this.previous.set(grids.previous);
      this.time = time;
      this.lastDt = sub;
      this.substepCount += steps * n;
    }
    return steps * n;
  }

  /** ∫E dΩ = h² Σ E. */
  totalEnergy(): number {
    kernels().gridSums(this.current, this.sums);
    return this.sums[0] * this.grid.h * this.grid.h;
  }

  /**
   * dE/dt of the last sub-step, (E_now − E_before)/dt_sub, into `out` (a new grid
   * otherwise); undefined before the first step.
   */
  rate(out?: Float64Array): Float64Array | undefined {
    if (this.lastDt === 0) return undefined;
    const r =
      out === undefined ? new Float64Array(this.grid.cells) : float64Array('out', out, { length: this.grid.cells });
    const inv = 1 / this.lastDt;
    const now = this.current;
    const before = this.previous;
    for (let i = 0; i < r.length; i++) r[i] = (now[i] - before[i]) * inv;
    return r;
  }
}
