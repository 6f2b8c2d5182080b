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
 * ```ts
 * const fq = favorFeaturesOp(q, omega, 1 / Math.sqrt(D), true); // [B, H, L, m]
 * ```
 */
import { attach } from "../autograd/graph.js";
import { allocate, type FloatArray, type FloatDType } from "../tensor/dtype.js";
import type { Tensor } from "../tensor/tensor.js";
import { backendFor, empty, expectHost, fdata } from "./util.js";

export function favorFeaturesOp(x: Tensor, omega: Tensor, scale: number, perRow: boolean): Tensor {
  expectHost(x, "x", "favorFeatures");
  expectHost(omega, "omega", "favorFeatures");
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
