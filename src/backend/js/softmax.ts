/** Reference row-wise softmax / log-softmax over x [rows, cols], stable for large logits. */
import type { FloatArray } from "../../tensor/dtype.js";

export function softmax(out: FloatArray, x: FloatArray, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) if (x[o + j]! > m) m = x[o + j]!;
    if (m === -Infinity) {
      // every entry masked: softmax gives 0 (never NaN), log-softmax -Infinity
      for (let j = 0; j < cols; j++) out[o + j] = log ? -Infinity : 0;
      continue;
    }
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[o + j]! - m);
    if (log) {
      const lse = m + Math.log(s);
      for (let j = 0; j < cols; j++) out[o + j] = x[o + j]! - lse;
    } else {
      const inv = 1 / s;
      for (let j = 0; j < cols; j++) out[o + j] = Math.exp(x[o + j]! - m) * inv;
    }
  }
}

export function softmaxBackward(dx: FloatArray, y: FloatArray, dy: FloatArray, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (log) {
      // y = x - lse: dx = dy - softmax * sum(dy)
      let s = 0;
      for (let j = 0; j < cols; j++) s += dy[o + j]!;
      for (let j = 0; j < cols; j++) {
        const yj = y[o + j]!;
        dx[o + j] = yj === -Infinity ? 0 : dy[o + j]! - Math.exp(yj) * s;
      }
    } else {
      // dx = y * (dy - sum(y * dy))
      let s = 0;
      for (let j = 0; j < cols; j++) s += y[o + j]! * dy[o + j]!;
      for (let j = 0; j < cols; j++) dx[o + j] = y[o + j]! * (dy[o + j]! - s);
    }
  }
}
