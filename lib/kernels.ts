/**
 * The kernels interface: the numeric hot paths every backend implements. The facade
 * (lib/energy.ts and friends) validates arguments before calling these, so a backend may
 * assume well-formed input; native backends still check lengths so that no bad call can
 * read or write out of bounds.
 */

export type BackendName = 'rust' | 'cpp' | 'js';

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
}

/** The kernel methods of `Kernels`, for checking that a native addon provides them all. */
export const KERNEL_NAMES = ['localEnergy', 'nonlocalEnergy', 'distance'] as const satisfies readonly Exclude<
  keyof Kernels,
  'name' | 'describe'
>[];

export type KernelName = (typeof KERNEL_NAMES)[number];
