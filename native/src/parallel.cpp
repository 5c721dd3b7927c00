#include "parallel.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

namespace cimm {

namespace {

constexpr std::size_t kMaxThreads = 256;

std::size_t read_thread_count() noexcept {
  if (const char* text = std::getenv("CIMM_THREADS")) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(text, &end, 10);
    if (end != text && *end == '\0' && n > 0) return n < kMaxThreads ? static_cast<std::size_t>(n) : kMaxThreads;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw == 0) return 1;
  return hw < kMaxThreads ? hw : kMaxThreads;
}

// Workers sleep on a condition variable and wake for each job (a generation number); the
// caller works too and waits until every worker has finished the job. One job at a time.
class Pool {
 public:
  explicit Pool(std::size_t workers) {
    for (std::size_t i = 0; i < workers; ++i) {
      try {
        std::thread(&Pool::loop, this).detach();
        ++workers_;
      } catch (const std::system_error&) {
        break;  // keep the threads we could start
      }
    }
  }

  // False when another caller holds the pool (or it has no workers): run inline then.
  bool try_run(std::size_t tasks, void (*fn)(void*, std::size_t), void* context) noexcept {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || workers_ == 0) return false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = fn;
      context_ = context;
      tasks_ = tasks;
      next_.store(0, std::memory_order_relaxed);
      pending_ = workers_;
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    return true;
  }

 private:
  void loop() noexcept {
    std::uint64_t seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      lock.unlock();
      work();
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  void work() noexcept {
    for (;;) {
      const std::size_t task = next_.fetch_add(1, std::memory_order_relaxed);
      if (task >= tasks_) return;
      fn_(context_, task);
    }
  }

  std::mutex run_mutex_;  // held by the caller for the whole job
  std::mutex mutex_;      // guards the job description and the counters below
  std::condition_variable wake_;
  std::condition_variable done_;
  std::size_t workers_ = 0;
  std::uint64_t generation_ = 0;
  std::size_t pending_ = 0;
  void (*fn_)(void*, std::size_t) = nullptr;
  void* context_ = nullptr;
  std::size_t tasks_ = 0;
  std::atomic<std::size_t> next_{0};
};

// Built on first use and never destroyed: its detached threads may outlive static
// destruction at process exit, so they must never see a destroyed pool.
Pool* shared_pool() noexcept {
  static Pool* const pool = []() noexcept -> Pool* {
    try {
      return new Pool(thread_count() - 1);
    } catch (...) {
      return nullptr;
    }
  }();
  return pool;
}

}  // namespace

std::size_t thread_count() noexcept {
  static const std::size_t n = read_thread_count();
  return n;
}

void parallel_for(std::size_t tasks, void (*fn)(void*, std::size_t), void* context) noexcept {
  if (tasks == 0) return;
  if (tasks > 1 && thread_count() > 1) {
    Pool* pool = shared_pool();
    if (pool && pool->try_run(tasks, fn, context)) return;
  }
  for (std::size_t task = 0; task < tasks; ++task) fn(context, task);
}

}  // namespace cimm
