// The shared argument readers (args.hpp).
#include "args.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "checked.hpp"

namespace cimm_binding {

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

}  // namespace

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

void fail(Napi::Env env, const std::string& what, const std::string& param, Napi::Value value) {
  throw Napi::TypeError::New(env, "Expected " + what + " for " + param + " but received " + describe(value));
}

bool typed_array_info(Napi::Env env, Napi::Value value, napi_typedarray_type* type, std::size_t* length, void** data) {
  if (napi_get_typedarray_info(env, value, type, length, data, nullptr, nullptr) == napi_ok) return true;
  if (env.IsExceptionPending()) env.GetAndClearPendingException();
  return false;
}

namespace {

template <typename T>
View<T> typed_array(Napi::Env env, Napi::Value value, napi_typedarray_type type, const char* ctor, const char* param) {
  napi_typedarray_type got;
  std::size_t length = 0;
  void* data = nullptr;
  if (!typed_array_info(env, value, &got, &length, &data) || got != type)
    fail(env, std::string("a ") + ctor, param, value);
  return {static_cast<T*>(data), length};
}

}  // namespace

View<double> float64_array(Napi::Env env, Napi::Value value, const char* param) {
  return typed_array<double>(env, value, napi_float64_array, "Float64Array", param);
}

View<float> float32_array(Napi::Env env, Napi::Value value, const char* param) {
  return typed_array<float>(env, value, napi_float32_array, "Float32Array", param);
}

bool is_float64(Napi::Env env, Napi::Value value, const char* param) {
  napi_typedarray_type got;
  std::size_t length = 0;
  if (!typed_array_info(env, value, &got, &length, nullptr) ||
      (got != napi_float32_array && got != napi_float64_array)) {
    fail(env, "a Float32Array or Float64Array", param, value);
  }
  return got == napi_float64_array;
}

double number(Napi::Env env, Napi::Value value, const std::string& param) {
  double out = 0;
  if (napi_get_value_double(env, value, &out) != napi_ok) fail(env, "a number", param, value);
  return out;
}

double finite(Napi::Env env, Napi::Value value, const std::string& param) {
  double v = 0;
  if (napi_get_value_double(env, value, &v) != napi_ok || !std::isfinite(v)) fail(env, "a finite number", param, value);
  return v;
}

bool boolean(Napi::Env env, Napi::Value value, const std::string& param) {
  bool out = false;
  if (napi_get_value_bool(env, value, &out) != napi_ok) fail(env, "a boolean", param, value);
  return out;
}

std::size_t integer_in(Napi::Env env, Napi::Value value, const std::string& param, double lo, double hi,
                       const std::string& what) {
  const double v = number(env, value, param);
  if (!(v >= lo && v <= hi && std::floor(v) == v)) fail(env, what, param, value);
  return static_cast<std::size_t>(v);
}

std::size_t checked_product(Napi::Env env, std::size_t a, std::size_t b, std::size_t limit, const std::string& what,
                            const std::string& param, Napi::Value value) {
  std::size_t product = 0;
  if (!cimm::checked_mul(a, b, &product) || product > limit) fail(env, what, param, value);
  return product;
}

std::size_t Scalars::position(const char* field, const boundary::Kind* kind) const {
  for (std::size_t j = 0; j < layout_.count; ++j) {
    const boundary::Field& f = layout_.fields[j];
    if (std::strcmp(f.name, field) != 0) continue;
    if (kind != nullptr && f.kind != *kind) break;
    return layout_.at + j;
  }
  throw std::logic_error(std::string("the boundary layout of ") + layout_.kernel + " has no " +
                         (kind == nullptr ? "" : "such ") + "field " + field + " (native/src/binding/boundary.hpp)");
}

double Scalars::number(const char* field) const {
  constexpr boundary::Kind kind = boundary::Kind::Number;
  const Napi::Value value = info_[position(field, &kind)];
  double out = 0;
  if (napi_get_value_double(env_, value, &out) != napi_ok) fail(env_, "a number", name(field), value);
  return out;
}

double Scalars::finite(const char* field) const {
  const double v = number(field);
  if (!std::isfinite(v)) fail(env_, "a finite number", name(field), value(field));
  return v;
}

bool Scalars::boolean(const char* field) const {
  constexpr boundary::Kind kind = boundary::Kind::Boolean;
  const Napi::Value value = info_[position(field, &kind)];
  bool out = false;
  if (napi_get_value_bool(env_, value, &out) != napi_ok) fail(env_, "a boolean", name(field), value);
  return out;
}

std::size_t Scalars::choice(const char* field) const {
  constexpr boundary::Kind kind = boundary::Kind::Choice;
  const std::size_t at = position(field, &kind);
  const std::size_t count = layout_.fields[at - layout_.at].choices;
  const Napi::Value value = info_[at];
  double v = -1;
  if (napi_get_value_double(env_, value, &v) != napi_ok || !(v >= 0 && v < static_cast<double>(count)) ||
      std::floor(v) != v) {
    fail(env_, "an index < " + std::to_string(count) + " of the field's names", name(field), value);
  }
  return static_cast<std::size_t>(v);
}

void define(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback callback) {
  exports.Set(name, Napi::Function::New(env, callback, name));
}

}  // namespace cimm_binding
