import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ValueError, ShapeError, add, backward, mul, noGrad, enableGrad, isGradEnabled, sum, tensor, zeroGrad, exp, randn, matmul,
} from "../../src/index.js";
import { assertThrowsMsg } from "../helpers.js";

describe("autograd", () => {
  test("gradients accumulate across backward calls until zeroGrad", () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    backward(sum(mul(x, x)));
    assert.deepEqual(Array.from(x.grad!.data), [2, 4, 6]);
    sum(mul(x, 3)).backward();
    assert.deepEqual(Array.from(x.grad!.data), [5, 7, 9]);
    zeroGrad([x]);
    assert.equal(x.grad, null);
  });
  test("a tensor used twice gets the sum of both paths", () => {
    const x = tensor([2], { requiresGrad: true });
    const y = mul(add(x, 1), x); // x^2 + x
    y.backward();
    assert.deepEqual(Array.from(x.grad!.data), [5]);
  });
  test("backward with an explicit gradient for non-scalar outputs", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = mul(x, 3);
    backward(y, tensor([1, 10]));
    assert.deepEqual(Array.from(x.grad!.data), [3, 30]);
    assertThrowsMsg(() => backward(mul(x, 2)), ShapeError, "backward: gradient expected given for non-scalar output [2], got none");
    assertThrowsMsg(() => backward(mul(x, 2), tensor([1, 2, 3])), ShapeError, "backward: gradient expected [2], got [3]");
  });
  test("noGrad records nothing; enableGrad restores recording inside it", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => mul(x, 2));
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.equal(isGradEnabled(), true);
    const z = noGrad(() => enableGrad(() => mul(x, 2)));
    assert.equal(z.requiresGrad, true);
    assertThrowsMsg(() => backward(y), ValueError, "backward: tensor expected a tensor that requires grad");
  });
  test("detach cuts the graph", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = mul(mul(x, 2).detach(), x);
    sum(y).backward();
    assert.deepEqual(Array.from(x.grad!.data), [2, 4]);
  });
  test("retainGrad keeps an intermediate gradient", () => {
    const x = tensor([0, 1], { requiresGrad: true });
    const y = exp(x).retainGrad();
    sum(mul(y, 2)).backward();
    assert.deepEqual(Array.from(y.grad!.data), [2, 2]);
  });
  test("leaves without requiresGrad get no gradient", () => {
    const a = randn([2, 3]), b = randn([3, 2], { requiresGrad: true });
    sum(matmul(a, b)).backward();
    assert.equal(a.grad, null);
    assert.ok(b.grad);
  });
  test("a deep chain does not overflow the stack", () => {
    let x = tensor([1], { requiresGrad: true });
    const x0 = x;
    for (let i = 0; i < 20000; i++) x = add(x, 1);
    x.backward();
    assert.deepEqual(Array.from(x0.grad!.data), [1]);
  });
});
