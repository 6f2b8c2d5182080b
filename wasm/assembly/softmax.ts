/** Row-wise softmax / log-softmax of x [rows, cols] and its backward, on f32x4 with a vector exp. */
import { expv, exps, hmax, hsum } from "./simd-math";
import { partStart } from "./parts";

/** Largest value of x[0, n). */
export function rowMax(x: usize, n: i32): f32 {
  let j = 0;
  let m: f32 = -Infinity;
  if (n >= 4) {
    let vm = f32x4.splat(-Infinity);
    for (; j + 4 <= n; j += 4) vm = f32x4.max(vm, v128.load(x + (<usize>j << 2)));
    m = hmax(vm);
  }
  for (; j < n; j++) m = max(m, load<f32>(x + (<usize>j << 2)));
  return m;
}

/** out[j] = exp(x[j] - m) for j < n; returns their sum (out may be x). */
export function expShiftSum(out: usize, x: usize, n: i32, m: f32): f32 {
  let j = 0;
  const vm = f32x4.splat(m);
  let vs = f32x4.splat(0);
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    const e = expv(f32x4.sub(v128.load(x + o), vm));
    v128.store(out + o, e);
    vs = f32x4.add(vs, e);
  }
  let s = hsum(vs);
  for (; j < n; j++) {
    const o = <usize>j << 2;
    const e = exps(load<f32>(x + o) - m);
    store<f32>(out + o, e);
    s += e;
  }
  return s;
}

/** x[j] *= c for j < n. */
export function scaleRow(x: usize, n: i32, c: f32): void {
  let j = 0;
  const vc = f32x4.splat(c);
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), vc));
  }
  for (; j < n; j++) store<f32>(x + (<usize>j << 2), load<f32>(x + (<usize>j << 2)) * c);
}

/** Rows [partStart(rows, part), partStart(rows, part + 1)) of out = softmax(x) (log-softmax when `log`). */
export function softmax(out: usize, x: usize, rows: i32, cols: i32, log: bool, part: i32, parts: i32): void {
  const r1 = partStart(rows, part + 1, parts);
  for (let r = partStart(rows, part, parts); r < r1; r++) {
    const o = <usize>(r * cols) << 2;
    const xr = x + o, yr = out + o;
    const m = rowMax(xr, cols);
    if (m == -Infinity) {
      // every entry masked: softmax gives 0 (never NaN), log-softmax -Infinity
      for (let j = 0; j < cols; j++) store<f32>(yr + (<usize>j << 2), log ? -Infinity : 0);
      continue;
    }
    if (log) {
      // exp into out as scratch, then out = x - lse
      const s = expShiftSum(yr, xr, cols, m);
      const lse = <f32>(<f64>m + Math.log(<f64>s));
      let j = 0;
      const vl = f32x4.splat(lse);
      for (; j + 4 <= cols; j += 4) v128.store(yr + (<usize>j << 2), f32x4.sub(v128.load(xr + (<usize>j << 2)), vl));
      for (; j < cols; j++) store<f32>(yr + (<usize>j << 2), load<f32>(xr + (<usize>j << 2)) - lse);
    } else {
      const s = expShiftSum(yr, xr, cols, m);
      scaleRow(yr, cols, <f32>(1 / <f64>s));
    }
  }
}

/** Rows of part `part` of dx from y = softmax(x) (or log-softmax) and dy. */
export function softmaxBackward(dx: usize, y: usize, dy: usize, rows: i32, cols: i32, log: bool, part: i32, parts: i32): void {
  const r1 = partStart(rows, part + 1, parts);
  for (let r = partStart(rows, part, parts); r < r1; r++) {
    const o = <usize>(r * cols) << 2;
    const yr = y + o, gr = dy + o, xr = dx + o;
    let j = 0;
    let vs = f32x4.splat(0);
    if (log) {
      // dx = dy - softmax * sum(dy); masked entries (y = -Infinity) get 0
      for (; j + 4 <= cols; j += 4) vs = f32x4.add(vs, v128.load(gr + (<usize>j << 2)));
      let s = hsum(vs);
      for (; j < cols; j++) s += load<f32>(gr + (<usize>j << 2));
      const sv = f32x4.splat(s);
      j = 0;
      for (; j + 4 <= cols; j += 4) {
        const q = <usize>j << 2;
        const yv = v128.load(yr + q);
        const d = f32x4.sub(v128.load(gr + q), f32x4.mul(expv(yv), sv));
        v128.store(xr + q, v128.andnot(d, f32x4.eq(yv, f32x4.splat(-Infinity))));
      }
      for (; j < cols; j++) {
        const q = <usize>j << 2;
        const yj = load<f32>(yr + q);
        store<f32>(xr + q, yj == -Infinity ? 0 : load<f32>(gr + q) - exps(yj) * s);
      }
    } else {
      // dx = y * (dy - sum(y * dy))
      for (; j + 4 <= cols; j += 4) {
        const q = <usize>j << 2;
        vs = f32x4.add(vs, f32x4.mul(v128.load(yr + q), v128.load(gr + q)));
      }
      let s = hsum(vs);
      for (; j < cols; j++) s += load<f32>(yr + (<usize>j << 2)) * load<f32>(gr + (<usize>j << 2));
      const sv = f32x4.splat(s);
      j = 0;
      for (; j + 4 <= cols; j += 4) {
        const q = <usize>j << 2;
        v128.store(xr + q, f32x4.mul(v128.load(yr + q), f32x4.sub(v128.load(gr + q), sv)));
      }
      for (; j < cols; j++) {
        const q = <usize>j << 2;
        store<f32>(xr + q, load<f32>(yr + q) * (load<f32>(gr + q) - s));
      }
    }
  }
}
