/** LayerNorm over the last `cols` of x [rows, cols] (biased variance), statistics in f64 like the js kernel. */
import { partStart } from "./parts";

/** Rows of part `part` of out, mean, rstd [rows]; weight / bias pointers may be 0 (absent). */
export function layerNorm(out: usize, mean: usize, rstd: usize, x: usize, weight: usize, bias: usize, rows: i32, cols: i32,
  eps: f64, part: i32, parts: i32): void {
  const r1 = partStart(rows, part + 1, parts);
  for (let r = partStart(rows, part, parts); r < r1; r++) {
    const xr = x + (<usize>(r * cols) << 2), yr = out + (<usize>(r * cols) << 2);
    let m: f64 = 0;
    for (let j = 0; j < cols; j++) m += <f64>load<f32>(xr + (<usize>j << 2));
    m /= cols;
    let v: f64 = 0;
    for (let j = 0; j < cols; j++) { const d = <f64>load<f32>(xr + (<usize>j << 2)) - m; v += d * d; }
    v /= cols;
    const rs = 1 / Math.sqrt(v + eps);
    store<f32>(mean + (<usize>r << 2), <f32>m);
    store<f32>(rstd + (<usize>r << 2), <f32>rs);
    for (let j = 0; j < cols; j++) {
      const q = <usize>j << 2;
      let y = (<f64>load<f32>(xr + q) - m) * rs;
      if (weight) y *= <f64>load<f32>(weight + q);
      if (bias) y += <f64>load<f32>(bias + q);
      store<f32>(yr + q, <f32>y);
    }
  }
}

/**
 * Part `part` of the backward: dx for its share of the rows, then dweight / dbias (when not 0) for
 * its share of the columns, each column summed over every row in order (the same sums whatever
 * `parts` is). `work` holds 16 * cols bytes (f64 sums; parts write disjoint columns of it).
 */
export function layerNormBackward(dx: usize, dweight: usize, dbias: usize, dy: usize, x: usize, mean: usize, rstd: usize,
  weight: usize, rows: i32, cols: i32, work: usize, part: i32, parts: i32): void {
  const r1 = partStart(rows, part + 1, parts);
  for (let r = partStart(rows, part, parts); r < r1; r++) {
    const o = <usize>(r * cols) << 2;
    const xr = x + o, gr = dy + o, dr = dx + o;
    const m = <f64>load<f32>(mean + (<usize>r << 2)), rs = <f64>load<f32>(rstd + (<usize>r << 2));
    // g = dy * w; dx = rs * (g - mean(g) - xhat * mean(g * xhat))
    let sg: f64 = 0, sgx: f64 = 0;
    for (let j = 0; j < cols; j++) {
      const q = <usize>j << 2;
      const xh = (<f64>load<f32>(xr + q) - m) * rs;
      const d = <f64>load<f32>(gr + q);
      const g = weight ? d * <f64>load<f32>(weight + q) : d;
      sg += g;
      sgx += g * xh;
    }
    sg /= cols;
    sgx /= cols;
    for (let j = 0; j < cols; j++) {
      const q = <usize>j << 2;
      const xh = (<f64>load<f32>(xr + q) - m) * rs;
      const d = <f64>load<f32>(gr + q);
      const g = weight ? d * <f64>load<f32>(weight + q) : d;
      store<f32>(dr + q, <f32>(rs * (g - sg - xh * sgx)));
    }
  }
  if (!dweight && !dbias) return;
  // dweight[j] = sum_r dy[r, j] xhat[r, j], dbias[j] = sum_r dy[r, j], columns [j0, j1)
  const j0 = partStart(cols, part, parts), j1 = partStart(cols, part + 1, parts);
  const dw = work, db = work + (<usize>cols << 3);
  for (let j = j0; j < j1; j++) {
    store<f64>(dw + (<usize>j << 3), 0);
    store<f64>(db + (<usize>j << 3), 0);
  }
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * cols) << 2;
    const xr = x + o, gr = dy + o;
    const m = <f64>load<f32>(mean + (<usize>r << 2)), rs = <f64>load<f32>(rstd + (<usize>r << 2));
    for (let j = j0; j < j1; j++) {
      const q = <usize>j << 2;
      const d = <f64>load<f32>(gr + q);
      if (dweight) store<f64>(dw + (<usize>j << 3), load<f64>(dw + (<usize>j << 3)) + d * ((<f64>load<f32>(xr + q) - m) * rs));
      if (dbias) store<f64>(db + (<usize>j << 3), load<f64>(db + (<usize>j << 3)) + d);
    }
  }
  for (let j = j0; j < j1; j++) {
    if (dweight) store<f32>(dweight + (<usize>j << 2), <f32>load<f64>(dw + (<usize>j << 3)));
    if (dbias) store<f32>(dbias + (<usize>j << 2), <f32>load<f64>(db + (<usize>j << 3)));
  }
}
