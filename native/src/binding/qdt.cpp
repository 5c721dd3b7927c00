// The qdt family's exports: coupling, scaleTransition, shannonEntropy, hermitianEigenvalues
// (design eqs. 1, 2, 6, 15; core in qdt.cpp, eigen.cpp as its engine). Scalars first, then
// data pointers (args.hpp).
#include "qdt.hpp"

#include <string>
#include <vector>

#include "args.hpp"
#include "families.hpp"

namespace cimm_binding {

namespace {

// An elementwise kernel's output: the length of t; out may be t itself (computed in place),
// any other overlap reads t from a copy.
template <typename Kernel>
Napi::Value elementwise(Napi::Env env, Napi::Value t_value, Napi::Value out_value, Kernel kernel) {
  const auto t = float64_array(env, t_value, "t");
  const auto out = float64_array(env, out_value, "out");
  if (out.length != t.length) {
    fail(env, "a Float64Array of length " + std::to_string(t.length) + " (the length of t)", "out", out_value);
  }
  if (out.data != t.data && overlap(t, out)) {
    const std::vector<double> copy(t.data, t.data + t.length);
    kernel(copy.data(), t.length, out.data);
  } else {
    kernel(t.data, t.length, out.data);
  }
  return env.Undefined();
}

// coupling(t: Float64Array, params: CouplingParams, out: Float64Array): void
Napi::Value Coupling(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kCoupling);
    cimm::CouplingParams params{};
    params.alpha = p.finite("alpha");
    params.beta = p.finite("beta");
    params.gamma = p.finite("gamma");
    params.lambda_cosmo = p.finite("lambdaCosmo");
    return elementwise(env, p.arg(0), p.arg(2),
                       [&](const double* in, std::size_t n, double* out) { cimm::coupling(in, n, params, out); });
  });
}

// scaleTransition(t: Float64Array, params: ScaleTransitionParams, out: Float64Array): void
Napi::Value ScaleTransition(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kScaleTransition);
    const double lambda = p.finite("scaleCoupling");
    const double tc = p.finite("criticalTime");
    return elementwise(env, p.arg(0), p.arg(2), [&](const double* in, std::size_t n, double* out) {
      cimm::scale_transition(in, n, lambda, tc, out);
    });
  });
}

// shannonEntropy(p: Float64Array): number (NaN for invalid masses: the facade names them)
Napi::Value ShannonEntropy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto p = float64_array(env, info[0], "p");
    return Napi::Number::New(env, cimm::shannon_entropy(p.data, p.length));
  });
}

// hermitianEigenvalues(re, im: Float64Array, d: number, out: Float64Array): void
Napi::Value HermitianEigenvalues(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const std::size_t d = integer_in(env, info[2], "d", 0, static_cast<double>(cimm::kMaxDimension),
                                     "an integer in [0, " + std::to_string(cimm::kMaxDimension) + "]");
    const std::size_t dd = d * d;  // d <= kMaxDimension = 4096: no wrap
    const std::string matrix =
        "a d\xC3\x97"
        "d matrix of length " +
        std::to_string(dd) + " (d = " + std::to_string(d) + ")";
    const auto re = float64_array(env, info[0], "re");
    if (re.length != dd) fail(env, matrix, "re", info[0]);
    const auto im = float64_array(env, info[1], "im");
    if (im.length != dd) fail(env, matrix, "im", info[1]);
    const auto out = float64_array(env, info[3], "out");
    if (out.length != d) fail(env, "a Float64Array of length " + std::to_string(d) + " (d)", "out", info[3]);
    if (overlap(re, out) || overlap(im, out)) {
      const std::vector<double> r(re.data, re.data + re.length);
      const std::vector<double> i(im.data, im.data + im.length);
      cimm::hermitian_eigenvalues(r.data(), i.data(), d, out.data);
    } else {
      cimm::hermitian_eigenvalues(re.data, im.data, d, out.data);
    }
    return env.Undefined();
  });
}

}  // namespace

void register_qdt(Napi::Env env, Napi::Object exports) {
  define(env, exports, "coupling", Coupling);
  define(env, exports, "scaleTransition", ScaleTransition);
  define(env, exports, "shannonEntropy", ShannonEntropy);
  define(env, exports, "hermitianEigenvalues", HermitianEigenvalues);
}

}  // namespace cimm_binding
