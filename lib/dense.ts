/**
 * Dense linear algebra in f64 for the library's tasks and checks, in one place: small
 * complex matrices in split storage (product, the Hermitian eigen-decomposition with
 * eigenvectors, √ of a PSD matrix), Cholesky and the inverse of an SPD matrix, and
 * Householder QR with least squares. The eigenvalues alone, the von Neumann entropy and
 * the matrix product of the hot paths are the kernels' (lib/quantum.ts
 * `hermitianEigenvalues`/`vonNeumannEntropy`, lib/linalg.ts `matmul`), computed natively
 * on rust and cpp; what is here is what no kernel provides (eigenvectors, QR), on
 * matrices of at most a few hundred rows, where plain TypeScript is fast enough.
 */
import { argumentError } from './errors.js';
import { float64Array, integer, options } from './is.js';

// ---------------------------------------------------------------------------------------
// Complex linear algebra on small d × d matrices (row-major, separate re/im arrays).

/** A complex matrix (or vector when rows·cols = length) in split storage. */
export interface ComplexMatrix {
  re: Float64Array;
  im: Float64Array;
}

export function complexZeros(n: number): ComplexMatrix {
  return { re: new Float64Array(n), im: new Float64Array(n) };
}

/** out = A B (d × d); out must not alias A or B. */
export function complexMultiply(a: ComplexMatrix, b: ComplexMatrix, d: number, out: ComplexMatrix): ComplexMatrix {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sr = 0;
      let si = 0;
      for (let k = 0; k < d; k++) {
        const ar = a.re[i * d + k];
        const ai = a.im[i * d + k];
        const br = b.re[k * d + j];
        const bi = b.im[k * d + j];
        sr += ar * br - ai * bi;
        si += ar * bi + ai * br;
      }
      out.re[i * d + j] = sr;
      out.im[i * d + j] = si;
    }
  }
  return out;
}

/**
 * Eigen-decomposition of a Hermitian matrix by cyclic complex Jacobi rotations: each
 * rotation U = D G (a phase that makes a_pq real, then a real Givens rotation that
 * zeroes it) is applied as A ← U† A U, V ← V U. Returns the eigenvalues (ascending) and
 * the eigenvectors as the columns of V. Only the Hermitian part of the input is used.
 */
export function hermitianEigen(matrix: ComplexMatrix, d: number): { values: Float64Array; vectors: ComplexMatrix } {
  integer('d', d, { min: 1, max: 64 });
  const { re: ar, im: ai } = options<ComplexMatrix>('matrix', matrix);
  if (!(ar instanceof Float64Array) || ar.length !== d * d)
    throw argumentError('matrix.re', `a Float64Array of length ${d * d}`, ar);
  if (!(ai instanceof Float64Array) || ai.length !== d * d)
    throw argumentError('matrix.im', `a Float64Array of length ${d * d}`, ai);
  const re = new Float64Array(d * d);
  const im = new Float64Array(d * d);
  let scale = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      re[i * d + j] = 0.5 * (ar[i * d + j] + ar[j * d + i]);
      im[i * d + j] = 0.5 * (ai[i * d + j] - ai[j * d + i]);
      scale = Math.max(scale, Math.hypot(re[i * d + j], im[i * d + j]));
    }
  }
  if (!Number.isFinite(scale)) throw argumentError('matrix', 'finite values', Number.NaN);
  const vr = new Float64Array(d * d);
  const vi = new Float64Array(d * d);
  for (let i = 0; i < d; i++) vr[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += re[p * d + q] ** 2 + im[p * d + q] ** 2;
    if (off <= (1e-15 * scale) ** 2) break;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        const mag = Math.hypot(re[p * d + q], im[p * d + q]);
        if (mag <= 1e-17 * scale) continue;
        // phase e^{iφ} of a_pq, then the real symmetric 2 × 2 problem [[a_pp, |a_pq|], [|a_pq|, a_qq]]
        const cph = re[p * d + q] / mag;
        const sph = im[p * d + q] / mag;
        const tau = (re[q * d + q] - re[p * d + p]) / (2 * mag);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        // U block: U_pp = c, U_pq = s, U_qp = −s e^{−iφ}, U_qq = c e^{−iφ}
        const upp = c;
        const upq = s;
        const uqpRe = -s * cph;
        const uqpIm = s * sph;
        const uqqRe = c * cph;
        const uqqIm = -c * sph;
        // A ← A U (columns p, q), V ← V U
        for (const [mr, mi] of [
          [re, im],
          [vr, vi],
        ] as const) {
          for (let k = 0; k < d; k++) {
            const xr = mr[k * d + p];
            const xi = mi[k * d + p];
            const yr = mr[k * d + q];
            const yi = mi[k * d + q];
            // new col p = x U_pp + y U_qp ; new col q = x U_pq + y U_qq
            mr[k * d + p] = xr * upp + (yr * uqpRe - yi * uqpIm);
            mi[k * d + p] = xi * upp + (yr * uqpIm + yi * uqpRe);
            mr[k * d + q] = xr * upq + (yr * uqqRe - yi * uqqIm);
            mi[k * d + q] = xi * upq + (yr * uqqIm + yi * uqqRe);
          }
        }
        // A ← U† A (rows p, q): new row p = conj(U_pp) x + conj(U_qp) y, row q = conj(U_pq) x + conj(U_qq) y
        for (let k = 0; k < d; k++) {
          const xr = re[p * d + k];
          const xi = im[p * d + k];
          const yr = re[q * d + k];
          const yi = im[q * d + k];
          re[p * d + k] = upp * xr + (uqpRe * yr + uqpIm * yi);
          im[p * d + k] = upp * xi + (uqpRe * yi - uqpIm * yr);
          re[q * d + k] = upq * xr + (uqqRe * yr + uqqIm * yi);
          im[q * d + k] = upq * xi + (uqqRe * yi - uqqIm * yr);
        }
        re[p * d + q] = 0;
        im[p * d + q] = 0;
        re[q * d + p] = 0;
        im[q * d + p] = 0;
        im[p * d + p] = 0;
        im[q * d + q] = 0;
      }
    }
  }
  // sort ascending
  const order = Array.from({ length: d }, (_, i) => i).sort((x, y) => re[x * d + x] - re[y * d + y]);
  const values = new Float64Array(d);
  const vectors = complexZeros(d * d);
  order.forEach((src, dst) => {
    values[dst] = re[src * d + src];
    for (let k = 0; k < d; k++) {
      vectors.re[k * d + dst] = vr[k * d + src];
      vectors.im[k * d + dst] = vi[k * d + src];
    }
  });
  return { values, vectors };
}

/** √σ for a positive semi-definite Hermitian σ (negative rounding noise clamped to 0). */
export function sqrtPsd(sigma: ComplexMatrix, d: number): ComplexMatrix {
  const { values, vectors } = hermitianEigen(sigma, d);
  const out = complexZeros(d * d);
  for (let k = 0; k < d; k++) {
    const w = Math.sqrt(Math.max(0, values[k]));
    if (w === 0) continue;
    for (let i = 0; i < d; i++) {
      const air = vectors.re[i * d + k];
      const aii = vectors.im[i * d + k];
      for (let j = 0; j < d; j++) {
        const bjr = vectors.re[j * d + k];
        const bji = vectors.im[j * d + k];
        // w · v_i conj(v_j)
        out.re[i * d + j] += w * (air * bjr + aii * bji);
        out.im[i * d + j] += w * (aii * bjr - air * bji);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Symmetric positive-definite matrices (row-major, f64).

/** In-place Cholesky L Lᵀ = A (lower triangle; A symmetric positive definite, m × m). */
export function cholesky(a: Float64Array, m: number): void {
  for (let j = 0; j < m; j++) {
    let s = a[j * m + j];
    for (let k = 0; k < j; k++) s -= a[j * m + k] ** 2;
    const l = Math.sqrt(Math.max(s, 1e-300));
    a[j * m + j] = l;
    for (let i = j + 1; i < m; i++) {
      let t = a[i * m + j];
      for (let k = 0; k < j; k++) t -= a[i * m + k] * a[j * m + k];
      a[i * m + j] = t / l;
    }
    for (let k = j + 1; k < m; k++) a[j * m + k] = 0;
  }
}

/** The inverse of a symmetric positive-definite matrix (via Cholesky). */
export function inverseSpd(a: Float64Array, m: number): Float64Array {
  const l = Float64Array.from(a);
  cholesky(l, m);
  const inv = new Float64Array(m * m);
  const y = new Float64Array(m);
  for (let c = 0; c < m; c++) {
    // L y = e_c, then Lᵀ x = y
    for (let i = 0; i < m; i++) {
      let s = i === c ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i * m + k] * y[k];
      y[i] = s / l[i * m + i];
    }
    for (let i = m - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < m; k++) s -= l[k * m + i] * inv[k * m + c];
      inv[i * m + c] = s / l[i * m + i];
    }
  }
  return inv;
}

// ---------------------------------------------------------------------------------------
// Householder QR (f64). A is m × n row-major with m ≥ n.

/** The compact QR factorization: R in the upper triangle of `qr`, reflectors in `v`. */
export interface HouseholderQR {
  m: number;
  n: number;
  /** m × n; its upper triangle is R. */
  qr: Float64Array;
  /** m × n; column k holds the unit reflector v_k (zero above row k). */
  v: Float64Array;
}

/** Factor A = Q R with Householder reflections H_k = I − 2 v_k v_kᵀ (Golub & Van Loan 5.2). */
export function householderQR(a: Float64Array, m: number, n: number): HouseholderQR {
  integer('n', n, { min: 1 });
  integer('m', m, { min: n });
  float64Array('a', a, { length: m * n, finite: true });
  const qr = Float64Array.from(a);
  const v = new Float64Array(m * n);
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += qr[i * n + k] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue; // a zero column: H_k = I, R_kk = 0
    // α = −sign(x_0)‖x‖ keeps v = x − α e_1 free of cancellation
    const alpha = qr[k * n + k] > 0 ? -norm : norm;
    let vNorm = 0;
    for (let i = k; i < m; i++) {
      const vi = qr[i * n + k] - (i === k ? alpha : 0);
      v[i * n + k] = vi;
      vNorm += vi * vi;
    }
    vNorm = Math.sqrt(vNorm);
    for (let i = k; i < m; i++) v[i * n + k] /= vNorm;
    // A[k:, k:] −= 2 v (vᵀ A[k:, k:])
    for (let j = k; j < n; j++) {
      let s = 0;
      for (let i = k; i < m; i++) s += v[i * n + k] * qr[i * n + j];
      for (let i = k; i < m; i++) qr[i * n + j] -= 2 * s * v[i * n + k];
    }
    for (let i = k + 1; i < m; i++) qr[i * n + k] = 0;
  }
  return { m, n, qr, v };
}

/** y ← Qᵀ y (y of length m), applying H_0, H_1, … in order. */
export function applyQTranspose(f: HouseholderQR, y: Float64Array): Float64Array {
  const { m, n, v } = f;
  for (let k = 0; k < n; k++) {
    let s = 0;
    for (let i = k; i < m; i++) s += v[i * n + k] * y[i];
    for (let i = k; i < m; i++) y[i] -= 2 * s * v[i * n + k];
  }
  return y;
}

/** The thin Q (m × n, orthonormal columns) with columns signed so that diag(R) ≥ 0. */
export function thinQ(f: HouseholderQR): Float64Array {
  const { m, n, v, qr } = f;
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * n + j] = 1;
  // Q = H_0 H_1 … H_{n−1} [I; 0]: apply the reflectors in reverse order
  for (let k = n - 1; k >= 0; k--) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = k; i < m; i++) s += v[i * n + k] * q[i * n + j];
      for (let i = k; i < m; i++) q[i * n + j] -= 2 * s * v[i * n + k];
    }
  }
  // Haar sign fix (Mezzadri 2007): column j times sign(R_jj)
  for (let j = 0; j < n; j++) {
    if (qr[j * n + j] < 0) for (let i = 0; i < m; i++) q[i * n + j] = -q[i * n + j];
  }
  return q;
}

/**
 * The least-squares solution of min ‖A x − b‖ by Householder QR: x = R⁻¹ (Qᵀ b)[0:n].
 * Throws when A is rank-deficient (a zero pivot).
 */
export function leastSquaresSolve(a: Float64Array, m: number, n: number, b: Float64Array): Float64Array {
  const f = householderQR(a, m, n);
  float64Array('b', b, { length: m, finite: true });
  const y = applyQTranspose(f, Float64Array.from(b));
  const x = new Float64Array(n);
  let maxPivot = 0;
  for (let k = 0; k < n; k++) maxPivot = Math.max(maxPivot, Math.abs(f.qr[k * n + k]));
  for (let k = n - 1; k >= 0; k--) {
    let s = y[k];
    for (let j = k + 1; j < n; j++) s -= f.qr[k * n + j] * x[j];
    const pivot = f.qr[k * n + k];
    if (Math.abs(pivot) <= maxPivot * 1e-14) throw argumentError('a', 'a matrix of full column rank', a);
    x[k] = s / pivot;
  }
  return x;
}

// ---------------------------------------------------------------------------------------
// The task.
