// The Node-API binding: converts arguments, checks lengths, forwards to the kernels, and
// turns every failure into a JS error. Typed arrays are read in place (zero copy): one
// napi_get_typedarray_info per array, whose data pointer already includes the view's byte
// offset. Argument errors are TypeErrors in the facade's format,
// "Expected <what> for <param> but received <value> of type <type>", which
// lib/backends/native.ts maps to CimmArgumentError. Built with C++ exceptions; no C++
// exception leaves an entry point (see guarded()).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "async_worker.hpp"
#include "balance.hpp"
#include "cpu.hpp"
#include "energy.hpp"
#include "flow.hpp"
#include "fractal.hpp"
#include "measured.hpp"
#include "optim.hpp"
#include "parallel.hpp"
#include "primes.hpp"
#include "prodigy.hpp"
#include "qdt.hpp"

namespace {

const char* typed_array_name(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
      return "Int8Array";
    case napi_uint8_array:
      return "Uint8Array";
    case napi_uint8_clamped_array:
      return "Uint8ClampedArray";
    case napi_int16_array:
      return "Int16Array";
    case napi_uint16_array:
      return "Uint16Array";
    case napi_int32_array:
      return "Int32Array";
    case napi_uint32_array:
      return "Uint32Array";
    case napi_float32_array:
      return "Float32Array";
    case napi_float64_array:
      return "Float64Array";
    case napi_bigint64_array:
      return "BigInt64Array";
    case napi_biguint64_array:
      return "BigUint64Array";
    default:
      return "TypedArray";
  }
}

// "<value> of type <type>", as lib/errors.ts renders a received value.
std::string describe(Napi::Value value) {
  if (value.IsTypedArray()) {
    const auto array = value.As<Napi::TypedArray>();
    const std::string name = typed_array_name(array.TypedArrayType());
    return name + "(" + std::to_string(array.ElementLength()) + ") of type " + name;
  }
  switch (value.Type()) {
    case napi_undefined:
      return "undefined of type undefined";
    case napi_null:
      return "null of type null";
    case napi_boolean:
      return std::string(value.As<Napi::Boolean>().Value() ? "true" : "false") + " of type boolean";
    case napi_number:
      return value.ToString().Utf8Value() + " of type number";
    case napi_bigint:
      return value.ToString().Utf8Value() + " of type bigint";
    case napi_string: {
      std::string text = value.As<Napi::String>().Utf8Value();
      if (text.size() > 40) text = text.substr(0, 40) + "\xE2\x80\xA6";
      return "\"" + text + "\" of type string";
    }
    case napi_function:
      return "function of type function";
    case napi_symbol:
      return "Symbol() of type symbol";
    default:
      if (value.IsArray()) {
        return "Array(" + std::to_string(value.As<Napi::Array>().Length()) + ") of type Array";
      }
      return "[object Object] of type object";
  }
}

[[noreturn]] void fail(Napi::Env env, const std::string& what, const char* param, Napi::Value value) {
  throw Napi::TypeError::New(env, "Expected " + what + " for " + param + " but received " + describe(value));
}

template <typename T>
struct View {
  T* data;
  std::size_t length;
};

// The elements of a typed array of `type` (named `ctor` in messages), read in place.
template <typename T>
View<T> typed_array(Napi::Env env, Napi::Value value, napi_typedarray_type type, const char* ctor, const char* param) {
  napi_typedarray_type got;
  std::size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &got, &length, &data, nullptr, nullptr) != napi_ok || got != type) {
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    fail(env, std::string("a ") + ctor, param, value);
  }
  return {static_cast<T*>(data), length};
}

View<double> float64_array(Napi::Env env, Napi::Value value, const char* param) {
  return typed_array<double>(env, value, napi_float64_array, "Float64Array", param);
}

View<float> float32_array(Napi::Env env, Napi::Value value, const char* param) {
  return typed_array<float>(env, value, napi_float32_array, "Float32Array", param);
}

// ---- the optimizer kernels' dtype: Float32Array or Float64Array parameters ----

template <typename T>
constexpr const char* array_name() {
  return sizeof(T) == sizeof(double) ? "Float64Array" : "Float32Array";
}

template <typename T>
struct Dtype {
  using type = T;
};

// f(Dtype<float>{}) or f(Dtype<double>{}) by the dtype of `params`: one entry point, the
// kernel's f32 or f64 instance (lib/kernels.ts, Real).
template <typename F>
Napi::Value by_dtype(Napi::Env env, Napi::Value params, const char* param, F&& f) {
  napi_typedarray_type got;
  std::size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, params, &got, &length, &data, nullptr, nullptr) != napi_ok ||
      (got != napi_float32_array && got != napi_float64_array)) {
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    fail(env, "a Float32Array or Float64Array", param, params);
  }
  return got == napi_float64_array ? f(Dtype<double>{}) : f(Dtype<float>{});
}

// An array of the call's dtype T (the dtype of `params`); an empty Float32Array or
// Float64Array (an unused array) is taken as empty whatever its dtype.
template <typename T>
View<T> real_array(Napi::Env env, Napi::Value value, const char* param) {
  napi_typedarray_type got;
  std::size_t length = 0;
  void* data = nullptr;
  const napi_typedarray_type want = sizeof(T) == sizeof(double) ? napi_float64_array : napi_float32_array;
  const bool ok = napi_get_typedarray_info(env, value, &got, &length, &data, nullptr, nullptr) == napi_ok;
  if (!ok && env.IsExceptionPending()) env.GetAndClearPendingException();
  if (ok && got == want) return {static_cast<T*>(data), length};
  if (ok && length == 0 && (got == napi_float32_array || got == napi_float64_array)) return {nullptr, 0};
  if (ok && (got == napi_float32_array || got == napi_float64_array)) {
    fail(env, std::string("a ") + array_name<T>() + " (the dtype of params)", param, value);
  }
  fail(env, std::string("a ") + array_name<T>(), param, value);
}

double number(Napi::Env env, Napi::Value value, const char* param) {
  double out = 0;
  if (napi_get_value_double(env, value, &out) != napi_ok) fail(env, "a number", param, value);
  return out;
}

bool boolean(Napi::Env env, Napi::Value value, const char* param) {
  bool out = false;
  if (napi_get_value_bool(env, value, &out) != napi_ok) fail(env, "a boolean", param, value);
  return out;
}

// Whether two non-empty arrays share memory.
template <typename T>
bool overlap(View<T> x, View<T> y) {
  // addresses as integers: < between pointers into different arrays is unspecified
  const auto a = reinterpret_cast<std::uintptr_t>(x.data);
  const auto b = reinterpret_cast<std::uintptr_t>(y.data);
  return x.length > 0 && y.length > 0 && a < b + y.length * sizeof(T) && b < a + x.length * sizeof(T);
}

// Rejects two non-empty arrays that share memory (the optimizer kernels read and write them as
// separate arrays).
template <typename T>
void disjoint(Napi::Env env, const Napi::CallbackInfo& info, std::initializer_list<std::pair<int, const char*>> args,
              std::initializer_list<View<T>> views) {
  const auto* a = views.begin();
  const auto* an = args.begin();
  for (; a != views.end(); ++a, ++an) {
    const auto* bn = an + 1;
    for (const auto* b = a + 1; b != views.end(); ++b, ++bn) {
      if (overlap(*a, *b)) {
        fail(env, std::string("a ") + array_name<T>() + " that does not overlap " + an->second, bn->second,
             info[bn->first]);
      }
    }
  }
}

// Rejects `v` unless it has `length` elements, the length of the argument named `other`.
template <typename T>
void same_length_as(Napi::Env env, View<T> v, std::size_t length, const char* other, const char* param,
                    Napi::Value value) {
  if (v.length != length) {
    fail(
        env,
        std::string("a ") + array_name<T>() + " of length " + std::to_string(length) + " (the length of " + other + ")",
        param, value);
  }
}

// The optimizer entry points: every array has the length of params.
template <typename T>
void same_length(Napi::Env env, const View<T>& view, std::size_t n, const char* param, Napi::Value value) {
  same_length_as(env, view, n, "params", param, value);
}

// Runs an entry point's body; any C++ exception other than a Napi::Error becomes a JS Error.
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, Body body) {
  try {
    return body(info.Env());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("cimm cpp backend: ") + e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), "cimm cpp backend: unknown native exception");
  }
}

// localEnergy(r: Float64Array, primeCount: number, out: Float64Array): void
Napi::Value LocalEnergy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto r = float64_array(env, info[0], "r");
    const double n = number(env, info[1], "primeCount");
    if (!(n >= 0 && n <= static_cast<double>(cimm::kMaxPrimeCount) && std::floor(n) == n)) {
      fail(env, "an integer >= 0 and <= " + std::to_string(cimm::kMaxPrimeCount), "primeCount", info[1]);
    }
    const auto out = float64_array(env, info[2], "out");
    if (out.length != r.length) fail(env, "a Float64Array of length " + std::to_string(r.length), "out", info[2]);
    cimm::local_energy(r.data, r.length, static_cast<std::size_t>(n), out.data);
    return env.Undefined();
  });
}

// nonlocalEnergy(x, y, points: Float32Array, lengthScale, softening: number): number
Napi::Value NonlocalEnergy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto x = float32_array(env, info[0], "x");
    if (x.length == 0) fail(env, "a non-empty Float32Array", "x", info[0]);
    const auto y = float32_array(env, info[1], "y");
    if (y.length != x.length) fail(env, "a Float32Array of length " + std::to_string(x.length), "y", info[1]);
    const auto points = float32_array(env, info[2], "points");
    if (points.length == 0 || points.length % x.length != 0) {
      fail(env, "a Float32Array of M\xC3\x97" + std::to_string(x.length) + " values (M >= 1)", "points", info[2]);
    }
    const double length_scale = number(env, info[3], "lengthScale");
    const double softening = number(env, info[4], "softening");
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

// sgdStep(params, grads, momentumBuffer: Float32Array, learningRate, momentum, dampening,
//         weightDecay: number, nesterov, maximize, firstStep: boolean): boolean
template <typename T>
Napi::Value SgdStepAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const auto p = real_array<T>(env, info[0], "params");
  const auto g = real_array<T>(env, info[1], "grads");
  const auto b = real_array<T>(env, info[2], "momentumBuffer");
  cimm::SgdHyper h{};
  h.learning_rate = number(env, info[3], "learningRate");
  h.momentum = number(env, info[4], "momentum");
  h.dampening = number(env, info[5], "dampening");
  h.weight_decay = number(env, info[6], "weightDecay");
  h.nesterov = boolean(env, info[7], "nesterov");
  h.maximize = boolean(env, info[8], "maximize");
  h.first_step = boolean(env, info[9], "firstStep");
  same_length(env, g, p.length, "grads", info[1]);
  if (static_cast<T>(h.momentum) != T(0)) same_length(env, b, p.length, "momentumBuffer", info[2]);
  disjoint(env, info, {{0, "params"}, {1, "grads"}, {2, "momentumBuffer"}}, {p, g, b});
  return Napi::Boolean::New(env, cimm::sgd_step(p.data, g.data, b.data, p.length, h));
}

Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params", [&](auto d) { return SgdStepAs<typename decltype(d)::type>(env, info); });
  });
}

// adamStep(params, grads, m, v, vMax: Float32Array, beta1, beta2, stepSize, bc2Sqrt, epsilon,
//          weightDecay, decay: number, amsgrad, maximize: boolean): boolean
template <typename T>
Napi::Value AdamStepAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const auto p = real_array<T>(env, info[0], "params");
  const auto g = real_array<T>(env, info[1], "grads");
  const auto m = real_array<T>(env, info[2], "m");
  const auto v = real_array<T>(env, info[3], "v");
  const auto w = real_array<T>(env, info[4], "vMax");
  cimm::AdamHyper h{};
  h.beta1 = number(env, info[5], "beta1");
  h.beta2 = number(env, info[6], "beta2");
  h.step_size = number(env, info[7], "stepSize");
  h.bc2_sqrt = number(env, info[8], "bc2Sqrt");
  h.epsilon = number(env, info[9], "epsilon");
  h.weight_decay = number(env, info[10], "weightDecay");
  h.decay = number(env, info[11], "decay");
  h.amsgrad = boolean(env, info[12], "amsgrad");
  h.maximize = boolean(env, info[13], "maximize");
  same_length(env, g, p.length, "grads", info[1]);
  same_length(env, m, p.length, "m", info[2]);
  same_length(env, v, p.length, "v", info[3]);
  if (h.amsgrad) same_length(env, w, p.length, "vMax", info[4]);
  disjoint(env, info, {{0, "params"}, {1, "grads"}, {2, "m"}, {3, "v"}, {4, "vMax"}}, {p, g, m, v, w});
  return Napi::Boolean::New(env, cimm::adam_step(p.data, g.data, m.data, v.data, w.data, p.length, h));
}

Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params", [&](auto d) { return AdamStepAs<typename decltype(d)::type>(env, info); });
  });
}

// prodigyAccumulate(params, grads, p0, m, v, s: Float32Array, beta1, beta2, beta3, momentScale,
//                   varianceScale, sScale, weightDecay: number): [dot, l1]
template <typename T>
Napi::Value ProdigyAccumulateAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const auto p = real_array<T>(env, info[0], "params");
  const auto g = real_array<T>(env, info[1], "grads");
  const auto q = real_array<T>(env, info[2], "p0");
  const auto m = real_array<T>(env, info[3], "m");
  const auto v = real_array<T>(env, info[4], "v");
  const auto s = real_array<T>(env, info[5], "s");
  cimm::ProdigyAccumulateHyper h{};
  h.beta1 = number(env, info[6], "beta1");
  h.beta2 = number(env, info[7], "beta2");
  h.beta3 = number(env, info[8], "beta3");
  h.moment_scale = number(env, info[9], "momentScale");
  h.variance_scale = number(env, info[10], "varianceScale");
  h.s_scale = number(env, info[11], "sScale");
  h.weight_decay = number(env, info[12], "weightDecay");
  same_length(env, g, p.length, "grads", info[1]);
  same_length(env, q, p.length, "p0", info[2]);
  same_length(env, m, p.length, "m", info[3]);
  same_length(env, v, p.length, "v", info[4]);
  same_length(env, s, p.length, "s", info[5]);
  disjoint(env, info, {{0, "params"}, {1, "grads"}, {2, "p0"}, {3, "m"}, {4, "v"}, {5, "s"}}, {p, g, q, m, v, s});
  const cimm::ProdigySums r = cimm::prodigy_accumulate(p.data, g.data, q.data, m.data, v.data, s.data, p.length, h);
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

// prodigyUpdate(params, m, v: Float32Array, stepSize, epsilon, decay: number): boolean
template <typename T>
Napi::Value ProdigyUpdateAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const auto p = real_array<T>(env, info[0], "params");
  const auto m = real_array<T>(env, info[1], "m");
  const auto v = real_array<T>(env, info[2], "v");
  cimm::ProdigyUpdateHyper h{};
  h.step_size = number(env, info[3], "stepSize");
  h.epsilon = number(env, info[4], "epsilon");
  h.decay = number(env, info[5], "decay");
  same_length(env, m, p.length, "m", info[1]);
  same_length(env, v, p.length, "v", info[2]);
  disjoint(env, info, {{0, "params"}, {1, "m"}, {2, "v"}}, {p, m, v});
  return Napi::Boolean::New(env, cimm::prodigy_update(p.data, m.data, v.data, p.length, h));
}

Napi::Value ProdigyUpdate(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params",
                    [&](auto d) { return ProdigyUpdateAs<typename decltype(d)::type>(env, info); });
  });
}

// firstNonFinite(values: Float32Array): number (-1 when all are finite)
template <typename T>
Napi::Value FirstNonFiniteAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const auto x = real_array<T>(env, info[0], "values");
  return Napi::Number::New(env, static_cast<double>(cimm::first_non_finite(x.data, x.length)));
}

Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "values",
                    [&](auto d) { return FirstNonFiniteAs<typename decltype(d)::type>(env, info); });
  });
}

// memoryCopy(src, dst: Float32Array): void
Napi::Value MemoryCopy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto src = float32_array(env, info[0], "src");
    const auto dst = float32_array(env, info[1], "dst");
    same_length_as(env, dst, src.length, "src", "dst", info[1]);
    disjoint(env, info, {{0, "src"}, {1, "dst"}}, {src, dst});
    cimm::memory_copy(src.data, dst.data, src.length);
    return env.Undefined();
  });
}

// updateEnergy(before, after, grads, metric: Float32Array, metricScale, epsilon: number,
//              out: Float64Array(3)): void — the energy terms of an update (balance.hpp)
template <typename T>
Napi::Value UpdateEnergyAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const auto before = real_array<T>(env, info[0], "before");
  const auto after = real_array<T>(env, info[1], "after");
  const auto grads = real_array<T>(env, info[2], "grads");
  const auto metric = real_array<T>(env, info[3], "metric");
  const double scale = number(env, info[4], "metricScale");
  const double epsilon = number(env, info[5], "epsilon");
  const auto out = float64_array(env, info[6], "out");
  const std::string want =
      std::string("a ") + array_name<T>() + " of length " + std::to_string(before.length) + " (the length of before)";
  if (after.length != before.length) fail(env, want, "after", info[1]);
  if (grads.length != before.length) fail(env, want, "grads", info[2]);
  if (metric.length != 0 && metric.length != before.length) fail(env, want, "metric", info[3]);
  if (out.length != 3) fail(env, "a Float64Array of length 3", "out", info[6]);
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

// updateSlope(before, after, grads: Float32Array): number — Σ g·(after − before), updateEnergy's
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

// ---- measured optimizer steps (measured.hpp) ----

// The options object of a measured step; its fields are read once each, before any typed
// array is viewed (a getter may run JS).
Napi::Object options_object(Napi::Env env, Napi::Value value) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray() || value.IsFunction()) {
    fail(env, "an options object", "options", value);
  }
  return value.As<Napi::Object>();
}

double option_number(Napi::Env env, Napi::Object options, const char* key, const char* name) {
  return number(env, options.Get(key), name);
}

bool option_boolean(Napi::Env env, Napi::Object options, const char* key, const char* name) {
  return boolean(env, options.Get(key), name);
}

// `out`: a Float64Array of length 3 sharing no memory with the float arrays of the call.
template <typename T>
double* sums_out(Napi::Env env, Napi::Value value, std::initializer_list<std::pair<const char*, View<T>>> arrays) {
  const auto out = float64_array(env, value, "out");
  if (out.length != 3) fail(env, "a Float64Array of length 3", "out", value);
  const auto o = reinterpret_cast<std::uintptr_t>(out.data);
  for (const auto& [name, a] : arrays) {
    const auto b = reinterpret_cast<std::uintptr_t>(a.data);
    if (a.length > 0 && o < b + a.length * sizeof(T) && b < o + 3 * sizeof(double)) {
      fail(env, std::string("a Float64Array that does not overlap ") + name, "out", value);
    }
  }
  return out.data;
}

Napi::Value measured_result(Napi::Env env, const cimm::Measured& r, double* out) {
  std::copy(r.sums, r.sums + 3, out);
  return Napi::Boolean::New(env, r.finite);
}

// sgdStepMeasured(params, grads, momentumBuffer, before: Float32Array, options {learningRate,
//                 momentum, dampening, weightDecay, nesterov, maximize, firstStep},
//                 out: Float64Array(3)): boolean
template <typename T>
Napi::Value SgdStepMeasuredAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Napi::Object o = options_object(env, info[4]);
  cimm::SgdHyper h{};
  h.learning_rate = option_number(env, o, "learningRate", "options.learningRate");
  h.momentum = option_number(env, o, "momentum", "options.momentum");
  h.dampening = option_number(env, o, "dampening", "options.dampening");
  h.weight_decay = option_number(env, o, "weightDecay", "options.weightDecay");
  h.nesterov = option_boolean(env, o, "nesterov", "options.nesterov");
  h.maximize = option_boolean(env, o, "maximize", "options.maximize");
  h.first_step = option_boolean(env, o, "firstStep", "options.firstStep");
  const auto p = real_array<T>(env, info[0], "params");
  const auto g = real_array<T>(env, info[1], "grads");
  const auto b = real_array<T>(env, info[2], "momentumBuffer");
  const auto q = real_array<T>(env, info[3], "before");
  same_length(env, g, p.length, "grads", info[1]);
  if (static_cast<T>(h.momentum) != T(0)) same_length(env, b, p.length, "momentumBuffer", info[2]);
  same_length(env, q, p.length, "before", info[3]);
  disjoint(env, info, {{0, "params"}, {1, "grads"}, {2, "momentumBuffer"}, {3, "before"}}, {p, g, b, q});
  double* out = sums_out<T>(env, info[5], {{"params", p}, {"grads", g}, {"momentumBuffer", b}, {"before", q}});
  return measured_result(env, cimm::sgd_step_measured(p.data, g.data, b.data, q.data, p.length, h), out);
}

Napi::Value SgdStepMeasured(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params",
                    [&](auto d) { return SgdStepMeasuredAs<typename decltype(d)::type>(env, info); });
  });
}

// adamStepMeasured(params, grads, m, v, vMax, before: Float32Array, options {beta1, beta2,
//                  stepSize, bc2Sqrt, epsilon, weightDecay, decay, amsgrad, maximize,
//                  metricScale, metricEpsilon}, out: Float64Array(3)): boolean
template <typename T>
Napi::Value AdamStepMeasuredAs(Napi::Env env, const Napi::CallbackInfo& info) {
  const Napi::Object o = options_object(env, info[6]);
  cimm::AdamHyper h{};
  h.beta1 = option_number(env, o, "beta1", "options.beta1");
  h.beta2 = option_number(env, o, "beta2", "options.beta2");
  h.step_size = option_number(env, o, "stepSize", "options.stepSize");
  h.bc2_sqrt = option_number(env, o, "bc2Sqrt", "options.bc2Sqrt");
  h.epsilon = option_number(env, o, "epsilon", "options.epsilon");
  h.weight_decay = option_number(env, o, "weightDecay", "options.weightDecay");
  h.decay = option_number(env, o, "decay", "options.decay");
  h.amsgrad = option_boolean(env, o, "amsgrad", "options.amsgrad");
  h.maximize = option_boolean(env, o, "maximize", "options.maximize");
  cimm::AdamMetric metric{};
  metric.scale = option_number(env, o, "metricScale", "options.metricScale");
  metric.epsilon = option_number(env, o, "metricEpsilon", "options.metricEpsilon");
  const auto p = real_array<T>(env, info[0], "params");
  const auto g = real_array<T>(env, info[1], "grads");
  const auto m = real_array<T>(env, info[2], "m");
  const auto v = real_array<T>(env, info[3], "v");
  const auto w = real_array<T>(env, info[4], "vMax");
  const auto q = real_array<T>(env, info[5], "before");
  same_length(env, g, p.length, "grads", info[1]);
  same_length(env, m, p.length, "m", info[2]);
  same_length(env, v, p.length, "v", info[3]);
  if (h.amsgrad) same_length(env, w, p.length, "vMax", info[4]);
  same_length(env, q, p.length, "before", info[5]);
  disjoint(env, info, {{0, "params"}, {1, "grads"}, {2, "m"}, {3, "v"}, {4, "vMax"}, {5, "before"}},
           {p, g, m, v, w, q});
  double* out =
      sums_out<T>(env, info[7], {{"params", p}, {"grads", g}, {"m", m}, {"v", v}, {"vMax", w}, {"before", q}});
  return measured_result(
      env, cimm::adam_step_measured(p.data, g.data, m.data, v.data, w.data, q.data, p.length, h, metric), out);
}

Napi::Value AdamStepMeasured(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "params",
                    [&](auto d) { return AdamStepMeasuredAs<typename decltype(d)::type>(env, info); });
  });
}

// ---- energy flow (design eq. 10) and the stability reductions (eq. 11) ----

// A grid dimension: an integer >= 1.
std::size_t grid_dim(Napi::Env env, Napi::Value value, const char* param) {
  const double v = number(env, value, param);
  if (!(v >= 1 && v <= 4294967296.0 && std::floor(v) == v)) fail(env, "an integer >= 1", param, value);
  return static_cast<std::size_t>(v);
}

// A Float64Array of exactly `cells` values.
const double* grid(Napi::Env env, Napi::Value value, const char* param, std::size_t cells) {
  const auto a = float64_array(env, value, param);
  if (a.length != cells) fail(env, "a Float64Array of length " + std::to_string(cells), param, value);
  return a.data;
}

// An output grid of `cells` values that shares no memory with the inputs (the stencil reads
// neighbours while it writes).
double* output_grid(Napi::Env env, Napi::Value value, std::size_t cells,
                    std::initializer_list<std::pair<const char*, const double*>> inputs) {
  const auto out = float64_array(env, value, "out");
  if (out.length != cells) fail(env, "a Float64Array of length " + std::to_string(cells), "out", value);
  for (const auto& [name, data] : inputs) {
    if (cells > 0 && out.data < data + cells && data < out.data + cells) {
      fail(env, std::string("a Float64Array that does not overlap ") + name, "out", value);
    }
  }
  return out.data;
}

Napi::Object params_object(Napi::Env env, Napi::Value value) {
  if (!value.IsObject() || value.IsArray() || value.IsTypedArray()) fail(env, "an options object", "params", value);
  return value.As<Napi::Object>();
}

// A finite field of the params object; kPositive and kNonNegative add "> 0" and ">= 0".
enum class Sign { kAny, kPositive, kNonNegative };
double field(Napi::Env env, Napi::Object params, const char* name, Sign sign = Sign::kAny) {
  const Napi::Value value = params.Get(name);
  const double v = number(env, value, name);
  if (sign == Sign::kPositive && !(std::isfinite(v) && v > 0)) fail(env, "a finite number > 0", name, value);
  if (sign == Sign::kNonNegative && !(std::isfinite(v) && v >= 0)) fail(env, "a finite number >= 0", name, value);
  if (!std::isfinite(v)) fail(env, "a finite number", name, value);
  return v;
}

cimm::Boundary boundary_of(Napi::Env env, Napi::Value value) {
  if (value.IsString()) {
    const std::string name = value.As<Napi::String>().Utf8Value();
    if (name == "periodic") return cimm::Boundary::kPeriodic;
    if (name == "zeroFlux") return cimm::Boundary::kZeroFlux;
  }
  fail(env, "one of \"periodic\", \"zeroFlux\"", "boundary", value);
}

// energyFlowStep(energy, potential, source, nx, ny, params {h, dt, beta, gamma, kappa, boundary}, out): void
Napi::Value EnergyFlowStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const std::size_t nx = grid_dim(env, info[3], "nx");
    const std::size_t ny = grid_dim(env, info[4], "ny");
    const std::size_t cells = nx * ny;
    const double* energy = grid(env, info[0], "energy", cells);
    const double* potential = grid(env, info[1], "potential", cells);
    const double* source = grid(env, info[2], "source", cells);
    const Napi::Object p = params_object(env, info[5]);
    cimm::FlowParams params{};
    params.h = field(env, p, "h", Sign::kPositive);
    params.dt = field(env, p, "dt", Sign::kNonNegative);
    params.beta = field(env, p, "beta", Sign::kNonNegative);
    params.gamma = field(env, p, "gamma");
    params.kappa = field(env, p, "kappa");
    params.boundary = boundary_of(env, p.Get("boundary"));
    double* out = output_grid(env, info[6], cells, {{"energy", energy}, {"potential", potential}, {"source", source}});
    cimm::energy_flow_step(energy, potential, source, nx, ny, params, out);
    return env.Undefined();
  });
}

// energyFlowMaxStep(potential, nx, ny, params {h, beta, gamma, boundary}): number
Napi::Value EnergyFlowMaxStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const std::size_t nx = grid_dim(env, info[1], "nx");
    const std::size_t ny = grid_dim(env, info[2], "ny");
    const double* potential = grid(env, info[0], "potential", nx * ny);
    const Napi::Object p = params_object(env, info[3]);
    const double h = field(env, p, "h", Sign::kPositive);
    const double beta = field(env, p, "beta", Sign::kNonNegative);
    const double gamma = field(env, p, "gamma");
    const cimm::Boundary boundary = boundary_of(env, p.Get("boundary"));
    return Napi::Number::New(env, cimm::energy_flow_max_step(potential, nx, ny, h, beta, gamma, boundary));
  });
}

// laplacian(energy, nx, ny, h, boundary, out): void
Napi::Value Laplacian(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const std::size_t nx = grid_dim(env, info[1], "nx");
    const std::size_t ny = grid_dim(env, info[2], "ny");
    const double* energy = grid(env, info[0], "energy", nx * ny);
    const double h = number(env, info[3], "h");
    if (!(std::isfinite(h) && h > 0)) fail(env, "a finite number > 0", "h", info[3]);
    const cimm::Boundary boundary = boundary_of(env, info[4]);
    double* out = output_grid(env, info[5], nx * ny, {{"energy", energy}});
    cimm::laplacian(energy, nx, ny, h, boundary, out);
    return env.Undefined();
  });
}

// gridSums(x: Float64Array, out: Float64Array(3)): void
Napi::Value GridSums(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto x = float64_array(env, info[0], "x");
    const auto out = float64_array(env, info[1], "out");
    if (out.length != 3) fail(env, "a Float64Array of length 3", "out", info[1]);
    double sums[3];
    cimm::grid_sums(x.data, x.length, sums);
    std::copy(sums, sums + 3, out.data);
    return env.Undefined();
  });
}

// l2Norm(x: Float32Array | Float64Array): number
Napi::Value L2Norm(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "x", [&](auto d) {
      const auto x = real_array<typename decltype(d)::type>(env, info[0], "x");
      return Napi::Number::New(env, cimm::l2_norm(x.data, x.length));
    });
  });
}

// zeroNonFinite(x: Float32Array | Float64Array): number
Napi::Value ZeroNonFinite(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "x", [&](auto d) {
      const auto x = real_array<typename decltype(d)::type>(env, info[0], "x");
      return Napi::Number::New(env, static_cast<double>(cimm::zero_non_finite(x.data, x.length)));
    });
  });
}

// scaleInPlace(x: Float32Array | Float64Array, s: number): void
Napi::Value ScaleInPlace(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return by_dtype(env, info[0], "x", [&](auto d) -> Napi::Value {
      const auto x = real_array<typename decltype(d)::type>(env, info[0], "x");
      cimm::scale_in_place(x.data, x.length, number(env, info[1], "s"));
      return env.Undefined();
    });
  });
}

// ---- the fractal network kernels (design eqs. 8–9) ----------------------------------------

// `in` itself, or a copy kept in `keep` when it partially overlaps `out` (or is `out` and
// `always` is set): a kernel then never reads an element it already overwrote. An input that
// is exactly `out` is fine as it is (each kernel reads element i before writing it).
template <typename T>
const T* separate(View<T> in, View<T> out, std::vector<T>& keep, bool always = false) {
  if (!overlap(in, out)) return in.data;
  if (in.data == out.data && in.length == out.length && !always) return in.data;
  keep.assign(in.data, in.data + in.length);
  return keep.data();
}

double finite(Napi::Env env, Napi::Value value, const char* param) {
  const double v = number(env, value, param);
  if (!std::isfinite(v)) fail(env, "a finite number", param, value);
  return v;
}

cimm::Activation activation(Napi::Env env, Napi::Value value) {
  if (value.IsString()) {
    const std::string name = value.As<Napi::String>().Utf8Value();
    if (name == "identity") return cimm::Activation::kIdentity;
    if (name == "tanh") return cimm::Activation::kTanh;
    if (name == "sigmoid") return cimm::Activation::kSigmoid;
    if (name == "relu") return cimm::Activation::kRelu;
  }
  fail(env, "one of \"identity\", \"tanh\", \"sigmoid\", \"relu\"", "activation", value);
}

// fractalStep(z: Float32Array, offset: number, out: Float32Array): void
Napi::Value FractalStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto z = float32_array(env, info[0], "z");
    const double offset = finite(env, info[1], "offset");
    const auto out = float32_array(env, info[2], "out");
    same_length_as(env, out, z.length, "z", "out", info[2]);
    std::vector<float> keep;
    cimm::fractal_step(separate(z, out, keep), offset, out.data, out.length);
    return env.Undefined();
  });
}

// fractalStepBackward(z, gradOut, gradZ: Float32Array): void
Napi::Value FractalStepBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto z = float32_array(env, info[0], "z");
    const auto g = float32_array(env, info[1], "gradOut");
    const auto out = float32_array(env, info[2], "gradZ");
    same_length_as(env, g, z.length, "z", "gradOut", info[1]);
    same_length_as(env, out, z.length, "z", "gradZ", info[2]);
    std::vector<float> keep_z, keep_g;
    cimm::fractal_step_backward(separate(z, out, keep_z, true), separate(g, out, keep_g), out.data, out.length);
    return env.Undefined();
  });
}

// maxAbs(x: Float32Array): number
Napi::Value MaxAbs(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto x = float32_array(env, info[0], "x");
    return Napi::Number::New(env, cimm::max_abs(x.data, x.length));
  });
}

// axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const double alpha = finite(env, info[0], "alpha");
    const auto x = float32_array(env, info[1], "x");
    const double beta = finite(env, info[2], "beta");
    const auto y = float32_array(env, info[3], "y");
    same_length_as(env, x, y.length, "y", "x", info[1]);
    std::vector<float> keep;
    cimm::axpby(alpha, separate(x, y, keep), beta, y.data, y.length);
    return env.Undefined();
  });
}

// dot(x: Float32Array, y: Float32Array): number
Napi::Value Dot(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto x = float32_array(env, info[0], "x");
    const auto y = float32_array(env, info[1], "y");
    same_length_as(env, y, x.length, "x", "y", info[1]);
    return Napi::Number::New(env, cimm::dot(x.data, y.data, x.length));
  });
}

// sum(x: Float32Array): number
Napi::Value Sum(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto x = float32_array(env, info[0], "x");
    return Napi::Number::New(env, cimm::sum(x.data, x.length));
  });
}

// activationForward(activation: string, x: Float32Array, shift: number, out: Float32Array): void
Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto act = activation(env, info[0]);
    return by_dtype(env, info[3], "out", [&](auto d) -> Napi::Value {
      using T = typename decltype(d)::type;
      const auto x = real_array<T>(env, info[1], "x");
      const double shift = finite(env, info[2], "shift");
      const auto out = real_array<T>(env, info[3], "out");
      same_length_as(env, x, out.length, "out", "x", info[1]);
      std::vector<T> keep;
      cimm::activation_forward(act, separate(x, out, keep), shift, out.data, out.length);
      return env.Undefined();
    });
  });
}

// activationBackward(activation: string, y, gradOut, gradPre: Float32Array): void
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto act = activation(env, info[0]);
    return by_dtype(env, info[3], "gradPre", [&](auto d) -> Napi::Value {
      using T = typename decltype(d)::type;
      const auto y = real_array<T>(env, info[1], "y");
      const auto g = real_array<T>(env, info[2], "gradOut");
      const auto out = real_array<T>(env, info[3], "gradPre");
      same_length_as(env, y, out.length, "gradPre", "y", info[1]);
      same_length_as(env, g, out.length, "gradPre", "gradOut", info[2]);
      std::vector<T> keep_y, keep_g;
      cimm::activation_backward(act, separate(y, out, keep_y), separate(g, out, keep_g), out.data, out.length);
      return env.Undefined();
    });
  });
}

std::size_t dimension(Napi::Env env, Napi::Value value, const char* param) {
  const double v = number(env, value, param);
  if (!(v >= 0 && v <= 2147483647.0 && std::floor(v) == v))
    fail(env, "an integer >= 0 and <= 2147483647", param, value);
  return static_cast<std::size_t>(v);
}

template <typename T>
void matrix(Napi::Env env, View<T> v, std::size_t rows, std::size_t cols, const char* param, Napi::Value value) {
  if (v.length != rows * cols) {
    fail(env,
         "a " + std::to_string(rows) + "\xC3\x97" + std::to_string(cols) + " matrix (a " + array_name<T>() +
             " of length " + std::to_string(rows * cols) + ")",
         param, value);
  }
}

// matmul(transA, transB: boolean, m, n, k, alpha: number, a, b: Float32Array, beta: number, c: Float32Array): void
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const bool trans_a = boolean(env, info[0], "transA");
    const bool trans_b = boolean(env, info[1], "transB");
    const std::size_t m = dimension(env, info[2], "m");
    const std::size_t n = dimension(env, info[3], "n");
    const std::size_t k = dimension(env, info[4], "k");
    const double alpha = finite(env, info[5], "alpha");
    return by_dtype(env, info[9], "c", [&](auto d) -> Napi::Value {
      using T = typename decltype(d)::type;
      const auto a = real_array<T>(env, info[6], "a");
      const auto b = real_array<T>(env, info[7], "b");
      const double beta = finite(env, info[8], "beta");
      const auto c = real_array<T>(env, info[9], "c");
      if (static_cast<double>(m) * static_cast<double>(k) > 4e18 ||
          static_cast<double>(k) * static_cast<double>(n) > 4e18 ||
          static_cast<double>(m) * static_cast<double>(n) > 4e18) {
        fail(env, "dimensions whose products fit in memory", "m", info[2]);
      }
      matrix(env, a, trans_a ? k : m, trans_a ? m : k, "a", info[6]);
      matrix(env, b, trans_b ? n : k, trans_b ? k : n, "b", info[7]);
      matrix(env, c, m, n, "c", info[9]);
      if (overlap(a, c) || overlap(b, c)) fail(env, "an array that does not overlap a or b", "c", info[9]);
      cimm::matmul(trans_a, trans_b, m, n, k, static_cast<T>(alpha), a.data, b.data, static_cast<T>(beta), c.data);
      return env.Undefined();
    });
  });
}

// ---- QDT/QBE: coupling, scale transition, Shannon entropy, Hermitian eigenvalues (eqs. 1, 2, 6, 15) ----

bool overlaps(const double* a, std::size_t na, const double* b, std::size_t nb) {
  return na > 0 && nb > 0 && a < b + nb && b < a + na;
}

// An elementwise kernel's output: the length of t; out may be t itself (computed in place),
// any other overlap reads t from a copy.
template <typename Kernel>
Napi::Value elementwise(Napi::Env env, const View<double>& t, Napi::Value out_value, Kernel kernel) {
  const auto out = float64_array(env, out_value, "out");
  if (out.length != t.length) {
    fail(env, "a Float64Array of length " + std::to_string(t.length) + " (the length of t)", "out", out_value);
  }
  if (out.data != t.data && overlaps(t.data, t.length, out.data, out.length)) {
    const std::vector<double> copy(t.data, t.data + t.length);
    kernel(copy.data(), t.length, out.data);
  } else {
    kernel(t.data, t.length, out.data);
  }
  return env.Undefined();
}

// coupling(t: Float64Array, alpha, beta, gamma, lambdaCosmo: number, out: Float64Array): void
Napi::Value Coupling(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto t = float64_array(env, info[0], "t");
    const cimm::CouplingParams params{finite(env, info[1], "alpha"), finite(env, info[2], "beta"),
                                      finite(env, info[3], "gamma"), finite(env, info[4], "lambdaCosmo")};
    return elementwise(env, t, info[5],
                       [&](const double* in, std::size_t n, double* out) { cimm::coupling(in, n, params, out); });
  });
}

// scaleTransition(t: Float64Array, scaleCoupling, criticalTime: number, out: Float64Array): void
Napi::Value ScaleTransition(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto t = float64_array(env, info[0], "t");
    const double lambda = finite(env, info[1], "scaleCoupling");
    const double tc = finite(env, info[2], "criticalTime");
    return elementwise(env, t, info[3], [&](const double* in, std::size_t n, double* out) {
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
    const double dv = number(env, info[2], "d");
    if (!(dv >= 0 && dv <= static_cast<double>(cimm::kMaxDimension) && std::floor(dv) == dv)) {
      fail(env, "an integer in [0, " + std::to_string(cimm::kMaxDimension) + "]", "d", info[2]);
    }
    const std::size_t d = static_cast<std::size_t>(dv);
    const std::string matrix =
        "a d\xC3\x97"
        "d matrix of length " +
        std::to_string(d * d) + " (d = " + std::to_string(d) + ")";
    const auto re = float64_array(env, info[0], "re");
    if (re.length != d * d) fail(env, matrix, "re", info[0]);
    const auto im = float64_array(env, info[1], "im");
    if (im.length != d * d) fail(env, matrix, "im", info[1]);
    const auto out = float64_array(env, info[3], "out");
    if (out.length != d) fail(env, "a Float64Array of length " + std::to_string(d) + " (d)", "out", info[3]);
    if (overlaps(re.data, re.length, out.data, d) || overlaps(im.data, im.length, out.data, d)) {
      const std::vector<double> r(re.data, re.data + re.length);
      const std::vector<double> i(im.data, im.data + im.length);
      cimm::hermitian_eigenvalues(r.data(), i.data(), d, out.data);
    } else {
      cimm::hermitian_eigenvalues(re.data, im.data, d, out.data);
    }
    return env.Undefined();
  });
}

// ---- async variants of the long kernels (async_worker.hpp: copies, abort) ----

// The AbortFlag argument of an async entry point.
std::shared_ptr<cimm::StopFlag> abort_flag(Napi::Env env, Napi::Value value) {
  auto flag = cimm_binding::AbortFlag::Of(env, value);
  if (!flag) fail(env, "an AbortFlag", "flag", value);
  return flag;
}

// A typed array the worker writes and hands to JS in OnOK; until then only the worker holds
// it, so no JS code can detach or resize it.
template <typename Array>
std::shared_ptr<Napi::ObjectReference> owned_result(Array array) {
  return std::make_shared<Napi::ObjectReference>(Napi::Persistent(static_cast<Napi::Object>(array)));
}

// matmulAsync(params {transA, transB, m, n, k, alpha, beta}, a, b: Float32Array,
//             c: Float32Array | undefined (read when beta != 0), flag: AbortFlag): Promise<Float32Array>
Napi::Value MatmulAsync(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Napi::Object p = params_object(env, info[0]);
    const bool trans_a = boolean(env, p.Get("transA"), "transA");
    const bool trans_b = boolean(env, p.Get("transB"), "transB");
    const Napi::Value mv = p.Get("m");
    const std::size_t m = dimension(env, mv, "m");
    const std::size_t n = dimension(env, p.Get("n"), "n");
    const std::size_t k = dimension(env, p.Get("k"), "k");
    const double alpha = finite(env, p.Get("alpha"), "alpha");
    const double beta = finite(env, p.Get("beta"), "beta");
    if (static_cast<double>(m) * static_cast<double>(k) > 4e18 ||
        static_cast<double>(k) * static_cast<double>(n) > 4e18 ||
        static_cast<double>(m) * static_cast<double>(n) > 1e15) {
      fail(env, "dimensions whose products fit in memory", "m", mv);
    }
    const auto a = float32_array(env, info[1], "a");
    const auto b = float32_array(env, info[2], "b");
    matrix(env, a, trans_a ? k : m, trans_a ? m : k, "a", info[1]);
    matrix(env, b, trans_b ? n : k, trans_b ? k : n, "b", info[2]);
    const auto flag = abort_flag(env, info[4]);
    // C is created here (zeros) and, when beta != 0, holds the copy of c.
    Napi::Float32Array c_out = Napi::Float32Array::New(env, m * n);
    if (beta != 0) {
      const auto c = float32_array(env, info[3], "c");
      matrix(env, c, m, n, "c", info[3]);
      std::copy(c.data, c.data + c.length, c_out.Data());
    }
    auto inputs = std::make_shared<std::pair<std::vector<float>, std::vector<float>>>(
        std::vector<float>(a.data, a.data + a.length), std::vector<float>(b.data, b.data + b.length));
    float* c_data = c_out.Data();
    auto result = owned_result(c_out);
    auto* worker = new cimm_binding::KernelWorker(
        env, "matmulAsync", flag,
        [=]() {
          return cimm::matmul_until(trans_a, trans_b, m, n, k, static_cast<float>(alpha), inputs->first.data(),
                                    inputs->second.data(), static_cast<float>(beta), c_data, flag.get());
        },
        [result](Napi::Env) -> Napi::Value { return result->Value(); });
    return cimm_binding::KernelWorker::Start(worker);
  });
}

// localEnergyAsync(r: Float64Array, primeCount: number, flag: AbortFlag): Promise<Float64Array>
Napi::Value LocalEnergyAsync(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto r = float64_array(env, info[0], "r");
    const double nv = number(env, info[1], "primeCount");
    if (!(nv >= 0 && nv <= static_cast<double>(cimm::kMaxPrimeCount) && std::floor(nv) == nv)) {
      fail(env, "an integer >= 0 and <= " + std::to_string(cimm::kMaxPrimeCount), "primeCount", info[1]);
    }
    const auto n = static_cast<std::size_t>(nv);
    const auto flag = abort_flag(env, info[2]);
    auto r_copy = std::make_shared<std::vector<double>>(r.data, r.data + r.length);
    Napi::Float64Array out = Napi::Float64Array::New(env, r.length);
    double* out_data = out.Data();
    auto result = owned_result(out);
    auto* worker = new cimm_binding::KernelWorker(
        env, "localEnergyAsync", flag,
        [=]() { return cimm::local_energy_until(r_copy->data(), r_copy->size(), n, out_data, *flag); },
        [result](Napi::Env) -> Napi::Value { return result->Value(); });
    return cimm_binding::KernelWorker::Start(worker);
  });
}

// energyFlowRunAsync(energy, potential, source: Float64Array, nx, ny: number,
//                    params {h, dt, beta, gamma, boundary}, kappas: Float64Array, flag: AbortFlag):
//   Promise<{energy, previous}>
Napi::Value EnergyFlowRunAsync(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const std::size_t nx = grid_dim(env, info[3], "nx");
    const std::size_t ny = grid_dim(env, info[4], "ny");
    if (static_cast<double>(nx) * static_cast<double>(ny) > 4294967296.0) {
      fail(env, "an integer with nx\xC2\xB7ny <= 4294967296", "ny", info[4]);
    }
    const std::size_t cells = nx * ny;
    const double* energy = grid(env, info[0], "energy", cells);
    const double* potential = grid(env, info[1], "potential", cells);
    const double* source = grid(env, info[2], "source", cells);
    const Napi::Object p = params_object(env, info[5]);
    cimm::FlowParams params{};
    params.h = field(env, p, "h", Sign::kPositive);
    params.dt = field(env, p, "dt", Sign::kNonNegative);
    params.beta = field(env, p, "beta", Sign::kNonNegative);
    params.gamma = field(env, p, "gamma");
    params.kappa = 0;
    params.boundary = boundary_of(env, p.Get("boundary"));
    const auto kappas = float64_array(env, info[6], "kappas");
    for (std::size_t i = 0; i < kappas.length; ++i) {
      if (!std::isfinite(kappas.data[i])) fail(env, "a Float64Array of finite numbers", "kappas", info[6]);
    }
    const auto flag = abort_flag(env, info[7]);
    // Two grids the worker owns: the first starts as the copy of energy, the second as its
    // copy too (what `previous` is after zero steps).
    Napi::Float64Array first = Napi::Float64Array::New(env, cells);
    Napi::Float64Array second = Napi::Float64Array::New(env, cells);
    std::copy(energy, energy + cells, first.Data());
    std::copy(energy, energy + cells, second.Data());
    struct Inputs {
      std::vector<double> potential, source, kappas;
      double* grids[2];
      bool final_in_first = true;
    };
    auto in = std::make_shared<Inputs>();
    in->potential.assign(potential, potential + cells);
    in->source.assign(source, source + cells);
    in->kappas.assign(kappas.data, kappas.data + kappas.length);
    in->grids[0] = first.Data();
    in->grids[1] = second.Data();
    auto first_ref = owned_result(first);
    auto second_ref = owned_result(second);
    auto* worker = new cimm_binding::KernelWorker(
        env, "energyFlowRunAsync", flag,
        [=]() {
          double* current = in->grids[0];
          double* previous = in->grids[1];
          const bool done = cimm::energy_flow_run(current, previous, in->potential.data(), in->source.data(), nx, ny,
                                                  params, in->kappas.data(), in->kappas.size(), *flag);
          in->final_in_first = current == in->grids[0];
          return done;
        },
        [=](Napi::Env result_env) -> Napi::Value {
          Napi::Object result = Napi::Object::New(result_env);
          result.Set("energy", in->final_in_first ? first_ref->Value() : second_ref->Value());
          result.Set("previous", in->final_in_first ? second_ref->Value() : first_ref->Value());
          return result;
        });
    return cimm_binding::KernelWorker::Start(worker);
  });
}

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto features = cimm::cpu_features();
    auto out = Napi::Array::New(env, features.size());
    for (std::size_t i = 0; i < features.size(); ++i) out.Set(static_cast<uint32_t>(i), features[i]);
    return out;
  });
}

Napi::Value SimdPath(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value { return Napi::String::New(env, cimm::simd_path()); });
}

Napi::Value ThreadCount(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return Napi::Number::New(env, static_cast<double>(cimm::thread_count()));
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("localEnergy", Napi::Function::New(env, LocalEnergy, "localEnergy"));
  exports.Set("nonlocalEnergy", Napi::Function::New(env, NonlocalEnergy, "nonlocalEnergy"));
  exports.Set("distance", Napi::Function::New(env, Distance, "distance"));
  exports.Set("sgdStep", Napi::Function::New(env, SgdStep, "sgdStep"));
  exports.Set("adamStep", Napi::Function::New(env, AdamStep, "adamStep"));
  exports.Set("sgdStepMeasured", Napi::Function::New(env, SgdStepMeasured, "sgdStepMeasured"));
  exports.Set("adamStepMeasured", Napi::Function::New(env, AdamStepMeasured, "adamStepMeasured"));
  exports.Set("prodigyAccumulate", Napi::Function::New(env, ProdigyAccumulate, "prodigyAccumulate"));
  exports.Set("prodigyUpdate", Napi::Function::New(env, ProdigyUpdate, "prodigyUpdate"));
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite, "firstNonFinite"));
  exports.Set("memoryCopy", Napi::Function::New(env, MemoryCopy, "memoryCopy"));
  exports.Set("energyFlowStep", Napi::Function::New(env, EnergyFlowStep, "energyFlowStep"));
  exports.Set("energyFlowMaxStep", Napi::Function::New(env, EnergyFlowMaxStep, "energyFlowMaxStep"));
  exports.Set("laplacian", Napi::Function::New(env, Laplacian, "laplacian"));
  exports.Set("gridSums", Napi::Function::New(env, GridSums, "gridSums"));
  exports.Set("l2Norm", Napi::Function::New(env, L2Norm, "l2Norm"));
  exports.Set("zeroNonFinite", Napi::Function::New(env, ZeroNonFinite, "zeroNonFinite"));
  exports.Set("scaleInPlace", Napi::Function::New(env, ScaleInPlace, "scaleInPlace"));
  exports.Set("updateEnergy", Napi::Function::New(env, UpdateEnergy, "updateEnergy"));
  exports.Set("updateSlope", Napi::Function::New(env, UpdateSlope, "updateSlope"));
  exports.Set("fractalStep", Napi::Function::New(env, FractalStep, "fractalStep"));
  exports.Set("fractalStepBackward", Napi::Function::New(env, FractalStepBackward, "fractalStepBackward"));
  exports.Set("maxAbs", Napi::Function::New(env, MaxAbs, "maxAbs"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("axpby", Napi::Function::New(env, Axpby, "axpby"));
  exports.Set("dot", Napi::Function::New(env, Dot, "dot"));
  exports.Set("sum", Napi::Function::New(env, Sum, "sum"));
  exports.Set("activationForward", Napi::Function::New(env, ActivationForward, "activationForward"));
  exports.Set("activationBackward", Napi::Function::New(env, ActivationBackward, "activationBackward"));
  exports.Set("coupling", Napi::Function::New(env, Coupling, "coupling"));
  exports.Set("scaleTransition", Napi::Function::New(env, ScaleTransition, "scaleTransition"));
  exports.Set("shannonEntropy", Napi::Function::New(env, ShannonEntropy, "shannonEntropy"));
  exports.Set("hermitianEigenvalues", Napi::Function::New(env, HermitianEigenvalues, "hermitianEigenvalues"));
  exports.Set("matmulAsync", Napi::Function::New(env, MatmulAsync, "matmulAsync"));
  exports.Set("localEnergyAsync", Napi::Function::New(env, LocalEnergyAsync, "localEnergyAsync"));
  exports.Set("energyFlowRunAsync", Napi::Function::New(env, EnergyFlowRunAsync, "energyFlowRunAsync"));
  exports.Set("AbortFlag", cimm_binding::AbortFlag::Define(env));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures, "cpuFeatures"));
  exports.Set("simdPath", Napi::Function::New(env, SimdPath, "simdPath"));
  exports.Set("threadCount", Napi::Function::New(env, ThreadCount, "threadCount"));
  return exports;
}

}  // namespace

NODE_API_MODULE(cimm_cpp, Init)
