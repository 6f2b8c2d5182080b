/** Finite-difference gradient checks (float64) for every differentiable op. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as ops from "../../src/index.js";
import { tensor, Tensor } from "../../src/index.js";
import { assertGrad, r64 } from "../helpers.js";

const pos = (shape: number[]): Tensor => {
  const t = r64(shape);
  const d = t.data as Float64Array;
  for (let i = 0; i < d.length; i++) d[i] = Math.abs(d[i]!) + 0.5;
  return t;
};
/** Inputs away from kinks (relu, abs at 0; max ties). */
const awayFromZero = (shape: number[]): Tensor => {
  const t = r64(shape);
  const d = t.data as Float64Array;
  for (let i = 0; i < d.length; i++) if (Math.abs(d[i]!) < 0.05) d[i] = 0.3;
  return t;
};

describe("gradcheck: elementwise", () => {
  test("add, sub, mul, div with broadcasting", () => {
    assertGrad((a, b) => ops.add(a, b), [r64([2, 3]), r64([3])]);
    assertGrad((a, b) => ops.sub(a, b), [r64([2, 1]), r64([1, 3])]);
    assertGrad((a, b) => ops.mul(a, b), [r64([2, 3, 4]), r64([3, 1])]);
    assertGrad((a, b) => ops.div(a, b), [r64([2, 3]), pos([2, 3])]);
    assertGrad((a) => ops.add(ops.mul(a, 3), 1), [r64([4])]);
  });
  test("pow in both arguments", () => {
    assertGrad((a, b) => ops.pow(a, b), [pos([3, 2]), r64([2])]);
    assertGrad((a) => ops.pow(a, 3), [r64([5])]);
  });
  test("maximum and minimum", () => {
    assertGrad((a, b) => ops.maximum(a, b), [r64([6]), r64([6])]);
    assertGrad((a, b) => ops.minimum(a, b), [r64([2, 3]), r64([3])]);
  });
  for (const name of ["exp", "tanh", "erfOp", "sigmoid", "sin", "cos", "square", "neg"] as const) {
    test(name, () => assertGrad((a) => ops[name](a), [r64([2, 5])]));
  }
  for (const name of ["log", "sqrt", "rsqrt", "reciprocal"] as const) {
    test(name, () => assertGrad((a) => ops[name](a), [pos([2, 5])]));
  }
  test("abs, relu, elu away from their kinks", () => {
    assertGrad((a) => ops.abs(a), [awayFromZero([10])]);
    assertGrad((a) => ops.relu(a), [awayFromZero([10])]);
    assertGrad((a) => ops.elu(a, 0.7), [awayFromZero([10])]);
    assertGrad((a) => ops.mul(ops.sign(a), a), [awayFromZero([10])]); // sign has zero gradient; |x| through it
    assertGrad((a) => ops.flatten(a, 1), [r64([2, 3, 2])]);
  });
  test("gelu, exact and tanh", () => {
    assertGrad((a) => ops.gelu(a), [r64([10])]);
    assertGrad((a) => ops.gelu(a, "tanh"), [r64([10])]);
  });
  test("where and maskedFill", () => {
    const c = tensor([[true, false, true], [false, false, true]]);
    assertGrad((a, b) => ops.where(c, a, b), [r64([2, 3]), r64([3])]);
    assertGrad((a) => ops.maskedFill(a, tensor([true, false, false]), -5), [r64([2, 3])]);
  });
});

describe("gradcheck: matmul and linear", () => {
  test("matmul 2-D, batched, broadcast, 1-D", () => {
    assertGrad((a, b) => ops.matmul(a, b), [r64([3, 4]), r64([4, 2])]);
    assertGrad((a, b) => ops.matmul(a, b), [r64([2, 3, 4]), r64([2, 4, 5])]);
    assertGrad((a, b) => ops.matmul(a, b), [r64([2, 1, 3, 4]), r64([3, 4, 2])]);
    assertGrad((a, b) => ops.matmul(a, b), [r64([4]), r64([2, 4, 3])]);
    assertGrad((a, b) => ops.matmul(a, b), [r64([2, 3, 4]), r64([4])]);
  });
  test("linear with and without bias", () => {
    assertGrad((x, w, b) => ops.linear(x, w, b), [r64([2, 3, 4]), r64([5, 4]), r64([5])]);
    assertGrad((x, w) => ops.linear(x, w), [r64([3, 4]), r64([2, 4])]);
  });
  test("linearRelu with and without bias (no output at 0: the kink)", () => {
    assertGrad((x, w, b) => ops.linearRelu(x, w, b), [r64([2, 3, 4]), r64([5, 4]), r64([5])]);
    assertGrad((x, w) => ops.linearRelu(x, w), [r64([3, 4]), r64([2, 4])]);
  });
});

describe("gradcheck: shape ops", () => {
  test("reshape, permute, transpose, expand", () => {
    assertGrad((a) => ops.reshape(a, [3, -1]), [r64([2, 3, 2])]);
    assertGrad((a) => ops.permute(a, [2, 0, 1]), [r64([2, 3, 4])]);
    assertGrad((a) => ops.transpose(a, 0, -1), [r64([2, 3, 4])]);
    assertGrad((a) => ops.expand(a, [2, 3, 4]), [r64([3, 1])]);
  });
  test("slice, indexSelect, concat, stack, split, chunk", () => {
    assertGrad((a) => ops.slice(a, 1, 1, 5, 2), [r64([2, 6])]);
    assertGrad((a) => ops.slice(a, -1, -2), [r64([2, 3])]);
    assertGrad((a) => ops.indexSelect(a, 0, [2, 0, 2]), [r64([3, 2])]);
    assertGrad((a, b) => ops.concat([a, b], 1), [r64([2, 1]), r64([2, 3])]);
    assertGrad((a, b) => ops.stack([a, b], -1), [r64([2, 3]), r64([2, 3])]);
    assertGrad((a) => ops.split(a, [1, 2], 1), [r64([2, 3])]);
    assertGrad((a) => ops.chunk(a, 2, 0), [r64([5, 2])]);
    assertGrad((a) => ops.unsqueeze(ops.squeeze(a), 0), [r64([1, 3, 1])]);
  });
});

describe("gradcheck: reductions", () => {
  test("sum and mean over dims with keepdim", () => {
    assertGrad((a) => ops.sum(a), [r64([2, 3])]);
    assertGrad((a) => ops.sum(a, [0, 2], { keepdim: true }), [r64([2, 3, 4])]);
    assertGrad((a) => ops.mean(a, -1), [r64([2, 3])]);
  });
  test("variance, max, min, logsumexp", () => {
    assertGrad((a) => ops.variance(a, 1), [r64([3, 4])]);
    assertGrad((a) => ops.variance(a, [0, 1], { correction: 0 }), [r64([3, 4])]);
    assertGrad((a) => ops.max(a, 1).values, [r64([3, 4])]);
    assertGrad((a) => ops.min(a, 0, { keepdim: true }).values, [r64([3, 4])]);
    assertGrad((a) => ops.logsumexp(a, -1), [r64([3, 4])]);
  });
});

describe("gradcheck: softmax, norms, losses", () => {
  test("softmax and logSoftmax over any dim", () => {
    assertGrad((a) => ops.softmax(a, -1), [r64([2, 5])]);
    assertGrad((a) => ops.softmax(a, 0), [r64([3, 2, 2])]);
    assertGrad((a) => ops.logSoftmax(a, 1), [r64([2, 4, 3])]);
  });
  test("layerNorm with and without affine", () => {
    assertGrad((x, w, b) => ops.layerNorm(x, [4], w, b), [r64([2, 3, 4]), r64([4]), r64([4])]);
    assertGrad((x) => ops.layerNorm(x, [3, 4], null, null, 1e-3), [r64([2, 3, 4])]);
  });
  test("dropout (same mask for forward and the check)", () => {
    // a fresh generator per call makes the mask identical across finite-difference evaluations
    assertGrad((x) => ops.dropout(x, 0.3, { generator: new ops.Generator(5) }), [r64([20])]);
  });
  test("embedding with padding row", () => {
    const ids = tensor(new Int32Array([0, 2, 2, 1]), { shape: [2, 2] });
    assertGrad((w) => ops.embedding(ids, w), [r64([3, 4])]);
    // with paddingIdx the padding row gets no gradient (by definition, as PyTorch), the others the true one
    const w = r64([3, 4]);
    ops.sum(ops.embedding(ids, w, { paddingIdx: 2 })).backward();
    assert.deepEqual(Array.from(w.grad!.data), [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  });
  test("crossEntropy: mean, sum, none, ignoreIndex, labelSmoothing", () => {
    const t = tensor(new Int32Array([1, 0, 3, 2]));
    assertGrad((x) => ops.crossEntropy(x, t), [r64([4, 5])]);
    assertGrad((x) => ops.crossEntropy(x, t, { reduction: "sum", labelSmoothing: 0.2 }), [r64([4, 5])]);
    assertGrad((x) => ops.crossEntropy(x, t, { reduction: "none", ignoreIndex: 3 }), [r64([4, 5])]);
    assertGrad((x) => ops.crossEntropy(x, t, { ignoreIndex: 0, labelSmoothing: 0.1 }), [r64([4, 5])]);
  });
  test("nllLoss on its own: mean, sum, none, ignoreIndex, labelSmoothing, an unbatched [C] input", () => {
    const t = tensor(new Int32Array([4, 0, 2, 2]));
    assertGrad((x) => ops.nllLoss(x, t), [r64([4, 5])]);
    assertGrad((x) => ops.nllLoss(x, t, { reduction: "sum", labelSmoothing: 0.3 }), [r64([4, 5])]);
    assertGrad((x) => ops.nllLoss(x, t, { reduction: "none", ignoreIndex: 2 }), [r64([4, 5])]);
    assertGrad((x) => ops.nllLoss(x, new Tensor(new Int32Array([3]), [], "int32")), [r64([6])]);
  });
  test("mseLoss", () => {
    assertGrad((x, y) => ops.mseLoss(x, y), [r64([3, 2]), r64([3, 2])]);
  });
});
