/**
 * alloc / upload / read / readMany of the host backends (js, native, wasm), whose arrays are the tensors'
 * own typed arrays: allocation from the buffer pool, upload and read the identity. `HostBackendBase`
 * gathers them, with the js kernels of the device-path calls, as the class those backends extend.
 *
 * ```ts
 * class MyHostBackend extends HostBackendBase implements Backend { readonly name = "mine" as const; ... }
 * ```
 */
import { allocateUninit } from "../tensor/dtype.js";
import { DevicePathKernels } from "./js/device-path-kernels.js";

/** n float32 elements from the buffer pool, contents unspecified. */
export function hostAlloc(n: number): Float32Array {
  return allocateUninit("float32", n);
}

/** The host array itself: it already is the backend's array. */
export function hostUpload(host: Float32Array): Float32Array {
  return host;
}

/** A subarray sharing arr's memory. */
export function hostView<T extends Float32Array | Float64Array>(arr: T, offset: number, length: number): T {
  return arr.subarray(offset, offset + length) as T;
}

/** The array itself, at once (nothing is pending on a host backend). */
export function hostRead(arr: Float32Array | Float64Array): Promise<Float32Array> {
  return Promise.resolve(arr instanceof Float32Array ? arr : Float32Array.from(arr));
}

/** Each array as `hostRead` gives it (nothing to batch on a host backend). */
export function hostReadMany(arrs: readonly (Float32Array | Float64Array)[]): Promise<Float32Array[]> {
  return Promise.resolve(arrs.map((a) => (a instanceof Float32Array ? a : Float32Array.from(a))));
}

/** What every host backend shares: kind "host", the array functions above and the device-path kernels. */
export class HostBackendBase extends DevicePathKernels {
  readonly kind = "host" as const;
  readonly alloc = hostAlloc;
  readonly upload = hostUpload;
  readonly read = hostRead;
  readonly readMany = hostReadMany;
  readonly view = hostView;
}
