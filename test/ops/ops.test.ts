import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as q from "../../src/index.js";
import { DTypeError, ShapeError, ValueError, tensor } from "../../src/index.js";
import { poisonUninitialized } from "../../src/tensor/pool.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

describe("forward values", () => {
  test("broadcast arithmetic and comparisons", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(q.add(a, tensor([10, 20, 30])).toArray(), [[11, 22, 33], [14, 25, 36]]);
    assert.deepEqual(q.sub(2, a).toArray(), [[1, 0, -1], [-2, -3, -4]]);
    assert.deepEqual(q.gt(a, 3).toArray(), [[false, false, false], [true, true, true]]);
    assert.deepEqual(q.where(q.le(a, 2), a, 0).toArray(), [[1, 2, 0], [0, 0, 0]]);
    assert.deepEqual(q.logicalOr(tensor([true, false]), tensor([false, false])).toArray(), [true, false]);
    assert.deepEqual(q.logicalNot(tensor([true, false])).toArray(), [false, true]);
  });
  test("math functions", () => {
    assertClose(q.erfOp(tensor([0, 0.5, -1])).data, [0, 0.5204998778, -0.8427007929]);
    assertClose(q.gelu(tensor([1])).data, [0.8413447461]);
    assertClose(q.gelu(tensor([1]), "tanh").data, [0.8411919906]);
    assertClose(q.rsqrt(tensor([4])).data, [0.5]);
    assertClose(q.pow(tensor([2, 3]), 2).data, [4, 9]);
  });
  test("gelu's backward on the active backend (float32) equals Φ(x) + x φ(x)", () => {
    const xs = Array.from({ length: 241 }, (_, i) => -6 + i * 0.05);
    const gs = xs.map((_, i) => 1 + (i % 7) * 0.25);
    const x = tensor(xs).requiresGrad_(true);
    q.backward(q.sum(q.mul(q.gelu(x), tensor(gs))));
    // Φ from the float64 exact gelu: gelu(x) = x Φ(x); at 0, Φ = 1/2
    const phi = (v: number): number => Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
    const cdf = q.gelu(tensor(xs, { dtype: "float64" })).data;
    const want = xs.map((v, i) => gs[i]! * ((v === 0 ? 0.5 : Number(cdf[i]) / v) + v * phi(v)));
    assertClose(x.grad!.data, want, 2e-6, 1e-5);
  });
  test("every unary op's backward writes all of its gradient (uninitialized buffers poisoned with NaN)", () => {
    const unary: [string, (x: q.Tensor) => q.Tensor][] = [
      ["neg", q.neg], ["exp", q.exp], ["log", q.log], ["sqrt", q.sqrt], ["rsqrt", q.rsqrt], ["tanh", q.tanh], ["erf", q.erfOp],
      ["abs", q.abs], ["relu", q.relu], ["sigmoid", q.sigmoid], ["sin", q.sin], ["cos", q.cos], ["square", q.square],
      ["reciprocal", q.reciprocal], ["sign", q.sign], ["elu", (x) => q.elu(x, 0.7)], ["gelu", (x) => q.gelu(x)],
      ["gelu tanh", (x) => q.gelu(x, "tanh")],
    ];
    // float32 and at least the pool's smallest size: only those buffers come back from the pool
    const xs = Array.from({ length: 2000 }, (_, i) => 0.05 + (i % 37) * 0.11);
    const grad = (f: (x: q.Tensor) => q.Tensor): number[] => {
      const x = tensor(xs).requiresGrad_(true);
      q.backward(q.sum(q.mul(f(x), 1.5)));
      return Array.from(x.grad!.data);
    };
    for (const [name, f] of unary) {
      const want = grad(f);
      poisonUninitialized(true);
      try {
        grad(f);
        assert.deepEqual(grad(f), want, name);
      } finally {
        poisonUninitialized(false);
      }
    }
  });
  test("matmul shapes follow torch.matmul", () => {
    assert.deepEqual(q.matmul(q.ones([2, 1, 3, 4]), q.ones([5, 4, 2])).shape, [2, 5, 3, 2]);
    assert.deepEqual(q.matmul(q.ones([4]), q.ones([4])).shape, []);
    assert.deepEqual(q.matmul(q.ones([3, 4]), q.ones([4])).shape, [3]);
    assert.deepEqual(q.matmul(tensor([[1, 2], [3, 4]]), tensor([[5], [6]])).toArray(), [[17], [39]]);
  });
  test("shape ops", () => {
    const x = q.reshape(q.arange(6), [2, 3]);
    assert.deepEqual(q.transpose(x, 0, 1).toArray(), [[0, 3], [1, 4], [2, 5]]);
    assert.deepEqual(q.slice(x, 1, 1).toArray(), [[1, 2], [4, 5]]);
    assert.deepEqual(q.concat([x, x], 0).shape, [4, 3]);
    assert.deepEqual(q.stack([x, x], 1).shape, [2, 2, 3]);
    assert.deepEqual(q.split(x, 2, 1).map((t) => t.shape), [[2, 2], [2, 1]]);
    assert.deepEqual(q.chunk(q.arange(5), 2).map((t) => t.toArray()), [[0, 1, 2], [3, 4]]);
    assert.deepEqual(q.indexSelect(x, 1, [2, 0]).toArray(), [[2, 0], [5, 3]]);
    assert.deepEqual(q.expand(tensor([[1], [2]]), [2, 3]).toArray(), [[1, 1, 1], [2, 2, 2]]);
    assert.deepEqual(q.permute(q.ones([2, 3, 4]), [2, 0, 1]).shape, [4, 2, 3]);
  });
  test("reductions", () => {
    const x = tensor([[1, 5, 3], [4, 2, 6]]);
    assert.deepEqual(q.sum(x, 0).toArray(), [5, 7, 9]);
    assert.deepEqual(q.mean(x, 1, { keepdim: true }).toArray(), [[3], [4]]);
    assert.deepEqual(q.max(x, 1).values.toArray(), [5, 6]);
    assert.deepEqual(q.argmax(x, 1).toArray(), [1, 2]);
    assert.equal(q.argmax(x, 1).dtype, "int32");
    assertClose(q.variance(x, 1).data, [4, 4]);
    assertClose(q.variance(x, 1, { correction: 0 }).data, [8 / 3, 8 / 3]);
    assertClose(q.logsumexp(tensor([[0, 0], [-Infinity, -Infinity]]), 1).data, [Math.LN2, -Infinity]);
  });
  test("layerNorm uses the biased variance", () => {
    const y = q.layerNorm(tensor([[1, 2, 3, 4]]), [4], null, null, 0);
    const s = Math.sqrt(1.25);
    assertClose(y.data, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
  });
  test("dropout is seeded, scales kept entries, and is the identity in eval", () => {
    const x = q.ones([1000]);
    const a = q.dropout(x, 0.25, { generator: new q.Generator(1) });
    const b = q.dropout(x, 0.25, { generator: new q.Generator(1) });
    assert.deepEqual(a.data, b.data);
    const kept = Array.from(a.data).filter((v) => v !== 0);
    assert.ok(kept.every((v) => Math.abs(v - 4 / 3) < 1e-6));
    assert.ok(Math.abs(kept.length / 1000 - 0.75) < 0.05);
    assert.equal(q.dropout(x, 0.25, { training: false }), x);
  });
  test("crossEntropy matches hand computation; all-ignored mean is 0", () => {
    const logits = tensor([[0, 0], [0, Math.log(3)]]);
    const t = tensor(new Int32Array([0, 1]));
    assertClose(q.crossEntropy(logits, t).data, [(Math.log(2) + Math.log(4 / 3)) / 2]);
    assert.equal(q.crossEntropy(logits, tensor(new Int32Array([-100, -100]))).item(), 0);
  });
});

describe("errors name the function, argument, expectation and actual value", () => {
  test("elementwise and matmul", () => {
    assertThrowsMsg(() => q.add(q.ones([2, 3]), q.ones([4])), ShapeError, "add: b expected a shape broadcastable with a [2, 3], got [4]");
    assertThrowsMsg(() => q.add(q.ones([2]), q.ones([2], { dtype: "float64" })), DTypeError, "add: a expected float64, got float32");
    assertThrowsMsg(() => q.exp(tensor([true])), DTypeError, "exp: x expected float32 or float64, got bool");
    assertThrowsMsg(() => q.matmul(q.ones([2, 3]), q.ones([4, 5])), ShapeError, "matmul: b expected [..., 3, N] to match a [2, 3], got [4, 5]");
    assertThrowsMsg(() => q.linear(q.ones([2, 3]), q.ones([4, 5])), ShapeError, "linear: x expected [..., 5], got [2, 3]");
    assertThrowsMsg(() => q.linear(q.ones([2, 5]), q.ones([4, 5]), q.ones([3])), ShapeError, "linear: bias expected [4], got [3]");
    assertThrowsMsg(() => q.linearRelu(q.ones([2, 3]), q.ones([4, 5])), ShapeError, "linearRelu: x expected [..., 5], got [2, 3]");
    assertThrowsMsg(() => q.linearRelu(q.ones([2, 5]), q.ones([4, 5]), q.ones([3])), ShapeError, "linearRelu: bias expected [4], got [3]");
    assertThrowsMsg(() => q.gelu(q.ones([2]), "fast" as "tanh"), ValueError, 'gelu: approximate expected "none" or "tanh", got "fast"');
    assertThrowsMsg(() => q.maskedFill(q.ones([2, 3]), tensor([true, false]), 0), ShapeError, "maskedFill: mask expected a shape broadcastable to [2, 3], got [2]");
    assertThrowsMsg(() => q.where(q.ones([2]), q.ones([2]), q.ones([2])), DTypeError, "where: cond expected bool, got float32");
  });
  test("shape ops", () => {
    assertThrowsMsg(() => q.reshape(q.ones([2, 3]), [4, 2]), ShapeError, "reshape: shape expected a shape with 6 elements (input [2, 3]), got [4, 2]");
    assertThrowsMsg(() => q.permute(q.ones([2, 3]), [0, 0]), ValueError, "permute: dims expected a permutation of 2 dims, got [0, 0]");
    assertThrowsMsg(() => q.transpose(q.ones([2, 3]), 0, 2), ValueError, "transpose: dim1 expected an integer in [-2, 1], got 2");
    assertThrowsMsg(() => q.concat([q.ones([2, 3]), q.ones([3, 3])], 1), ShapeError, "concat: tensors[1] expected [2, *], got [3, 3]");
    assertThrowsMsg(() => q.split(q.ones([5]), [2, 2]), ValueError, "split: sizes expected non-negative sizes summing to 5, got [2, 2]");
    assertThrowsMsg(() => q.indexSelect(q.ones([3]), 0, [3]), ValueError, "indexSelect: indices expected values in [0, 3), got 3");
    assertThrowsMsg(() => q.expand(q.ones([2, 3]), [4, 3]), ShapeError, "expand: shape expected a shape [2, 3] broadcasts to, got [4, 3]");
  });
  test("reductions, softmax, norms, losses", () => {
    assertThrowsMsg(() => q.sum(q.ones([2]), 1), ValueError, "sum: dim expected an integer in [-1, 0], got 1");
    assertThrowsMsg(() => q.softmax(tensor(1)), ShapeError, "softmax: x expected at least 1 dimension, got a scalar");
    assertThrowsMsg(() => q.layerNorm(q.ones([2, 3]), [4]), ShapeError, "layerNorm: x expected [..., 4], got [2, 3]");
    assertThrowsMsg(() => q.layerNorm(q.ones([2, 4]), [4], q.ones([3])), ShapeError, "layerNorm: weight expected [4], got [3]");
    assertThrowsMsg(() => q.dropout(q.ones([2]), 1.5), ValueError, "dropout: p expected a probability in [0, 1), got 1.5");
    assertThrowsMsg(() => q.embedding(tensor(new Int32Array([5])), q.ones([3, 2])), ValueError, "embedding: indices expected values in [0, 3), got 5");
    assertThrowsMsg(() => q.embedding(q.ones([2]), q.ones([3, 2])), DTypeError, "embedding: indices expected int32, got float32");
    assertThrowsMsg(() => q.crossEntropy(q.ones([2, 3]), tensor(new Int32Array([0, 3]))), ValueError,
      "crossEntropy: target expected class indices in [0, 3) or ignoreIndex -100, got 3");
    assertThrowsMsg(() => q.crossEntropy(q.ones([2, 3]), tensor(new Int32Array([0]))), ShapeError, "crossEntropy: target expected [2], got [1]");
    assertThrowsMsg(() => q.crossEntropy(q.ones([2, 3]), tensor(new Int32Array([0, 1])), { labelSmoothing: 2 }), ValueError,
      "crossEntropy: labelSmoothing expected a number in [0, 1], got 2");
    assertThrowsMsg(() => q.mseLoss(q.ones([2]), q.ones([3])), ShapeError, "mseLoss: target expected [2], got [3]");
  });
});
