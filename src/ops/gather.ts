/**
 * The gather that indexSelect and embedding share on a device, and where their int32 indices are
 * taken from: host integers (checked on the host by the op, uploaded for the kernel), or the
 * device array of an int32 tensor on the same device as the gathered tensor (argmax's, or one
 * moved there with toDevice), which the kernel reads as it is, with nothing read back: an index
 * out of range there gives a row of zeros and a ValueError at the store's next read
 * (backend/index-checks.ts). The backward groups the indices by row on the host for host indices,
 * on the device for device ones (backend/index-grouping.ts): the same sums in the same order.
 *
 * ```ts
 * const ids = argmax(logits, -1);                              // int32 [B, L] on the device
 * const where = gatherIndices("embedding", ids, weight, "weight"); // { kind: "device", ... }
 * const out = gatherOnDevice("embedding", weight, where, [B, L, E], 1, V, E, paddingIdx);
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { KernelArray } from "../backend/backend.js";
import { gatherBackward, gatherBackwardOnDevice } from "../backend/index-grouping.js";
import type { DeviceArray, DeviceStore } from "../tensor/device.js";
import { ValueError } from "../tensor/errors.js";
import type { Shape } from "../tensor/shape.js";
import type { Tensor } from "../tensor/tensor.js";
import { arrayOf, backendOf, emptyOn } from "./util.js";

/** A gather's indices: host integers, or the device array of m indices on the gathered tensor's device. */
export type GatherIndices =
  | { readonly kind: "host"; readonly ids: Int32Array }
  | { readonly kind: "device"; readonly arr: DeviceArray; readonly m: number };

/**
 * Where the int32 tensor `indices` of `op` over `target` (named `targetName`) is read from: its
 * device array when it lives on target's device; else its host data (a host tensor, or a device
 * one read back with `await indices.read()`); else a ValueError naming op and argument.
 */
export function gatherIndices(op: string, indices: Tensor, target: Tensor, targetName: string): GatherIndices {
  if (indices.device === null) return { kind: "host", ids: indices.data as Int32Array };
  if (target.device !== null && indices.store === target.store) return { kind: "device", arr: indices.device, m: indices.size };
  if (indices.host !== null) return { kind: "host", ids: indices.host as Int32Array };
  const name = indices.store!.name;
  if (target.device === null) {
    throw new ValueError(op, "indices", `indices on the host, where ${targetName} is (await indices.read() first)`,
      `${indices.toString()} on the ${name} device`);
  }
  throw new ValueError(op, "indices", `indices on ${targetName}'s device or on the host (await indices.read() first)`,
    `${indices.toString()} on another ${name} device than ${targetName}'s`);
}

/**
 * x [outer, n, inner] (on a device) gathered along n by `indices`: out [outer, m, inner], shaped
 * `shape`; the backward sums each row's gradient rows in index order, `skip` (the embedding's
 * padding index) getting none.
 */
export function gatherOnDevice(op: string, x: Tensor, indices: GatherIndices, shape: Shape, outer: number, n: number, inner: number,
  skip?: number): Tensor {
  const be = backendOf(x);
  const out = emptyOn(be, shape, "float32");
  if (indices.kind === "device") {
    const { arr, m } = indices;
    be.indexSelect(arrayOf(out, be), arrayOf(x, be), arr, outer, n, inner, m, { op, arg: "indices" });
    return attach(out, op, [x], (g) => {
      const dx = emptyOn(be, x.shape, "float32");
      gatherBackwardOnDevice(be, op, arrayOf(dx, be), arrayOf(g, be), arr, m, outer, n, inner, skip);
      return [dx];
    });
  }
  const { ids } = indices;
  const index: KernelArray = be.upload(Float32Array.from(ids));
  be.indexSelect(arrayOf(out, be), arrayOf(x, be), index, outer, n, inner, ids.length);
  (be as unknown as DeviceStore).release(index as DeviceArray);
  return attach(out, op, [x], (g) => {
    const dx = emptyOn(be, x.shape, "float32");
    gatherBackward(be, op, arrayOf(dx, be), arrayOf(g, be), ids, outer, n, inner, skip);
    return [dx];
  });
}
