// The family registrations: each native/src/binding/<family>.cpp defines the exports of its
// family's kernels (docs: the family list), and addon.cpp calls them all. Adding a kernel to a
// family touches only that family's file.
#pragma once

#include <napi.h>

namespace cimm_binding {

void register_energy(Napi::Env env, Napi::Object exports);
void register_fractal(Napi::Env env, Napi::Object exports);
void register_linalg(Napi::Env env, Napi::Object exports);
void register_qdt(Napi::Env env, Napi::Object exports);
void register_flow(Napi::Env env, Napi::Object exports);
void register_optim(Napi::Env env, Napi::Object exports);
void register_prodigy(Napi::Env env, Napi::Object exports);
void register_balance(Napi::Env env, Napi::Object exports);
// the declared kernels (generated: declared.cpp, scripts/gen-kernels.mjs)
void register_declared(Napi::Env env, Napi::Object exports);

}  // namespace cimm_binding
