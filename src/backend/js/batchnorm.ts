/**
 * Batch normalization kernels over x [B, C, S] (S: the product of the spatial dims), per channel c.
 * Sums run in float64 whatever the storage.
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** mean [C] and biased var [C] over the B * S values of each channel. */
export function batchNormStats(mean: FloatArray, variance: FloatArray, x: FloatArray, B: number, C: number, S: number): void {
  const n = B * S;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let b = 0; b < B; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) s += x[o + i]!;
    }
    const m = s / n;
    let v = 0;
    for (let b = 0; b < B; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) { const d = x[o + i]! - m; v += d * d; }
    }
    mean[c] = m;
    variance[c] = v / n;
  }
}

/** out = (x - mean[c]) * invstd[c] * weight[c] + bias[c]; weight / bias may be null (1 / 0). */
export function batchNormForward(out: FloatArray, x: FloatArray, mean: FloatArray, invstd: FloatArray,
  weight: FloatArray | null, bias: FloatArray | null, B: number, C: number, S: number): void {
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const scale = invstd[c]! * (weight ? weight[c]! : 1);
      const shift = (bias ? bias[c]! : 0) - mean[c]! * scale;
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) out[o + i] = x[o + i]! * scale + shift;
    }
  }
}

/**
 * Gradients of batchNormForward. With `batchStats` the mean and invstd came from x itself, so
 * dx = invstd w (dy - mean(dy) - xhat mean(dy xhat)); otherwise they are constants and
 * dx = invstd w dy. Writes dx (when not null), dweight and dbias (when not null).
 */
export function batchNormBackward(dx: FloatArray | null, dweight: FloatArray | null, dbias: FloatArray | null, dy: FloatArray,
  x: FloatArray, mean: FloatArray, invstd: FloatArray, weight: FloatArray | null, B: number, C: number, S: number,
  batchStats: boolean): void {
  const n = B * S;
  for (let c = 0; c < C; c++) {
    const m = mean[c]!, r = invstd[c]!;
    let sdy = 0, sdyx = 0; // sum dy, sum dy * xhat
    for (let b = 0; b < B; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) {
        const g = dy[o + i]!;
        sdy += g;
        sdyx += g * (x[o + i]! - m) * r;
      }
    }
    if (dweight) dweight[c] = sdyx;
    if (dbias) dbias[c] = sdy;
    if (!dx) continue;
    const k = r * (weight ? weight[c]! : 1);
    const mdy = batchStats ? sdy / n : 0, mdyx = batchStats ? sdyx / n : 0;
    for (let b = 0; b < B; b++) {
      const o = (b * C + c) * S;
      for (let i = 0; i < S; i++) dx[o + i] = k * (dy[o + i]! - mdy - (x[o + i]! - m) * r * mdyx);
    }
  }
}
