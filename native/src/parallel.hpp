// A small persistent thread pool for the large kernel calls. Work is split into tasks by
// index; which thread runs a task never changes a result, because every task writes its own
// slot and the caller combines the slots in index order.
#pragma once

#include <cstddef>
#include <type_traits>

namespace cimm {

// Threads a large call may use: CIMM_THREADS when it is a positive integer (read once, at
// most 256), else std::thread::hardware_concurrency() (at least 1).
std::size_t thread_count() noexcept;

// Run fn(context, task) for task = 0 … tasks - 1 and return when all are done. The calling
// thread takes part. If the pool is busy with another caller, or cannot start its threads,
// the tasks run on the calling thread. fn must not throw.
void parallel_for(std::size_t tasks, void (*fn)(void* context, std::size_t task), void* context) noexcept;

// The same, for any callable taking the task index.
template <typename F>
void parallel_for(std::size_t tasks, F&& f) noexcept {
  using Fn = std::remove_reference_t<F>;
  parallel_for(
      tasks, [](void* context, std::size_t task) { (*static_cast<Fn*>(context))(task); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace cimm
