/**
 * The GEMM template's WGSL (src/backend/webgpu/matmul-large.ts) checked by naga (test/backend/naga.ts)
 * in Node, every variant: above all the fp16 kernel (`enable f16`, operand tiles in f16), which no
 * device here compiles, since SwiftShader has no shader-f16; the browser tests run its roundings
 * emulated in f32 and check its structure compiled as f32, which an f16 / f32 mix-up would pass.
 * The browser tests check every shader their pages make with naga too.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { largeKey, largeSource, type GemmStage, type LargeGemmShape } from "../../src/backend/webgpu/matmul-large.js";
import { firstPassOnly } from "../helpers.js";
import { nagaError, nagaErrors } from "./naga.js";

/** Every shape of `stage` with subgroup width `sg`: transposes, vec4 bindings, bias, relu. */
function shapes(stage: GemmStage, sg: number): LargeGemmShape[] {
  const out: LargeGemmShape[] = [];
  for (let bits = 0; bits < 64; bits++) {
    const b = (i: number): boolean => ((bits >> i) & 1) === 1;
    out.push({ transA: b(0), transB: b(1), vecA: b(2), vecB: b(3), bias: b(4), relu: b(5), stage, subgroupWidth: sg });
  }
  return out;
}

const sources = (list: LargeGemmShape[]): [string, string][] => list.map((s) => [largeKey(s), largeSource(s)]);

describe("the GEMM kernels' WGSL to naga", { skip: firstPassOnly() }, () => {
  test("the fp16 kernel, all 64 variants: valid WGSL with f16 operand tiles and products", () => {
    const f16 = sources(shapes("f16", 0));
    assert.equal(new Set(f16.map(([k]) => k)).size, 64);
    for (const [key, code] of f16) {
      assert.match(code, /^enable f16;$/m, key);
      assert.match(code, /var<workgroup> As: array<vec4<f16>/, key);
    }
    assert.deepEqual(nagaErrors(f16), []);
  });

  test("the f32, subgroup (widths 4 and 8) and f16-rounded kernels, 64 variants each, are valid too", () => {
    const all = [...sources(shapes("f32", 0)), ...sources(shapes("f32", 4)), ...sources(shapes("f32", 8)), ...sources(shapes("f16-rounded", 0))];
    assert.equal(new Set(all.map(([k]) => k)).size, 256);
    assert.deepEqual(nagaErrors(all), []);
  });

  test("naga rejects the fp16 kernel with an f16 product added to the f32 sums unconverted, or without its enable", () => {
    const code = largeSource(shapes("f16", 0)[0]!);
    const unconverted = code.replace(/acc\[0\] \+= vec4<f32>\(([^;]*)\);/, "acc[0] += $1;");
    assert.notEqual(unconverted, code);
    assert.match(nagaError(unconverted) ?? "", /vec4<f16>/);
    assert.match(nagaError(code.replace("enable f16;", "")) ?? "", /`f16`/);
    // the same slip in the f32 kernel is no error, which is why the f16 kernel compiled as f32 proves little
    const f32 = largeSource(shapes("f32", 0)[0]!);
    assert.equal(nagaError(f32.replace(/acc\[0\] \+= vec4<f32>\(([^;]*)\);/, "acc[0] += $1;")), null);
  });
});
