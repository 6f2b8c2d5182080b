/**
 * A key padding mask moved to a device once as additive values, for attention that reads it many
 * times (a decoder's cached cross-attention, at every decoding step) instead of uploading it at
 * each call. Its lifetime is its holder's (KVCache keeps it): a training step's graph does not
 * give it back, so a step's own masks stay host masks, uploaded by each op and freed with its graph.
 *
 * ```ts
 * const pad = keyPaddingOn(srcPad, memory, [B, 1, 1, S]); // bool on the host -> float32 on memory's device
 * ```
 */
import { backendOf, toDevice } from "../backend/tensor-arrays.js";
import { ValueError, fmtShape } from "../tensor/errors.js";
import { numel } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";

/**
 * `mask` (bool: true = padding, or float: added) on `like`'s device as additive float32 values
 * (true -> -Infinity, false -> 0; a float mask's values as they are), shaped `shape` (default
 * mask's); the mask itself when `like` is on the host or the mask is already on a device. The
 * attention kernels read the same values either way.
 */
export function keyPaddingOn(mask: Tensor, like: Tensor, shape: readonly number[] = mask.shape): Tensor {
  if (like.device === null || mask.device !== null) return mask;
  if (numel(shape) !== mask.size) throw new ValueError("keyPaddingOn", "shape", `${mask.size} elements (mask ${fmtShape(mask.shape)})`, fmtShape(shape));
  const m = mask.data, add = new Float32Array(mask.size);
  if (mask.dtype === "bool") for (let i = 0; i < add.length; i++) add[i] = m[i] ? -Infinity : 0;
  else for (let i = 0; i < add.length; i++) add[i] = Number(m[i]);
  return toDevice(new Tensor(add, shape, "float32"), backendOf(like));
}
