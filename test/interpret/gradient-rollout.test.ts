/**
 * Gradient-weighted rollout on hand-computed cases: the positive part of attention × gradient
 * averaged over heads, R = (I + Ā_L) · … · (I + Ā_1) in layer order, and bad input.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gradientRollout, positiveGradientAttention } from "../../src/interpret/gradient-rollout.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Tensor } from "../../src/tensor/tensor.js";

const t = (v: number[], shape: number[]): Tensor => new Tensor(Float64Array.from(v), shape, "float64");

function close(got: ArrayLike<number>, want: number[], what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-12, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

describe("attention × gradient rollout", () => {
  test("positiveGradientAttention: mean over heads of (A ⊙ ∇A)⁺", () => {
    // [B=1, H=2, L=1, S=2]: products head 0 [0.5, -0.75], head 1 [-2, 0.5] -> positive parts [0.5, 0], [0, 0.5]
    const w = t([0.25, 0.75, 0.5, 0.5], [1, 2, 1, 2]), g = t([2, -1, -4, 1], [1, 2, 1, 2]);
    close(positiveGradientAttention(w, g), [0.25, 0.25], "Ā");
    close(positiveGradientAttention(w, null), [0, 0], "no gradient");
    // batch row 1 of [2, 1, 1, 2]
    close(positiveGradientAttention(t([1, 1, 0.5, 0.25], [2, 1, 1, 2]), t([0, 0, 2, -3], [2, 1, 1, 2]), 1), [1, 0], "row 1");
  });

  test("gradientRollout: R = (I + Ā_2)(I + Ā_1), the later layer on the left", () => {
    const a1 = [0.5, 0, 0, 0.2], a2 = [0, 1, 0.5, 0];
    close(gradientRollout([a1], 2), [1.5, 0, 0, 1.2], "one layer: I + Ā");
    // (I + a1) = [[1.5, 0], [0, 1.2]]; a2 · (I + a1) = [[0, 1.2], [0.75, 0]]
    close(gradientRollout([a1, a2], 2), [1.5, 1.2, 0.75, 1.2], "two layers");
    // the other order differs: (I + a1)(I + a2) = [[1.5, 1.5], [0.6, 1.2]]
    close(gradientRollout([a2, a1], 2), [1.5, 1.5, 0.6, 1.2], "reversed");
  });

  test("bad input names the argument", () => {
    assert.throws(() => gradientRollout([[1, 2, 3]], 2), (e: unknown) => e instanceof ValueError && e.op === "gradientRollout" && e.arg === "layers[0]" && /got 3 values/.test(e.message));
    assert.throws(() => gradientRollout([], 2), (e: unknown) => e instanceof ValueError && e.arg === "layers");
    assert.throws(() => gradientRollout([[1]], 0), (e: unknown) => e instanceof ValueError && e.arg === "n");
    const w = t([0.5, 0.5], [1, 1, 1, 2]);
    assert.throws(() => positiveGradientAttention(w, t([1, 1, 1], [1, 1, 1, 3])), (e: unknown) => e instanceof ValueError && e.arg === "grad" && /\[1, 1, 1, 2\]/.test(e.message));
    assert.throws(() => positiveGradientAttention(t([1, 1], [1, 2]), null), (e: unknown) => e instanceof ValueError && e.arg === "weights");
    assert.throws(() => positiveGradientAttention(w, null, 1), (e: unknown) => e instanceof ValueError && e.arg === "b");
  });
});
