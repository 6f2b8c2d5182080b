/**
 * A device backend whose "device memory" is host memory: every array is a `HostDeviceArray`
 * ({ length, values }) and every kernel is the js reference kernel on the values. It exercises the
 * device path of tensors, ops, autograd and optimizers in Node without a GPU: anything that reads
 * a device tensor's `data` behind the backend's back throws DeviceSyncError here as it would on
 * webgpu. Counts the arrays made (alloc, upload) and released, reads and batched reads (`readMany`,
 * one however many arrays). Arrays given to `releaseAtFlush` are released (filled with NaN) at the
 * next flush or read, as webgpu gives them back then.
 *
 * Like webgpu it has AddLayerNorm (a residual add and a layer norm in one call: here the js
 * kernels one after the other), so the fused op's device path runs in Node.
 *
 * Device indices are range-checked as on webgpu (src/backend/index-checks.ts): a gather with a
 * check flags its slot when an index is outside [0, n) (the js kernel writes the zero rows), the
 * next `read` / `readMany` throws the first flagged slot's ValueError after clearing them all, and
 * when the slots (`checkSlots`, default 64) run out they are checked and cleared at once, the error
 * kept for the next read.
 *
 * ```ts
 * const dev = hostDevice();
 * registerBackend(dev, true);
 * ```
 */
import { topKRows } from "../../src/backend/js/topk.js";
import type { AnyBackend } from "../../src/backend/backend.js";
import { CheckSlots, flaggedError, type IndexCheck } from "../../src/backend/index-checks.js";
import { jsBackend } from "../../src/backend/js/index.js";
import type { DeviceArray, DeviceStore } from "../../src/tensor/device.js";

export interface HostDeviceArray extends DeviceArray { values: Float32Array }

export type HostDevice = AnyBackend & DeviceStore<HostDeviceArray> & { made: number; releases: number; reads: number; batchedReads: number; flushes: number };

const isArr = (x: unknown): x is HostDeviceArray =>
  typeof x === "object" && x !== null && !ArrayBuffer.isView(x) && (x as HostDeviceArray).values instanceof Float32Array;

/** A host array for the js kernel: a device array's values; a host typed array here is a bug in the caller. */
function unwrap(x: unknown, kernel: string, i: number): unknown {
  if (isArr(x)) return x.values;
  if (ArrayBuffer.isView(x)) throw new Error(`${kernel}: argument ${i} is a host array on a device backend`);
  if (typeof x === "object" && x !== null && "mask" in x) {
    const m = (x as { mask: unknown }).mask;
    return { ...x, mask: m === null ? null : unwrap(m, kernel, i) };
  }
  return x;
}

const KERNELS = ["matmul", "stridedCopy", "unary", "binary", "softmax", "softmaxBackward", "layerNorm", "layerNormBackward",
  "attentionForward", "attentionBackward",
  "dropout", "where", "compare", "extreme", "extremeBackward", "logsumexp", "indexSelectBackward", "groupIndices", "nllForward", "nllBackward",
  "sparseAttentionForward", "sparseAttentionBackward", "linearAttentionForward", "linearAttentionBackward",
  // convolution, pooling and batch norm
  "conv2dForward", "conv2dBackwardInput", "conv2dBackwardWeight", "maxPool2d", "maxPool2dBackward", "avgPool2d", "avgPool2dBackward",
  "adaptiveAvgPool2d", "adaptiveAvgPool2dBackward", "batchNormStats", "batchNormUpdate", "batchNormForward", "batchNormBackward",
  // segment ops
  "segmentSum", "segmentBroadcast", "segmentSoftmax", "segmentSoftmaxBackward",
] as const;

export function hostDevice(opts: { checkSlots?: number } = {}): HostDevice {
  const slots = new CheckSlots(opts.checkSlots);
  const flags = new Uint32Array(slots.capacity);
  let kept: Error | null = null; // found when the slots ran out, thrown by the next read
  let atFlush: HostDeviceArray[] = []; // releaseAtFlush's arrays, released (NaN) at the next flush or read
  const releaseHeld = (): void => {
    const arrs = atFlush;
    atFlush = [];
    for (const a of arrs) (dev.release as (a: HostDeviceArray) => void)(a);
  };
  const checkAll = (): Error | null => {
    const err = flaggedError(slots.take(), flags);
    flags.fill(0);
    return err;
  };
  // before a read: the error kept or flagged since the last one (slots cleared), else null
  const readCheck = (): Error | null => {
    const flagged = checkAll();
    const err = kept ?? flagged;
    kept = null;
    return err;
  };
  const dev: Record<string, unknown> & { made: number; releases: number; reads: number; batchedReads: number; flushes: number } = {
    name: "webgpu",
    kind: "device",
    made: 0,
    releases: 0,
    reads: 0,
    batchedReads: 0,
    flushes: 0,
    alloc: (n: number): HostDeviceArray => {
      dev.made++;
      return { length: n, values: new Float32Array(n).fill(NaN) };
    },
    upload: (host: Float32Array): HostDeviceArray => {
      dev.made++;
      return { length: host.length, values: Float32Array.from(host) };
    },
    read(arr: HostDeviceArray): Promise<Float32Array> {
      dev.reads++;
      const err = readCheck(), values = arr.values.slice();
      releaseHeld();
      return err ? Promise.reject(err) : Promise.resolve(values);
    },
    readMany(arrs: readonly HostDeviceArray[]): Promise<Float32Array[]> {
      dev.batchedReads++;
      const err = readCheck(), values = arrs.map((a) => a.values.slice());
      releaseHeld();
      return err ? Promise.reject(err) : Promise.resolve(values);
    },
    indexSelect(out: HostDeviceArray, x: HostDeviceArray, index: HostDeviceArray, outer: number, n: number, inner: number, m: number,
      check?: IndexCheck): void {
      const [o, xs, ids] = [out, x, index].map((a, i) => unwrap(a, "indexSelect", i) as Float32Array) as [Float32Array, Float32Array, Float32Array];
      if (check && m > 0) {
        let s = slots.slot(check, n);
        if (s === null) {
          kept ??= checkAll();
          s = slots.slot(check, n)!;
        }
        for (let k = 0; k < m; k++) if (!(ids[k]! >= 0 && ids[k]! < n)) flags[s] = 1;
      }
      jsBackend.indexSelect(o, xs, ids, outer, n, inner, m);
    },
    // TopK (as webgpu has it): the js kernel on the arrays' values
    topK(values: HostDeviceArray, indices: HostDeviceArray, x: HostDeviceArray, rows: number, n: number, k: number): void {
      topKRows(unwrap(values, "topK", 0) as Float32Array, unwrap(indices, "topK", 1) as Float32Array, unwrap(x, "topK", 2) as Float32Array, rows, n, k);
    },
    release(arr: HostDeviceArray): void {
      dev.releases++;
      arr.values.fill(NaN); // a released array must not be read again
    },
    releaseAtFlush(arr: HostDeviceArray): void {
      atFlush.push(arr);
    },
    flush(): void {
      dev.flushes++;
      releaseHeld();
    },
    view: (arr: HostDeviceArray, offset: number, length: number): HostDeviceArray =>
      ({ length, values: arr.values.subarray(offset, offset + length), base: arr.base ?? arr }),
    // AddLayerNorm (as webgpu has it): the js add, then the js layer norm of the sum
    addLayerNorm(out: HostDeviceArray, mean: HostDeviceArray, rstd: HostDeviceArray, sum: HostDeviceArray, x: HostDeviceArray, r: HostDeviceArray,
      weight: HostDeviceArray | null, bias: HostDeviceArray | null, rows: number, cols: number, eps: number): void {
      const n = rows * cols;
      jsBackend.binary("add", sum.values, x.values, r.values, [n], [1], [1]);
      jsBackend.layerNorm(out.values, mean.values, rstd.values, sum.values, weight?.values ?? null, bias?.values ?? null, rows, cols, eps);
    },
  };
  for (const k of KERNELS) {
    dev[k] = (...args: unknown[]): void => {
      (jsBackend[k] as (...a: unknown[]) => void)(...args.map((a, i) => unwrap(a, k, i)));
    };
  }
  return dev as unknown as HostDevice;
}
