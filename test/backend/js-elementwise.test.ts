/**
 * The js reference's elementwise kernels against float64 references: the fused GELU backward
 * (binary geluErfGrad) in float32, within float32's error bound, and in float64, the only float64
 * path (gradient checks), within the error of its erfc fit; and gelu's float64 backward through it;
 * relu's backward (binary reluGrad) bit for bit.
 */
import { describe, test } from "node:test";
import { jsBackend } from "../../src/backend/js/index.js";
import { backward, gelu, sum, mul, tensor } from "../../src/index.js";
import { Generator } from "../../src/tensor/rng.js";
import { geluErfDerivative64, geluGradInputs, phiLowerTail, xPhi } from "./gelu-reference.js";
import { checkGeluErfGrad, checkReluGrad, closeCheck, normals, within, type KernelTarget } from "./kernel-cases.js";

const rand = normals(new Generator(31));

/**
 * The float64 kernel's error bound: Φ(x) within the erfc fit's relative 1.2e-7 (Numerical Recipes'
 * erfcc, against which nothing rounds in float64), x φ(x) within float64's rounding of x² / 2 in
 * exp's argument plus a few ulp.
 */
function bound64(g: number, x: number): number {
  if (!Number.isFinite(x)) return 1e-300;
  const cdf = x < 0 ? phiLowerTail(x) : 1 - phiLowerTail(x);
  return Math.abs(g) * (1.2e-7 * cdf + 2 ** -53 * (8 + 0.5 * x * x) * Math.abs(xPhi(x))) + 1e-300;
}

describe("js reference kernels: reluGrad", () => {
  test("a where b > 0, else +0, bit for bit: special values, broadcasting", () => {
    checkReluGrad({ sut: jsBackend, ref: jsBackend, rand, check: closeCheck });
  });
});

describe("js reference kernels: geluErfGrad", () => {
  test("float32 against the float64 reference within float32's bound: special values, broadcasting", () => {
    const t: KernelTarget = { sut: jsBackend, ref: jsBackend, rand, check: closeCheck };
    checkGeluErfGrad(t);
  });

  test("float64 within the erfc fit's error: every argument, a gradient row broadcast over x columns", () => {
    const xs = Float64Array.from(geluGradInputs());
    const g = Float64Array.from(rand(xs.length, 2));
    const got = new Float64Array(xs.length).fill(NaN);
    jsBackend.binary("geluErfGrad", got, g, xs, [xs.length], [1], [1]);
    within(got, xs.map((x, i) => g[i]! * geluErfDerivative64(x)), xs.map((x, i) => bound64(g[i]!, x)), "float64 geluErfGrad");
    // g [3] over x [4, 3]: the gradient's strides broadcast the row
    const g3 = Float64Array.of(1.5, -2, 0.25), x12 = Float64Array.from(rand(12, 3));
    const out = new Float64Array(12).fill(NaN);
    jsBackend.binary("geluErfGrad", out, g3, x12, [4, 3], [0, 1], [3, 1]);
    within(out, x12.map((x, i) => g3[i % 3]! * geluErfDerivative64(x)), x12.map((x, i) => bound64(g3[i % 3]!, x)),
      "float64 geluErfGrad [3] over [4, 3]");
  });

  test("gelu's float64 backward is g · gelu'(x)", () => {
    const xs = Array.from(geluGradInputs()).filter((v) => Number.isFinite(v));
    const gs = xs.map((_, i) => 0.5 + (i % 5) * 0.75);
    const x = tensor(xs, { dtype: "float64" }).requiresGrad_(true);
    backward(sum(mul(gelu(x), tensor(gs, { dtype: "float64" }))));
    within(x.grad!.data as Float64Array, xs.map((v, i) => gs[i]! * geluErfDerivative64(v)), xs.map((v, i) => bound64(gs[i]!, v)),
      "gelu backward float64");
  });
});
