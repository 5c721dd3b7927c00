// The fixed split of the canonical-order sums (reduce.hpp).
#include "reduce.hpp"

namespace cimm {

namespace detail {

void sum_split(std::size_t n, std::size_t* chunk, std::size_t* units) noexcept {
  std::size_t u = (n + kReduceMinUnit - 1) / kReduceMinUnit;
  u = u < 1 ? 1 : (u > kMaxSumUnits ? kMaxSumUnits : u);
  std::size_t c = (n + u - 1) / u;
  c = (c + 15) / 16 * 16;
  if (c < 16) c = 16;
  *chunk = c;
  *units = n == 0 ? 1 : (n + c - 1) / c;
}

}  // namespace detail

}  // namespace cimm
