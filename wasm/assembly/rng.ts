/**
 * The counter-based generator of src/tensor/rng.ts, bit for bit in u32 arithmetic: the dropout
 * mask of a fused attention call is a pure function of (k0, k1, counter).
 */

// @ts-ignore: decorator
@inline function mix32(x: u32): u32 {
  x = (x ^ (x >>> 16)) * 0x7feb352d;
  x = (x ^ (x >>> 15)) * 0x846ca68b;
  return x ^ (x >>> 16);
}

/** Random 32 bits for stream key (k0, k1) at `counter`. */
// @ts-ignore: decorator
@inline export function randomBits(k0: u32, k1: u32, counter: u64): u32 {
  const c = <u32>counter;
  const hi = <u32>(counter >>> 32);
  let x = mix32(c ^ k0);
  x = mix32(x + (k1 ^ (hi * 0x9e3779b9)));
  return mix32(x ^ k0 ^ 0x5bd1e995);
}

/** Uniform in (0, 1) with 24 random bits (exact in f64). */
// @ts-ignore: decorator
@inline export function uniformAt(k0: u32, k1: u32, counter: u64): f64 {
  return (<f64>(randomBits(k0, k1, counter) >>> 8) + 0.5) * 5.9604644775390625e-8;
}
