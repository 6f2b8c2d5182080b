/** LayerNorm over the last `cols` of x [rows, cols] (biased variance), statistics in f64 like the js kernel. */

/** weight / bias pointers may be 0 (absent). */
export function layerNorm(out: usize, mean: usize, rstd: usize, x: usize, weight: usize, bias: usize, rows: i32, cols: i32,
  eps: f64): void {
  for (let r = 0; r < rows; r++) {
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

/** Writes dx, and dweight / dbias when not 0; `work` holds 16 * cols bytes (f64 sums). */
export function layerNormBackward(dx: usize, dweight: usize, dbias: usize, dy: usize, x: usize, mean: usize, rstd: usize,
  weight: usize, rows: i32, cols: i32, work: usize): void {
  const dw = work, db = work + (<usize>cols << 3);
  memory.fill(work, 0, <usize>cols << 4);
  for (let r = 0; r < rows; r++) {
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
      if (dweight) store<f64>(dw + (<usize>j << 3), load<f64>(dw + (<usize>j << 3)) + d * xh);
      if (dbias) store<f64>(db + (<usize>j << 3), load<f64>(db + (<usize>j << 3)) + d);
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
  if (dweight) for (let j = 0; j < cols; j++) store<f32>(dweight + (<usize>j << 2), <f32>load<f64>(dw + (<usize>j << 3)));
  if (dbias) for (let j = 0; j < cols; j++) store<f32>(dbias + (<usize>j << 2), <f32>load<f64>(db + (<usize>j << 3)));
}
