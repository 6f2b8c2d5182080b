/**
 * A tensor's array for the backend an op runs on, and new tensors where a backend keeps its
 * arrays: the one place that knows host tensors from device ones, so that ops and the autograd
 * engine are written once for both.
 *
 * - host backend, host tensor: its typed array (`t.data`);
 * - host backend, device tensor: `t.data`, i.e. the copy `await t.read()` made, else DeviceSyncError;
 * - device backend, its own device tensor: the device array;
 * - device backend, host tensor: an upload of the data, a transient copy that the store gives back
 *   at its next flush or read (`releaseAtFlush`); move long-lived tensors such as parameters with
 *   `toDevice`.
 *
 * ```ts
 * const be = kernelsFor(x.dtype);
 * const out = emptyOn(be, x.shape, x.dtype);
 * be.unary("exp", arrayOf(out, be), arrayOf(x, be), x.size, 0);
 * ```
 */
import { allocate, allocateUninit, type DType, type FloatArray } from "../tensor/dtype.js";
import type { DeviceArray, DeviceStore } from "../tensor/device.js";
import { DTypeError, ShapeError, ValueError } from "../tensor/errors.js";
import { noteDeviceBorn, noteDeviceTensor } from "../tensor/pool.js";
import { dropPrepacked } from "../tensor/prepacked.js";
import { numel, type Shape } from "../tensor/shape.js";
import { Tensor } from "../tensor/tensor.js";
import type { AnyBackend, Backend, Fill, KernelArray } from "./backend.js";
import { getBackend, hostBackend, jsBackend } from "./registry.js";

/** A device backend is also the store of its tensors' arrays. */
export type DeviceBackend = AnyBackend & DeviceStore;

/** float64 always runs on the reference kernels; float32 on the active backend (host or device). */
export function kernelsFor(dtype: DType): AnyBackend {
  return dtype === "float64" ? jsBackend : getBackend();
}

/** The backend a tensor's array belongs to: its device's, or the host backend of its dtype. */
export function backendOf(t: Tensor): AnyBackend {
  if (t.device !== null) return t.store as unknown as DeviceBackend;
  return t.dtype === "float64" ? jsBackend : hostBackend();
}

/** t's array for `be` (see the module comment). */
export function arrayOf(t: Tensor, be: AnyBackend): KernelArray {
  if (be.kind === "host") return t.data as FloatArray;
  return deviceArrayOf(t, be);
}

function deviceArrayOf(t: Tensor, be: AnyBackend): KernelArray {
  if (t.device !== null) {
    if ((t.store as unknown) === be) return t.device;
    throw new ValueError("arrayOf", "tensor", `a tensor on the ${be.name} device or on the host`, `${t.toString()} on the ${t.store!.name} device`);
  }
  if (t.dtype !== "float32") throw new DTypeError("arrayOf", "tensor", `float32 on the ${be.name} device`, t.dtype);
  const arr = be.upload(t.data as Float32Array);
  (be as DeviceBackend).releaseAtFlush(arr as DeviceArray);
  return arr;
}

/** A new tensor for `be` to write in full: host (uninitialized, pooled) or device. */
export function emptyOn(be: AnyBackend, shape: Shape, dtype: DType): Tensor {
  if (be.kind === "host" || dtype !== "float32") return new Tensor(allocateUninit(dtype, numel(shape)), shape, dtype);
  const arr = be.alloc(numel(shape));
  noteDeviceBorn(arr);
  return new Tensor(null, shape, "float32", arr, be as DeviceBackend);
}

/** A new tensor for `be` filled with `value`. */
export function fullOn(be: AnyBackend, shape: Shape, dtype: DType, value: number): Tensor {
  if (be.kind === "host" || dtype !== "float32") {
    const d = value === 0 ? allocate(dtype, numel(shape)) : allocateUninit(dtype, numel(shape)).fill(value);
    return new Tensor(d, shape, dtype);
  }
  const arr = deviceFilled(be, numel(shape), value);
  noteDeviceBorn(arr);
  return new Tensor(null, shape, "float32", arr, be as DeviceBackend);
}

/** An array of n copies of `value` for `be` (not attached to a tensor). */
export function filledArray(be: AnyBackend, dtype: DType, n: number, value: number): KernelArray {
  if (be.kind === "host" || dtype !== "float32") return (allocateUninit(dtype, n) as FloatArray).fill(value);
  return deviceFilled(be, n, value);
}

/** Each device backend's array of ones (onesArray), grown as asked. */
const onesOf = new WeakMap<AnyBackend, KernelArray>();

/**
 * An array of n ones for `be` to read (the column and row sums done as products with ones): on a
 * device, a view of one array kept per backend, filled once and grown to twice the last size when a
 * longer one is asked for, so a training step fills none. Never written nor released by callers.
 */
export function onesArray(be: AnyBackend, dtype: DType, n: number): KernelArray {
  if (be.kind === "host" || dtype !== "float32") return filledArray(be, dtype, n, 1);
  let ones = onesOf.get(be);
  if (!ones || ones.length < n) {
    ones = deviceFilled(be, Math.max(n, 2 * (ones?.length ?? 0), 256), 1);
    onesOf.set(be, ones);
  }
  return be.view(ones, 0, n);
}

/** n copies of `value` on a device: filled there where the backend can (Fill), else uploaded. */
function deviceFilled(be: AnyBackend, n: number, value: number): KernelArray {
  const f = be as Partial<Fill>;
  if (typeof f.fill !== "function") return be.upload(new Float32Array(n).fill(value));
  const arr = be.alloc(n);
  f.fill(arr, n, value);
  return arr;
}

/** A new tensor with t's contents, where t's data lives. */
export function copyTensor(t: Tensor): Tensor {
  if (t.device === null) return t.clone();
  const be = backendOf(t);
  const c = emptyOn(be, t.shape, t.dtype);
  if (t.size > 0) be.stridedCopy(arrayOf(c, be), t.device, [t.size], [1]);
  return c;
}

/**
 * Moves t's data to `be`'s device in place (parameters before training there; int32 indices for a
 * gather there, held as float32 values as argmax's are: within ±2^24): the host array is uploaded
 * and dropped, so `t.data` needs `await t.read()` afterwards. A no-op on a host backend or when t
 * is already there.
 */
export function toDevice(t: Tensor, be: AnyBackend): Tensor {
  if (be.kind === "host" || ((t.store as unknown) === be && t.device !== null)) return t;
  if (t.dtype !== "float32" && t.dtype !== "int32") throw new DTypeError("toDevice", "tensor", "float32 or int32", t.dtype);
  dropPrepacked(t);
  const arr = be.upload(t.dtype === "float32" ? t.data as Float32Array : deviceIntegers(t.data as Int32Array));
  noteDeviceTensor(arr);
  t.device = arr;
  t.store = be as DeviceBackend;
  t.host = null;
  if (t.grad !== null) t.grad = toDevice(t.grad, be);
  return t;
}

/** int32 values as the float32 values a device holds them in (exact within ±2^24), else a ValueError. */
function deviceIntegers(ids: Int32Array): Float32Array {
  for (const v of ids) {
    if (Math.abs(v) > 2 ** 24) throw new ValueError("toDevice", "tensor", "int32 values within ±2^24 (a device holds them as float32)", String(v));
  }
  return Float32Array.from(ids);
}

/** The host backend of ops whose loops run on host arrays. */
export function hostKernelsFor(dtype: DType): Backend {
  return dtype === "float64" ? jsBackend : hostBackend();
}

// ---- host values into device tensors (loading a state dict into a model or optimizer on a device) ----

/**
 * Writes `values` (t.size of them) into t's data where it lives: a host tensor's array, or a
 * device tensor's array in place (an upload copied in; views of it see the new values).
 */
export function writeValues(t: Tensor, values: ArrayLike<number>): void {
  if (t.device === null) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) d[i] = Number(values[i]);
    return;
  }
  const be = backendOf(t), store = t.store as DeviceStore<KernelArray & { length: number }>;
  const up = be.upload(Float32Array.from(values));
  if (t.size > 0) be.stridedCopy(t.device, up, [t.size], [1]);
  store.release(up);
  t.deviceWritten();
}

/**
 * Writes src's values into t where t lives, in place (as `writeValues`): from a tensor on t's
 * device by one copy there, nothing read back (a kept copy of a parameter put back); else from
 * src's host data. t and src hold the same number of elements.
 */
export function copyValues(t: Tensor, src: Tensor): void {
  if (src.size !== t.size) throw new ShapeError("copyValues", "src", `${t.size} elements (as t)`, `${src.size}`);
  if (t.device === null || src.device === null || src.store !== t.store) {
    writeValues(t, src.data);
    return;
  }
  if (t.size > 0) backendOf(t).stridedCopy(t.device, src.device, [t.size], [1]);
  t.deviceWritten();
}
