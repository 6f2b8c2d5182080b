/**
 * Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_: in place on `.grad`
 * of the given parameters (parameters without a gradient are skipped).
 *
 * ```ts
 * backward(loss);
 * const norm = clipGradNorm(model.parameters(), 1.0); // total 2-norm before clipping
 * clipGradValue(model.parameters(), 0.5);              // every entry into [-0.5, 0.5]
 * opt.step();
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { floatData } from "./optimizer.js";

function gradsOf(params: Iterable<Tensor> | Tensor, op: string): (Float32Array | Float64Array)[] {
  const list = params instanceof Tensor ? [params] : [...params];
  const out: (Float32Array | Float64Array)[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ValueError(op, `params[${i}]`, "a Tensor", String(p));
    if (p.grad) out.push(floatData(p.grad));
  });
  return out;
}

// one loop per array type, so that each stays monomorphic (the common case is float32)
function sumOfSquares(g: Float32Array | Float64Array): number {
  return g instanceof Float32Array ? squares32(g) : squares64(g);
}
function squares32(g: Float32Array): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return s;
}
function squares64(g: Float64Array): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return s;
}
function sumOfPowers(g: Float32Array | Float64Array, normType: number): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += Math.abs(g[i]!) ** normType;
  return s;
}

/**
 * Scales all gradients together so that their total `normType`-norm is at most `maxNorm`, and
 * returns the total norm before clipping (the norm of the per-parameter norms; `Infinity` for
 * the max norm). The scale is `min(1, maxNorm / (total + 1e-6))`, as PyTorch's. A non-finite
 * total throws with `errorIfNonfinite`, else the gradients are scaled by it as PyTorch does.
 */
export function clipGradNorm(params: Iterable<Tensor> | Tensor, maxNorm: number, normType = 2, opts: { errorIfNonfinite?: boolean } = {}): number {
  const op = "clipGradNorm";
  if (typeof maxNorm !== "number" || !(maxNorm >= 0)) throw new ValueError(op, "maxNorm", "a number >= 0", String(maxNorm));
  if (typeof normType !== "number" || !(normType > 0)) throw new ValueError(op, "normType", "a number > 0 or Infinity", String(normType));
  const grads = gradsOf(params, op);
  if (grads.length === 0) return 0;
  let total = 0;
  if (normType === Infinity) {
    for (const g of grads) for (let i = 0; i < g.length; i++) total = Math.max(total, Math.abs(g[i]!));
    // a NaN entry makes the max norm NaN, as torch's
    for (const g of grads) for (let i = 0; i < g.length; i++) if (Number.isNaN(g[i]!)) total = NaN;
  } else {
    for (const g of grads) total += normType === 2 ? sumOfSquares(g) : sumOfPowers(g, normType);
    total = total ** (1 / normType);
  }
  if (opts.errorIfNonfinite && !Number.isFinite(total)) {
    throw new ValueError(op, "gradients", "a finite total norm (errorIfNonfinite)", String(total));
  }
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef !== 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  return total;
}

/** Clamps every gradient entry into `[-clipValue, clipValue]`. */
export function clipGradValue(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  if (typeof clipValue !== "number" || !(clipValue >= 0)) throw new ValueError("clipGradValue", "clipValue", "a number >= 0", String(clipValue));
  for (const g of gradsOf(params, "clipGradValue")) {
    for (let i = 0; i < g.length; i++) g[i] = Math.min(clipValue, Math.max(-clipValue, g[i]!));
  }
}
