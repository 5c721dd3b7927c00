// The QDT/QBE kernels (design.md §2 eqs. 1, 2, 6, 15), plain C++ with no Node types, the
// same math as crate/src/{coupling,entropy,eigen}.rs and the js reference: the coupling
// Ψ(t), the scale transition 𝒮(t), the Shannon entropy of a mass vector, and the
// eigenvalues of a Hermitian matrix. The callers (the binding, the native tests) check
// lengths and parameters; these functions assume them. Scalar (libm) and AVX2+FMA variants
// side by side; the unsuffixed entry points pick one at run time and split large calls over
// the thread pool without changing their results.
#pragma once

#include <cstddef>

namespace cimm {

struct CouplingParams {
  double alpha;
  double beta;
  double gamma;
  double lambda_cosmo;
};

// Eq. 1 for every t: out[i] = α e^{−βt_i} cos(γt_i) + Λ J(t_i), J(t) = ∫₀ᵗ e^{−βτ} sin(γτ) dτ
// in closed form, (g − e^{−βt}(b sin γt + g cos γt))/h with h = hypot(β, γ), (b, g) = (β, γ)/h,
// or t·Im φ₁(w), w = (−β + iγ)t, φ₁(w) = (e^w − 1)/w by its series where |w| < 1 (the closed
// form cancels there; w = 0 gives J = 0, the β = γ = 0 limit). `out` may equal `t`.
void coupling(const double* t, std::size_t n, const CouplingParams& params, double* out);

// Eq. 2 for every t: out[i] = 1 / (1 + e^{−λ(t_i − t_c)}), from e = e^{−|u|}: 1/(1 + e) for
// u ≥ 0, e/(1 + e) for u < 0, u = λ(t − t_c); λ = 0 gives ½. `out` may equal `t`.
void scale_transition(const double* t, std::size_t n, double scale_coupling, double critical_time, double* out);

// Eq. 6's first term: the Shannon entropy in bits of p / Σp (0·log 0 = 0), in one pass as
// (ln T − S/T)/ln 2, T = Σp, S = Σ p ln p; totals below 2^-600 summed again at 2^600 scale.
// NaN for an empty p, a zero total, a negative or non-finite mass, or an overflowing T or S.
double shannon_entropy(const double* p, std::size_t n);

// The eigenvalues, ascending, of the Hermitian part (A + A^H)/2 of the d×d matrix re + i·im
// (row-major) into out[0..d): power-of-two scaling, Householder reduction to a real
// symmetric tridiagonal matrix, Reinsch's rational QL. NaN for non-finite input (or, never
// seen, no convergence in 60 iterations per eigenvalue). d ≤ kMaxDimension.
void hermitian_eigenvalues(const double* re, const double* im, std::size_t d, double* out);

constexpr std::size_t kMaxDimension = 4096;
constexpr std::size_t kQdtParallel = std::size_t{1} << 14;
constexpr std::size_t kQdtUnit = std::size_t{1} << 13;
constexpr std::size_t kEntropyParallel = std::size_t{1} << 16;
constexpr std::size_t kEntropyUnitMin = std::size_t{1} << 14;
constexpr std::size_t kEntropyMaxUnits = 64;

// The single-threaded variants, exposed for the native tests. Without x86 dispatch every
// *_avx2 function forwards to its scalar twin.
namespace detail {

void coupling_scalar(const double* t, std::size_t n, const CouplingParams& params, double* out) noexcept;
void coupling_avx2(const double* t, std::size_t n, const CouplingParams& params, double* out) noexcept;
void scale_transition_scalar(const double* t, std::size_t n, double scale_coupling, double critical_time,
                             double* out) noexcept;
void scale_transition_avx2(const double* t, std::size_t n, double scale_coupling, double critical_time,
                           double* out) noexcept;
// (Σ c·p_i, Σ c·p_i ln(c·p_i)) with 0·ln 0 = 0
void entropy_sums_scalar(const double* p, std::size_t n, double c, double* total, double* s) noexcept;
void entropy_sums_avx2(const double* p, std::size_t n, double c, double* total, double* s) noexcept;
// `simd` picks the row operations of the reduction
void hermitian_eigenvalues_path(const double* re, const double* im, std::size_t d, double* out, bool simd);
// EISPACK-style rational QL on (d, e2): the eigenvalues, ascending, in d; false on no convergence
bool tridiagonal_eigenvalues(double* d, double* e2, std::size_t n) noexcept;

// exp, ln and sin/cos of four values through the vector routines (for the tests).
void exp4_vmath(const double* v, double* out) noexcept;
void ln4_vmath(const double* v, double* out) noexcept;
void sin_cos4_vmath(const double* v, double* s, double* c) noexcept;

}  // namespace detail

}  // namespace cimm
