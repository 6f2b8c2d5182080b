/**
 * A bool or float attention mask as the fused kernels take it (ops/attention.ts's FusedMask):
 * additive values (a bool mask's true becomes -Infinity) in the caller's float dtype, indexed by
 * batch, head and query row through broadcast strides (0 where the mask broadcasts), with its key
 * columns dense. Shared by scaledDotProductAttention's fused path and packedSelfAttention. A float32
 * mask on a device stays there (`tensor`), its columns made dense there when they broadcast.
 *
 * ```ts
 * const kpm = new Tensor(Uint8Array.of(0, 0, 1), [1, 1, 1, 3], "bool");  // [B, 1, 1, S]
 * fusedMask(kpm, [1, 4], 5, 3, "float32"); // data [0, 0, -Inf, ...] widened to S columns; strides [0, 0, 0]
 * ```
 */
import type { FusedMask } from "./attention.js";
import { expand, reshape } from "./shape.js";
import { broadcastStrides } from "../tensor/shape.js";
import type { Tensor } from "../tensor/tensor.js";

/**
 * `mask` (bool: true = may not attend, or float: added), broadcastable to [...lead, L, S] (validated
 * by the caller), as the fused kernels' mask over [B, H, L, S] with H = lead's last dim (1 when
 * lead is empty) and B the product of the others.
 */
export function fusedMask(mask: Tensor, lead: readonly number[], L: number, S: number, dtype: "float32" | "float64"): FusedMask {
  const H = lead.length ? lead[lead.length - 1]! : 1;
  const B = lead.length >= 2 ? lead.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
  // pad the mask to [B', H, L, S] rank, collapse leading batch dims
  let mm = mask;
  const full = [...lead, L, S];
  if (lead.length > 2) mm = expand(reshape(mm, [...new Array<number>(full.length - mm.rank).fill(1), ...mm.shape]), full);
  const shape4 = lead.length > 2 ? [B, H, L, S] : [...new Array<number>(4 - Math.min(mm.rank, 4)).fill(1), ...mm.shape];
  let m4 = reshape(mm, shape4);
  if (m4.device !== null) {
    // a float32 mask on a device stays there: a broadcast column dim is materialized there
    if (m4.shape[3] === 1 && S !== 1) m4 = expand(m4, [m4.shape[0]!, m4.shape[1]!, m4.shape[2]!, S]);
    const sd = broadcastStrides(m4.shape, [B, H, L, S]);
    return { data: null, tensor: m4, strideB: sd[0]!, strideH: sd[1]!, strideL: sd[2]! };
  }
  const st = broadcastStrides(m4.shape, [B, H, L, S]);
  let data: Float32Array | Float64Array;
  if (m4.dtype === "bool") {
    data = dtype === "float64" ? new Float64Array(m4.size) : new Float32Array(m4.size);
    const bits = m4.data, n = m4.size;
    for (let i = 0; i < n; i++) data[i] = bits[i] ? -Infinity : 0;
  } else {
    data = dtype === "float64" ? Float64Array.from(m4.data) : Float32Array.from(m4.data);
  }
  // a broadcast column dim must be materialized: the kernel reads columns densely
  if (m4.shape[3] === 1 && S !== 1) {
    const rows = m4.size;
    const wide = dtype === "float64" ? new Float64Array(rows * S) : new Float32Array(rows * S);
    for (let r = 0; r < rows; r++) wide.fill(data[r]!, r * S, r * S + S);
    const sh = [m4.shape[0]!, m4.shape[1]!, m4.shape[2]!, S];
    const st2 = broadcastStrides(sh, [B, H, L, S]);
    return { data: wide, strideB: st2[0]!, strideH: st2[1]!, strideL: st2[2]! };
  }
  return { data, strideB: st[0]!, strideH: st[1]!, strideL: st[2]! };
}
