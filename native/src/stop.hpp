// Cooperative stopping of the long kernels (the async variants' abort): a kernel given a
// stop flag checks it between work units (GEMM k-slices, units of r, flow steps) and returns
// false when it is raised, leaving its output partly written. The synchronous entry points
// pass no flag, so sync and async run one compute.
#pragma once

#include <atomic>

namespace cimm {

using StopFlag = std::atomic<bool>;

// True once `stop` is raised; never for nullptr. Relaxed is enough: the flag carries no data,
// and a unit that misses a raise only delays the stop by one unit.
inline bool raised(const StopFlag* stop) noexcept { return stop != nullptr && stop->load(std::memory_order_relaxed); }

}  // namespace cimm
