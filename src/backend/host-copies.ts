/**
 * Running host code on tensors that live on a device: `withHostData(tensors, fn)` reads every
 * device tensor of `tensors` back (together: tensor/read-all.ts), makes each a host tensor over its copy for the duration of
 * `fn`, with the host backend active, and afterwards puts them back on their device (the copies
 * stay cached, so `t.data` keeps working until the device data is next written). This is how a
 * model trained on a device is evaluated, decoded or saved with ops that have no device kernel
 * yet, without moving it off the device. `fn` must not write the tensors (its writes would not
 * reach the device).
 *
 * `withModelOnHost(model, fn)` does so for a module's whole state (parameters and buffers), and
 * calls `fn` as it is when nothing of it is on a device.
 *
 * ```ts
 * const acc = await withHostData(model.parameters(), () => noGrad(() => accuracy(model, valid)));
 * const page = await withModelOnHost(model, () => attentionPage(model, text));
 * ```
 */
import type { DeviceArray, DeviceStore } from "../tensor/device.js";
import { readAll } from "../tensor/read-all.js";
import type { Tensor } from "../tensor/tensor.js";
import { getBackend, hostBackend, setBackend } from "./registry.js";

export { readAll };

/** True when some tensor of `tensors` lives on a device. */
export function anyOnDevice(tensors: Iterable<Tensor>): boolean {
  for (const t of tensors) if (t.device !== null) return true;
  return false;
}

/** `fn` with a module's state (`stateDict()`: parameters and buffers) on the host: withHostData, or `fn` itself when none of it is on a device. */
export async function withModelOnHost<R>(model: { stateDict(): Record<string, Tensor> }, fn: () => R | Promise<R>): Promise<R> {
  const state = Object.values(model.stateDict());
  return anyOnDevice(state) ? withHostData(state, fn) : fn();
}

/** Runs `fn` with `tensors` as host tensors over copies of their data and the host backend active (see the module comment). */
export async function withHostData<R>(tensors: Iterable<Tensor>, fn: () => R | Promise<R>): Promise<R> {
  const list = [...tensors];
  await readAll(list);
  const moved: { t: Tensor; device: DeviceArray; store: DeviceStore }[] = [];
  for (const t of list) {
    if (t.device === null || t.host === null) continue;
    moved.push({ t, device: t.device, store: t.store! });
    t.device = null;
    t.store = null;
  }
  const active = getBackend();
  if (active.kind === "device") setBackend(hostBackend().name);
  try {
    return await fn();
  } finally {
    if (active.kind === "device") setBackend(active.name);
    // the host copy stays: nothing wrote the device data meanwhile
    for (const { t, device, store } of moved) {
      t.device = device;
      t.store = store;
    }
  }
}
