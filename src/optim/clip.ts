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
 *
 * Gradients on a device (a model trained there): `clipGradNormTensor` clips there and returns the
 * total norm as a tensor without waiting for the device; `await clipGradNormAsync(...)` reads it
 * back (one read). The synchronous `clipGradNorm` needs host gradients, since its result is a
 * number. `clipGradValue` works on either.
 */
import { DeviceOpError, ValueError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { clampOnDevice, clipCoefficientOnDevice, clipOnDevice, deviceTotalNorm, scaleByValue } from "./clip-device.js";
import { floatData } from "./optimizer.js";

/** The gradients of the given parameters (those that have one). */
function gradTensors(params: Iterable<Tensor> | Tensor, op: string): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  const out: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ValueError(op, `params[${i}]`, "a Tensor", String(p));
    if (p.grad) out.push(p.grad);
  });
  return out;
}

function gradsOf(params: Iterable<Tensor> | Tensor, op: string, deviceHint: string): (Float32Array | Float64Array)[] {
  return gradTensors(params, op).map((g, i) => {
    if (g.device !== null) throw new DeviceOpError(op, `gradients[${i}]`, g.store!.name, deviceHint);
    return floatData(g);
  });
}

function checkClipArgs(maxNorm: number, normType: number, op: string): void {
  if (typeof maxNorm !== "number" || !(maxNorm >= 0)) throw new ValueError(op, "maxNorm", "a number >= 0", String(maxNorm));
  if (typeof normType !== "number" || !(normType > 0)) throw new ValueError(op, "normType", "a number > 0 or Infinity", String(normType));
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

/** The total `normType`-norm of host gradients (the norm of the per-parameter norms). */
function hostTotalNorm(grads: readonly (Float32Array | Float64Array)[], normType: number): number {
  let total = 0;
  if (normType === Infinity) {
    for (const g of grads) for (let i = 0; i < g.length; i++) total = Math.max(total, Math.abs(g[i]!));
    // a NaN entry makes the max norm NaN, as torch's
    for (const g of grads) for (let i = 0; i < g.length; i++) if (Number.isNaN(g[i]!)) total = NaN;
    return total;
  }
  for (const g of grads) total += normType === 2 ? sumOfSquares(g) : sumOfPowers(g, normType);
  return total ** (1 / normType);
}

/**
 * Scales all gradients together so that their total `normType`-norm is at most `maxNorm`, and
 * returns the total norm before clipping (the norm of the per-parameter norms; `Infinity` for
 * the max norm). The scale is `min(1, maxNorm / (total + 1e-6))`, as PyTorch's. A non-finite
 * total throws with `errorIfNonfinite`, else the gradients are scaled by it as PyTorch does.
 */
export function clipGradNorm(params: Iterable<Tensor> | Tensor, maxNorm: number, normType = 2, opts: { errorIfNonfinite?: boolean } = {}): number {
  const op = "clipGradNorm";
  checkClipArgs(maxNorm, normType, op);
  const grads = gradsOf(params, op, "a number needs a read: clipGradNormTensor, or await clipGradNormAsync");
  if (grads.length === 0) return 0;
  const total = hostTotalNorm(grads, normType);
  if (opts.errorIfNonfinite && !Number.isFinite(total)) {
    throw new ValueError(op, "gradients", "a finite total norm (errorIfNonfinite)", String(total));
  }
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef !== 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  return total;
}

/**
 * clipGradNorm for gradients on a device or on the host: clips them where they live and returns
 * the total norm before clipping as a [] tensor there (float32 on a device, whose scale is computed
 * there in float32; nothing is read back). Host gradients give clipGradNorm's result as a float64
 * tensor. The max norm (Infinity) on a device throws DeviceOpError (no max reduction there yet).
 */
export function clipGradNormTensor(params: Iterable<Tensor> | Tensor, maxNorm: number, normType = 2): Tensor {
  const op = "clipGradNormTensor";
  checkClipArgs(maxNorm, normType, op);
  const grads = gradTensors(params, op);
  if (!grads.some((g) => g.device !== null)) return new Tensor(Float64Array.of(clipGradNorm(params, maxNorm, normType)), [], "float64");
  return clipOnDevice(grads, maxNorm, normType, op);
}

/**
 * The clipping without touching the gradients: their total norm and the coefficient
 * min(1, maxNorm / (norm + 1e-6)) that clipGradNorm would scale them by, as [] tensors where the
 * gradients are (float32 on a device, computed there without a read; float64 on the host). Pass
 * `coef` to `Optimizer.step({ gradScale: coef })`: the update then reads each gradient scaled,
 * the same numbers as clipping first, without a pass over the gradients (fit does this on a device).
 */
export function clipCoefficientTensor(params: Iterable<Tensor> | Tensor, maxNorm: number, normType = 2): { norm: Tensor; coef: Tensor } {
  const op = "clipCoefficientTensor";
  checkClipArgs(maxNorm, normType, op);
  const grads = gradTensors(params, op);
  if (grads.some((g) => g.device !== null)) {
    const { total, coef } = clipCoefficientOnDevice(grads, maxNorm, normType, op);
    return { norm: total, coef };
  }
  const total = grads.length === 0 ? 0 : hostTotalNorm(grads.map((g) => floatData(g)), normType);
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  return { norm: new Tensor(Float64Array.of(total), [], "float64"), coef: new Tensor(Float64Array.of(coef), [], "float64") };
}

/**
 * clipGradNorm for gradients on a device: the total norm is reduced there and read back (one
 * read), checked (`errorIfNonfinite`), and the scale `min(1, maxNorm / (total + 1e-6))` applied
 * there. Host gradients: clipGradNorm.
 */
export async function clipGradNormAsync(params: Iterable<Tensor> | Tensor, maxNorm: number, normType = 2, opts: { errorIfNonfinite?: boolean } = {}): Promise<number> {
  const op = "clipGradNormAsync";
  checkClipArgs(maxNorm, normType, op);
  const grads = gradTensors(params, op);
  if (!grads.some((g) => g.device !== null)) return clipGradNorm(params, maxNorm, normType, opts);
  const total = (await deviceTotalNorm(grads, normType, op).read())[0]!;
  if (opts.errorIfNonfinite && !Number.isFinite(total)) {
    throw new ValueError(op, "gradients", "a finite total norm (errorIfNonfinite)", String(total));
  }
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef !== 1) scaleByValue(grads, coef);
  return total;
}

/** Clamps every gradient entry into `[-clipValue, clipValue]` (in place, on the host or on a device). */
export function clipGradValue(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  if (typeof clipValue !== "number" || !(clipValue >= 0)) throw new ValueError("clipGradValue", "clipValue", "a number >= 0", String(clipValue));
  const all = gradTensors(params, "clipGradValue");
  if (all.some((g) => g.device !== null)) {
    clampOnDevice(all, clipValue, "clipGradValue");
    return;
  }
  for (const t of all) {
    const g = floatData(t);
    for (let i = 0; i < g.length; i++) g[i] = Math.min(clipValue, Math.max(-clipValue, g[i]!));
  }
}
