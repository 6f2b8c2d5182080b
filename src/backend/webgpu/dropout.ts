/**
 * Dropout on the device, as Backend.dropout: the counter-based generator of tensor/rng.ts in u32
 * arithmetic (the same hash, the same 64-bit counter start + i split in two words), so the mask is
 * the js kernel's bit for bit; the kept value x / (1 - p) is the js kernel's too: the product of x
 * and the float64 scale is formed exactly in integers (x's 24-bit mantissa times the scale's
 * 53-bit one, in 16-bit limbs) and rounded once to float32 (to nearest, ties to even; subnormal
 * results and overflow to Infinity included), since f32 arithmetic alone would round twice.
 *
 * ```ts
 * dropout(ctx, out, x, n, 0.1, k0, k1, start); // out, x [n]
 * ```
 */
import type { GpuArray, KernelContext } from "./context.js";
import { ceilDiv, dispatchKernel } from "./context.js";
import { computeMain, header } from "./wgsl.js";

const WG = 256;

/**
 * The drop threshold on the generator's 24 bits r: uniformAt = (r + 0.5) 2^-24 < p exactly when
 * r < ceil(p 2^24 - 0.5) (p 2^24 - 0.5 is exact in float64).
 */
export function dropThreshold(p: number): number {
  if (!(p > 0)) return 0;
  if (p >= 1) return 2 ** 24;
  return Math.max(0, Math.ceil(p * 16777216 - 0.5));
}

/** The scale 1 / (1 - p) as ms 2^es: the 53-bit integer ms in four 16-bit limbs (low first) and es. */
export function scaleParts(scale: number): { limbs: [number, number, number, number]; es: number } {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, scale);
  const hi = v.getUint32(0), lo = v.getUint32(4);
  const e = ((hi >>> 20) & 0x7ff) - 1023; // scale >= 1: normal
  const mhi = (hi & 0xfffff) | 0x100000; // the top 21 bits of ms
  return { limbs: [lo & 0xffff, lo >>> 16, mhi & 0xffff, mhi >>> 16], es: e - 52 };
}

/**
 * WGSL: tensor/rng.ts's `randomBits(k0, k1, counter) >>> 8` (the 24 bits uniformAt is made of) as
 * `dropBits(lo, hi, k0, k1)`, the counter's low and high words in lo, hi; `r >= threshold`
 * (dropThreshold) keeps the element. Shared with the fused attention kernels (attention.ts).
 */
export const DROP_BITS = /* wgsl */ `
fn mix32(v: u32) -> u32 {
  var x = (v ^ (v >> 16u)) * 0x7feb352du;
  x = (x ^ (x >> 15u)) * 0x846ca68bu;
  return x ^ (x >> 16u);
}
fn dropBits(lo: u32, hi: u32, k0: u32, k1: u32) -> u32 {
  var h = mix32(lo ^ k0);
  h = mix32(h + (k1 ^ (hi * 0x9e3779b9u)));
  return mix32(h ^ k0 ^ 0x5bd1e995u) >> 8u;
}`;

/** A counter start as its low and high 32-bit words. */
export function counterWords(start: number): [number, number] {
  return [start % 4294967296, Math.floor(start / 4294967296) >>> 0];
}

const dropoutSource = (): string => /* wgsl */ `
${header(["out"], ["x"], ["n: u32", "k0: u32", "k1: u32", "startLo: u32", "startHi: u32", "threshold: u32",
    "s0: u32", "s1: u32", "s2: u32", "s3: u32", "es: i32"])}
${DROP_BITS}
/** The low 32 bits of the 96-bit w >> s (s < 96). */
fn bitsAt(words: array<u32, 3>, s: u32) -> u32 {
  var w = words;
  let q = s / 32u;
  let r = s % 32u;
  let lo = w[min(q, 2u)];
  let hi = select(0u, w[min(q + 1u, 2u)], q < 2u);
  return select((lo >> r) | (hi << (32u - r)), lo, r == 0u);
}
/** Whether any of the bits of w below position s (s <= 96) is set. */
fn anyBelow(words: array<u32, 3>, s: u32) -> bool {
  var w = words;
  var found = false;
  for (var q = 0u; q < 3u; q++) {
    let top = q * 32u;
    if (s >= top + 32u) { found = found || w[q] != 0u; }
    else if (s > top) { found = found || (w[q] & ((1u << (s - top)) - 1u)) != 0u; }
  }
  return found;
}
/** x times the scale ms 2^es, rounded once to f32 (see the file comment). */
fn scaled(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  let sgn = bits & 0x80000000u;
  let E = (bits >> 23u) & 0xffu;
  let frac = bits & 0x7fffffu;
  if (E == 255u || (E == 0u && frac == 0u)) { return x; } // NaN, ±Infinity, ±0 (the scale is finite, >= 1)
  let mx = select(frac | 0x800000u, frac, E == 0u);
  let ex = select(i32(E), 1, E == 0u) - 150;
  // P = mx ms in 16-bit limbs (schoolbook; each step fits in u32)
  var a = array<u32, 2>(mx & 0xffffu, mx >> 16u);
  var b = array<u32, 4>(p.s0, p.s1, p.s2, p.s3);
  var r = array<u32, 6>(0u, 0u, 0u, 0u, 0u, 0u);
  for (var i = 0u; i < 2u; i++) {
    var carry = 0u;
    for (var j = 0u; j < 4u; j++) {
      let v = r[i + j] + a[i] * b[j] + carry;
      r[i + j] = v & 0xffffu;
      carry = v >> 16u;
    }
    r[i + 4u] = carry;
  }
  let w = array<u32, 3>(r[0] | (r[1] << 16u), r[2] | (r[3] << 16u), r[4] | (r[5] << 16u));
  let L = select(select(i32(firstLeadingBit(w[0])), 32 + i32(firstLeadingBit(w[1])), w[1] != 0u), 64 + i32(firstLeadingBit(w[2])), w[2] != 0u);
  let q = ex + p.es; // x scale = P 2^q
  let biased = L + q + 127;
  if (biased >= 255) { return bitcast<f32>(sgn | 0x7f800000u); }
  let sh = u32(max(L - 23, -149 - q)); // a subnormal result keeps fewer bits
  let mant = bitsAt(w, sh) & 0xffffffu;
  let roundBit = (bitsAt(w, sh - 1u) & 1u) == 1u;
  let up = roundBit && (anyBelow(w, sh - 1u) || (mant & 1u) == 1u);
  var body = mant; // subnormal: the exponent field is 0
  if (biased >= 1) { body = (u32(biased - 1) << 23u) + mant; } // the implicit bit carries into the field
  return bitcast<f32>(sgn | (body + select(0u, 1u, up)));
}
${computeMain(WG)} {
  let i = groupIndex(wid, nwg) * ${WG}u + t;
  if (i >= p.n) { return; }
  let lo = p.startLo + i;
  let hi = p.startHi + select(0u, 1u, lo < p.startLo);
  let r = dropBits(lo, hi, p.k0, p.k1);
  b_out[p.o_out + i] = select(0.0, scaled(b_x[p.o_x + i]), r >= p.threshold);
}`;

/** out[i] = 0 when uniformAt(k0, k1, start + i) < p, else x[i] / (1 - p), for i < n. */
export function dropout(ctx: KernelContext, out: GpuArray, x: GpuArray, n: number, p: number, k0: number, k1: number, start: number): void {
  if (n === 0) return;
  const { limbs, es } = scaleParts(1 / (1 - p));
  dispatchKernel(ctx, "dropout", dropoutSource, [out], [x],
    [n, k0 >>> 0, k1 >>> 0, ...counterWords(start), dropThreshold(p), ...limbs, es >>> 0], ceilDiv(n, WG));
}
