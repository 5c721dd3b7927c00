// The Node-API binding: converts arguments, checks lengths, forwards to the kernels, and
// turns every failure into a JS error. Typed arrays are read in place (zero copy): one
// napi_get_typedarray_info per array, whose data pointer already includes the view's byte
// offset. Argument errors are TypeErrors in the facade's format,
// "Expected <what> for <param> but received <value> of type <type>", which
// lib/backends/native.ts maps to CimmArgumentError. Built with C++ exceptions; no C++
// exception leaves an entry point (see guarded()).
#include <napi.h>

#include <cmath>
#include <cstddef>
#include <exception>
#include <string>
#include <vector>

#include "cpu.hpp"
#include "energy.hpp"
#include "fractal.hpp"
#include "parallel.hpp"
#include "primes.hpp"

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

double number(Napi::Env env, Napi::Value value, const char* param) {
  double out = 0;
  if (napi_get_value_double(env, value, &out) != napi_ok) fail(env, "a number", param, value);
  return out;
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

// ---- the fractal network kernels (design eqs. 8–9) ----------------------------------------

// `in` itself, or a copy kept in `keep` when it partially overlaps `out` (or is `out` and
// `always` is set): a kernel then never reads an element it already overwrote. An input that
// is exactly `out` is fine as it is (each kernel reads element i before writing it).
const float* separate(View<float> in, View<float> out, std::vector<float>& keep, bool always = false) {
  const float* a = in.data;
  const float* b = out.data;
  if (in.length == 0 || out.length == 0 || a + in.length <= b || b + out.length <= a) return a;
  if (a == b && in.length == out.length && !always) return a;
  keep.assign(a, a + in.length);
  return keep.data();
}

void same_length(Napi::Env env, View<float> v, std::size_t length, const char* other, const char* param,
                 Napi::Value value) {
  if (v.length != length) {
    fail(env, "a Float32Array of length " + std::to_string(length) + " (the length of " + other + ")", param, value);
  }
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
    same_length(env, out, z.length, "z", "out", info[2]);
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
    same_length(env, g, z.length, "z", "gradOut", info[1]);
    same_length(env, out, z.length, "z", "gradZ", info[2]);
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

// copy(src: Float32Array, dst: Float32Array): void
Napi::Value Copy(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto src = float32_array(env, info[0], "src");
    const auto dst = float32_array(env, info[1], "dst");
    same_length(env, dst, src.length, "src", "dst", info[1]);
    if (src.data != dst.data) {
      std::vector<float> keep;
      cimm::copy(separate(src, dst, keep), dst.data, dst.length);
    }
    return env.Undefined();
  });
}

// axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const double alpha = finite(env, info[0], "alpha");
    const auto x = float32_array(env, info[1], "x");
    const double beta = finite(env, info[2], "beta");
    const auto y = float32_array(env, info[3], "y");
    same_length(env, x, y.length, "y", "x", info[1]);
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
    same_length(env, y, x.length, "x", "y", info[1]);
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
    const auto x = float32_array(env, info[1], "x");
    const double shift = finite(env, info[2], "shift");
    const auto out = float32_array(env, info[3], "out");
    same_length(env, x, out.length, "out", "x", info[1]);
    std::vector<float> keep;
    cimm::activation_forward(act, separate(x, out, keep), shift, out.data, out.length);
    return env.Undefined();
  });
}

// activationBackward(activation: string, y, gradOut, gradPre: Float32Array): void
Napi::Value ActivationBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto act = activation(env, info[0]);
    const auto y = float32_array(env, info[1], "y");
    const auto g = float32_array(env, info[2], "gradOut");
    const auto out = float32_array(env, info[3], "gradPre");
    same_length(env, y, out.length, "gradPre", "y", info[1]);
    same_length(env, g, out.length, "gradPre", "gradOut", info[2]);
    std::vector<float> keep_y, keep_g;
    cimm::activation_backward(act, separate(y, out, keep_y), separate(g, out, keep_g), out.data, out.length);
    return env.Undefined();
  });
}

std::size_t dimension(Napi::Env env, Napi::Value value, const char* param) {
  const double v = number(env, value, param);
  if (!(v >= 0 && v <= 2147483647.0 && std::floor(v) == v))
    fail(env, "an integer >= 0 and <= 2147483647", param, value);
  return static_cast<std::size_t>(v);
}

bool boolean(Napi::Env env, Napi::Value value, const char* param) {
  if (!value.IsBoolean()) fail(env, "a boolean", param, value);
  return value.As<Napi::Boolean>().Value();
}

void matrix(Napi::Env env, View<float> v, std::size_t rows, std::size_t cols, const char* param, Napi::Value value) {
  if (v.length != rows * cols) {
    fail(env,
         "a " + std::to_string(rows) + "\xC3\x97" + std::to_string(cols) + " matrix (a Float32Array of length " +
             std::to_string(rows * cols) + ")",
         param, value);
  }
}

bool overlap(View<float> x, View<float> y) {
  return x.length > 0 && y.length > 0 && x.data < y.data + y.length && y.data < x.data + x.length;
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
    const auto a = float32_array(env, info[6], "a");
    const auto b = float32_array(env, info[7], "b");
    const double beta = finite(env, info[8], "beta");
    const auto c = float32_array(env, info[9], "c");
    if (static_cast<double>(m) * static_cast<double>(k) > 4e18 ||
        static_cast<double>(k) * static_cast<double>(n) > 4e18 ||
        static_cast<double>(m) * static_cast<double>(n) > 4e18) {
      fail(env, "dimensions whose products fit in memory", "m", info[2]);
    }
    matrix(env, a, trans_a ? k : m, trans_a ? m : k, "a", info[6]);
    matrix(env, b, trans_b ? n : k, trans_b ? k : n, "b", info[7]);
    matrix(env, c, m, n, "c", info[9]);
    if (overlap(a, c) || overlap(b, c)) fail(env, "an array that does not overlap a or b", "c", info[9]);
    cimm::matmul(trans_a, trans_b, m, n, k, static_cast<float>(alpha), a.data, b.data, static_cast<float>(beta),
                 c.data);
    return env.Undefined();
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
  exports.Set("fractalStep", Napi::Function::New(env, FractalStep, "fractalStep"));
  exports.Set("fractalStepBackward", Napi::Function::New(env, FractalStepBackward, "fractalStepBackward"));
  exports.Set("maxAbs", Napi::Function::New(env, MaxAbs, "maxAbs"));
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("axpby", Napi::Function::New(env, Axpby, "axpby"));
  exports.Set("dot", Napi::Function::New(env, Dot, "dot"));
  exports.Set("sum", Napi::Function::New(env, Sum, "sum"));
  exports.Set("activationForward", Napi::Function::New(env, ActivationForward, "activationForward"));
  exports.Set("activationBackward", Napi::Function::New(env, ActivationBackward, "activationBackward"));
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures, "cpuFeatures"));
  exports.Set("simdPath", Napi::Function::New(env, SimdPath, "simdPath"));
  exports.Set("threadCount", Napi::Function::New(env, ThreadCount, "threadCount"));
  return exports;
}

}  // namespace

NODE_API_MODULE(cimm_cpp, Init)
