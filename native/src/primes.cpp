#include "primes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>

namespace cimm {

namespace {

// An upper bound on p_n (Rosser–Schoenfeld: p_n < n(ln n + ln ln n) for n >= 6).
std::size_t nth_prime_bound(std::size_t n) {
  if (n < 6) return 15;
  const double x = static_cast<double>(n);
  return static_cast<std::size_t>(std::ceil(x * (std::log(x) + std::log(std::log(x)))));
}

// The first `count` primes by a sieve of Eratosthenes over the odd numbers.
std::shared_ptr<PrimeTable> sieve(std::size_t count) {
  auto table = std::make_shared<PrimeTable>();
  table->p.reserve(count);
  if (count > 0) table->p.push_back(2);
  const std::size_t limit = nth_prime_bound(count);
  // composite[i] stands for the odd number 2i + 1
  std::vector<std::uint8_t> composite(limit / 2 + 1, 0);
  for (std::size_t i = 1; i < composite.size() && table->p.size() < count; ++i) {
    if (composite[i]) continue;
    const std::size_t q = 2 * i + 1;
    table->p.push_back(static_cast<double>(q));
    if (q > limit / q) continue;  // q² > limit: nothing left to strike
    for (std::size_t j = q * q / 2; j < composite.size(); j += q) composite[j] = 1;
  }
  table->inv.resize(table->p.size());
  table->sq.resize(table->p.size());
  for (std::size_t n = 0; n < table->p.size(); ++n) {
    table->inv[n] = 1.0 / table->p[n];
    table->sq[n] = table->p[n] * table->p[n];
  }
  return table;
}

#if defined(_LIBCPP_HAS_NO_THREADS)
// A build without threads (the wasm32-wasi module, native/wasm/): one caller at a time.
struct CacheGuard {};
#else
std::mutex cache_mutex;
struct CacheGuard {
  std::lock_guard<std::mutex> lock{cache_mutex};
};
#endif
std::shared_ptr<const PrimeTable> cache;

}  // namespace

std::shared_ptr<const PrimeTable> prime_table(std::size_t count) {
  count = std::min(count, kMaxPrimeCount);
  [[maybe_unused]] const CacheGuard guard{};
  if (!cache || cache->count() < count) {
    const std::size_t have = cache ? cache->count() : 0;
    cache = sieve(std::min(kMaxPrimeCount, std::max({count, 2 * have, std::size_t{128}})));
  }
  return cache;
}

}  // namespace cimm
