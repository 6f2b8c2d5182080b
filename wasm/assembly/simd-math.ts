/** Vector math: exp over f32x4 (Cephes' expf: range reduction by ln 2, degree-6 polynomial, ~1 ulp). */

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_HI: f32 = 88.7228391; // above: exp overflows (Infinity)
const EXP_LO: f32 = -87.3365447505531; // below: exp underflows (the result is 0)

/** exp of each lane; -Infinity gives 0, NaN gives NaN. */
// @ts-ignore: decorator
@inline export function expv(x: v128): v128 {
  const under = f32x4.lt(x, f32x4.splat(EXP_LO));
  let t = f32x4.min(x, f32x4.splat(EXP_HI));
  t = f32x4.max(t, f32x4.splat(EXP_LO));
  const n = f32x4.nearest(f32x4.mul(t, f32x4.splat(LOG2E)));
  t = f32x4.sub(t, f32x4.mul(n, f32x4.splat(LN2_HI)));
  t = f32x4.sub(t, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, t), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(t, t)), t), f32x4.splat(1));
  // 2^n built in the exponent field (n in [-126, 128]: split the scale in two to stay normal)
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const h = i32x4.shr_s(ni, 1);
  const s1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(i32x4.sub(ni, h), i32x4.splat(127)), 23);
  const r = f32x4.mul(f32x4.mul(p, s1), s2);
  // NaN stays NaN (min/max above would not keep it on every engine)
  const nan = f32x4.ne(x, x);
  const over = f32x4.gt(x, f32x4.splat(EXP_HI));
  return v128.andnot(v128.bitselect(x, v128.bitselect(f32x4.splat(Infinity), r, over), nan), under);
}

/** exp of one value by the vector routine (for loop tails, so every lane agrees). */
// @ts-ignore: decorator
@inline export function exps(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

/** Sum of the four lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** Max of the four lanes. */
// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}
