/**
 * Scaffolding of the Node tests of the device path (test/backend/device-*.test.ts,
 * test/apps/device-apps*.test.ts): a host-memory device backend (host-device.ts) registered beside
 * the active host backend, `on(device, f)` to run f with one or the other active, float32's unit
 * roundoff `U`, and `near` for arrays compared with a relative and an absolute tolerance. Node
 * only (node:assert, node:test); the models shared with the browser pages are in device-models.ts.
 *
 * ```ts
 * const { host, dev, on } = deviceTestEnv();
 * const got = await on(true, async () => (await f().read()));
 * const { result, lengths, single } = await watchReads(() => f().read()); // what it read back
 * const { arrays } = await releasesDuring(() => freeGraph(loss));         // what it gave back
 * near(got, want, 1e-3, 1e-3, "logits");
 * ```
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import type { AnyBackend } from "../../src/backend/backend.js";
import type { DeviceArray } from "../../src/tensor/device.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
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
