// The linalg family's exports: matmul, matmulAsync, axpby, dot, sum, activationForward,
// activationBackward (core in linalg.cpp, with gemm.cpp as matmul's engine). Scalars and
// options first, then data pointers (args.hpp).
#include "linalg.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "args.hpp"
#include "async_worker.hpp"
#include "families.hpp"

namespace cimm_binding {

namespace {

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

// A matrix dimension: an integer in [0, 2^31).
std::size_t dimension(Napi::Env env, const Scalars& p, const char* field, Napi::Value* value) {
  const double v = p.number(field);
  *value = p.value(field);
  if (!(v >= 0 && v <= 2147483647.0 && std::floor(v) == v)) {
    fail(env, "an integer >= 0 and <= 2147483647", p.name(field), *value);
  }
  return static_cast<std::size_t>(v);
}

// A matmul's shape (MatmulParams), read and checked before any array: each dimension an
// integer in [0, 2^31), and the element counts m·k, k·n and m·n computed in checked
// arithmetic (below `limit`, named by the dimension that makes the product too large).
struct Shape {
  bool trans_a, trans_b;
  std::size_t m, n, k;
  std::size_t a_count, b_count, c_count;
  Napi::Value m_value;  // for errors (a field is read once)
};

// A count limit of n elements, or of what std::size_t holds where that is less.
constexpr std::size_t limit(unsigned long long n) {
  return n > std::numeric_limits<std::size_t>::max() ? std::numeric_limits<std::size_t>::max()
                                                     : static_cast<std::size_t>(n);
}
constexpr std::size_t kMatmulLimit = limit(4000000000000000000ULL);    // 4e18 elements
constexpr std::size_t kMatmulAsyncLimit = limit(1000000000000000ULL);  // 1e15 elements of the result

Shape shape(Napi::Env env, const Scalars& p, std::size_t c_limit) {
  Shape s{};
  s.trans_a = p.boolean("transA");
  s.trans_b = p.boolean("transB");
  Napi::Value nv, kv;
  s.m = dimension(env, p, "m", &s.m_value);
  s.n = dimension(env, p, "n", &nv);
  s.k = dimension(env, p, "k", &kv);
  const std::string fits = "dimensions whose products fit in memory";
  s.a_count = checked_product(env, s.m, s.k, kMatmulLimit, fits, p.name("m"), s.m_value);
  s.b_count = checked_product(env, s.k, s.n, kMatmulLimit, fits, p.name("k"), kv);
  s.c_count = checked_product(env, s.m, s.n, c_limit, fits, p.name("m"), s.m_value);
  return s;
}

template <typename T>
void matrix(Napi::Env env, View<T> v, std::size_t rows, std::size_t cols, std::size_t count, const char* param,
            Napi::Value value) {
  if (v.length != count) {
    fail(env,
         "a " + std::to_string(rows) + "\xC3\x97" + std::to_string(cols) + " matrix (a " + array_name<T>() +
             " of length " + std::to_string(count) + ")",
         param, value);
  }
}

// matmul(params: MatmulParams {transA, transB, m, n, k, alpha, beta}, a, b, c: Real): void
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kMatmul);
    const Shape s = shape(env, p, kMatmulLimit);
    const double alpha = p.finite("alpha");
    const double beta = p.finite("beta");
    return by_dtype(env, p.arg(3), "c", [&](auto d) -> Napi::Value {
      using T = typename decltype(d)::type;
      const auto a = real_array<T>(env, p.arg(1), "a");
      const auto b = real_array<T>(env, p.arg(2), "b");
      const auto c = real_array<T>(env, p.arg(3), "c");
      matrix(env, a, s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k, s.a_count, "a", p.arg(1));
      matrix(env, b, s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n, s.b_count, "b", p.arg(2));
      matrix(env, c, s.m, s.n, s.c_count, "c", p.arg(3));
      if (overlap(a, c) || overlap(b, c)) fail(env, "an array that does not overlap a or b", "c", p.arg(3));
      cimm::matmul(s.trans_a, s.trans_b, s.m, s.n, s.k, static_cast<T>(alpha), a.data, b.data, static_cast<T>(beta),
                   c.data);
      return env.Undefined();
    });
  });
}

// matmulAsync(params {transA, transB, m, n, k, alpha, beta}, a, b: Float32Array,
//             c: Float32Array | undefined (read when beta != 0), flag: AbortFlag): Promise<Float32Array>
Napi::Value MatmulAsync(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const Scalars p(env, info, boundary::kMatmulAsync);
    const Shape s = shape(env, p, kMatmulAsyncLimit);
    const double alpha = p.finite("alpha");
    const double beta = p.finite("beta");
    const auto flag = abort_flag(env, p.arg(4));
    const auto a = float32_array(env, p.arg(1), "a");
    const auto b = float32_array(env, p.arg(2), "b");
    matrix(env, a, s.trans_a ? s.k : s.m, s.trans_a ? s.m : s.k, s.a_count, "a", p.arg(1));
    matrix(env, b, s.trans_b ? s.n : s.k, s.trans_b ? s.k : s.n, s.b_count, "b", p.arg(2));
    View<float> c{nullptr, 0};
    if (beta != 0) {
      c = float32_array(env, p.arg(3), "c");
      matrix(env, c, s.m, s.n, s.c_count, "c", p.arg(3));
    }
    // Copies first; the result array (a JS allocation) is created after the last use of the
    // arguments' pointers.
    auto inputs = std::make_shared<std::pair<std::vector<float>, std::vector<float>>>(
        std::vector<float>(a.data, a.data + a.length), std::vector<float>(b.data, b.data + b.length));
    std::vector<float> c_copy(c.data, c.data + c.length);
    Napi::Float32Array c_out = new_result<Napi::Float32Array, float>(
        env, s.c_count, "dimensions whose product m\xC2\xB7n fits in memory", "params.m", s.m_value);
    std::copy(c_copy.begin(), c_copy.end(), c_out.Data());
    float* c_data = c_out.Data();
    auto result = owned_result(c_out);
    auto* worker = new KernelWorker(
        env, "matmulAsync", flag,
        [=]() {
          return cimm::matmul_until(s.trans_a, s.trans_b, s.m, s.n, s.k, static_cast<float>(alpha),
                                    inputs->first.data(), inputs->second.data(), static_cast<float>(beta), c_data,
                                    flag.get());
        },
        [result](Napi::Env) -> Napi::Value { return result->Value(); });
    return KernelWorker::Start(worker);
  });
}

// axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const double alpha = finite(env, info[0], "alpha");
    const double beta = finite(env, info[2], "beta");
    const auto x = float32_array(env, info[1], "x");
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

// activationForward(activation: string, x: Real, shift: number, out: Real): void
Napi::Value ActivationForward(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto act = activation(env, info[0]);
    const double shift = finite(env, info[2], "shift");
    return by_dtype(env, info[3], "out", [&](auto d) -> Napi::Value {
      using T = typename decltype(d)::type;
      const auto x = real_array<T>(env, info[1], "x");
      const auto out = real_array<T>(env, info[3], "out");
      same_length_as(env, x, out.length, "out", "x", info[1]);
      std::vector<T> keep;
      cimm::activation_forward(act, separate(x, out, keep), shift, out.data, out.length);
      return env.Undefined();
    });
  });
}

// activationBackward(activation: string, y, gradOut, gradPre: Real): void
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

}  // namespace

void register_linalg(Napi::Env env, Napi::Object exports) {
  define(env, exports, "matmul", Matmul);
  define(env, exports, "matmulAsync", MatmulAsync);
  define(env, exports, "axpby", Axpby);
  define(env, exports, "dot", Dot);
  define(env, exports, "sum", Sum);
  define(env, exports, "activationForward", ActivationForward);
  define(env, exports, "activationBackward", ActivationBackward);
}

}  // namespace cimm_binding
