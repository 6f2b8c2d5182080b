import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { applyRotary, positionRange, RotaryEmbedding } from "../../src/nn/rope.js";
import { concat, slice } from "../../src/ops/shape.js";
import { add, cos, mul, neg, sin } from "../../src/ops/elementwise.js";
import { matmul } from "../../src/ops/matmul.js";
import { transpose } from "../../src/ops/shape.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Tensor, randn, tensor } from "../../src/tensor/tensor.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";

/** The rotate_half composition of Hugging Face Llama, from the ops: out = x*cat(c,c) + rotate_half(x)*cat(s,s). */
function halfReference(x: Tensor, positions: number[], R: number, base = 10000): Tensor {
  const D = x.shape[x.rank - 1]!, L = positions.length, h = R / 2;
  const ang = new Float64Array(L * R);
  for (let l = 0; l < L; l++) for (let i = 0; i < R; i++) ang[l * R + i] = positions[l]! * Math.pow(base, (-2 * (i % h)) / R);
  const a = new Tensor(x.dtype === "float64" ? ang : Float32Array.from(ang), [L, R], x.dtype);
  const xr = slice(x, -1, 0, R);
  const rot = concat([neg(slice(xr, -1, h, R)), slice(xr, -1, 0, h)], -1);
  const out = add(mul(xr, cos(a)), mul(rot, sin(a)));
  return R < D ? concat([out, slice(x, -1, R, D)], -1) : out;
}

describe("applyRotary", () => {
  test("half layout equals the rotate_half composition, also for partial rotary", () => {
    const x = randn([2, 3, 5, 8], { dtype: "float64" });
    const pos = [3, 4, 5, 6, 7];
    assertClose(applyRotary(x, pos, { layout: "half" }).data, halfReference(x, pos, 8).data, 1e-12);
    assertClose(applyRotary(x, pos, { layout: "half", rotaryDim: 4 }).data, halfReference(x, pos, 4).data, 1e-12);
  });

  test("interleaved pairs (x[2i], x[2i+1]); dims past rotaryDim pass through; position 0 is the identity", () => {
    const x = tensor([[1, 2, 3, 4, 5, 6]], { dtype: "float64" }); // L=1, D=6
    const p = 2, th1 = Math.pow(10000, -2 / 4);
    const y = applyRotary(x, [p], { layout: "interleaved", rotaryDim: 4 });
    const c0 = Math.cos(p), s0 = Math.sin(p), c1 = Math.cos(p * th1), s1 = Math.sin(p * th1);
    assertClose(y.data, [1 * c0 - 2 * s0, 2 * c0 + 1 * s0, 3 * c1 - 4 * s1, 4 * c1 + 3 * s1, 5, 6], 1e-12);
    assertClose(applyRotary(x, [0], { layout: "interleaved" }).data, x.data, 0);
  });

  test("scores of rotated q and k depend only on the relative position", () => {
    const q = randn([1, 1, 1, 8], { dtype: "float64" }), k = randn([1, 1, 1, 8], { dtype: "float64" });
    for (const layout of ["half", "interleaved"] as const) {
      const s = (m: number, n: number): number => matmul(applyRotary(q, [m], { layout }), transpose(applyRotary(k, [n], { layout }), -2, -1)).item();
      assert.ok(Math.abs(s(7, 3) - s(4, 0)) < 1e-12);
      assert.ok(Math.abs(s(12, 10) - s(2, 0)) < 1e-12);
    }
  });

  test("gradcheck (float64): both layouts, partial rotary, int32 positions", () => {
    const pos = new Tensor(Int32Array.from([0, 5, 9]), [3], "int32");
    for (const layout of ["half", "interleaved"] as const) {
      for (const rotaryDim of [6, 4]) {
        const x = r64([2, 3, 6]);
        assertGrad((t) => applyRotary(t, pos, { layout, rotaryDim, base: 100 }), [x]);
      }
    }
  });

  test("double backward: the backward is itself differentiable", () => {
    const x = r64([1, 2, 4]);
    assertGrad((t) => {
      const y = applyRotary(t, [1, 2]);
      return applyRotary(mul(y, y), [3, 1], { layout: "interleaved" });
    }, [x]);
  });

  test("errors", () => {
    const x = randn([2, 5, 8]);
    assertThrowsMsg(() => applyRotary(x, [0, 1, 2]), ShapeError, "applyRotary: positions expected [L] = [5], got [3]");
    assertThrowsMsg(() => applyRotary(x, positionRange(5), { rotaryDim: 5 }), ValueError, "applyRotary: rotaryDim expected an even integer in [2, 8], got 5");
    assertThrowsMsg(() => applyRotary(x, positionRange(5), { rotaryDim: 10 }), ValueError, "rotaryDim expected an even integer in [2, 8], got 10");
    assertThrowsMsg(() => applyRotary(x, positionRange(5), { base: 0 }), ValueError, "applyRotary: base expected a positive number, got 0");
    // @ts-expect-error an unknown layout
    assertThrowsMsg(() => applyRotary(x, positionRange(5), { layout: "pairs" }), ValueError, 'applyRotary: layout expected "half" or "interleaved", got pairs');
    assertThrowsMsg(() => applyRotary(x, [0, 1, 2, 3, -4]), ValueError, "applyRotary: positions expected non-negative integers, got -4");
    assertThrowsMsg(() => applyRotary(x, new Tensor(Float32Array.from([0, 1, 2, 3, 4]), [5], "float32")), DTypeError, "applyRotary: positions expected int32, got float32");
    assertThrowsMsg(() => applyRotary(randn([8]), [0]), ShapeError, "applyRotary: x expected [..., L, D], got [8]");
    assertThrowsMsg(() => applyRotary(new Tensor(Int32Array.from([1, 2]), [1, 2], "int32"), [0]), DTypeError, "applyRotary: x expected float32 or float64, got int32");
  });
});

describe("RotaryEmbedding", () => {
  test("offset positions equal explicit positions; q and k rotate alike", () => {
    const rope = new RotaryEmbedding(8, { layout: "interleaved", rotaryDim: 4 });
    assert.equal(rope.parameters().length, 0);
    const q = randn([1, 2, 3, 8]), k = randn([1, 2, 3, 8]);
    const [qr, kr] = rope.forward(q, k, { offset: 4 });
    assertClose(qr.data, applyRotary(q, [4, 5, 6], { layout: "interleaved", rotaryDim: 4 }).data, 0);
    assertClose(kr.data, applyRotary(k, [4, 5, 6], { layout: "interleaved", rotaryDim: 4 }).data, 0);
  });

  test("errors", () => {
    assertThrowsMsg(() => new RotaryEmbedding(8, { rotaryDim: 3 }), ValueError, "RotaryEmbedding: rotaryDim expected an even integer in [2, 8], got 3");
    assertThrowsMsg(() => new RotaryEmbedding(1), ValueError, "RotaryEmbedding: headDim expected an integer >= 2, got 1");
    const rope = new RotaryEmbedding(8);
    assertThrowsMsg(() => rope.rotate(randn([2, 3, 6])), ShapeError, "RotaryEmbedding.rotate: x expected [..., L, 8], got [2, 3, 6]");
    assertThrowsMsg(() => rope.rotate(randn([2, 3, 8]), { offset: -1 }), ValueError, "RotaryEmbedding.rotate: offset expected a non-negative integer, got -1");
  });
});
