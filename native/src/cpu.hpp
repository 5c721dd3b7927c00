// CPU feature detection for runtime dispatch. Plain C++: no Node types.
#pragma once

#include <string>
#include <vector>

namespace cimm {

// True when this CPU runs AVX2 and FMA, the kernels were built with those paths, and the
// environment does not force the scalar ones (CIMM_SIMD=scalar). Read once.
bool has_avx2_fma() noexcept;

// The SIMD path the kernels take here: "avx2+fma" or "scalar".
const char* simd_path() noexcept;

// The CPU features detected at run time that matter to the kernels (e.g. "sse4.2", "avx2").
std::vector<std::string> cpu_features();

}  // namespace cimm
