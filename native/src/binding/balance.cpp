// The balance family's exports: updateEnergy, updateSlope (the energy terms of an update;
// core in balance.cpp). Scalars first, then data pointers (args.hpp).
#include "balance.hpp"

#include <algorithm>
#include <string>

#include "args.hpp"
#include "families.hpp"

namespace cimm_binding {

namespace {

// updateEnergy(before, after, grads, metric: Real, params: UpdateEnergyParams,
//              out: Float64Array(3)): void
template <typename T>
Napi::Value UpdateEnergyAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Scalars p(env, info, boundary::kUpdateEnergy);
  const double scale = p.number("metricScale");
  const double epsilon = p.number("epsilon");
  const auto before = real_array<T>(env, p.arg(0), "before");
  const auto after = real_array<T>(env, p.arg(1), "after");
  const auto grads = real_array<T>(env, p.arg(2), "grads");
  const auto metric = real_array<T>(env, p.arg(3), "metric");
  const auto out = float64_array(env, p.arg(5), "out");
  const std::string want =
      std::string("a ") + array_name<T>() + " of length " + std::to_string(before.length) + " (the length of before)";
  if (after.length != before.length) fail(env, want, "after", p.arg(1));
  if (grads.length != before.length) fail(env, want, "grads", p.arg(2));
  if (metric.length != 0 && metric.length != before.length) fail(env, want, "metric", p.arg(3));
  if (out.length != 3) fail(env, "a Float64Array of length 3", "out", p.arg(5));
  double sums[3];
  const cimm::UpdateArraysT<T> u{before.data, after.data, grads.data, metric.length ? metric.data : nullptr,
                                 scale,       epsilon};
  cimm::update_energy(u, before.length, sums);
  std::copy(sums, sums + 3, out.data);
  return env.Undefined();
}

Napi::Value UpdateEnergy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "before",
                    [&](auto d) { return UpdateEnergyAs<typename decltype(d)::type>(env, info); });
  });
}

// updateSlope(before, after, grads: Real): number — Σ g·(after − before), updateEnergy's
// out[1] bit for bit (balance.hpp)
template <typename T>
Napi::Value UpdateSlopeAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const auto before = real_array<T>(env, info[0], "before");
  const auto after = real_array<T>(env, info[1], "after");
  const auto grads = real_array<T>(env, info[2], "grads");
  const std::string want =
      std::string("a ") + array_name<T>() + " of length " + std::to_string(before.length) + " (the length of before)";
  if (after.length != before.length) fail(env, want, "after", info[1]);
  if (grads.length != before.length) fail(env, want, "grads", info[2]);
  const cimm::UpdateArraysT<T> u{before.data, after.data, grads.data, nullptr, 1, 0};
  return Napi::Number::New(env, cimm::update_slope(u, before.length));
}

Napi::Value UpdateSlope(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "before",
                    [&](auto d) { return UpdateSlopeAs<typename decltype(d)::type>(env, info); });
  });
}

}  // namespace

void register_balance(Napi::Env env, Napi::Object exports) {
  define(env, exports, "updateEnergy", UpdateEnergy);
  define(env, exports, "updateSlope", UpdateSlope);
}

}  // namespace cimm_binding
