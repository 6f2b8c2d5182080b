/** Test helpers: float64 inputs, gradcheck assertions, closeness. */
import assert from "node:assert/strict";
import { gradcheck } from "../src/autograd/gradcheck.js";
import { availableBackends } from "../src/backend/registry.js";
import { Generator } from "../src/tensor/rng.js";
import { Tensor, randn } from "../src/tensor/tensor.js";

const gen = new Generator(7);

/** A float64 leaf that requires grad. */
export function r64(shape: number[], scale = 1): Tensor {
  const t = randn(shape, { dtype: "float64", generator: gen });
  const d = t.data as Float64Array;
  for (let i = 0; i < d.length; i++) d[i] = d[i]! * scale;
  return t.requiresGrad_(true);
}

/** Asserts that backward matches central differences. */
export function assertGrad(f: (...xs: Tensor[]) => Tensor | readonly Tensor[], inputs: Tensor[], tol: { atol?: number; rtol?: number } = {}): void {
  const r = gradcheck(f, inputs, tol);
  assert.ok(r.ok, `gradcheck failed: max error ${r.maxError} at ${r.worst}`);
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6, rtol = 1e-5): void {
  assert.equal(actual.length, expected.length, "length");
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    assert.ok(a === e || Math.abs(a - e) <= atol + rtol * Math.abs(e), `[${i}] ${a} vs ${e}`);
  }
}

/** Asserts that `fn` throws an error of class `cls` whose message contains every fragment. */
export function assertThrowsMsg(fn: () => unknown, cls: abstract new (...args: never[]) => Error, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    for (const f of fragments) assert.ok((e as Error).message.includes(f), `message "${(e as Error).message}" lacks "${f}"`);
    return true;
  });
}

/**
 * The `skip` option of a test whose subject is no kernel (files, signals, a page's drawing): it
 * runs on the first backend's pass only, not once per backend (false there, else the reason).
 */
export function firstPassOnly(): false | string {
  const first = !process.env.QKV_BACKEND || process.env.QKV_BACKEND === availableBackends()[0];
  return first ? false : "runs once, on the first backend's pass";
}
