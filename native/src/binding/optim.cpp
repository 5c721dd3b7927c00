// The optim family's exports: sgdStep, adamStep, sgdStepMeasured, adamStepMeasured,
// firstNonFinite, memoryCopy, l2Norm, zeroNonFinite, scaleInPlace (core in optim.cpp, with
// reduce.hpp its summation helpers). The hyperparameters first (an options object's fields,
// positional, found by name in the generated layout: Scalars), then the data pointers (args.hpp).
#include "optim.hpp"

#include <string>

#include "args.hpp"
#include "families.hpp"

namespace cimm_binding {

namespace {

// The SGD hyperparameters of an options object (SgdStepOptions in lib/kernels.ts).
cimm::SgdHyper sgd_options(const Scalars& o) {
  cimm::SgdHyper h{};
  h.learning_rate = o.number("learningRate");
  h.momentum = o.number("momentum");
  h.dampening = o.number("dampening");
  h.weight_decay = o.number("weightDecay");
  h.nesterov = o.boolean("nesterov");
  h.maximize = o.boolean("maximize");
  h.first_step = o.boolean("firstStep");
  return h;
}

// The Adam hyperparameters of an options object (AdamStepOptions in lib/kernels.ts).
cimm::AdamHyper adam_options(const Scalars& o) {
  cimm::AdamHyper h{};
  h.beta1 = o.number("beta1");
  h.beta2 = o.number("beta2");
  h.step_size = o.number("stepSize");
  h.bc2_sqrt = o.number("bc2Sqrt");
  h.epsilon = o.number("epsilon");
  h.weight_decay = o.number("weightDecay");
  h.decay = o.number("decay");
  h.amsgrad = o.boolean("amsgrad");
  h.maximize = o.boolean("maximize");
  return h;
}

// sgdStep(params, grads, momentumBuffer: Real, options: SgdStepOptions): boolean
template <typename T>
Napi::Value SgdStepAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Scalars o(env, info, boundary::kSgdStep);
  const cimm::SgdHyper h = sgd_options(o);
  const auto p = real_array<T>(env, o.arg(0), "params");
  const auto g = real_array<T>(env, o.arg(1), "grads");
  const auto b = real_array<T>(env, o.arg(2), "momentumBuffer");
  same_length(env, g, p.length, "grads", o.arg(1));
  if (static_cast<T>(h.momentum) != T(0)) same_length(env, b, p.length, "momentumBuffer", o.arg(2));
  disjoint<T>(env, {{"params", o.arg(0), p}, {"grads", o.arg(1), g}, {"momentumBuffer", o.arg(2), b}});
  return Napi::Boolean::New(env, cimm::sgd_step(p.data, g.data, b.data, p.length, h));
}

Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params", [&](auto d) { return SgdStepAs<typename decltype(d)::type>(env, info); });
  });
}

// adamStep(params, grads, m, v, vMax: Real, options: AdamStepOptions): boolean
template <typename T>
Napi::Value AdamStepAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Scalars o(env, info, boundary::kAdamStep);
  const cimm::AdamHyper h = adam_options(o);
  const auto p = real_array<T>(env, o.arg(0), "params");
  const auto g = real_array<T>(env, o.arg(1), "grads");
  const auto m = real_array<T>(env, o.arg(2), "m");
  const auto v = real_array<T>(env, o.arg(3), "v");
  const auto w = real_array<T>(env, o.arg(4), "vMax");
  same_length(env, g, p.length, "grads", o.arg(1));
  same_length(env, m, p.length, "m", o.arg(2));
  same_length(env, v, p.length, "v", o.arg(3));
  if (h.amsgrad) same_length(env, w, p.length, "vMax", o.arg(4));
  disjoint<T>(
      env,
      {{"params", o.arg(0), p}, {"grads", o.arg(1), g}, {"m", o.arg(2), m}, {"v", o.arg(3), v}, {"vMax", o.arg(4), w}});
  return Napi::Boolean::New(env, cimm::adam_step(p.data, g.data, m.data, v.data, w.data, p.length, h));
}

Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params", [&](auto d) { return AdamStepAs<typename decltype(d)::type>(env, info); });
  });
}

Napi::Value measured_result(Napi::Env env, const cimm::Measured& r, double* out) {
  std::copy(r.sums, r.sums + 3, out);
  return Napi::Boolean::New(env, r.finite);
}

// sgdStepMeasured(params, grads, momentumBuffer, before: Real, options: SgdStepOptions,
//                 out: Float64Array(3)): boolean
template <typename T>
Napi::Value SgdStepMeasuredAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Scalars o(env, info, boundary::kSgdStepMeasured);
  const cimm::SgdHyper h = sgd_options(o);
  const auto p = real_array<T>(env, o.arg(0), "params");
  const auto g = real_array<T>(env, o.arg(1), "grads");
  const auto b = real_array<T>(env, o.arg(2), "momentumBuffer");
  const auto q = real_array<T>(env, o.arg(3), "before");
  same_length(env, g, p.length, "grads", o.arg(1));
  if (static_cast<T>(h.momentum) != T(0)) same_length(env, b, p.length, "momentumBuffer", o.arg(2));
  same_length(env, q, p.length, "before", o.arg(3));
  disjoint<T>(
      env, {{"params", o.arg(0), p}, {"grads", o.arg(1), g}, {"momentumBuffer", o.arg(2), b}, {"before", o.arg(3), q}});
  double* out = sums_out<T>(env, o.arg(5), {{"params", p}, {"grads", g}, {"momentumBuffer", b}, {"before", q}});
  return measured_result(env, cimm::sgd_step_measured(p.data, g.data, b.data, q.data, p.length, h), out);
}

Napi::Value SgdStepMeasured(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params",
                    [&](auto d) { return SgdStepMeasuredAs<typename decltype(d)::type>(env, info); });
  });
}

// adamStepMeasured(params, grads, m, v, vMax, before: Real, options: AdamStepMeasuredOptions,
//                  out: Float64Array(3)): boolean
template <typename T>
Napi::Value AdamStepMeasuredAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Scalars o(env, info, boundary::kAdamStepMeasured);
  const cimm::AdamHyper h = adam_options(o);
  cimm::AdamMetric metric{};
  metric.scale = o.number("metricScale");
  metric.epsilon = o.number("metricEpsilon");
  const auto p = real_array<T>(env, o.arg(0), "params");
  const auto g = real_array<T>(env, o.arg(1), "grads");
  const auto m = real_array<T>(env, o.arg(2), "m");
  const auto v = real_array<T>(env, o.arg(3), "v");
  const auto w = real_array<T>(env, o.arg(4), "vMax");
  const auto q = real_array<T>(env, o.arg(5), "before");
  same_length(env, g, p.length, "grads", o.arg(1));
  same_length(env, m, p.length, "m", o.arg(2));
  same_length(env, v, p.length, "v", o.arg(3));
  if (h.amsgrad) same_length(env, w, p.length, "vMax", o.arg(4));
  same_length(env, q, p.length, "before", o.arg(5));
  disjoint<T>(env, {{"params", o.arg(0), p},
                    {"grads", o.arg(1), g},
                    {"m", o.arg(2), m},
                    {"v", o.arg(3), v},
                    {"vMax", o.arg(4), w},
                    {"before", o.arg(5), q}});
  double* out =
      sums_out<T>(env, o.arg(7), {{"params", p}, {"grads", g}, {"m", m}, {"v", v}, {"vMax", w}, {"before", q}});
  return measured_result(
      env, cimm::adam_step_measured(p.data, g.data, m.data, v.data, w.data, q.data, p.length, h, metric), out);
}

Napi::Value AdamStepMeasured(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params",
                    [&](auto d) { return AdamStepMeasuredAs<typename decltype(d)::type>(env, info); });
  });
}

// firstNonFinite(values: Real): number (-1 when all are finite)
Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "values", [&](auto d) {
      const auto x = real_array<typename decltype(d)::type>(env, info[0], "values");
      return Napi::Number::New(env, static_cast<double>(cimm::first_non_finite(x.data, x.length)));
    });
  });
}

// memoryCopy(src, dst: Float32Array): void
Napi::Value MemoryCopy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto src = float32_array(env, info[0], "src");
    const auto dst = float32_array(env, info[1], "dst");
    same_length_as(env, dst, src.length, "src", "dst", info[1]);
    disjoint<float>(env, {{"src", info[0], src}, {"dst", info[1], dst}});
    cimm::memory_copy(src.data, dst.data, src.length);
    return env.Undefined();
  });
}

// l2Norm(x: Real): number
Napi::Value L2Norm(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "x", [&](auto d) {
      const auto x = real_array<typename decltype(d)::type>(env, info[0], "x");
      return Napi::Number::New(env, cimm::l2_norm(x.data, x.length));
    });
  });
}

// zeroNonFinite(x: Real): number
Napi::Value ZeroNonFinite(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "x", [&](auto d) {
      const auto x = real_array<typename decltype(d)::type>(env, info[0], "x");
      return Napi::Number::New(env, static_cast<double>(cimm::zero_non_finite(x.data, x.length)));
    });
  });
}

// scaleInPlace(x: Real, s: number): void
Napi::Value ScaleInPlace(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const double s = number(env, info[1], "s");
    return by_dtype(env, info[0], "x", [&](auto d) -> Napi::Value {
      const auto x = real_array<typename decltype(d)::type>(env, info[0], "x");
      cimm::scale_in_place(x.data, x.length, s);
      return env.Undefined();
    });
  });
}

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports) {
  define(env, exports, "sgdStep", SgdStep);
  define(env, exports, "adamStep", AdamStep);
  define(env, exports, "sgdStepMeasured", SgdStepMeasured);
  define(env, exports, "adamStepMeasured", AdamStepMeasured);
  define(env, exports, "firstNonFinite", FirstNonFinite);
  define(env, exports, "memoryCopy", MemoryCopy);
  define(env, exports, "l2Norm", L2Norm);
  define(env, exports, "zeroNonFinite", ZeroNonFinite);
  define(env, exports, "scaleInPlace", ScaleInPlace);
}

}  // namespace cimm_binding
