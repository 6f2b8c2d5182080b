/**
 * Scaffolding of the Node tests of the device path (test/backend/device-*.test.ts,
 * test/apps/device-apps*.test.ts): a host-memory device backend (host-device.ts) registered beside
 * the active host backend, `on(device, f)` to run f with one or the other active, float32's unit
 * roundoff `U`, `near` for arrays compared with a relative and an absolute tolerance, and
 * `gradcheckOnDevice` (float32 central differences of a device computation against its device
 * backward). Node only (node:assert, node:test); the models shared with the browser pages are in
 * device-models.ts.
 *
 * ```ts
 * const { host, dev, on } = deviceTestEnv();
 * const got = await on(true, async () => (await f().read()));
 * const { result, lengths, single } = await watchReads(() => f().read()); // what it read back
 * const { arrays } = await releasesDuring(() => freeGraph(loss));         // what it gave back
 * near(got, want, 1e-3, 1e-3, "logits");
 * await gradcheckOnDevice(dev, [leaf], (x) => indexSelect(x, 0, ids));
 * ```
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import type { AnyBackend } from "../../src/backend/backend.js";
import type { DeviceArray } from "../../src/tensor/device.js";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/graph.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { toDevice } from "../../src/backend/tensor-arrays.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { hostDevice, type HostDevice } from "./host-device.js";

/** float32's unit roundoff. */
export const U = 2 ** -24;

/** What a run on the device read back: each batched read's array lengths and arrays, and the single reads. */
export interface DeviceReads<R> { result: R; lengths: number[][]; arrays: ArrayLike<number>[][]; single: number }

export interface DeviceTestEnv {
  /** The host backend active when the file started (active again after each `on` and after the file's tests). */
  host: AnyBackend;
  /** The host-memory device backend (registered, not active). */
  dev: HostDevice;
  /** Runs `f` with the device backend active (true) or the host one, then makes the host one active again. */
  on<R>(device: boolean, f: () => Promise<R>): Promise<R>;
  /** Runs `f` with the device backend active (as `on(true, f)`), recording what it reads back. */
  watchReads<R>(f: () => Promise<R>): Promise<DeviceReads<R>>;
  /** Runs `f` (with whichever backend is active), recording the arrays the device releases, in order. */
  releasesDuring<R>(f: () => R | Promise<R>): Promise<{ result: R; arrays: DeviceArray[] }>;
}

/** A fresh host-memory device backend beside the active host backend (see the module comment). */
export function deviceTestEnv(): DeviceTestEnv {
  const host = getBackend();
  const dev = hostDevice();
  registerBackend(dev);
  setBackend(host.name);
  after(() => setBackend(host.name));
  async function on<R>(device: boolean, f: () => Promise<R>): Promise<R> {
    registerBackend(dev); // the name's backend again, should another file's have replaced it
    setBackend(device ? dev.name : host.name);
    try {
      return await f();
    } finally {
      setBackend(host.name);
    }
  }
  async function watchReads<R>(f: () => Promise<R>): Promise<DeviceReads<R>> {
    const lengths: number[][] = [], arrays: ArrayLike<number>[][] = [];
    const readMany = dev.readMany, reads = dev.reads;
    dev.readMany = async (arrs) => {
      lengths.push(arrs.map((a) => a.length));
      const got = await readMany(arrs);
      arrays.push(got);
      return got;
    };
    try {
      const result = await on(true, f);
      return { result, lengths, arrays, single: dev.reads - reads };
    } finally {
      dev.readMany = readMany;
    }
  }
  async function releasesDuring<R>(f: () => R | Promise<R>): Promise<{ result: R; arrays: DeviceArray[] }> {
    const arrays: DeviceArray[] = [];
    const release = dev.release.bind(dev);
    dev.release = (arr) => {
      arrays.push(arr);
      release(arr);
    };
    try {
      return { result: await f(), arrays };
    } finally {
      dev.release = release;
    }
  }
  return { host, dev, on, watchReads, releasesDuring };
}

/** got within atol * max |want| + rtol |want| of want, element by element. */
export function near(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    assert.ok(g === w || Math.abs(g - w) <= atol * m + rtol * Math.abs(w), `${what}[${i}]: ${g} vs ${w}`);
  }
}

/**
 * Central differences in float32 of s(x) = sum(f(x) * w) on the device `dev` (made active for the
 * call; the backend active before comes back) against the device backward, for float32 host
 * `inputs` moved there. Error bound: each s is a sum of N terms, off by at most N u sum |f w| per
 * evaluation, so the difference quotient is off by N u S / h, plus h² |s'''| / 6 (|s'''| <= 1 here).
 */
export async function gradcheckOnDevice(dev: AnyBackend, inputs: Tensor[], f: (...xs: Tensor[]) => Tensor, h = 1e-2): Promise<void> {
  const before = getBackend().name;
  setBackend(dev.name);
  try {
    const make = (i: number, host: Float32Array): Tensor => toDevice(new Tensor(Float32Array.from(host), inputs[i]!.shape, "float32").requiresGrad_(true), dev);
    const hosts = inputs.map((t) => Float32Array.from(t.data as Float32Array));
    const xs = hosts.map((hh, i) => make(i, hh));
    const y = f(...xs);
    const w = randn(y.shape, { generator: new Generator(98) });
    backward(sum(mul(y, w)));
    const N = y.size;
    const value = async (i: number, host: Float32Array): Promise<{ s: number; S: number }> => {
      const args = xs.map((x, j) => (j === i ? make(i, host) : x.detach()));
      const out = noGrad(() => f(...args));
      const o = await out.read() as Float32Array, wd = w.data as Float32Array;
      let s = 0, S = 0;
      for (let k = 0; k < o.length; k++) { s += o[k]! * wd[k]!; S += Math.abs(o[k]! * wd[k]!); }
      return { s: Math.fround(s), S };
    };
    for (let i = 0; i < xs.length; i++) {
      const g = await xs[i]!.grad!.read() as Float32Array;
      for (let e = 0; e < hosts[i]!.length; e++) {
        const plus = hosts[i]!.slice(), minus = hosts[i]!.slice();
        plus[e]! += h;
        minus[e]! -= h;
        const hp = plus[e]! - hosts[i]![e]!, hm = hosts[i]![e]! - minus[e]!; // the steps float32 took
        const a = await value(i, plus), b = await value(i, minus);
        const fd = (a.s - b.s) / (hp + hm);
        const tol = (N * U * (a.S + b.S)) / (hp + hm) + (h * h) / 6 + 4 * U * Math.abs(g[e]!);
        assert.ok(Math.abs(fd - g[e]!) <= tol, `input ${i}[${e}]: backward ${g[e]}, differences ${fd} (tolerance ${tol.toExponential(2)})`);
      }
    }
  } finally {
    setBackend(before);
  }
}
