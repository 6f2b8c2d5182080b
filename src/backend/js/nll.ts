/**
 * The negative log-likelihood kernels (Backend.nllForward / nllBackward), which nllLoss calls for
 * log-probabilities on a device; host tensors keep nllLoss's own loop. Class ids are float32
 * values, a negative one an ignored row; keep = 1 - eps and spread = eps / C (label smoothing
 * eps). Every step is a float32 operation (Math.fround), in the order the WGSL kernels take
 * (backend/webgpu/nll.ts), so the two agree to the bit.
 *
 * ```ts
 * nllForward(per, lp, ids, N, C, 1, 0);   // per[n] = -lp[n, ids[n]]
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";

const f = Math.fround;

/** per[n] = -keep lp[n, y] - spread sum_c lp[n, c] (the sum in order of c, only where spread != 0); 0 where y < 0. */
export function nllForward(per: FloatArray, lp: FloatArray, ids: FloatArray, N: number, C: number, keep: number, spread: number): void {
  const k = f(keep), s = f(spread);
  for (let n = 0; n < N; n++) {
    const y = ids[n]!;
    if (y < 0) {
      per[n] = 0;
      continue;
    }
    let v = f(-k * lp[n * C + y]!);
    if (s !== 0) {
      let sum = 0;
      for (let c = 0; c < C; c++) sum = f(sum + lp[n * C + c]!);
      v = f(v - f(s * sum));
    }
    per[n] = v;
  }
}

/**
 * dlp[n, c] = -spread g'[n] (where spread != 0, else 0), plus -keep g'[n] at c = y; 0 in a row where
 * y < 0; g'[n] = g[n gStride] gScale (in float32).
 */
export function nllBackward(dlp: FloatArray, g: FloatArray, ids: FloatArray, N: number, C: number, keep: number, spread: number,
  gScale: number, gStride: 0 | 1): void {
  const k = f(keep), s = f(spread), sc = f(gScale);
  for (let n = 0; n < N; n++) {
    const y = ids[n]!, gn = f(g[n * gStride]! * sc);
    for (let c = 0; c < C; c++) {
      let d = 0;
      if (y >= 0) {
        if (s !== 0) d = f(-s * gn);
        if (c === y) d = f(d + f(-k * gn));
      }
      dlp[n * C + c] = d;
    }
  }
}
