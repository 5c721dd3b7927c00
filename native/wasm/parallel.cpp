// The thread pool of the wasm32-wasi build (scripts/build-wasm.mjs): a WebAssembly instance
// without the threads proposal runs on one thread, so parallel_for runs every task inline,
// in index order. The kernels' results never depend on the thread count (parallel.hpp), so
// this build gives the same bits as the pooled one.
#include "parallel.hpp"

namespace cimm {

std::size_t thread_count() noexcept { return 1; }

void parallel_for(std::size_t tasks, void (*fn)(void*, std::size_t), void* context) noexcept {
  for (std::size_t task = 0; task < tasks; ++task) fn(context, task);
}

}  // namespace cimm
