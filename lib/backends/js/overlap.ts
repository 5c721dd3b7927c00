/** Support of the js reference: how an elementwise kernel reads an input that overlaps its output. */

/**
 * `input`, or a private copy when it partially overlaps `out` (or is `out` itself and
 * `always` is set), so a kernel never reads an element it already overwrote. An input that
 * is exactly `out` is returned as is: each kernel reads element i before writing it.
 */
export function separateFrom<T extends Float32Array | Float64Array>(
  input: T,
  out: Float32Array | Float64Array,
  always = false,
): T {
  if (input.buffer !== out.buffer || input.length === 0 || out.length === 0) return input;
  const [a, b] = [input.byteOffset, out.byteOffset];
  const overlap = a < b + out.byteLength && b < a + input.byteLength;
  if (!overlap || (a === b && input.length === out.length && !always)) return input;
  return input.slice() as T;
}
