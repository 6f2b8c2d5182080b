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
 * near(got, want, 1e-3, 1e-3, "logits");
 * ```
 */
import assert from "node:assert/strict";
import { after } from "node:test";
import type { AnyBackend } from "../../src/backend/backend.js";
import { getBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { hostDevice, type HostDevice } from "./host-device.js";

/** float32's unit roundoff. */
export const U = 2 ** -24;

export interface DeviceTestEnv {
  /** The host backend active when the file started (active again after each `on` and after the file's tests). */
  host: AnyBackend;
  /** The host-memory device backend (registered, not active). */
  dev: HostDevice;
  /** Runs `f` with the device backend active (true) or the host one, then makes the host one active again. */
  on<R>(device: boolean, f: () => Promise<R>): Promise<R>;
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
  return { host, dev, on };
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
