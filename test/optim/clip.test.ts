import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clipGradNorm, clipGradValue } from "../../src/optim/clip.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Tensor, tensor } from "../../src/tensor/tensor.js";

function withGrad(g: number[]): Tensor {
  const p = tensor(new Array<number>(g.length).fill(0), { requiresGrad: true });
  p.grad = tensor(g);
  return p;
}
const grads = (ps: Tensor[]): number[] => ps.flatMap((p) => [...p.grad!.data]);

describe("clipGradNorm", () => {
  test("returns the total 2-norm and scales by maxNorm / (norm + 1e-6)", () => {
    const ps = [withGrad([3, 0]), withGrad([4]), tensor([1], { requiresGrad: true })];
    const n = clipGradNorm(ps, 1);
    assert.equal(n, 5);
    const c = 1 / (5 + 1e-6);
    assert.deepEqual(grads(ps.slice(0, 2)), [3, 0, 4].map((x) => Math.fround(x * c)));
  });

  test("below maxNorm nothing changes; other norms", () => {
    const ps = [withGrad([3, -4])];
    assert.equal(clipGradNorm(ps, 10), 5);
    assert.deepEqual(grads(ps), [3, -4]);
    assert.equal(clipGradNorm(ps, 10, 1), 7);
    assert.equal(clipGradNorm(ps, 2, Infinity), 4);
    assert.deepEqual(grads(ps), [3, -4].map((x) => Math.fround(x * (2 / (4 + 1e-6)))));
  });

  test("no gradients: 0; non-finite: NaN grads or an error", () => {
    assert.equal(clipGradNorm([tensor([1], { requiresGrad: true })], 1), 0);
    const ps = [withGrad([NaN, 1])];
    assert.ok(Number.isNaN(clipGradNorm(ps, 1)));
    assert.ok(Number.isNaN(ps[0]!.grad!.data[1]!));
    assert.throws(() => clipGradNorm([withGrad([Infinity])], 1, 2, { errorIfNonfinite: true }),
      (e: unknown) => e instanceof ValueError && e.message === "clipGradNorm: gradients expected a finite total norm (errorIfNonfinite), got Infinity");
  });

  test("bad options", () => {
    assert.throws(() => clipGradNorm([], -1), (e: unknown) => e instanceof ValueError && e.message === "clipGradNorm: maxNorm expected a number >= 0, got -1");
    assert.throws(() => clipGradNorm([], 1, 0), (e: unknown) => e instanceof ValueError && e.message === "clipGradNorm: normType expected a number > 0 or Infinity, got 0");
  });
});

test("clipGradValue clamps each entry", () => {
  const ps = [withGrad([-2, 0.25, 3])];
  clipGradValue(ps, 0.5);
  assert.deepEqual(grads(ps), [-0.5, 0.25, 0.5]);
  assert.throws(() => clipGradValue(ps, -1), ValueError);
});
