/**
 * Reading many device tensors back at once: `readAll(tensors)` gives each tensor's host data, as
 * `await t.read()` would, with one `DeviceStore.readMany` per store instead of a read per tensor
 * (on webgpu: one submission and one map instead of one of each per tensor). Each copy is cached on
 * its tensor exactly as `read()` caches it (so `data`, `item()`, `toArray()` work afterwards, until
 * the next write to the device data), in the tensor's dtype (an int32 tensor of indices on a device
 * reads back as an Int32Array, a bool as a Uint8Array). Host tensors, and device tensors whose copy
 * is still current, are not read again.
 *
 * ```ts
 * await readAll(model.parameters());            // every parameter's copy cached, one transfer
 * const [l, n] = await readAll([loss, norm]);  // their host arrays, in order
 * ```
 */
import type { ArrayFor, DType } from "./dtype.js";
import type { DeviceArray, DeviceStore } from "./device.js";
import { ValueError } from "./errors.js";
import { expectTensor, type Tensor } from "./tensor.js";

/** The host data of each tensor of `tensors` (in order), device tensors read back together (see the module comment). */
export async function readAll(tensors: Iterable<Tensor>): Promise<ArrayFor[DType][]> {
  if (tensors === null || typeof (tensors as { [Symbol.iterator]?: unknown } | undefined)?.[Symbol.iterator] !== "function") {
    throw new ValueError("readAll", "tensors", "an iterable of Tensors", tensors === null ? "null" : typeof tensors);
  }
  const list = [...tensors];
  list.forEach((t, i) => expectTensor(t, `tensors[${i}]`, "readAll"));
  const out: (ArrayFor[DType] | undefined)[] = new Array<ArrayFor[DType] | undefined>(list.length);
  // the device tensors still to read, per store (a tensor listed twice is read once)
  const pending = new Map<DeviceStore, { t: Tensor; dev: DeviceArray; at: number[] }[]>();
  const seen = new Map<Tensor, number[]>();
  list.forEach((t, i) => {
    const dev = t.device;
    if (dev === null || t.host !== null) return;
    const at = seen.get(t);
    if (at) {
      at.push(i);
      return;
    }
    const entry = { t, dev, at: [i] };
    seen.set(t, entry.at);
    const store = t.store!;
    const group = pending.get(store);
    if (group) group.push(entry);
    else pending.set(store, [entry]);
  });
  await Promise.all([...pending].map(async ([store, group]) => {
    const raws = await store.readMany(group.map((e) => e.dev));
    group.forEach((e, k) => {
      const copy = e.t.cacheRead(e.dev, raws[k]!);
      for (const i of e.at) out[i] = copy;
    });
  }));
  // host tensors and current copies through `data` (which names a freed tensor)
  return list.map((t, i) => out[i] ?? t.data);
}
