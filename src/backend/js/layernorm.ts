/** Reference LayerNorm over the last `cols` of x [rows, cols], biased variance. */
import type { FloatArray } from "../../tensor/dtype.js";

export function layerNorm(out: FloatArray, mean: FloatArray, rstd: FloatArray, x: FloatArray, weight: FloatArray | null,
  bias: FloatArray | null, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = 0;
    for (let j = 0; j < cols; j++) m += x[o + j]!;
    m /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) { const d = x[o + j]! - m; v += d * d; }
    v /= cols;
    const rs = 1 / Math.sqrt(v + eps);
    mean[r] = m;
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) {
      let y = (x[o + j]! - m) * rs;
      if (weight) y *= weight[j]!;
      if (bias) y += bias[j]!;
      out[o + j] = y;
    }
  }
}

export function layerNormBackward(dx: FloatArray, dweight: FloatArray | null, dbias: FloatArray | null, dy: FloatArray,
  x: FloatArray, mean: FloatArray, rstd: FloatArray, weight: FloatArray | null, rows: number, cols: number): void {
  const dw = dweight ? new Float64Array(cols) : null;
  const db = dbias ? new Float64Array(cols) : null;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const m = mean[r]!, rs = rstd[r]!;
    // g = dy * w; dx = rs * (g - mean(g) - xhat * mean(g * xhat))
    let sg = 0, sgx = 0;
    for (let j = 0; j < cols; j++) {
      const xh = (x[o + j]! - m) * rs;
      const g = dy[o + j]! * (weight ? weight[j]! : 1);
      sg += g;
      sgx += g * xh;
      if (dw) dw[j]! += dy[o + j]! * xh;
      if (db) db[j]! += dy[o + j]!;
    }
    sg /= cols;
    sgx /= cols;
    for (let j = 0; j < cols; j++) {
      const xh = (x[o + j]! - m) * rs;
      const g = dy[o + j]! * (weight ? weight[j]! : 1);
      dx[o + j] = rs * (g - sg - xh * sgx);
    }
  }
  if (dweight && dw) dweight.set(dw);
  if (dbias && db) dbias.set(db);
}
