/** Shared plumbing of the op layer: making outputs, picking the backend, reducing broadcast grads. */
import type { Backend } from "../backend/backend.js";
import { arrayOf, backendOf, emptyOn, filledArray, fullOn, hostKernelsFor, kernelsFor, onesArray } from "../backend/tensor-arrays.js";
import { allocate, allocateUninit, type DType, type FloatArray, type FloatDType } from "../tensor/dtype.js";
import { DTypeError, ValueError } from "../tensor/errors.js";
import { numel, sameShape, stridesOf, type Shape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";

/** A fresh output tensor. */
export function empty(shape: Shape, dtype: DType): Tensor {
  return new Tensor(allocate(dtype, numel(shape)), shape, dtype);
}

/** A fresh output tensor whose contents are unspecified: only for outputs a kernel writes in full. */
export function emptyUninit(shape: Shape, dtype: DType): Tensor {
  return new Tensor(allocateUninit(dtype, numel(shape)), shape, dtype);
}

/** The float data of a float tensor (callers have checked the dtype). */
export function fdata(t: Tensor): FloatArray {
  return t.data as FloatArray;
}

/**
 * The host backend of `dtype` for ops that work on host arrays: float64 on the reference
 * kernels, float32 on the active backend (or, while a device backend is active, the fastest host
 * one). Ops that run on either kind use `kernelsFor` and `arrayOf` (backend/tensor-arrays.ts).
 */
export function backendFor(dtype: DType): Backend {
  return hostKernelsFor(dtype);
}

export { arrayOf, backendOf, emptyOn, filledArray, fullOn, kernelsFor, onesArray };

/** Throws unless `t` is float32 or float64; returns the dtype. */
export function floatOf(t: Tensor, arg: string, op: string): FloatDType {
  if (t.dtype !== "float32" && t.dtype !== "float64") throw new DTypeError(op, arg, "float32 or float64", t.dtype);
  return t.dtype;
}

/** Throws unless a and b share a float dtype. */
export function sameFloat(a: Tensor, b: Tensor, argA: string, argB: string, op: string): FloatDType {
  const d = floatOf(a, argA, op);
  if (b.dtype !== d) throw new DTypeError(op, argB, `${d} (the dtype of ${argA})`, b.dtype);
  return d;
}

/** A scalar tensor of `dtype`. */
export function scalar(value: number, dtype: DType): Tensor {
  const d = allocate(dtype, 1);
  d[0] = value;
  return new Tensor(d, [], dtype);
}

/** Sums a broadcast gradient back down to `shape` (NumPy broadcasting in reverse). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const cols = trailingCols(g.shape, shape);
  if (cols !== null && g.size > 0) {
    // shape is g's trailing dims behind broadcast ones: column sums of g as [R, cols], on the
    // backend (ones[1, R] @ g[R, cols], each column summed over the rows in order)
    const be = g.device !== null ? backendOf(g) : backendFor(g.dtype);
    const out = emptyOn(be, shape, g.dtype);
    const R = g.size / cols;
    const ones = onesArray(be, g.dtype, R);
    be.matmul(arrayOf(out, be), ones, arrayOf(g, be), 1, 1, cols, R, false, false, 0, 0, false);
    return out;
  }
  if (g.device !== null) return sumToShapeOnDevice(g, shape);
  const out = empty(shape, g.dtype);
  const od = fdata(out), gd = fdata(g);
  const rank = g.shape.length;
  const off = rank - shape.length;
  // stride of each g dim into out (0 where out broadcasts)
  const st = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d + off] = shape[d] === 1 ? 0 : acc;
    acc *= shape[d]!;
  }
  const idx = new Array<number>(rank).fill(0);
  let po = 0;
  for (let i = 0; i < gd.length; i++) {
    od[po]! += gd[i]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      po += st[d]!;
      if (idx[d]! < g.shape[d]!) break;
      po -= st[d]! * g.shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * sumToShape of a device tensor: g's dims that `shape` broadcasts (missing or 1) are moved last
 * by one strided copy, then summed by a matrix-vector product with ones. g [..gShape] -> [..shape]
 */
function sumToShapeOnDevice(g: Tensor, shape: Shape): Tensor {
  const be = backendOf(g);
  const rank = g.shape.length, off = rank - shape.length;
  const keep: number[] = [], red: number[] = [];
  for (let d = 0; d < rank; d++) (d < off || (shape[d - off] === 1 && g.shape[d] !== 1) ? red : keep).push(d);
  const st = stridesOf(g.shape), order = [...keep, ...red];
  const n = numel(red.map((d) => g.shape[d]!)), R = numel(shape);
  if (n === 0 || R === 0) return fullOn(be, shape, g.dtype, 0);
  const moved = be.alloc(g.size); // [R, n]
  be.stridedCopy(moved, arrayOf(g, be), order.map((d) => g.shape[d]!), order.map((d) => st[d]!));
  const out = emptyOn(be, shape, g.dtype);
  be.matmul(arrayOf(out, be), moved, onesArray(be, g.dtype, n), 1, R, 1, n, false, false, 0, 0, false); // [R, n] @ [n, 1]
  (g.store as unknown as { release(a: unknown): void }).release(moved);
  return out;
}

/**
 * When `shape` keeps only trailing dims of `gShape` (the rest broadcast: missing or 1), the
 * number of elements of those trailing dims; else null.
 */
function trailingCols(gShape: Shape, shape: Shape): number | null {
  const off = gShape.length - shape.length;
  if (off < 0) return null;
  let k = gShape.length; // the first kept dim of gShape
  while (k > off && shape[k - 1 - off] === gShape[k - 1]) k--;
  for (let d = off; d < k; d++) if (shape[d - off] !== 1) return null;
  let cols = 1;
  for (let d = k; d < gShape.length; d++) cols *= gShape[d]!;
  return cols;
}

/** Throws a ValueError unless `p` is a probability in [0, 1). */
export function checkDropoutP(p: number, op: string, arg = "p"): void {
  if (typeof p !== "number" || !(p >= 0 && p < 1)) throw new ValueError(op, arg, "a probability in [0, 1)", String(p));
}
