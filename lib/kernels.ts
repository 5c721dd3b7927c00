/**
 * The kernels interface: the numeric hot paths every backend implements. The facade
 * (lib/energy.ts and friends) validates arguments before calling these, so a backend may
 * assume well-formed input; native backends still check lengths so that no bad call can
 * read or write out of bounds.
 */

export type BackendName = 'rust' | 'cpp' | 'js';

/** The activation σ of the fractal layer (design eq. 9). */
export type ActivationName = 'identity' | 'tanh' | 'sigmoid' | 'relu';

/** What a backend says about itself for `backendInfo()`. */
export interface BackendDescription {
  name: BackendName;
  /** The SIMD path the kernels take on this CPU: "avx2+fma", "neon", "scalar", or "none" for js. */
  simdPath: string;
  /** CPU features detected at run time (empty for js). */
  cpuFeatures: string[];
  /** Worker threads the backend may use for large calls. */
  threads: number;
}

export interface Kernels {
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
  nonlocalEnergy(
    x: Float32Array,
    y: Float32Array,
    points: Float32Array,
    lengthScale: number,
    softening: number,
  ): number;

  /** Euclidean distance ‖x − y‖₂, accumulated in f64. */
  distance(x: Float32Array, y: Float32Array): number;
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

  /** dst ← src: the bench's memory-bandwidth probe (native: the elementwise kernels' threads). */
  copy(src: Float32Array, dst: Float32Array): void;

  /**
   * GEMM for eq. 9: c ← α·op(a)·op(b) + β·c, row-major; op(a) is m×k (a stored k×m when
   * transA), op(b) is k×n (b stored n×k when transB), c is m×n. β = 0 overwrites c without
   * reading it. c must not overlap a or b.
   */
  matmul(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    b: Float32Array,
    beta: number,
    c: Float32Array,
  ): void;

  /** y ← α·x + β·y (f64 arithmetic, one rounding); β = 0 overwrites y. `x` may be `y`. */
  axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void;

  /** Σ x[i]·y[i], accumulated in f64. */
  dot(x: Float32Array, y: Float32Array): number;

  /** Σ x[i], accumulated in f64. */
  sum(x: Float32Array): number;

  /** Eq. 9's σ: out[i] = σ(x[i] + shift). `x` may be `out`. */
  activationForward(activation: ActivationName, x: Float32Array, shift: number, out: Float32Array): void;

  /**
   * Backward of σ through its output y: gradPre[i] = gradOut[i]·σ'(pre[i]) (tanh 1 − y²,
   * sigmoid y(1 − y), relu [y > 0], identity 1). `y` or `gradOut` may be `gradPre`.
   */
  activationBackward(activation: ActivationName, y: Float32Array, gradOut: Float32Array, gradPre: Float32Array): void;
}

/** The kernel methods of `Kernels`, for checking that a native addon provides them all. */
export const KERNEL_NAMES = [
  'localEnergy',
  'nonlocalEnergy',
  'distance',
  'fractalStep',
  'fractalStepBackward',
  'maxAbs',
  'copy',
  'matmul',
  'axpby',
  'dot',
  'sum',
  'activationForward',
  'activationBackward',
] as const satisfies readonly Exclude<keyof Kernels, 'name' | 'describe'>[];

export type KernelName = (typeof KERNEL_NAMES)[number];
