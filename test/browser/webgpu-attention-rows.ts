/**
 * The query rows that the fp32 error bounds of the attention backwards walk (sparse attention in
 * webgpu-efficient-cases.ts, fused attention with dropout in webgpu-attention-dropout-cases.ts):
 * every row (b, h, i) of [B, H, L] with a finite lse, its key / value head under GQA, and its
 * term di = sum over Dv of |dout out| (the row's part of ds = P (dout . v - dout . out) scale).
 *
 * ```ts
 * liveRows(B, H, Hkv, L, Dv, lse, dout, out, (row, i, kvh, l, di) => { ... });
 * ```
 */

/**
 * Calls `each` for every row = (b H + h) L + i of lse [B, H, L] that is not -Infinity (a row that
 * sees no key), in order, with kvh = b Hkv + floor(h / (H / Hkv)), l = lse[row] and di over
 * dout, out [B, H, L, Dv].
 */
export function liveRows(B: number, H: number, Hkv: number, L: number, Dv: number, lse: Float32Array, dout: Float32Array,
  out: Float32Array, each: (row: number, i: number, kvh: number, l: number, di: number) => void): void {
  const G = H / Hkv;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = b * Hkv + Math.floor(h / G);
      for (let i = 0; i < L; i++) {
        const row = (b * H + h) * L + i, l = lse[row]!;
        if (l === -Infinity) continue;
        let di = 0;
        for (let d = 0; d < Dv; d++) di += Math.abs(dout[row * Dv + d]! * out[row * Dv + d]!);
        each(row, i, kvh, l, di);
      }
    }
  }
}
