import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { add, backward, chunk, concat, mul, reshape, slice, sum, tensor } from "../../src/index.js";

const arr = (t: { data: ArrayLike<number> }): number[] => Array.from(t.data);

describe("gradient sums", () => {
  test("slices of one tensor add their blocks into one gradient", () => {
    const x = tensor([[1, 2, 3, 4], [5, 6, 7, 8]], { requiresGrad: true });
    const a = slice(x, 1, 0, 2), b = slice(x, 1, 1, 4), c = slice(x, 1, 0, 4, 2); // overlapping, strided
    backward(add(add(sum(mul(a, 10)), sum(mul(b, 100))), sum(mul(c, 1000))));
    // column j gets 10 (j < 2) + 100 (j >= 1) + 1000 (j even)
    assert.deepEqual(arr(x.grad!), [1010, 110, 1100, 100, 1010, 110, 1100, 100]);
  });

  test("a slice's block lands in a gradient another path already owns", () => {
    const x = tensor([1, 2, 3, 4, 5, 6], { requiresGrad: true });
    const y = add(mul(x, 2), mul(x, 3)); // two full contributions: an owned sum of 5s
    backward(add(sum(y), sum(mul(slice(x, 0, 2, 5), tensor([7, 8, 9])))));
    assert.deepEqual(arr(x.grad!), [5, 5, 12, 13, 14, 5]);
  });

  test("chunks of a projection (the multi-head split) get exact gradients", () => {
    const w = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
    const [q, k, v] = chunk(reshape(w, [6]), 3, 0);
    backward(add(add(sum(mul(q!, tensor([1, 10]))), sum(mul(k!, tensor([100, 1000])))), sum(mul(v!, tensor([2, 3])))));
    assert.deepEqual(arr(w.grad!), [1, 10, 100, 1000, 2, 3]);
  });

  test("a gradient an op hands to two inputs is never written in place", () => {
    // add(x, x) returns the same gradient object for both inputs: summing must not alias it
    const x = tensor([1, 2], { requiresGrad: true });
    const y = tensor([3, 4], { requiresGrad: true });
    const s = add(x, y);
    backward(add(sum(mul(add(s, s), tensor([1, 2]))), sum(mul(concat([x, y], 0), tensor([10, 20, 30, 40])))));
    assert.deepEqual(arr(x.grad!), [12, 24]);
    assert.deepEqual(arr(y.grad!), [32, 44]);
  });

  test("a shared gradient stays intact while one of its inputs gathers more", () => {
    // s = x + y hands one gradient object to x and to y; x and y then gather other contributions
    for (const order of [0, 1, 2]) {
      const x = tensor([1, 2], { requiresGrad: true });
      const y = tensor([3, 4], { requiresGrad: true });
      const s = add(x, y);
      const parts = [sum(mul(s, tensor([1, 2]))), sum(mul(x, tensor([10, 20]))), sum(mul(y, tensor([100, 200])))];
      const [p0, p1, p2] = [parts[order % 3]!, parts[(order + 1) % 3]!, parts[(order + 2) % 3]!];
      backward(add(add(p0, p1), p2));
      assert.deepEqual(arr(x.grad!), [11, 22], `order ${order}`);
      assert.deepEqual(arr(y.grad!), [101, 202], `order ${order}`);
    }
  });

  test("leaf gradients are independent tensors and accumulate across passes", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const g = tensor([1, 1, 1]);
    backward(mul(x, 1), g);
    assert.notEqual(x.grad!.data, g.data); // a copy of the given gradient, not the caller's tensor
    backward(slice(x, 0, 1, 2), tensor([5]));
    assert.deepEqual(arr(x.grad!), [1, 6, 1]);
    assert.deepEqual(arr(g), [1, 1, 1]);
  });
});
