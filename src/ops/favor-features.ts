/**
 * FAVOR+ positive random features (Performer) as one op, so that a call holds one [..., N, m]
 * buffer instead of a chain of autograd temporaries of that size:
 *
 *   logits = sqrt(s) x Ωᵀ − (s / 2) ‖x‖²,   phi = exp(logits − stab) / sqrt(m)
 *
 * x [..., N, D], omega [m, D] (random features, no gradient) -> phi [..., N, m]. `stab` is the
 * logits' max per row (queries) or per [N, m] matrix (keys), held constant: it cancels in the
 * attention's normalization. Backward, with dl = g ⊙ phi:  dx = sqrt(s) dl Ω − s x ⊙ rowsum(dl).
 * Public entry: attention/performer.ts.
 *
 * On a device backend the same steps run as device kernels (favorFeaturesOnDevice): the squared
 * norms as a product with (s / 2)·ones, and the stabilizer's max as one max reduction along the span
 * (Backend.extreme), so phi is the host's up to float32 rounding.
 *
 * ```ts
 * const fq = favorFeaturesOp(q, omega, 1 / Math.sqrt(D), true); // [B, H, L, m]
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { AnyBackend, KernelArray } from "../backend/backend.js";
import type { DeviceBackend } from "../backend/tensor-arrays.js";
import type { DeviceArray } from "../tensor/device.js";
import { allocate, type FloatArray, type FloatDType } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { arrayOf, backendFor, empty, emptyOn, fdata, filledArray, fullOn, kernelsFor } from "./util.js";

export function favorFeaturesOp(x: Tensor, omega: Tensor, scale: number, perRow: boolean): Tensor {
  const dev = kernelsFor(x.dtype);
  if (dev.kind === "device") return favorFeaturesOnDevice(dev, x, omega, scale, perRow);
  const m = omega.shape[0]!, D = omega.shape[1]!;
  const N = x.shape[x.rank - 2]!, rows = x.size / D;
  const dtype = x.dtype as FloatDType;
  const be = backendFor(dtype);
  const xd = fdata(x), wd = fdata(omega);
  const out = empty([...x.shape.slice(0, -1), m], dtype);
  const od = fdata(out); // [rows, m]
  if (rows === 0 || m === 0) return attach(out, "favorFeatures", [x], () => [empty(x.shape, dtype)]);
  const rs = Math.sqrt(scale);
  const ws = allocate(dtype, m * D) as FloatArray; // sqrt(s) Ω, [m, D]: small next to [rows, m]
  for (let t = 0; t < m * D; t++) ws[t] = rs * wd[t]!;
  be.matmul(od, xd, ws, 1, rows, m, D, false, true, 0, 0, false); // sqrt(s) x Ωᵀ
  const half = allocate(dtype, rows) as FloatArray; // (s / 2) ‖x_r‖²
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let d = r * D; d < (r + 1) * D; d++) acc += xd[d]! * xd[d]!;
    half[r] = 0.5 * scale * acc;
  }
  be.binary("sub", od, od, half, [rows, m], [m, 1], [1, 0]); // logits
  // stab + log(sqrt(m)), per row or per matrix (folds the 1 / sqrt(m) into the exponent)
  const span = perRow ? m : N * m, blocks = (rows * m) / span;
  const stab = allocate(dtype, blocks) as FloatArray;
  const logRootM = 0.5 * Math.log(m);
  for (let b = 0; b < blocks; b++) {
    let mx = -Infinity;
    for (let t = b * span; t < (b + 1) * span; t++) if (od[t]! > mx) mx = od[t]!;
    stab[b] = mx + logRootM;
  }
  be.binary("sub", od, od, stab, [blocks, span], [span, 1], [1, 0]);
  be.unary("exp", od, od, rows * m, 0); // phi
  return attach(out, "favorFeatures", [x], (g) => {
    const dl = allocate(dtype, rows * m) as FloatArray;
    be.binary("mul", dl, fdata(g), od, [rows * m], [1], [1]); // g ⊙ phi
    const dx = empty(x.shape, dtype);
    const dxd = fdata(dx);
    be.matmul(dxd, dl, ws, 1, rows, D, m, false, false, 0, 0, false); // sqrt(s) dl Ω  [rows, D]
    for (let r = 0; r < rows; r++) {
      let sr = 0;
      for (let j = r * m; j < (r + 1) * m; j++) sr += dl[j]!;
      const c = scale * sr;
      for (let d = r * D; d < (r + 1) * D; d++) dxd[d] = dxd[d]! - c * xd[d]!;
    }
    return [dx];
  });
}

/** Gives device temporaries back to their pool. */
function release(be: AnyBackend, ...arrays: KernelArray[]): void {
  for (const a of arrays) (be as DeviceBackend).release(a as DeviceArray);
}

/** The max of each row of x [blocks, span] (span >= 1) in a new array [blocks]: one max reduction (exact). */
function rowMax(be: AnyBackend, x: KernelArray, blocks: number, span: number): KernelArray {
  const values = be.alloc(blocks), indices = be.alloc(blocks);
  be.extreme(values, indices, x, blocks, span, 1, "max");
  release(be, indices);
  return values;
}

/** favorFeaturesOp on a device backend: the host path's steps as device kernels. */
function favorFeaturesOnDevice(be: AnyBackend, x: Tensor, omega: Tensor, scale: number, perRow: boolean): Tensor {
  const m = omega.shape[0]!, D = omega.shape[1]!;
  const N = x.shape[x.rank - 2]!, rows = x.size / D;
  const dtype = "float32";
  const out = emptyOn(be, [...x.shape.slice(0, -1), m], dtype);
  if (rows === 0 || m === 0) return attach(out, "favorFeatures", [x], () => [fullOn(be, x.shape, dtype, 0)]);
  const xa = arrayOf(x, be), od = arrayOf(out, be); // [rows, D], [rows, m]
  const ws = be.alloc(m * D); // sqrt(s) Ω [m, D]
  be.binary("mul", ws, arrayOf(omega, be), filledArray(be, dtype, 1, Math.sqrt(scale)), [m * D], [1], [0]);
  be.matmul(od, xa, ws, 1, rows, m, D, false, true, 0, 0, false); // sqrt(s) x Ωᵀ
  const sq = be.alloc(rows * D), half = be.alloc(rows);
  be.binary("mul", sq, xa, xa, [rows * D], [1], [1]);
  be.matmul(half, sq, filledArray(be, dtype, D, 0.5 * scale), 1, rows, 1, D, false, false, 0, 0, false); // (s / 2) ‖x_r‖² [rows, 1]
  be.binary("sub", od, od, half, [rows, m], [m, 1], [1, 0]); // logits
  const span = perRow ? m : N * m, blocks = (rows * m) / span;
  const stab = rowMax(be, od, blocks, span); // [blocks]
  be.binary("add", stab, stab, filledArray(be, dtype, 1, 0.5 * Math.log(m)), [blocks], [1], [0]);
  be.binary("sub", od, od, stab, [blocks, span], [span, 1], [1, 0]);
  be.unary("exp", od, od, rows * m, 0); // phi
  release(be, sq, half, stab);
  return attach(out, "favorFeatures", [x], (g) => {
    const dl = be.alloc(rows * m), rsum = be.alloc(rows), t = be.alloc(rows * D);
    be.binary("mul", dl, arrayOf(g, be), od, [rows * m], [1], [1]); // g ⊙ phi
    const dx = emptyOn(be, x.shape, dtype);
    const dxa = arrayOf(dx, be);
    be.matmul(dxa, dl, ws, 1, rows, D, m, false, false, 0, 0, false); // sqrt(s) dl Ω  [rows, D]
    be.matmul(rsum, dl, filledArray(be, dtype, m, scale), 1, rows, 1, m, false, false, 0, 0, false); // s rowsum(dl) [rows, 1]
    const xg = arrayOf(x, be);
    be.binary("mul", t, xg, rsum, [rows, D], [D, 1], [1, 0]);
    be.binary("sub", dxa, dxa, t, [rows * D], [1], [1]);
    release(be, dl, rsum, t);
    return [dx];
  });
}
