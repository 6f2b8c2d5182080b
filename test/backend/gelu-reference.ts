/**
 * The exact GELU's derivative in float64, for checking the geluErfGrad kernels (out = g · gelu'(x)),
 * and the error a float32 kernel may make, derived from float32's rounding.
 *
 * gelu'(x) = Φ(x) + x φ(x), φ(x) = e^(-x² / 2) / √(2π), Φ(x) = erfc(-x / √2) / 2. erfc(z) here is
 * accurate to ~1e-14 relative on its own (no fit shared with the kernels): the Maclaurin series of
 * erf below z = 2, the continued fraction erfc(z) = e^(-z²) / √π · 1 / (z + (1/2) / (z + 1 / (z +
 * (3/2) / (z + ...)))) above. The kernels' limits at ±Infinity are 1 and 0; NaN stays NaN.
 *
 * ```ts
 * const want = g * geluErfDerivative64(x);
 * const tol = geluErfGradBound(g, x, cpuExpUlps);   // exp within 1 ulp
 * ```
 */
import { stridedCopy } from "../../src/backend/js/copy.js";

const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Float32's unit roundoff (half an ulp of 1). */
export const U32 = 2 ** -24;

/** Φ(-|x|) = erfc(|x| / √2) / 2, relative error ~1e-14. */
export function phiLowerTail(x: number): number {
  const a = Math.abs(x);
  if (Number.isNaN(a)) return NaN;
  if (a > 40) return 0; // below float64's smallest subnormal
  const z = a * Math.SQRT1_2;
  if (z < 2) {
    // erf(z) = 2/√π Σ (-1)^n z^(2n+1) / (n! (2n+1)); terms stay below 30, so erfc(z) >= 4.6e-3 keeps ~1e-13
    let term = z, sum = z;
    for (let n = 1; n < 80; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return 0.5 * (1 - 2 * INV_SQRT_PI * sum);
  }
  // continued fraction, evaluated from the back (300 levels: converged to float64 for z >= 2)
  let f = z;
  for (let k = 300; k >= 1; k--) f = z + k / 2 / f;
  return (0.5 * INV_SQRT_PI * Math.exp(-0.5 * a * a)) / f;
}

/** x φ(x) in float64 (0 past |x| = 40, so ±Infinity give 0). */
export function xPhi(x: number): number {
  return Math.abs(x) > 40 ? 0 : x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
}

/** gelu'(x) = Φ(x) + x φ(x) in float64. */
export function geluErfDerivative64(x: number): number {
  const c = phiLowerTail(x);
  return (x < 0 ? c : 1 - c) + xPhi(x);
}

/**
 * The largest |got - g gelu'(x)| allowed of a float32 kernel that computes Φ(x) from erfc on its
 * small side and x φ(x) directly, each with exp; `expUlps(A)` is the kernel's exp error in ulps at
 * argument -A. In float32, u = 2^-24:
 * - Φ(x) = t · exp(P(t) - z²) / 2 (z = |x| / √2, t = 1 / (1 + z / 2)): the erfc fit's own 1.2e-7 (2 u),
 *   t, the polynomial, the halving and 1 - c about 4 u more; z carries 1.2 u relative (a product
 *   and the constant 1 / √2 in float32), z² 3.4 u, and P - z² one more rounding: about 4.5 u A1
 *   absolute in exp's argument -A1 (A1 = z² - P ≤ x² / 2 + 1.3), which exp turns into relative
 *   error; then exp's own 2 u per ulp.
 * - x φ(x) = x · (1 / √(2π)) · exp(-x² / 2): two products and the constant (3 u), one more for
 *   rounding; x² rounded once, i.e. u A2 absolute in the argument -A2 = -x² / 2; then exp.
 * - the sum and the product with g: 2 u of the result.
 * - exp flushes results below float32's normal range (2^-126) to 0: x φ(x) loses at most
 *   14 · 2^-126 / √(2π) < 2^-123, so |g| 2^-122 absolute, plus float32's smallest subnormal.
 */
export function geluErfGradBound(g: number, x: number, expUlps: (arg: number) => number): number {
  const ax = Math.abs(x);
  if (!Number.isFinite(ax)) return Math.abs(g) * 2 ** -122 + 2 ** -149;
  const a1 = 0.5 * x * x + 1.3, a2 = 0.5 * x * x;
  const relPhi = U32 * (6 + 4.5 * a1) + 2 * U32 * expUlps(a1);
  const relXphi = U32 * (4 + a2) + 2 * U32 * expUlps(a2);
  const cdf = x < 0 ? phiLowerTail(x) : 1 - phiLowerTail(x);
  const want = g * geluErfDerivative64(x);
  return Math.abs(g) * (relPhi * cdf + relXphi * Math.abs(xPhi(x))) + 2 * U32 * Math.abs(want) + Math.abs(g) * 2 ** -122 + 2 ** -149;
}

/**
 * The float64 reference of out = a · gelu'(b) over `shape` (a and b read at their element strides,
 * 0 broadcasting), rounded to float32, and each element's bound for a kernel whose exp errs by
 * `expUlps`.
 */
export function geluErfGradReference(a: Float32Array, b: Float32Array, shape: readonly number[], sa: readonly number[],
  sb: readonly number[], expUlps: (arg: number) => number): { want: Float32Array; bound: Float64Array } {
  const n = shape.reduce((p, d) => p * d, 1);
  const ga = new Float32Array(n), xb = new Float32Array(n);
  stridedCopy(ga, a, shape, sa);
  stridedCopy(xb, b, shape, sb);
  const want = new Float32Array(n), bound = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    want[i] = ga[i]! * geluErfDerivative64(xb[i]!);
    bound[i] = geluErfGradBound(ga[i]!, xb[i]!, expUlps);
  }
  return { want, bound };
}

/** Cephes-style exp on the CPU backends: within 1 ulp anywhere. */
export const cpuExpUlps = (): number => 1;

/** WGSL's exp: 3 + 2 |x| ulp (the WGSL specification's bound). */
export const wgslExpUlps = (arg: number): number => 3 + 2 * arg;

/**
 * Arguments that cover gelu' in float32: every 1/64 of [-10, 10] (0 and the integers among them),
 * around the zero of gelu' near -0.7518, where the two terms cancel, where exp(-x² / 2) leaves
 * float32's normal range (|x| 13.2 to 14), beyond it, huge, infinite, subnormal, -0, and NaN.
 */
export function geluGradInputs(): Float32Array {
  const xs: number[] = [];
  for (let i = -640; i <= 640; i++) xs.push(i / 64);
  for (let i = -20; i <= 20; i++) xs.push(-0.7517915 + i * 6e-8);
  for (let v = 13.2; v <= 14; v += 0.05) xs.push(v, -v);
  xs.push(-0, 1e-30, -1e-30, 1e-45, -1e-45, 20, -20, 40, -40, 1e4, -1e4, 1e20, -1e20, 3e38, -3e38, Infinity, -Infinity, NaN);
  return Float32Array.from(xs);
}
