// The energy family's exports: localEnergy, localEnergyAsync, nonlocalEnergy, distance
// (design eqs. 3–5; core in energy.cpp). Scalars first, then data pointers (args.hpp).
#include "energy.hpp"

#include <memory>
#include <string>
#include <vector>

#include "args.hpp"
#include "async_worker.hpp"
#include "families.hpp"
#include "primes.hpp"

namespace cimm_binding {

namespace {

std::size_t prime_count(Napi::Env env, Napi::Value value) {
  return integer_in(env, value, "primeCount", 0, static_cast<double>(cimm::kMaxPrimeCount),
                    "an integer >= 0 and <= " + std::to_string(cimm::kMaxPrimeCount));
}

// localEnergy(r: Float64Array, primeCount: number, out: Float64Array): void
Napi::Value LocalEnergy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const std::size_t n = prime_count(env, info[1]);
    const auto r = float64_array(env, info[0], "r");
    const auto out = float64_array(env, info[2], "out");
    if (out.length != r.length) fail(env, "a Float64Array of length " + std::to_string(r.length), "out", info[2]);
    cimm::local_energy(r.data, r.length, n, out.data);
    return env.Undefined();
  });
}

// localEnergyAsync(r: Float64Array, primeCount: number, flag: AbortFlag): Promise<Float64Array>
Napi::Value LocalEnergyAsync(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const std::size_t n = prime_count(env, info[1]);
    const auto flag = abort_flag(env, info[2]);
    const auto r = float64_array(env, info[0], "r");
    // the copy first: the output array is created (a JS allocation) after the last use of r
    auto r_copy = std::make_shared<std::vector<double>>(r.data, r.data + r.length);
    Napi::Float64Array out = new_result<Napi::Float64Array, double>(
        env, r_copy->size(), "a Float64Array whose result fits in memory", "r", info[0]);
    double* out_data = out.Data();
    auto result = owned_result(out);
    auto* worker = new KernelWorker(
        env, "localEnergyAsync", flag,
        [=]() { return cimm::local_energy_until(r_copy->data(), r_copy->size(), n, out_data, *flag); },
        [result](Napi::Env) -> Napi::Value { return result->Value(); });
    return KernelWorker::Start(worker);
  });
}

// nonlocalEnergy(x, y, points: Float32Array, params: NonlocalEnergyParams): number
Napi::Value NonlocalEnergy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kNonlocalEnergy);
    const double length_scale = p.number("lengthScale");
    const double softening = p.number("softening");
    const auto x = float32_array(env, p.arg(0), "x");
    if (x.length == 0) fail(env, "a non-empty Float32Array", "x", p.arg(0));
    const auto y = float32_array(env, p.arg(1), "y");
    if (y.length != x.length) fail(env, "a Float32Array of length " + std::to_string(x.length), "y", p.arg(1));
    const auto points = float32_array(env, p.arg(2), "points");
    if (points.length == 0 || points.length % x.length != 0) {
      fail(env, "a Float32Array of M\xC3\x97" + std::to_string(x.length) + " values (M >= 1)", "points", p.arg(2));
    }
    const double e =
        cimm::nonlocal_energy(x.data, y.data, x.length, points.data, points.length / x.length, length_scale, softening);
    return Napi::Number::New(env, e);
  });
}

// distance(x: Float32Array, y: Float32Array): number
Napi::Value Distance(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto x = float32_array(env, info[0], "x");
    const auto y = float32_array(env, info[1], "y");
    if (y.length != x.length) fail(env, "a Float32Array of length " + std::to_string(x.length), "y", info[1]);
    return Napi::Number::New(env, cimm::distance(x.data, y.data, x.length));
  });
}

}  // namespace

void register_energy(Napi::Env env, Napi::Object exports) {
  define(env, exports, "localEnergy", LocalEnergy);
  define(env, exports, "localEnergyAsync", LocalEnergyAsync);
  define(env, exports, "nonlocalEnergy", NonlocalEnergy);
  define(env, exports, "distance", Distance);
}

}  // namespace cimm_binding
