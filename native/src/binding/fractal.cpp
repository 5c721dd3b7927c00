// The fractal family's exports: fractalStep, fractalStepBackward, maxAbs (design eqs. 8–9;
// core in fractal.cpp). Scalars first, then data pointers (args.hpp).
#include "fractal.hpp"

#include <vector>

#include "args.hpp"
#include "families.hpp"

namespace cimm_binding {

namespace {

// fractalStep(z: Float32Array, offset: number, out: Float32Array): void
Napi::Value FractalStep(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const double offset = finite(env, info[1], "offset");
    const auto z = float32_array(env, info[0], "z");
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

}  // namespace

void register_fractal(Napi::Env env, Napi::Object exports) {
  define(env, exports, "fractalStep", FractalStep);
  define(env, exports, "fractalStepBackward", FractalStepBackward);
  define(env, exports, "maxAbs", MaxAbs);
}

}  // namespace cimm_binding
