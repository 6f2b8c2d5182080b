/**
 * Splitting a kernel's work between threads. Every kernel entry point takes (part, parts) and
 * computes only part `part` of `parts`: whole rows, blocks of C or heads, never a partial sum, so
 * every output element is summed in the same order whatever `parts` is (the single-threaded module
 * calls with 0, 1).
 */

/** First item of part p when n items are cut into `parts` contiguous ranges: floor(n * p / parts). */
// @ts-ignore: decorator
@inline export function partStart(n: i32, p: i32, parts: i32): i32 {
  return <i32>(<i64>n * <i64>p / <i64>parts);
}

/** Like partStart, on a multiple of `align` (the end, n, excepted). */
// @ts-ignore: decorator
@inline export function partStartAligned(n: i32, p: i32, parts: i32, align: i32): i32 {
  const units = (n + align - 1) / align;
  return min(n, partStart(units, p, parts) * align);
}
