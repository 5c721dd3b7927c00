// The argument readers every family binding shares (native/src/binding/<family>.cpp).
//
// Errors: every argument error is a TypeError in the facade's format,
// "Expected <what> for <param> but received <value> of type <type>", which
// lib/backends/native.ts maps to CimmArgumentError. A field of an options object is named
// `options.<field>` or `params.<field>` (Scalars below).
//
// Order, so that no JS runs while a data pointer is held: an entry point first reads and
// validates every scalar, an options object's fields among them (they arrive as plain numbers
// and booleans: the object's getters ran in JS before the call, lib/backends/boundary.ts, and
// a value of the wrong kind is an error, never converted), then takes the typed arrays' data pointers
// (napi_get_typedarray_info: no JS runs), checks their lengths and runs the kernel, creating
// no JS value until the kernel has returned. A buffer changed by a getter is therefore seen
// as it is after the change: a detached or out-of-bounds view has length 0, a resizable
// buffer's length-tracking view has its current length, and the length checks apply to
// those. SharedArrayBuffer views are read in place like any other (another thread writing
// them at the same time gives unspecified values, as it would in JS, never an access outside
// the buffer).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "boundary.hpp"

namespace cimm_binding {

// "<value> of type <type>", as lib/errors.ts renders a received value (runs no JS).
std::string describe(Napi::Value value);

[[noreturn]] void fail(Napi::Env env, const std::string& what, const std::string& param, Napi::Value value);

template <typename T>
struct View {
  T* data;
  std::size_t length;
};

// A Float64Array / Float32Array argument, read in place.
View<double> float64_array(Napi::Env env, Napi::Value value, const char* param);
View<float> float32_array(Napi::Env env, Napi::Value value, const char* param);

// A number (any double, NaN included), a finite number, a boolean.
double number(Napi::Env env, Napi::Value value, const std::string& param);
double finite(Napi::Env env, Napi::Value value, const std::string& param);
bool boolean(Napi::Env env, Napi::Value value, const std::string& param);

// An integer in [lo, hi] (as a double, so 2^32 fits); `what` is the expectation's wording.
std::size_t integer_in(Napi::Env env, Napi::Value value, const std::string& param, double lo, double hi,
                       const std::string& what);

// a·b, or an error naming `param` (with `value`) when it does not fit in std::size_t or
// exceeds `limit`: sizes are never computed with wraparound.
std::size_t checked_product(Napi::Env env, std::size_t a, std::size_t b, std::size_t limit, const std::string& what,
                            const std::string& param, Napi::Value value);

// An options object's fields as they cross the boundary: positional scalars where the
// object sits in the TS signature, in the order of the kernel's layout (boundary.hpp, generated
// from BOUNDARY_OPTIONS in lib/kernels.ts; lib/backends/boundary.ts reads the object in JS and
// passes them). A field is found by name and named `<object>.<field>` in errors (the name is
// composed only for an error). Reading one runs no JS (no conversion), but an entry point
// still reads them all before it takes any data pointer. A field name that is not in the
// layout, or read as another kind, is a programming error: a JS Error saying so, every call.
class Scalars {
 public:
  Scalars(Napi::Env env, const Napi::CallbackInfo& info, const boundary::Layout& layout)
      : env_(env), info_(info), layout_(layout) {}

  double number(const char* field) const;
  double finite(const char* field) const;
  bool boolean(const char* field) const;
  // A field that is one of a list of names: its index in the list.
  std::size_t choice(const char* field) const;
  // The field's value and its name in errors.
  Napi::Value value(const char* field) const { return info_[position(field, nullptr)]; }
  std::string name(const char* field) const { return std::string(layout_.object) + "." + field; }

  // The argument at index `i` of the TS signature (lib/kernels.ts): the fields take the
  // object's place, so a parameter after the object sits count - 1 places further.
  Napi::Value arg(std::size_t i) const { return info_[index(i)]; }
  std::size_t index(std::size_t i) const { return i < layout_.at ? i : i + layout_.count - 1; }

 private:
  // The info index of `field`, checked to be of kind `kind` (unless null).
  std::size_t position(const char* field, const boundary::Kind* kind) const;

  Napi::Env env_;
  const Napi::CallbackInfo& info_;
  const boundary::Layout& layout_;
};

// ---- the Real kernels' dtype: Float32Array or Float64Array ----

template <typename T>
constexpr const char* array_name() {
  return sizeof(T) == sizeof(double) ? "Float64Array" : "Float32Array";
}

template <typename T>
struct Dtype {
  using type = T;
};

// Whether `value` is a Float64Array (true) or a Float32Array (false); anything else is an
// error naming `param`. Reads the type only, no data pointer.
bool is_float64(Napi::Env env, Napi::Value value, const char* param);

// f(Dtype<float>{}) or f(Dtype<double>{}) by the dtype of `value`: one entry point, the
// kernel's f32 or f64 instance (lib/kernels.ts, Real).
template <typename F>
Napi::Value by_dtype(Napi::Env env, Napi::Value value, const char* param, F&& f) {
  return is_float64(env, value, param) ? f(Dtype<double>{}) : f(Dtype<float>{});
}

// The raw typed-array info of `value`, or false (any pending exception cleared).
bool typed_array_info(Napi::Env env, Napi::Value value, napi_typedarray_type* type, std::size_t* length, void** data);

// An array of the call's dtype T; an empty Float32Array or Float64Array (an unused array) is
// taken as empty whatever its dtype.
template <typename T>
View<T> real_array(Napi::Env env, Napi::Value value, const char* param) {
  napi_typedarray_type got;
  std::size_t length = 0;
  void* data = nullptr;
  const napi_typedarray_type want = sizeof(T) == sizeof(double) ? napi_float64_array : napi_float32_array;
  const bool ok = typed_array_info(env, value, &got, &length, &data);
  if (ok && got == want) return {static_cast<T*>(data), length};
  if (ok && length == 0 && (got == napi_float32_array || got == napi_float64_array)) return {nullptr, 0};
  if (ok && (got == napi_float32_array || got == napi_float64_array)) {
    fail(env, std::string("a ") + array_name<T>() + " (the dtype of params)", param, value);
  }
  fail(env, std::string("a ") + array_name<T>(), param, value);
}

// Whether two non-empty arrays share memory.
template <typename T, typename U>
bool overlap(View<T> x, View<U> y) {
  // addresses as integers: < between pointers into different arrays is unspecified
  const auto a = reinterpret_cast<std::uintptr_t>(x.data);
  const auto b = reinterpret_cast<std::uintptr_t>(y.data);
  return x.length > 0 && y.length > 0 && a < b + y.length * sizeof(U) && b < a + x.length * sizeof(T);
}

// An argument of an entry point: its name, its value and its view.
template <typename T>
struct Arg {
  const char* name;
  Napi::Value value;
  View<T> view;
};

// Rejects two non-empty arrays that share memory (the optimizer kernels read and write them
// as separate arrays); the later one is named.
template <typename T>
void disjoint(Napi::Env env, std::initializer_list<Arg<T>> args) {
  for (const auto* a = args.begin(); a != args.end(); ++a) {
    for (const auto* b = a + 1; b != args.end(); ++b) {
      if (overlap(a->view, b->view)) {
        fail(env, std::string("a ") + array_name<T>() + " that does not overlap " + a->name, b->name, b->value);
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

// `out`: a Float64Array of length 3 sharing no memory with the float arrays of the call.
template <typename T>
double* sums_out(Napi::Env env, Napi::Value value, std::initializer_list<std::pair<const char*, View<T>>> arrays) {
  const auto out = float64_array(env, value, "out");
  if (out.length != 3) fail(env, "a Float64Array of length 3", "out", value);
  for (const auto& [name, a] : arrays) {
    if (overlap(out, a)) fail(env, std::string("a Float64Array that does not overlap ") + name, "out", value);
  }
  return out.data;
}

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

// Runs an entry point's body; any C++ exception other than a Napi::Error becomes a JS Error
// (no C++ exception leaves an entry point).
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

// exports[name] = a function running `callback`.
void define(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback callback);

}  // namespace cimm_binding
