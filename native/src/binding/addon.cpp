// The Node-API addon of the C++ backend: converts arguments, checks lengths, forwards to the
// kernels, and turns every failure into a JS error. One file per kernel family
// (native/src/binding/<family>.cpp) registers that family's exports; the argument readers they
// share are in args.hpp (which says in what order an entry point reads its arguments), the
// async plumbing in async_worker.hpp. Typed arrays are read in place (zero copy): one
// napi_get_typedarray_info per array, whose data pointer already includes the view's byte
// offset. The exports are declared in native/index.d.ts (checked against lib/kernels.ts by
// `npm run typecheck`, and against what this file registers by test/cpp.test.ts). Built with
// C++ exceptions; no C++ exception leaves an entry point (args.hpp, guarded()).
#include <napi.h>

#include <cstdint>

#include "args.hpp"
#include "async_worker.hpp"
#include "cpu.hpp"
#include "families.hpp"
#include "parallel.hpp"

namespace cimm_binding {

namespace {

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

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  register_energy(env, exports);
  register_fractal(env, exports);
  register_linalg(env, exports);
  register_qdt(env, exports);
  register_flow(env, exports);
  register_optim(env, exports);
  register_prodigy(env, exports);
  register_balance(env, exports);
  register_declared(env, exports);
  exports.Set("AbortFlag", AbortFlag::Define(env));
  define(env, exports, "cpuFeatures", CpuFeatures);
  define(env, exports, "simdPath", SimdPath);
  define(env, exports, "threadCount", ThreadCount);
  return exports;
}

}  // namespace

}  // namespace cimm_binding

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) { return cimm_binding::Register(env, exports); }

}  // namespace

NODE_API_MODULE(cimm_cpp, Init)
