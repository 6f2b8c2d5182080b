/// <reference types="@webgpu/types" />
/**
 * The webgpu Backend: WebGPUKernels behind the Backend interface over GpuArray, and the store of
 * its tensors' device arrays (tensor/device.ts). Arrays it hands out (alloc, upload) go back to the
 * pool when the last tensor holding them is collected (a FinalizationRegistry), or earlier through
 * `release` (at most once either way). Every Backend kernel has a WGSL form; fused SGD / Adam
 * updates too (FusedOptimizerSteps).
 *
 * ```ts
 * const be = await WebGPUBackend.create(navigator.gpu);
 * registerBackend(be, true);                 // or: await useWebGPU()
 * ```
 */
import type {
  AdamSharedArgs, AdamStepItem, AdaptivePool2dArgs, AttentionArgs, AvgPool2dArgs, Backend, BinaryOp, CompareOp, Conv2dArgs, ExtremeOp,
  FusedOptimizerSteps, LinearAttentionArgs, Pool2dArgs, SgdStepArgs, SgdStepItem,
  SparseAttentionArgs, SumOfSquares, ScaleArrays, TopK, UnaryOp, Fill, MatmulBias, AddLayerNorm,
} from "../backend.js";
import type { DeviceStore } from "../../tensor/device.js";
import type { IndexCheck } from "../index-checks.js";
import type { GpuArray } from "./context.js";
import { WebGPUKernels } from "./kernels.js";

/** The most bytes of uploads that wait for a flush or read to go back (releaseAtFlush). */
const AT_FLUSH_BYTES = 64 * 1024 * 1024;

/** The most arrays that wait in one generation before the collector watches them (see `own`). */
const YOUNG_ARRAYS = 8192;

/**
 * What the registry keeps to give a collected array's buffer back (the array's window, not the
 * array itself), and whether it is still out. An array the backend handed out carries its own
 * (`held`), so `release` finds it without a lookup.
 */
interface Held { buffer: GPUBuffer; offset: number; length: number; live: boolean }

type OwnedArray = GpuArray & { held?: Held };

export class WebGPUBackend implements Backend<GpuArray>, DeviceStore<GpuArray>, FusedOptimizerSteps<GpuArray>, SumOfSquares<GpuArray>, ScaleArrays<GpuArray>, TopK<GpuArray>,
  Fill<GpuArray>, MatmulBias<GpuArray>, AddLayerNorm<GpuArray> {
  readonly name = "webgpu" as const;
  readonly kind = "device" as const;
  private readonly registry: FinalizationRegistry<Held>;
  /** Uploads given back at the next flush or read (releaseAtFlush), and their bytes. */
  private atFlush: GpuArray[] = [];
  private atFlushBytes = 0;
  /** Arrays handed out since the last flush, and in the flush before it, not yet watched by the registry (see `own`). */
  private young: OwnedArray[] = [];
  private older: OwnedArray[] = [];

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
    this.kernels.release(h);
  }

  /**
   * Watches arr: its buffer goes back to the pool once nothing holds it. Most arrays are given
   * back explicitly within a step or two (freeGraph, the ops' temporaries), so the registry, whose
   * cells cost the collector work, sees only those still out two flushes after they were made:
   * arr waits in `young` until the next flush (or read), in `older` until the one after, and is
   * registered then if it was not released meanwhile (a dropped array is held until then). A
   * generation past YOUNG_ARRAYS moves on without a flush. Registered without an unregister token
   * (a token costs a lookup in both register and unregister): an array released earlier is
   * marked, and its registry callback, if it ever comes, finds it so.
   */
  private own(arr: GpuArray): GpuArray {
    const h: Held = { buffer: arr.buffer, offset: arr.offset, length: arr.length, live: true };
    (arr as OwnedArray).held = h;
    this.young.push(arr);
    if (this.young.length >= YOUNG_ARRAYS) this.age();
    return arr;
  }

  /** One generation on: the older arrays still out go to the registry, the young ones become older. */
  private age(): void {
    for (const a of this.older) if (a.held!.live) this.registry.register(a, a.held!);
    const older = this.older;
    older.length = 0;
    this.older = this.young;
    this.young = older;
  }

  /** Arrays handed out and not yet watched by the registry (both generations; tests). */
  get unwatched(): number {
    return this.young.length + this.older.length;
  }

  alloc(n: number): GpuArray {
    return this.own(this.kernels.alloc(n));
  }

  upload(host: Float32Array): GpuArray {
    return this.own(this.kernels.upload(host));
  }

  read(arr: GpuArray): Promise<Float32Array> {
    const p = this.kernels.read(arr);
    this.releaseHeld();
    return p;
  }

  /** The contents of each of `arrs`, with one submission and one staging buffer per maxBufferSize bytes. */
  readMany(arrs: readonly GpuArray[]): Promise<Float32Array[]> {
    const p = this.kernels.readMany(arrs);
    this.releaseHeld();
    return p;
  }

  /** Elements [offset, offset + length) of arr in its buffer; the view keeps arr's root alive and is never released itself. */
  view(arr: GpuArray, offset: number, length: number): GpuArray {
    return { buffer: arr.buffer, offset: arr.offset + offset, length, base: arr.base ?? arr };
  }

  /** Gives arr's buffer back now (work already recorded still sees it); a second release is ignored. */
  release(arr: GpuArray): void {
    const h = (arr as OwnedArray).held;
    if (h) this.giveBack(h);
  }

  /**
   * Gives arr back at the next flush or read. Past AT_FLUSH_BYTES waiting (a long run of ops with
   * host operands and no flush or read), further arrays are left to the collector instead.
   */
  releaseAtFlush(arr: GpuArray): void {
    const bytes = 4 * arr.length;
    if (this.atFlushBytes + bytes > AT_FLUSH_BYTES) return;
    this.atFlush.push(arr);
    this.atFlushBytes += bytes;
  }

  private releaseHeld(): void {
    this.age();
    if (this.atFlush.length === 0) return;
    const arrs = this.atFlush;
    this.atFlush = [];
    this.atFlushBytes = 0;
    for (const a of arrs) this.release(a);
  }

  /** Submits the recorded work (the optimizers' step calls it). */
  flush(): void {
    this.kernels.flush();
    this.releaseHeld();
  }

  /** Submits, waits for the device and throws any error it reported. */
  finish(): Promise<void> {
    const p = this.kernels.finish();
    this.releaseHeld();
    return p;
  }

  matmul(out: GpuArray, a: GpuArray, b: GpuArray, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, accumulate: boolean): void {
    this.kernels.matmul(out, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
  }

  matmulBias(out: GpuArray, a: GpuArray, b: GpuArray, bias: GpuArray, M: number, N: number, K: number, transA: boolean, transB: boolean,
    relu = false): void {
    this.kernels.matmulBias(out, a, b, bias, M, N, K, transA, transB, relu);
  }

  linearGrads(dw: GpuArray, db: GpuArray, g: GpuArray, x: GpuArray, R: number, O: number, I: number): void {
    this.kernels.matmulSums(dw, db, g, x, O, I, R, true, false); // dw [O, I] = g^T x, db [O] = g's column sums
  }

  nllForward(per: GpuArray, lp: GpuArray, ids: GpuArray, N: number, C: number, keep: number, spread: number): void {
    this.kernels.nllForward(per, lp, ids, N, C, keep, spread);
  }

  nllBackward(dlp: GpuArray, g: GpuArray, ids: GpuArray, N: number, C: number, keep: number, spread: number, gScale: number, gStride: 0 | 1): void {
    this.kernels.nllBackward(dlp, g, ids, N, C, keep, spread, gScale, gStride);
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

  addLayerNorm(out: GpuArray, mean: GpuArray, rstd: GpuArray, sum: GpuArray, x: GpuArray, r: GpuArray, weight: GpuArray | null,
    bias: GpuArray | null, rows: number, cols: number, eps: number): void {
    this.kernels.addLayerNorm(out, mean, rstd, sum, x, r, weight, bias, rows, cols, eps);
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

  sgdSteps(items: readonly SgdStepItem<GpuArray>[], args: SgdStepArgs, scale: GpuArray | null = null): void {
    this.kernels.sgdSteps(items, args, scale);
  }

  adamSteps(items: readonly AdamStepItem<GpuArray>[], args: AdamSharedArgs, scale: GpuArray | null = null): void {
    this.kernels.adamSteps(items, args, scale);
  }

  // dropout, selection, reductions along a dim, gathers

  dropout(out: GpuArray, x: GpuArray, n: number, p: number, k0: number, k1: number, start: number): void {
    this.kernels.dropout(out, x, n, p, k0, k1, start);
  }

  where(out: GpuArray, cond: GpuArray, a: GpuArray, b: GpuArray, outShape: readonly number[], condStrides: readonly number[],
    aStrides: readonly number[], bStrides: readonly number[]): void {
    this.kernels.where(out, cond, a, b, outShape, condStrides, aStrides, bStrides);
  }

  compare(op: CompareOp, out: GpuArray, a: GpuArray, b: GpuArray, outShape: readonly number[], aStrides: readonly number[],
    bStrides: readonly number[]): void {
    this.kernels.compare(op, out, a, b, outShape, aStrides, bStrides);
  }

  extreme(values: GpuArray, indices: GpuArray, x: GpuArray, outer: number, n: number, inner: number, op: ExtremeOp): void {
    this.kernels.extreme(values, indices, x, outer, n, inner, op);
  }

  topK(values: GpuArray, indices: GpuArray, x: GpuArray, rows: number, n: number, k: number): void {
    this.kernels.topK(values, indices, x, rows, n, k);
  }

  extremeBackward(dx: GpuArray, g: GpuArray, indices: GpuArray, outer: number, n: number, inner: number): void {
    this.kernels.extremeBackward(dx, g, indices, outer, n, inner);
  }

  logsumexp(out: GpuArray, x: GpuArray, outer: number, n: number, inner: number): void {
    this.kernels.logsumexp(out, x, outer, n, inner);
  }

  sumOfSquares(acc: GpuArray, xs: readonly GpuArray[], ns: readonly number[], accumulate: boolean): void {
    this.kernels.sumOfSquares(acc, xs, ns, accumulate);
  }

  clipNorm(norm: GpuArray, coef: GpuArray, xs: readonly GpuArray[], ns: readonly number[], maxNorm: number): void {
    this.kernels.clipNorm(norm, coef, xs, ns, maxNorm);
  }

  scaleArrays(xs: readonly GpuArray[], ns: readonly number[], s: GpuArray): void {
    this.kernels.scaleArrays(xs, ns, s);
  }

  fill(out: GpuArray, n: number, value: number): void {
    this.kernels.fill(out, n, value);
  }

  indexSelect(out: GpuArray, x: GpuArray, index: GpuArray, outer: number, n: number, inner: number, m: number, check?: IndexCheck): void {
    this.kernels.indexSelect(out, x, index, outer, n, inner, m, check);
  }

  indexSelectBackward(dx: GpuArray, g: GpuArray, order: GpuArray, offsets: GpuArray, outer: number, n: number, inner: number,
    m: number): void {
    this.kernels.indexSelectBackward(dx, g, order, offsets, outer, n, inner, m);
  }

  groupIndices(order: GpuArray, offsets: GpuArray, index: GpuArray, n: number, m: number, skip: number): void {
    this.kernels.groupIndices(order, offsets, index, n, m, skip);
  }

  // --- sparse and linear attention ---

  sparseAttentionForward(out: GpuArray, lse: GpuArray, q: GpuArray, k: GpuArray, v: GpuArray, args: SparseAttentionArgs): void {
    this.kernels.sparseAttentionForward(out, lse, q, k, v, args);
  }

  sparseAttentionBackward(dq: GpuArray, dk: GpuArray, dv: GpuArray, dout: GpuArray, q: GpuArray, k: GpuArray, v: GpuArray,
    out: GpuArray, lse: GpuArray, args: SparseAttentionArgs): void {
    this.kernels.sparseAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, args);
  }

  linearAttentionForward(out: GpuArray, den: GpuArray, fq: GpuArray, fk: GpuArray, v: GpuArray, args: LinearAttentionArgs): void {
    this.kernels.linearAttentionForward(out, den, fq, fk, v, args);
  }

  linearAttentionBackward(dfq: GpuArray, dfk: GpuArray, dv: GpuArray, dout: GpuArray, fq: GpuArray, fk: GpuArray, v: GpuArray,
    out: GpuArray, den: GpuArray, args: LinearAttentionArgs): void {
    this.kernels.linearAttentionBackward(dfq, dfk, dv, dout, fq, fk, v, out, den, args);
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
