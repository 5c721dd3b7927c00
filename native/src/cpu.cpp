#include "cpu.hpp"

#include <cstdlib>
#include <cstring>

#include "simd.hpp"

namespace cimm {

namespace {

bool detect_avx2_fma() noexcept {
#if CIMM_HAVE_X86_DISPATCH
  // CIMM_SIMD=scalar forces the scalar kernels (to test them, or to compare speed).
  if (const char* forced = std::getenv("CIMM_SIMD")) {
    if (std::strcmp(forced, "scalar") == 0) return false;
  }
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

}  // namespace

bool has_avx2_fma() noexcept {
  static const bool yes = detect_avx2_fma();
  return yes;
}

const char* simd_path() noexcept { return has_avx2_fma() ? "avx2+fma" : "scalar"; }

std::vector<std::string> cpu_features() {
  std::vector<std::string> out;
#if CIMM_HAVE_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse2")) out.emplace_back("sse2");
  if (__builtin_cpu_supports("sse4.1")) out.emplace_back("sse4.1");
  if (__builtin_cpu_supports("sse4.2")) out.emplace_back("sse4.2");
  if (__builtin_cpu_supports("avx")) out.emplace_back("avx");
  if (__builtin_cpu_supports("avx2")) out.emplace_back("avx2");
  if (__builtin_cpu_supports("fma")) out.emplace_back("fma");
  if (__builtin_cpu_supports("avx512f")) out.emplace_back("avx512f");
#endif
  return out;
}

}  // namespace cimm
