/// <reference types="@webgpu/types" />
/**
 * The webgpu Backend: WebGPUKernels behind the Backend interface over GpuArray, and the store of
 * its tensors' device arrays (tensor/device.ts). Arrays it hands out (alloc, upload) go back to the
 * pool when the last tensor holding them is collected (a FinalizationRegistry), or earlier through
 * `release` (at most once either way). Kernels with no WGSL form yet (sparse and linear attention,
 * dropout) throw WebGPUUnsupportedError.
 *
 * ```ts
 * const be = await WebGPUBackend.create(navigator.gpu);
 * registerBackend(be, true);                 // or: await useWebGPU()
 * ```
 */
import type {
  AdaptivePool2dArgs, AttentionArgs, AvgPool2dArgs, Backend, BinaryOp, Conv2dArgs, LinearAttentionArgs, Pool2dArgs,
  SparseAttentionArgs, UnaryOp,
} from "../backend.js";
import type { DeviceStore } from "../../tensor/device.js";
import type { GpuArray } from "./context.js";
import { WebGPUUnsupportedError } from "./errors.js";
import { WebGPUKernels } from "./kernels.js";

/** What the registry keeps to give a collected array's buffer back: a copy of the array and whether it is still out. */
interface Held { arr: GpuArray; live: boolean }

export class WebGPUBackend implements Backend<GpuArray>, DeviceStore<GpuArray> {
  readonly name = "webgpu" as const;
  readonly kind = "device" as const;
  private readonly held = new WeakMap<GpuArray, Held>();
  private readonly registry: FinalizationRegistry<Held>;

  /** A backend on a device from `gpu` (default navigator.gpu); throws WebGPUUnavailableError. */
  static async create(gpu?: Pick<GPU, "requestAdapter"> | null): Promise<WebGPUBackend> {
    return new WebGPUBackend(await WebGPUKernels.create(gpu));
  }

  constructor(readonly kernels: WebGPUKernels) {
    this.registry = new FinalizationRegistry((h) => this.giveBack(h));
  }

  private giveBack(h: Held): void {
    if (!h.live) return;
    h.live = false;
    this.kernels.release(h.arr);
  }

  /** Watches arr: its buffer goes back to the pool once nothing holds it. */
  private own(arr: GpuArray): GpuArray {
    const h: Held = { arr: { buffer: arr.buffer, offset: arr.offset, length: arr.length }, live: true };
    this.held.set(arr, h);
    this.registry.register(arr, h, arr);
    return arr;
  }

  alloc(n: number): GpuArray {
    return this.own(this.kernels.alloc(n));
  }

  upload(host: Float32Array): GpuArray {
    return this.own(this.kernels.upload(host));
  }

  read(arr: GpuArray): Promise<Float32Array> {
    return this.kernels.read(arr);
  }

  /** Elements [offset, offset + length) of arr in its buffer; the view keeps arr's root alive and is never released itself. */
  view(arr: GpuArray, offset: number, length: number): GpuArray {
    return { buffer: arr.buffer, offset: arr.offset + offset, length, base: arr.base ?? arr };
  }

  /** Gives arr's buffer back now (work already recorded still sees it); a second release is ignored. */
  release(arr: GpuArray): void {
    const h = this.held.get(arr);
    if (!h) return;
    this.registry.unregister(arr);
    this.giveBack(h);
  }

  /** Submits the recorded work (the optimizers' step calls it). */
  flush(): void {
    this.kernels.flush();
  }

  /** Submits, waits for the device and throws any error it reported. */
  finish(): Promise<void> {
    return this.kernels.finish();
  }

  matmul(out: GpuArray, a: GpuArray, b: GpuArray, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
    this.kernels.matmul(out, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
  }

  stridedCopy(out: GpuArray, x: GpuArray, outShape: readonly number[], strides: readonly number[]): void {
    this.kernels.stridedCopy(out, x, outShape, strides);
  }

  unary(op: UnaryOp, out: GpuArray, x: GpuArray, n: number, alpha: number): void {
    this.kernels.unary(op, out, x, n, alpha);
  }

  binary(op: BinaryOp, out: GpuArray, a: GpuArray, b: GpuArray, outShape: readonly number[], aStrides: readonly number[],
    bStrides: readonly number[]): void {
    this.kernels.binary(op, out, a, b, outShape, aStrides, bStrides);
  }

  softmax(out: GpuArray, x: GpuArray, rows: number, cols: number, log: boolean): void {
    this.kernels.softmax(out, x, rows, cols, log);
  }

  softmaxBackward(dx: GpuArray, y: GpuArray, dy: GpuArray, rows: number, cols: number, log: boolean): void {
    this.kernels.softmaxBackward(dx, y, dy, rows, cols, log);
  }

  layerNorm(out: GpuArray, mean: GpuArray, rstd: GpuArray, x: GpuArray, weight: GpuArray | null, bias: GpuArray | null,
    rows: number, cols: number, eps: number): void {
    this.kernels.layerNorm(out, mean, rstd, x, weight, bias, rows, cols, eps);
  }

  layerNormBackward(dx: GpuArray, dweight: GpuArray | null, dbias: GpuArray | null, dy: GpuArray, x: GpuArray,
    mean: GpuArray, rstd: GpuArray, weight: GpuArray | null, rows: number, cols: number): void {
    this.kernels.layerNormBackward(dx, dweight, dbias, dy, x, mean, rstd, weight, rows, cols);
  }

  attentionForward(out: GpuArray, lse: GpuArray, q: GpuArray, k: GpuArray, v: GpuArray, args: AttentionArgs<GpuArray>): void {
    this.kernels.attentionForward(out, lse, q, k, v, args);
  }

  attentionBackward(dq: GpuArray, dk: GpuArray, dv: GpuArray, dout: GpuArray, q: GpuArray, k: GpuArray, v: GpuArray,
    out: GpuArray, lse: GpuArray, args: AttentionArgs<GpuArray>): void {
    this.kernels.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, args);
  }

  dropout(): void {
    throw unsupported("dropout");
  }
  sparseAttentionForward(_out: GpuArray, _lse: GpuArray, _q: GpuArray, _k: GpuArray, _v: GpuArray, _args: SparseAttentionArgs): void {
    throw unsupported("sparseAttentionForward");
  }
  sparseAttentionBackward(): void {
    throw unsupported("sparseAttentionBackward");
  }
  linearAttentionForward(_out: GpuArray, _den: GpuArray, _fq: GpuArray, _fk: GpuArray, _v: GpuArray, _args: LinearAttentionArgs): void {
    throw unsupported("linearAttentionForward");
  }
  linearAttentionBackward(): void {
    throw unsupported("linearAttentionBackward");
  }
  // ---- convolution, pooling and batch norm

  conv2dForward(out: GpuArray, x: GpuArray, weight: GpuArray, bias: GpuArray | null, args: Conv2dArgs): void {
    this.kernels.conv2dForward(out, x, weight, bias, args);
  }

  conv2dBackwardInput(dx: GpuArray, dy: GpuArray, weight: GpuArray, args: Conv2dArgs): void {
    this.kernels.conv2dBackwardInput(dx, dy, weight, args);
  }

  conv2dBackwardWeight(dweight: GpuArray, dy: GpuArray, x: GpuArray, args: Conv2dArgs): void {
    this.kernels.conv2dBackwardWeight(dweight, dy, x, args);
  }

  maxPool2d(out: GpuArray, argmax: GpuArray, x: GpuArray, args: Pool2dArgs): void {
    this.kernels.maxPool2d(out, argmax, x, args);
  }

  maxPool2dBackward(dx: GpuArray, dy: GpuArray, argmax: GpuArray, args: Pool2dArgs): void {
    this.kernels.maxPool2dBackward(dx, dy, argmax, args);
  }

  avgPool2d(out: GpuArray, x: GpuArray, args: AvgPool2dArgs): void {
    this.kernels.avgPool2d(out, x, args);
  }

  avgPool2dBackward(dx: GpuArray, dy: GpuArray, args: AvgPool2dArgs): void {
    this.kernels.avgPool2dBackward(dx, dy, args);
  }

  adaptiveAvgPool2d(out: GpuArray, x: GpuArray, args: AdaptivePool2dArgs): void {
    this.kernels.adaptiveAvgPool2d(out, x, args);
  }

  adaptiveAvgPool2dBackward(dx: GpuArray, dy: GpuArray, args: AdaptivePool2dArgs): void {
    this.kernels.adaptiveAvgPool2dBackward(dx, dy, args);
  }

  batchNormStats(mean: GpuArray, variance: GpuArray, x: GpuArray, B: number, C: number, S: number): void {
    this.kernels.batchNormStats(mean, variance, x, B, C, S);
  }

  batchNormUpdate(runningMean: GpuArray, runningVar: GpuArray, mean: GpuArray, variance: GpuArray, C: number, momentum: number,
    unbias: number): void {
    this.kernels.batchNormUpdate(runningMean, runningVar, mean, variance, C, momentum, unbias);
  }

  batchNormForward(out: GpuArray, x: GpuArray, mean: GpuArray, variance: GpuArray, weight: GpuArray | null, bias: GpuArray | null,
    B: number, C: number, S: number, eps: number): void {
    this.kernels.batchNormForward(out, x, mean, variance, weight, bias, B, C, S, eps);
  }

  batchNormBackward(dx: GpuArray | null, dweight: GpuArray | null, dbias: GpuArray | null, dy: GpuArray, x: GpuArray, mean: GpuArray,
    variance: GpuArray, weight: GpuArray | null, B: number, C: number, S: number, eps: number, batchStats: boolean): void {
    this.kernels.batchNormBackward(dx, dweight, dbias, dy, x, mean, variance, weight, B, C, S, eps, batchStats);
  }
  // ---- end convolution, pooling and batch norm

  // ---- segment ops

  segmentSum(out: GpuArray, src: GpuArray, order: GpuArray, offsets: GpuArray, S: number, inner: number): void {
    this.kernels.segmentSum(out, src, order, offsets, S, inner);
  }

  segmentBroadcast(out: GpuArray, x: GpuArray, index: GpuArray, E: number, inner: number): void {
    this.kernels.segmentBroadcast(out, x, index, E, inner);
  }

  segmentSoftmax(out: GpuArray, src: GpuArray, order: GpuArray, offsets: GpuArray, S: number, inner: number): void {
    this.kernels.segmentSoftmax(out, src, order, offsets, S, inner);
  }

  segmentSoftmaxBackward(dx: GpuArray, y: GpuArray, dy: GpuArray, order: GpuArray, offsets: GpuArray, S: number, inner: number): void {
    this.kernels.segmentSoftmaxBackward(dx, y, dy, order, offsets, S, inner);
  }
  // ---- end segment ops
}

function unsupported(kernel: string): WebGPUUnsupportedError {
  return new WebGPUUnsupportedError(kernel, "backend", "a kernel the webgpu backend has", "none yet (use a host backend for this op)");
}
