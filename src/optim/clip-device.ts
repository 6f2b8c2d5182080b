/**
 * Gradient clipping of gradients on a device, with the backend's kernels in float32: the total
 * norm is a device reduction (the gradients' sums of squares, SumOfSquares where the backend has
 * it, else a dot product of each gradient with itself; or |g|^p dotted with ones; accumulated into
 * one element), the scale `min(1, maxNorm / (total + 1e-6))` is computed there too, and the
 * gradients are scaled in place (ScaleArrays where the backend has it): no value comes back to
 * the host, so a training step does not wait for the device here (clip.ts's `clipGradNormTensor` returns the norm as a tensor,
 * `clipGradNormAsync` reads it).
 *
 * ```ts
 * const total = deviceTotalNorm(grads, 2);        // [] on the device
 * scaleToNorm(grads, total, 1);                   // g *= min(1, 1 / (total + 1e-6))
 * clipOnDevice(grads, 1, 2, "fit");               // both (webgpu: the norm and scale in one kernel)
 * ```
 */
import type { AnyBackend, KernelArray, ScaleArrays, SumOfSquares } from "../backend/backend.js";
import { arrayOf, backendOf, emptyOn, filledArray, fullOn } from "../backend/tensor-arrays.js";
import type { DeviceStore } from "../tensor/device.js";
import { DeviceOpError, ValueError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";

type Store = DeviceStore<KernelArray & { length: number }>;

/** The backend every gradient lives on (a device backend); host and device gradients do not mix. */
export function deviceOf(grads: readonly Tensor[], op: string): AnyBackend {
  const be = backendOf(grads[0]!);
  grads.forEach((g, i) => {
    if (g.device === null || backendOf(g) !== be) {
      throw new ValueError(op, `gradients[${i}]`, `a gradient on the ${be.name} device (as the first)`, g.device === null ? "a host gradient" : `one on ${g.store!.name}`);
    }
  });
  return be;
}

/** A one-element array holding v; `scratch` collects it for release. */
function scalarOn(be: AnyBackend, v: number, scratch: KernelArray[]): KernelArray {
  const a = filledArray(be, "float32", 1, v); // filled on the device where it can (no upload)
  scratch.push(a);
  return a;
}

function releaseAll(be: AnyBackend, scratch: KernelArray[]): void {
  for (const a of scratch) (be as unknown as Store).release(a);
}

/**
 * The total `normType`-norm of the gradients, as a float32 [] tensor on their device: sum over
 * every gradient of g·g (normType 2) or of |g|^p · 1, then the p-th root. The max norm
 * (Infinity) needs a max reduction, which has no device kernel yet.
 */
export function deviceTotalNorm(grads: readonly Tensor[], normType: number, op: string): Tensor {
  const be = deviceOf(grads, op);
  if (normType === Infinity) throw new DeviceOpError(op, "normType", be.name, "the max norm needs a max reduction");
  const live = grads.filter((g) => g.size > 0);
  // the backend's own reduction where it has one (webgpu: all gradients in a few dispatches)
  const sq = be as Partial<SumOfSquares>;
  if (normType === 2 && typeof sq.sumOfSquares === "function") {
    const total = emptyOn(be, [], "float32"), acc = arrayOf(total, be);
    sq.sumOfSquares(acc, live.map((g) => arrayOf(g, be)), live.map((g) => g.size), false);
    be.unary("sqrt", acc, acc, 1, 0);
    return total;
  }
  const total = fullOn(be, [], "float32", 0);
  const acc = arrayOf(total, be);
  const scratch: KernelArray[] = [];
  for (const g of live) {
    const n = g.size, G = arrayOf(g, be);
    if (normType === 2) {
      be.matmul(acc, G, G, 1, 1, 1, n, false, false, 0, 0, true); // [1, n] @ [n, 1]: sum of g²
      continue;
    }
    const t = be.alloc(n), ones = filledArray(be, "float32", n, 1);
    scratch.push(t, ones);
    be.unary("abs", t, G, n, 0);
    be.binary("pow", t, t, scalarOn(be, normType, scratch), [n], [1], [0]);
    be.matmul(acc, t, ones, 1, 1, 1, n, false, false, 0, 0, true);
  }
  if (normType === 2) be.unary("sqrt", acc, acc, 1, 0);
  else if (normType !== 1) be.binary("pow", acc, acc, scalarOn(be, 1 / normType, scratch), [1], [1], [0]);
  releaseAll(be, scratch);
  return total;
}

/**
 * Clips the gradients (all on one device) in place to the total `normType`-norm maxNorm: scaled by
 * min(1, maxNorm / (total + 1e-6)), computed there (as `clipCoefficientOnDevice`). Returns the
 * total norm before clipping, a float32 [] tensor on the device.
 */
export function clipOnDevice(grads: readonly Tensor[], maxNorm: number, normType: number, op: string): Tensor {
  const be = deviceOf(grads, op), coef = be.alloc(1);
  const total = normAndCoefficient(be, grads, maxNorm, normType, op, coef);
  scaleBy(be, grads, coef);
  releaseAll(be, [coef]);
  return total;
}

/**
 * The total `normType`-norm of the gradients (all on one device) and the clipping's coefficient
 * min(1, maxNorm / (total + 1e-6)), both float32 [] tensors there; the gradients are not touched
 * (Optimizer.step's gradScale takes the coefficient).
 */
export function clipCoefficientOnDevice(grads: readonly Tensor[], maxNorm: number, normType: number, op: string): { total: Tensor; coef: Tensor } {
  const be = deviceOf(grads, op);
  const coef = emptyOn(be, [], "float32");
  return { total: normAndCoefficient(be, grads, maxNorm, normType, op, arrayOf(coef, be)), coef };
}

/**
 * The total norm (returned, a [] tensor) and the coefficient (written to `coef`): the 2-norm with
 * the backend's SumOfSquares in one kernel after the partial sums (SumOfSquares.clipNorm);
 * otherwise `deviceTotalNorm`, then three one-element kernels.
 */
function normAndCoefficient(be: AnyBackend, grads: readonly Tensor[], maxNorm: number, normType: number, op: string, coef: KernelArray): Tensor {
  const sq = be as Partial<SumOfSquares>;
  if (normType !== 2 || typeof sq.clipNorm !== "function") {
    const total = deviceTotalNorm(grads, normType, op);
    coefficientInto(be, coef, total, maxNorm);
    return total;
  }
  const live = grads.filter((g) => g.size > 0);
  const total = emptyOn(be, [], "float32");
  sq.clipNorm(arrayOf(total, be), coef, live.map((g) => arrayOf(g, be)), live.map((g) => g.size), maxNorm);
  return total;
}

/** coef[0] = min(1, maxNorm / (total + 1e-6)), on total's device. */
function coefficientInto(be: AnyBackend, coef: KernelArray, total: Tensor, maxNorm: number): void {
  const scratch: KernelArray[] = [];
  be.binary("add", coef, arrayOf(total, be), scalarOn(be, 1e-6, scratch), [1], [1], [1]);
  be.binary("div", coef, scalarOn(be, maxNorm, scratch), coef, [1], [1], [1]);
  be.binary("minimum", coef, coef, scalarOn(be, 1, scratch), [1], [1], [1]);
  releaseAll(be, scratch);
}

/** Scales every gradient in place by min(1, maxNorm / (total + 1e-6)), computed on the device. */
export function scaleToNorm(grads: readonly Tensor[], total: Tensor, maxNorm: number): void {
  const be = backendOf(total), coef = be.alloc(1);
  coefficientInto(be, coef, total, maxNorm);
  scaleBy(be, grads, coef);
  releaseAll(be, [coef]);
}

/** Multiplies every gradient (all on one device) in place by `coef`. */
export function scaleByValue(grads: readonly Tensor[], coef: number): void {
  const be = backendOf(grads[0]!), scratch: KernelArray[] = [];
  scaleBy(be, grads, scalarOn(be, coef, scratch));
  releaseAll(be, scratch);
}

/** Multiplies every gradient (all on one device) in place by the one-element float32 tensor `coef` there. */
export function scaleGradsBy(grads: readonly Tensor[], coef: Tensor): void {
  if (grads.length === 0) return;
  const be = backendOf(coef);
  scaleBy(be, grads, arrayOf(coef, be));
}

/**
 * Multiplies every gradient in place by the one-element array `s` (broadcast): all at once where
 * the backend can (ScaleArrays), else a binary "mul" each.
 */
function scaleBy(be: AnyBackend, grads: readonly Tensor[], s: KernelArray): void {
  const live = grads.filter((g) => g.size > 0);
  const many = be as Partial<ScaleArrays>;
  if (typeof many.scaleArrays === "function") many.scaleArrays(live.map((g) => arrayOf(g, be)), live.map((g) => g.size), s);
  else {
    for (const g of live) {
      const G = arrayOf(g, be);
      be.binary("mul", G, G, s, [g.size], [1], [0]);
    }
  }
  for (const g of live) g.deviceWritten();
}

/** Clamps every gradient in place into [-clipValue, clipValue]. */
export function clampOnDevice(grads: readonly Tensor[], clipValue: number, op: string): void {
  const be = deviceOf(grads, op), scratch: KernelArray[] = [];
  const lo = scalarOn(be, -clipValue, scratch), hi = scalarOn(be, clipValue, scratch);
  for (const g of grads) {
    if (g.size === 0) continue;
    const G = arrayOf(g, be);
    be.binary("maximum", G, G, lo, [g.size], [1], [0]);
    be.binary("minimum", G, G, hi, [g.size], [1], [0]);
    g.deviceWritten();
  }
  releaseAll(be, scratch);
}
