/**
 * The kernels interface: the numeric hot paths every backend implements. The facade
 * (lib/energy.ts and friends) validates arguments before calling these, so a backend may
 * assume well-formed input; native backends still check lengths so that no bad call can
 * read or write out of bounds.
 *
 * Arrays cross positionally; a kernel's hyperparameters cross as ONE options object
 * (SgdStepOptions, MatmulParams, CouplingParams, …), so no two scalars can be swapped
 * unnoticed and each backend reads every field once, by name, before it touches any array
 * (docs/theory.md, "The kernel boundary").
 */

import { MAX_PRIME_COUNT } from './primes.js';

export type BackendName = 'rust' | 'cpp' | 'wasm' | 'js';

/** The activation σ of the fractal layer (design eq. 9). */
export type ActivationName = 'identity' | 'tanh' | 'sigmoid' | 'relu';
/**
 * Boundary condition of the energy-flow grid (design eq. 10): `periodic` wraps both axes;
 * `zeroFlux` (Neumann) closes every boundary face, so no energy crosses it.
 */
export type FlowBoundary = 'periodic' | 'zeroFlux';

/** The grid geometry and coefficients of one explicit energy-flow step (design eq. 10). */
export interface EnergyFlowParams {
  /** Grid spacing h (cells are h × h). */
  h: number;
  /** Time step. */
  dt: number;
  /** β ≥ 0, the diffusion coefficient of +β∇²E. */
  beta: number;
  /** γ, the drift coefficient of γ∇·(E∇Ψ). */
  gamma: number;
  /** κ(t), evaluated by the caller at the step's start time. */
  kappa: number;
  boundary: FlowBoundary;
}

/**
 * The hyperparameters of sgdStepMeasured: sgdStep's, by name (one options object across the
 * native boundary, each field read once).
 */
export interface SgdStepOptions {
  learningRate: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
  /** The momentum buffer starts as the gradient (PyTorch: `buf is None`). */
  firstStep: boolean;
}

/** adamStep's hyperparameters, by name (one options object across the native boundary, each field read once). */
export interface AdamStepOptions {
  beta1: number;
  beta2: number;
  stepSize: number;
  bc2Sqrt: number;
  epsilon: number;
  weightDecay: number;
  decay: number;
  amsgrad: boolean;
  maximize: boolean;
}

/**
 * The hyperparameters of adamStepMeasured: adamStep's, and the metric of the reading
 * (w_i = f32 √s_i · metricScale + metricEpsilon, s the second moment the step used; the
 * optimizer passes 1/√(1 − β₂ᵗ) and its ε, unrounded).
 */
export interface AdamStepMeasuredOptions extends AdamStepOptions {
  metricScale: number;
  metricEpsilon: number;
}

/** prodigyAccumulate's scalars, by name (the caller computes them in f64; the kernel rounds them to the dtype). */
export interface ProdigyAccumulateOptions {
  beta1: number;
  beta2: number;
  beta3: number;
  /** c₁ = d(1 − β₁). */
  momentScale: number;
  /** c₂ = d²(1 − β₂). */
  varianceScale: number;
  /** cₛ = (d/d₀)·dlr, or (d/d₀)·d with the safeguard. */
  sScale: number;
  weightDecay: number;
}

/** prodigyUpdate's scalars, by name: stepSize = dlr, epsilon = d·ε, decay = −λ·dlr (0: none). */
export interface ProdigyUpdateOptions {
  stepSize: number;
  epsilon: number;
  decay: number;
}

/** The constants of design eq. 1 (coupling). */
export interface CouplingParams {
  alpha: number;
  beta: number;
  gamma: number;
  lambdaCosmo: number;
}

/** The constants of design eq. 2 (scale transition): λ and t_c. */
export interface ScaleTransitionParams {
  scaleCoupling: number;
  criticalTime: number;
}

/** The constants of design eq. 5 (the energy and its terms): N, ℓ, ε and Λ. */
export interface EnergyTermsParams {
  /** N, primes in the local series (eq. 3): an integer in [0, MAX_PRIME_COUNT]. */
  primeCount: number;
  /** ℓ of eq. 4. */
  lengthScale: number;
  /** ε of eq. 4. */
  softening: number;
  /** Λ, the weight of the nonlocal term. */
  lambdaCosmo: number;
}

/** The constants of design eq. 4 (nonlocal energy): ℓ and ε. */
export interface NonlocalEnergyParams {
  lengthScale: number;
  softening: number;
}

/** The metric of updateEnergy: w_i = √metric_i · metricScale + epsilon. */
export interface UpdateEnergyParams {
  metricScale: number;
  epsilon: number;
}

/** The Laplacian's grid spacing and boundary (design eqs. 10–11). */
export type LaplacianParams = Pick<EnergyFlowParams, 'h' | 'boundary'>;

/**
 * The parameter dtype of the optimizer kernels (sgdStep … updateSlope, l2Norm, zeroNonFinite,
 * scaleInPlace, firstNonFinite): Float32Array parameters take IEEE f32 arithmetic, as
 * PyTorch on f32 tensors; Float64Array parameters take the same operations in f64, as
 * PyTorch on f64 tensors (docs/theory.md, "Float64 parameters"). Every array of one call
 * has the dtype of `params` (an empty, unused array may have either); a mix is an error
 * naming the array. Hyperparameters are rounded to the dtype, so "f32 operation" in the
 * comments below reads "f64 operation" for Float64Array parameters. Sums (`out`, the
 * returned numbers) are f64 in both dtypes, in the same canonical order.
 */
export type Real = Float32Array | Float64Array;

/** What a backend says about itself for `backendInfo()`. */
export interface BackendDescription {
  name: BackendName;
  /**
   * The SIMD path the kernels take on this CPU: "avx2+fma", "neon", "scalar", "wasm-simd128"
   * (the WebAssembly module), or "none" for js.
   */
  simdPath: string;
  /** CPU features detected at run time (empty for js). */
  cpuFeatures: string[];
  /** Worker threads the backend may use for large calls. */
  threads: number;
  /**
   * Native backends: where the addon was loaded from (a file, or the platform package's name);
   * wasm: the module's file.
   */
  source?: string;
}

/** matmul's shape and scalars, by name: the options object of matmulAsync. */
export interface MatmulParams {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
}

/** The coefficients of a flow run: one step's (EnergyFlowParams), less κ, which a run takes per step. */
export type EnergyFlowRunParams = Omit<EnergyFlowParams, 'kappa'>;

/** What a flow run resolves to: E after its last step and E before it (both the initial E after 0 steps). */
export interface EnergyFlowRunResult {
  energy: Float64Array;
  previous: Float64Array;
}

/**
 * The async variants of the long kernels (docs/theory.md, "Async kernels"). Each one copies
 * its typed-array inputs during the call, before it returns, and computes into memory of
 * its own that becomes the resolved array: after the call, the caller may detach, transfer,
 * resize or overwrite its arguments without changing the result. Native backends compute on
 * libuv's thread pool (the event loop stays free) with the same core function as the sync
 * kernel, so results are bit-identical to it; the js backend runs the same reference code
 * on the main thread, in chunks between which it yields to the event loop. A `signal`
 * already aborted rejects at once with an AbortError; one aborted later rejects the promise
 * at once, and the computation stops at its next check (between work units). The facade
 * validates every argument first; like the sync kernels, the js ones trust it, and the
 * native ones check what memory safety needs and reject before any work is queued.
 */
export interface AsyncKernels {
  /** A new m×n array α·op(a)·op(b) + β·c, as matmul computes it (`c` is read only when β ≠ 0). */
  matmulAsync(
    params: MatmulParams,
    a: Float32Array,
    b: Float32Array,
    c: Float32Array | undefined,
    signal?: AbortSignal,
  ): Promise<Float32Array>;

  /** A new array of eq. 3 for every r, as localEnergy computes it. */
  localEnergyAsync(r: Float64Array, primeCount: number, signal?: AbortSignal): Promise<Float64Array>;

  /**
   * kappas.length explicit steps of eq. 10 from `energy`: step s is energyFlowStep with
   * κ = kappas[s] and the run's dt, bit for bit.
   */
  energyFlowRunAsync(
    energy: Float64Array,
    potential: Float64Array,
    source: Float64Array,
    nx: number,
    ny: number,
    params: EnergyFlowRunParams,
    kappas: Float64Array,
    signal?: AbortSignal,
  ): Promise<EnergyFlowRunResult>;
}

/** The async kernel methods, for checking that a native addon provides them all. */
export const ASYNC_KERNEL_NAMES = [
  'matmulAsync',
  'localEnergyAsync',
  'energyFlowRunAsync',
] as const satisfies readonly (keyof AsyncKernels)[];

export type AsyncKernelName = (typeof ASYNC_KERNEL_NAMES)[number];

export interface Kernels extends AsyncKernels {
  readonly name: BackendName;
  describe(): BackendDescription;

  /**
   * Local energy, design eq. 3, batched over r:
   * out[i] = Σ_{n=1}^{N} cos(2π r_i / p_n) / (r_i² + p_n²), N = primeCount.
   */
  localEnergy(r: Float64Array, primeCount: number, out: Float64Array): void;

  /**
   * Nonlocal energy, design eq. 4, as the mean over the M rows z_j of `points` (M×d):
   * (1/M) Σ_j exp(−‖x − z_j‖/ℓ) / sqrt(‖z_j − y‖² + ε²).
   */
  nonlocalEnergy(x: Float32Array, y: Float32Array, points: Float32Array, params: NonlocalEnergyParams): number;

  /** Euclidean distance ‖x − y‖₂, accumulated in f64. */
  distance(x: Float32Array, y: Float32Array): number;

  /**
   * Design eq. 5 with its terms, in one call: out = [r, E_loc(r), E_nl(x, y), E_loc + Λ·E_nl]
   * with r = ‖x − y‖ — distance, localEnergy and nonlocalEnergy's values bit for bit (on wasm,
   * whose single kernels route small calls to js, within their tolerances), the sum in f64. `points` is M×d (d = x.length ≥ 1); `out` has length 4.
   */
  energyTerms(
    x: Float32Array,
    y: Float32Array,
    points: Float32Array,
    params: EnergyTermsParams,
    out: Float64Array,
  ): void;
  /**
   * Fractal transform, design eq. 8, one step: out[i] = z[i]² + c with c = fround(offset)
   * (the caller computes c_n = 1/p_n + Σ_k ω_k/p_{n+k}). Each element is computed in f64
   * and rounded once to f32, so every backend is bit-exact with the js reference. `z` may
   * be `out` (in place).
   */
  fractalStep(z: Float32Array, offset: number, out: Float32Array): void;

  /** Backward rule of one step of eq. 8: gradZ[i] = 2·z[i]·gradOut[i]. `gradOut` may be `gradZ`. */
  fractalStepBackward(z: Float32Array, gradOut: Float32Array, gradZ: Float32Array): void;

  /** max |x[i]| (0 when empty), or NaN when any element is NaN or ±Infinity (eq. 8's bound check). */
  maxAbs(x: Float32Array): number;

  /**
   * GEMM for eq. 9: c ← α·op(a)·op(b) + β·c, row-major; op(a) is m×k (a stored k×m when
   * transA), op(b) is k×n (b stored n×k when transB), c is m×n. β = 0 overwrites c without
   * reading it. c must not overlap a or b. Float32Array or Float64Array, one dtype per call
   * (nn layers in f64): f64 matrices take f64 products and sums; the backends agree within a
   * tolerance, as in f32 (docs/theory.md, "Float64 parameters").
   */
  matmul(params: MatmulParams, a: Real, b: Real, c: Real): void;

  /** y ← α·x + β·y (f64 arithmetic, one rounding); β = 0 overwrites y. `x` may be `y`. */
  axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void;

  /** Σ x[i]·y[i], accumulated in f64. */
  dot(x: Float32Array, y: Float32Array): number;

  /** Σ x[i], accumulated in f64. */
  sum(x: Float32Array): number;

  /** Eq. 9's σ: out[i] = σ(x[i] + shift). `x` may be `out`. f32 or f64 arrays (one dtype per call). */
  activationForward(activation: ActivationName, x: Real, shift: number, out: Real): void;

  /**
   * Backward of σ through its output y: gradPre[i] = gradOut[i]·σ'(pre[i]) (tanh 1 − y²,
   * sigmoid y(1 − y), relu [y > 0], identity 1). `y` or `gradOut` may be `gradPre`.
   */
  activationBackward(activation: ActivationName, y: Real, gradOut: Real, gradPre: Real): void;

  /**
   * Quantum–classical coupling, design eq. 1, batched over t:
   * out[i] = α e^{−βt_i} cos(γt_i) + Λ J(t_i), J(t) = ∫₀ᵗ e^{−βτ} sin(γτ) dτ in closed form
   * (its series where |t|·hypot(β, γ) < 1). `out` may be `t` itself.
   */
  coupling(t: Float64Array, params: CouplingParams, out: Float64Array): void;

  /**
   * Scale transition, design eq. 2, batched over t: out[i] = 1 / (1 + e^{−λ(t_i − t_c)}),
   * λ = scaleCoupling, t_c = criticalTime, through e^{−|u|} (no overflow). `out` may be `t`.
   */
  scaleTransition(t: Float64Array, params: ScaleTransitionParams, out: Float64Array): void;

  /**
   * The Shannon term of design eq. 6, in bits: −Σ P_i log₂ P_i with P = p / Σp and
   * 0·log 0 = 0. NaN when p is empty, sums to 0, or holds a negative or non-finite mass.
   */
  shannonEntropy(p: Float64Array): number;

  /**
   * The eigenvalues, ascending, of the Hermitian part of the d×d matrix re + i·im
   * (row-major), into `out` (length d): the spectrum of a density matrix behind design
   * eq. 15. Non-finite input gives NaN.
   */
  hermitianEigenvalues(re: Float64Array, im: Float64Array, d: number, out: Float64Array): void;

  /**
   * One step of torch.optim.SGD on one parameter tensor, in place (docs/theory.md,
   * "Optimizers"). Every operation is an f32 operation, unfused, in PyTorch's order:
   * d = ±g (− when maximizing); d ← d + λ·p if λ ≠ 0; if μ ≠ 0:
   * b ← d on the first step else b·μ + (1 − τ)·d, then d ← d + μ·b (Nesterov) or d ← b;
   * p ← p − η·d. The scalars are rounded to f32 first ((1 − τ) computed in f64, as PyTorch
   * does). `momentumBuffer` must have the params' length when μ ≠ 0 and is ignored (may
   * be empty) when μ = 0. No array may overlap another. Returns false when an updated
   * parameter is NaN or ±∞ (the update is complete either way).
   */
  sgdStep(params: Real, grads: Real, momentumBuffer: Real, options: SgdStepOptions): boolean;

  /**
   * One step of torch.optim.Adam / AdamW on one parameter tensor, in place. f32
   * operations, unfused, in PyTorch's order: p ← p·decay (AdamW's decoupled decay
   * 1 − η·λ, 1 for Adam); d = ±g; d ← d + λ·p if λ ≠ 0 (Adam's L2 term, 0 for AdamW);
   * m ← m·β₁ + (1 − β₁)·d; v ← v·β₂ + ((1 − β₂)·d)·d; with amsgrad vMax ← max(vMax, v)
   * and s = vMax, else s = v; p ← p − (stepSize·m) / (√s / bc2Sqrt + ε). The caller
   * passes stepSize = η / (1 − β₁ᵗ) and bc2Sqrt = √(1 − β₂ᵗ) computed in f64; the kernel
   * rounds every scalar to f32. `vMax` must have the params' length with amsgrad and is
   * ignored (may be empty) without. No array may overlap another. Returns false when an
   * updated parameter is NaN or ±∞.
   */
  adamStep(params: Real, grads: Real, m: Real, v: Real, vMax: Real, options: AdamStepOptions): boolean;

  /**
   * sgdStep, measured in the same pass: `before` (the params' length) receives each parameter's
   * value before the step, and out[0..3] what updateEnergy(before, params, grads, empty
   * metric, { metricScale: 1, epsilon: 0 }) gives after it — Σ Δ², Σ g·Δ, Σ |g·Δ| — bit for bit, in its canonical order.
   * The step itself is sgdStep's, bit for bit. No array may overlap another (`out` included).
   * Returns false when an updated parameter is NaN or ±∞ (the update is complete either way).
   */
  sgdStepMeasured(
    params: Real,
    grads: Real,
    momentumBuffer: Real,
    before: Real,
    options: SgdStepOptions,
    out: Float64Array,
  ): boolean;

  /**
   * adamStep, measured in the same pass: `before` receives each parameter's value before the
   * step, and out[0..3] what updateEnergy(before, params, grads, s,
   * { metricScale, epsilon: metricEpsilon }) gives after it, s being the second moment the step used (v, or vMax with
   * amsgrad) — bit for bit, in its canonical order. The step itself is adamStep's, bit for
   * bit. No array may overlap another (`out` included). Returns false when an updated
   * parameter is NaN or ±∞.
   */
  adamStepMeasured(
    params: Real,
    grads: Real,
    m: Real,
    v: Real,
    vMax: Real,
    before: Real,
    options: AdamStepMeasuredOptions,
    out: Float64Array,
  ): boolean;

  /**
   * Prodigy's first pass over one parameter tensor (lib/optim/prodigy.ts; Mishchenko &
   * Defazio 2023, Algorithm 4 as prodigyopt 1.1.2 implements it), in place, f32
   * operations unfused in prodigyopt's order: g ← g + λ·p if λ ≠ 0 (coupled decay; the
   * caller's grads are not written); m ← m·β₁ + c₁·g; v ← v·β₂ + (c₂·g)·g;
   * s ← s·β₃ + cₛ·g, with c₁ = d(1 − β₁), c₂ = d²(1 − β₂), cₛ = (d/d₀)·dlr (or (d/d₀)·d
   * with the safeguard) computed in f64 by the caller and rounded to f32 here. Returns
   * [Σ g·(p₀ − p), Σ |s|] (new s) accumulated in f64 in a fixed order (units of
   * prodigyUnit(n) elements, 8 lanes each; lib/backends/js/prodigy.ts), identical on every
   * backend and thread count. No array may overlap another.
   */
  prodigyAccumulate(
    params: Real,
    grads: Real,
    p0: Real,
    m: Real,
    v: Real,
    s: Real,
    options: ProdigyAccumulateOptions,
  ): [number, number];

  /**
   * Prodigy's second pass over one parameter tensor, in place: p ← p + a·p if a ≠ 0
   * (decoupled decay, a = −λ·dlr); p ← p + (−dlr·m) / (√v + d·ε), f32 unfused, scalars
   * (stepSize = dlr, epsilon = d·ε, decay = a) rounded to f32. Returns false when an
   * updated parameter is NaN or ±∞.
   */
  prodigyUpdate(params: Real, m: Real, v: Real, options: ProdigyUpdateOptions): boolean;

  /** The index of the first NaN or ±∞ in `values`, or −1 (the optimizers' gradient check). */
  firstNonFinite(values: Real): number;

  /**
   * dst ← src (same length), on the threads the kernels use: the benchmark's copy
   * bandwidth probe, against which the optimizer steps' memory traffic is measured.
   */
  memoryCopy(src: Float32Array, dst: Float32Array): void;

  /**
   * One forward-Euler step of the energy flow, design eq. 10 (seed 002 §4.1), on an
   * nx × ny row-major grid (index j·nx + i):
   * out = E + dt·(κ·source + β∇²E + γ∇·(E∇Ψ)), the Laplacian the 5-point stencil and the
   * drift in conservative form with upwind face fluxes (docs/theory.md). `out` must not
   * overlap `energy`, `potential` or `source`.
   */
  energyFlowStep(
    energy: Float64Array,
    potential: Float64Array,
    source: Float64Array,
    nx: number,
    ny: number,
    params: EnergyFlowParams,
    out: Float64Array,
  ): void;

  /**
   * The largest dt for which energyFlowStep is monotone (positivity-preserving and
   * L1-stable): 1 / max_i Σ_faces (β + max(0, γ(Ψ_i − Ψ_neighbour))) / h², with 4β for the
   * diffusion part in every cell; +Infinity when nothing limits it (β = 0 and no downhill
   * drift).
   */
  energyFlowMaxStep(
    potential: Float64Array,
    nx: number,
    ny: number,
    params: Pick<EnergyFlowParams, 'h' | 'beta' | 'gamma' | 'boundary'>,
  ): number;

  /** The 5-point Laplacian ∇²E with the given boundary (design eqs. 10–11); `out` must not overlap `energy`. */
  laplacian(energy: Float64Array, nx: number, ny: number, params: LaplacianParams, out: Float64Array): void;

  /** Σ x, Σ |x| and Σ x² of a grid into out[0..3] (design eq. 11's integrals and norms), summed in f64. */
  gridSums(x: Float64Array, out: Float64Array): void;

  /** ‖x‖₂ of an f32 vector (the gradient norm ‖∇L‖ of design eq. 11), accumulated in f64; NaN or ∞ when x holds one. */
  l2Norm(x: Real): number;

  /** Replace every NaN and ±∞ in x by 0; returns how many were replaced. */
  zeroNonFinite(x: Real): number;

  /** x_i ← x_i · s in place, the product in f64 rounded once to the dtype. */
  scaleInPlace(x: Real, s: number): void;

  /**
   * The energy terms of one optimizer update Δ = after − before (design eq. 13's energy
   * meters; docs/theory.md, "Entropy-balanced learning rate"), in f64:
   * out[0] = Σ w_i Δ_i² with w_i = √metric_i · metricScale + ε, the square root in the dtype
   * (w_i = 1 when `metric` is empty), out[1] = Σ g_i Δ_i, out[2] = Σ |g_i Δ_i|. Unfused, in
   * the canonical order of
   * lib/backends/js/balance.ts, so the sums are bit-identical on every backend and thread
   * count. `after`, `grads` and a non-empty `metric` have the length of `before`; `out`
   * has length 3.
   */
  updateEnergy(
    before: Real,
    after: Real,
    grads: Real,
    metric: Real,
    params: UpdateEnergyParams,
    out: Float64Array,
  ): void;

  /**
   * Σ g_i (after_i − before_i) alone: updateEnergy's out[1] bit for bit (the same terms in the
   * same canonical order), cheaper (one sum instead of three). The learning-rate rules' end
   * slope. `after` and `grads` have the length of `before`.
   */
  updateSlope(before: Real, after: Real, grads: Real): number;
}

/**
 * The kernel families: every kernel belongs to one, and every tree keeps a family in one file
 * of that name (lib/backends/js/<family>.ts, crate/src/<family>.rs and
 * crate/src/binding/<family>.rs, native/src/<family>.cpp and native/src/binding/<family>.cpp,
 * native/wasm/<family>.cpp, test/<family>.test.ts, bench/cases/<family>.ts), so a kernel's
 * pieces are found by one name (docs/theory.md, "The kernel boundary"; test/families.test.ts
 * checks the mirror).
 */
export const KERNEL_FAMILIES = {
  energy: ['localEnergy', 'localEnergyAsync', 'nonlocalEnergy', 'distance', 'energyTerms'],
  fractal: ['fractalStep', 'fractalStepBackward', 'maxAbs'],
  linalg: ['matmul', 'matmulAsync', 'axpby', 'dot', 'sum', 'activationForward', 'activationBackward'],
  qdt: ['coupling', 'scaleTransition', 'shannonEntropy', 'hermitianEigenvalues'],
  flow: ['energyFlowStep', 'energyFlowRunAsync', 'energyFlowMaxStep', 'laplacian', 'gridSums'],
  optim: [
    'sgdStep',
    'adamStep',
    'sgdStepMeasured',
    'adamStepMeasured',
    'firstNonFinite',
    'memoryCopy',
    'l2Norm',
    'zeroNonFinite',
    'scaleInPlace',
  ],
  prodigy: ['prodigyAccumulate', 'prodigyUpdate'],
  balance: ['updateEnergy', 'updateSlope'],
} as const satisfies Record<string, readonly Exclude<keyof Kernels, 'name' | 'describe'>[]>;

export type KernelFamily = keyof typeof KERNEL_FAMILIES;
type FamilyKernel = (typeof KERNEL_FAMILIES)[KernelFamily][number];
/** Every kernel of the interface is in a family (a compile error names the one that is not). */
const everyKernelHasAFamily: Exclude<keyof Kernels, 'name' | 'describe' | FamilyKernel> extends never ? true : never =
  true;
void everyKernelHasAFamily;

/** The family of each kernel. */
export const FAMILY_OF = Object.fromEntries(
  Object.entries(KERNEL_FAMILIES).flatMap(([family, names]) => names.map((k) => [k, family])),
) as Record<FamilyKernel, KernelFamily>;

export type KernelName = Exclude<FamilyKernel, AsyncKernelName>;

/** The sync kernel methods of `Kernels`, for checking that a native addon provides them all. */
export const KERNEL_NAMES = Object.values(KERNEL_FAMILIES)
  .flat()
  .filter((k): k is KernelName => !(ASYNC_KERNEL_NAMES as readonly string[]).includes(k));

/** Every kernel method, sync and async, by name. */
export type AnyKernels = Omit<Kernels, 'name' | 'describe'>;

/**
 * How one field of an options object crosses the native boundary: a number, a boolean, or
 * one of a list of names, which crosses as its index in the list (a native side then
 * compares integers, not strings).
 */
type ScalarKind<T> = [T] extends [boolean] ? 'boolean' : [T] extends [number] ? 'number' : readonly T[];

/** The options object of kernel K: its parameter at index A. */
type OptionsParam<K extends keyof AnyKernels, A extends number> = Parameters<AnyKernels[K]>[A];

/**
 * A kernel's options object as it crosses the native boundary: in its place (`at`, its index
 * in the TS signature) the native function takes the object's fields as positional scalars,
 * in the order of `fields`. The native backends' JS side reads each field once, in that
 * order (lib/backends/native.ts), and the bindings read positions, never property names
 * (docs/boundary.md, "Options objects").
 */
export interface BoundaryOptions {
  /** The options parameter's index in the kernel's TS signature. */
  readonly at: number;
  /** Its name in errors: `options.<field>` or `params.<field>`. */
  readonly name: 'options' | 'params';
  /** Field name → kind, in the order the native function takes them. */
  readonly fields: Readonly<Record<string, 'number' | 'boolean' | readonly string[]>>;
}

/**
 * One entry of BOUNDARY_OPTIONS, checked at compile time against the kernel's signature: the
 * parameter at `at` must be an object whose fields are exactly `fields`, each of its kind.
 */
function boundary<K extends keyof AnyKernels, A extends number>(
  _kernel: K,
  at: A,
  name: BoundaryOptions['name'],
  fields: { readonly [F in keyof OptionsParam<K, A>]-?: ScalarKind<OptionsParam<K, A>[F]> },
): BoundaryOptions {
  return { at, name, fields: fields as BoundaryOptions['fields'] };
}

const SGD = {
  learningRate: 'number',
  momentum: 'number',
  dampening: 'number',
  weightDecay: 'number',
  nesterov: 'boolean',
  maximize: 'boolean',
  firstStep: 'boolean',
} as const;
const ADAM = {
  beta1: 'number',
  beta2: 'number',
  stepSize: 'number',
  bc2Sqrt: 'number',
  epsilon: 'number',
  weightDecay: 'number',
  decay: 'number',
  amsgrad: 'boolean',
  maximize: 'boolean',
} as const;
const BOUNDARIES = ['periodic', 'zeroFlux'] as const satisfies readonly FlowBoundary[];
const MATMUL = {
  transA: 'boolean',
  transB: 'boolean',
  m: 'number',
  n: 'number',
  k: 'number',
  alpha: 'number',
  beta: 'number',
} as const;

/**
 * Every kernel that takes an options object, and how that object crosses the native boundary
 * (one declaration: the JS side, the Rust binding's parameter names — checked against
 * crate/index.d.cts — and the C++ binding's positions, generated into
 * native/src/binding/boundary.hpp by scripts/gen-kernels.mjs, all follow it).
 */
export const BOUNDARY_OPTIONS = {
  sgdStep: boundary('sgdStep', 3, 'options', SGD),
  sgdStepMeasured: boundary('sgdStepMeasured', 4, 'options', SGD),
  adamStep: boundary('adamStep', 5, 'options', ADAM),
  adamStepMeasured: boundary('adamStepMeasured', 6, 'options', {
    ...ADAM,
    metricScale: 'number',
    metricEpsilon: 'number',
  }),
  prodigyAccumulate: boundary('prodigyAccumulate', 6, 'options', {
    beta1: 'number',
    beta2: 'number',
    beta3: 'number',
    momentScale: 'number',
    varianceScale: 'number',
    sScale: 'number',
    weightDecay: 'number',
  }),
  prodigyUpdate: boundary('prodigyUpdate', 3, 'options', { stepSize: 'number', epsilon: 'number', decay: 'number' }),
  matmul: boundary('matmul', 0, 'params', MATMUL),
  matmulAsync: boundary('matmulAsync', 0, 'params', MATMUL),
  coupling: boundary('coupling', 1, 'params', {
    alpha: 'number',
    beta: 'number',
    gamma: 'number',
    lambdaCosmo: 'number',
  }),
  scaleTransition: boundary('scaleTransition', 1, 'params', { scaleCoupling: 'number', criticalTime: 'number' }),
  nonlocalEnergy: boundary('nonlocalEnergy', 3, 'params', { lengthScale: 'number', softening: 'number' }),
  energyTerms: boundary('energyTerms', 3, 'params', {
    primeCount: 'number',
    lengthScale: 'number',
    softening: 'number',
    lambdaCosmo: 'number',
  }),
  energyFlowStep: boundary('energyFlowStep', 5, 'params', {
    h: 'number',
    dt: 'number',
    beta: 'number',
    gamma: 'number',
    kappa: 'number',
    boundary: BOUNDARIES,
  }),
  energyFlowRunAsync: boundary('energyFlowRunAsync', 5, 'params', {
    h: 'number',
    dt: 'number',
    beta: 'number',
    gamma: 'number',
    boundary: BOUNDARIES,
  }),
  energyFlowMaxStep: boundary('energyFlowMaxStep', 3, 'params', {
    h: 'number',
    beta: 'number',
    gamma: 'number',
    boundary: BOUNDARIES,
  }),
  laplacian: boundary('laplacian', 3, 'params', { h: 'number', boundary: BOUNDARIES }),
  updateEnergy: boundary('updateEnergy', 4, 'params', { metricScale: 'number', epsilon: 'number' }),
} as const satisfies { readonly [K in keyof AnyKernels]?: BoundaryOptions };

export type OptionsKernelName = keyof typeof BOUNDARY_OPTIONS;

/** An array parameter of a declared kernel (DECLARED_KERNELS). */
export interface DeclaredArray {
  readonly type: 'f32' | 'f64';
  /** `out`: the kernel writes it (an input that overlaps it is read from a copy); `in`: read only. */
  readonly role: 'in' | 'out';
  /**
   * Its length, checked by the bindings before the kernel runs: a number; another array's
   * name (the same length); `{ multipleOf }`, a non-zero multiple of another array's length
   * (which must then be non-empty: M rows of d). Absent: any length.
   */
  readonly length?: number | string | { readonly multipleOf: string };
  /** At least one element. */
  readonly nonEmpty?: true;
}

/**
 * A kernel whose native bindings are generated: the Rust `#[napi]` function, the C++
 * Node-API function, the WebAssembly C entry point and the C++ core's declaration, all
 * written by scripts/gen-kernels.mjs from this (docs/boundary.md, "Generated bindings").
 * Adding such a kernel is its signature in `Kernels`, this entry (plus BOUNDARY_OPTIONS when
 * it takes an options object), and its math: the js reference, the Rust core function and
 * the C++ core function, each in its family's file.
 */
export interface DeclaredKernel {
  readonly family: KernelFamily;
  /**
   * The typed-array parameters in signature order; the options object (BOUNDARY_OPTIONS) sits
   * among them at its `at`. A declared kernel takes no other parameter.
   */
  readonly arrays: Readonly<Record<string, DeclaredArray>>;
  /** Options fields that size something: integers in [min, max], checked natively before any array. */
  readonly integers?: Readonly<Record<string, readonly [number, number]>>;
  readonly returns: 'void' | 'number';
  /**
   * A valid options object, for the tests and the fuzz harness that read the declarations
   * (test/aliasing.test.ts, fuzz/kernels.ts): they need one call that must succeed.
   */
  readonly sample?: Readonly<Record<string, number | boolean>>;
  /**
   * On wasm, calls whose array `array` is shorter than `length` run the js reference instead
   * (a measured crossover, as the hand-bound wasm kernels have: docs/wasm.md, "Crossovers").
   */
  readonly wasmCrossover?: { readonly array: string; readonly length: number };
}

/** The declared kernels (their bindings are generated; see DeclaredKernel). */
export const DECLARED_KERNELS = {
  energyTerms: {
    family: 'energy',
    arrays: {
      x: { type: 'f32', role: 'in', nonEmpty: true },
      y: { type: 'f32', role: 'in', length: 'x' },
      points: { type: 'f32', role: 'in', length: { multipleOf: 'x' } },
      out: { type: 'f64', role: 'out', length: 4 },
    },
    integers: { primeCount: [0, MAX_PRIME_COUNT] },
    returns: 'void',
    sample: { primeCount: 10, lengthScale: 1, softening: 0.1, lambdaCosmo: 1.2 },
    // nonlocalEnergy's (its libm exp per point dominates): d = 16, M = 16 took 3.2 µs on wasm, 1.5 µs on js
    wasmCrossover: { array: 'points', length: 4096 },
  },
} as const satisfies { readonly [K in keyof AnyKernels]?: DeclaredKernel };

export type DeclaredKernelName = keyof typeof DECLARED_KERNELS;
