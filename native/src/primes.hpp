// The primes p_1 = 2, p_2 = 3, … of the energy series (design eq. 3), with 1/p and p² as
// double. Generated once by a sieve, cached, grown on demand; safe to use from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace cimm {

// The largest prime count any kernel accepts (p_1e6 = 15,485,863).
constexpr std::size_t kMaxPrimeCount = 1000000;

// An immutable table of the first count() primes. A table is never modified once built: a
// larger request builds a new one, and holders of the old one keep it alive.
struct PrimeTable {
  std::vector<double> p;    // p_n
  std::vector<double> inv;  // 1 / p_n
  std::vector<double> sq;   // p_n², exact in double (p_n < 2^26)
  std::size_t count() const noexcept { return p.size(); }
};

// A table holding at least `count` primes (count <= kMaxPrimeCount).
std::shared_ptr<const PrimeTable> prime_table(std::size_t count);

}  // namespace cimm
