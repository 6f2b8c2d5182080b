/** Row helpers shared by the sparse and linear attention kernels (byte pointers to f32 rows). */

// @ts-ignore: decorator
@inline export function align64(p: usize): usize {
  return (p + 63) & ~(<usize>63);
}

/** Byte address of row i of a [rows, n] block of 4-byte elements at base. */
// @ts-ignore: decorator
@inline export function rowPtr(base: usize, i: i32, n: i32): usize {
  return base + (<usize>(i * n) << 2);
}

/** sum_d x[d] y[d] */
export function dot(x: usize, y: usize, n: i32): f32 {
  let d = 0;
  let vs = f32x4.splat(0);
  for (; d + 4 <= n; d += 4) vs = f32x4.add(vs, f32x4.mul(v128.load(x + (<usize>d << 2)), v128.load(y + (<usize>d << 2))));
  let r = f32x4.extract_lane(vs, 0) + f32x4.extract_lane(vs, 1) + f32x4.extract_lane(vs, 2) + f32x4.extract_lane(vs, 3);
  for (; d < n; d++) r += load<f32>(x + (<usize>d << 2)) * load<f32>(y + (<usize>d << 2));
  return r;
}

/** y[0, n) += a x[0, n). */
export function axpy(y: usize, a: f32, x: usize, n: i32): void {
  const va = f32x4.splat(a);
  let d = 0;
  for (; d + 4 <= n; d += 4) {
    const o = <usize>d << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))));
  }
  for (; d < n; d++) {
    const o = <usize>d << 2;
    store<f32>(y + o, load<f32>(y + o) + a * load<f32>(x + o));
  }
}
