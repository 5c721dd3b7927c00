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

  /**
   * Quantum–classical coupling, design eq. 1, batched over t:
   * out[i] = α e^{−βt_i} cos(γt_i) + Λ J(t_i), J(t) = ∫₀ᵗ e^{−βτ} sin(γτ) dτ in closed form
   * (its series where |t|·hypot(β, γ) < 1). `out` may be `t` itself.
   */
  coupling(t: Float64Array, alpha: number, beta: number, gamma: number, lambdaCosmo: number, out: Float64Array): void;

  /**
   * Scale transition, design eq. 2, batched over t: out[i] = 1 / (1 + e^{−λ(t_i − t_c)}),
   * λ = scaleCoupling, t_c = criticalTime, through e^{−|u|} (no overflow). `out` may be `t`.
   */
  scaleTransition(t: Float64Array, scaleCoupling: number, criticalTime: number, out: Float64Array): void;

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
}
