// The prodigy family's exports: prodigyAccumulate, prodigyUpdate (core in prodigy.cpp). The
// hyperparameters first, then the data pointers (args.hpp).
#include "prodigy.hpp"

#include "args.hpp"
#include "families.hpp"

namespace cimm_binding {

namespace {

// prodigyAccumulate(params, grads, p0, m, v, s: Real, options: ProdigyAccumulateOptions): [dot, l1]
template <typename T>
Napi::Value ProdigyAccumulateAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Scalars o(env, info, boundary::kProdigyAccumulate);
  cimm::ProdigyAccumulateHyper h{};
  h.beta1 = o.number("beta1");
  h.beta2 = o.number("beta2");
  h.beta3 = o.number("beta3");
  h.moment_scale = o.number("momentScale");
  h.variance_scale = o.number("varianceScale");
  h.s_scale = o.number("sScale");
  h.weight_decay = o.number("weightDecay");
  const auto p = real_array<T>(env, o.arg(0), "params");
  const auto g = real_array<T>(env, o.arg(1), "grads");
  const auto q = real_array<T>(env, o.arg(2), "p0");
  const auto m = real_array<T>(env, o.arg(3), "m");
  const auto v = real_array<T>(env, o.arg(4), "v");
  const auto s = real_array<T>(env, o.arg(5), "s");
  same_length(env, g, p.length, "grads", o.arg(1));
  same_length(env, q, p.length, "p0", o.arg(2));
  same_length(env, m, p.length, "m", o.arg(3));
  same_length(env, v, p.length, "v", o.arg(4));
  same_length(env, s, p.length, "s", o.arg(5));
  disjoint<T>(env, {{"params", o.arg(0), p},
                    {"grads", o.arg(1), g},
                    {"p0", o.arg(2), q},
                    {"m", o.arg(3), m},
                    {"v", o.arg(4), v},
                    {"s", o.arg(5), s}});
  const cimm::ProdigySums r = cimm::prodigy_accumulate(p.data, g.data, q.data, m.data, v.data, s.data, p.length, h);
  // the result array is created after the kernel: no JS allocation while a pointer is held
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(uint32_t{0}, Napi::Number::New(env, r.dot));
  out.Set(uint32_t{1}, Napi::Number::New(env, r.l1));
  return out;
}

Napi::Value ProdigyAccumulate(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params",
                    [&](auto d) { return ProdigyAccumulateAs<typename decltype(d)::type>(env, info); });
  });
}

// prodigyUpdate(params, m, v: Real, options: ProdigyUpdateOptions): boolean
template <typename T>
Napi::Value ProdigyUpdateAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Scalars o(env, info, boundary::kProdigyUpdate);
  cimm::ProdigyUpdateHyper h{};
  h.step_size = o.number("stepSize");
  h.epsilon = o.number("epsilon");
  h.decay = o.number("decay");
  const auto p = real_array<T>(env, o.arg(0), "params");
  const auto m = real_array<T>(env, o.arg(1), "m");
  const auto v = real_array<T>(env, o.arg(2), "v");
  same_length(env, m, p.length, "m", o.arg(1));
  same_length(env, v, p.length, "v", o.arg(2));
  disjoint<T>(env, {{"params", o.arg(0), p}, {"m", o.arg(1), m}, {"v", o.arg(2), v}});
  return Napi::Boolean::New(env, cimm::prodigy_update(p.data, m.data, v.data, p.length, h));
}

Napi::Value ProdigyUpdate(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params",
                    [&](auto d) { return ProdigyUpdateAs<typename decltype(d)::type>(env, info); });
  });
}

}  // namespace

void register_prodigy(Napi::Env env, Napi::Object exports) {
  define(env, exports, "prodigyAccumulate", ProdigyAccumulate);
  define(env, exports, "prodigyUpdate", ProdigyUpdate);
}

}  // namespace cimm_binding
