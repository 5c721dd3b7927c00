// Size arithmetic that never wraps (a support module): element counts and byte sizes as
// products checked against std::size_t. The binding rejects such sizes first, naming the
// parameter; the core checks them again at its entry points, so that a direct caller (the
// native tests, the wasm exports) with sizes whose product wraps gets no work done rather than
// an access computed from the wrapped value.
#pragma once

#include <cstddef>
#include <limits>

namespace cimm {

// a·b into *out, or false (and *out untouched) when the product does not fit in std::size_t.
constexpr bool checked_mul(std::size_t a, std::size_t b, std::size_t* out) noexcept {
  if (b != 0 && a > std::numeric_limits<std::size_t>::max() / b) return false;
  *out = a * b;
  return true;
}

// Whether `count` elements of `bytes` bytes each have a byte size that fits in std::size_t.
constexpr bool bytes_fit(std::size_t count, std::size_t bytes) noexcept {
  std::size_t total = 0;
  return checked_mul(count, bytes, &total);
}

// Whether an array of a·b elements of `bytes` bytes each can be addressed: a·b and its byte
// size both fit in std::size_t.
constexpr bool product_fits(std::size_t a, std::size_t b, std::size_t bytes) noexcept {
  std::size_t count = 0;
  return checked_mul(a, b, &count) && bytes_fit(count, bytes);
}

}  // namespace cimm
