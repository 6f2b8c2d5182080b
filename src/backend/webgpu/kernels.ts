/// <reference types="@webgpu/types" />
/**
 * WebGPUKernels: the device, its buffer pool, the compiled pipelines (one per kernel and variant)
 * and one command encoder the kernels record into. Its kernel methods mirror the Backend
 * interface's (same arguments, same semantics, fp32) with GpuArray in place of FloatArray; work is
 * submitted at `flush()`, by `read`, or when the encoder holds 256 dispatches.
 *
 * Errors that WebGPU reports asynchronously (a shader that does not compile, an allocation that
 * ran out of memory, a validation error) are kept and thrown by the next `read` or `finish`; a
 * lost device makes every later call throw DeviceLostError. A gather's device indices found out of
 * range on the device (`indexChecks`, backend/index-checks.ts) are reported by the next `read` /
 * `readMany` as a ValueError: the check slots in use are read in the same submission, then cleared.
 *
 * ```ts
 * const gpu = await WebGPUKernels.create(navigator.gpu);
 * const a = gpu.upload(aHost), b = gpu.upload(bHost), out = gpu.alloc(M * N);
 * gpu.matmul(out, a, b, 1, M, N, K, false, false, 0, 0, false);
 * const host = await gpu.read(out); // Float32Array [M * N]
 * ```
 */
import { stridedAttentionBackward, stridedAttentionForward } from "./attention-strided.js";
import { batchNormBackward, batchNormForward, batchNormStats, batchNormUpdate } from "./batchnorm.js";
import type { GpuArray, KernelContext } from "./context.js";
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from "./conv.js";
import { stridedCopy } from "./copy.js";
import { requestGpuDevice, type GpuDevice } from "./device.js";
import { dropout } from "./dropout.js";
import { binary, fill, unary } from "./elementwise.js";
import { DeviceLostError, GpuValidationError, WebGPUUnsupportedError } from "./errors.js";
import { ValueError } from "../../tensor/errors.js";
import { indexSelect, indexSelectBackward } from "./gather.js";
import { groupIndices } from "./group-indices.js";
import { scaleArrays } from "./scale-arrays.js";
import { clipNorm, sumOfSquares } from "./sum-squares.js";
import { DeviceIndexChecks } from "./index-checks.js";
import { flaggedError, type IndexCheck } from "../index-checks.js";
import { addLayerNorm, layerNorm, layerNormBackward } from "./layernorm.js";
import { linearAttentionBackward, linearAttentionForward } from "./linear-attention.js";
import { GEMM_VARIANTS, matmul, matmulBias, matmulSums, type GemmOptions, type GemmPrecision, type GemmVariant } from "./matmul.js";
import { adamSteps, sgdSteps } from "./optimizer.js";
import { BufferPool } from "./pool.js";
import { Recorder } from "./recorder.js";
import { nllBackward, nllForward } from "./nll.js";
import type { Bindings } from "./bind-groups.js";
import { extreme, extremeBackward, logsumexp } from "./reduce-dim.js";
import { topK } from "./topk.js";
import { where } from "./select.js";
import { compare } from "./compare.js";
import {
  adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward,
} from "./pooling.js";
import { segmentBroadcast, segmentSoftmax, segmentSoftmaxBackward, segmentSum } from "./segment.js";
import { PipelineCache } from "./shader.js";
import { softmax, softmaxBackward } from "./softmax.js";
import { sparseAttentionBackward, sparseAttentionForward } from "./sparse-attention.js";

/** Workgroup memory a kernel plans for: 16 KiB (or less where the device has less), in floats. */
const WORKGROUP_BYTES = 16384;

/**
 * `groups` workgroups as an x * y grid within `maxDim` per dimension, x as even as it can be (65536
 * groups: 32768 x 2, not 65535 x 2); the kernel takes wid.y * nwg.x + wid.x and skips the excess
 * (fewer than y groups). Past maxDim * maxDim groups y is over the limit, which the caller refuses.
 */
export function gridOf(groups: number, maxDim: number): [number, number, number] {
  if (groups <= maxDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxDim);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * QKV_WEBGPU_GEMM (64, 128, subgroup or auto; auto where unset), for matmul's kernel: from
 * process.env in Node, from a global of that name in a page (the browser tests' harness sets it).
 */
function gemmVariantFromEnv(): GemmVariant | "auto" {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }; QKV_WEBGPU_GEMM?: unknown };
  const env = g.process?.env?.["QKV_WEBGPU_GEMM"] ?? (typeof g.QKV_WEBGPU_GEMM === "string" ? g.QKV_WEBGPU_GEMM : undefined);
  if (!env || env === "auto") return "auto";
  if (!(GEMM_VARIANTS as readonly string[]).includes(env)) {
    throw new WebGPUUnsupportedError("WebGPUKernels", "QKV_WEBGPU_GEMM", `one of ${GEMM_VARIANTS.join(", ")} or auto`, env);
  }
  return env as GemmVariant;
}

export class WebGPUKernels implements KernelContext {
  /** matmul's kernel choice (matmul.ts): variant from QKV_WEBGPU_GEMM, fp32 unless setMatmulPrecision("fp16"). */
  readonly gemm: GemmOptions;
  readonly recorder: Recorder;
  readonly pool: BufferPool;
  /** The deferred range checks of device indices (gathers by an int32 tensor on the device). */
  readonly indexChecks: DeviceIndexChecks;
  readonly workgroupFloats: number;
  /**
   * When set, each dispatch adds 1 to its kernel's count, each copy an in-place call needs to
   * `copy for <kernel>`, and uploads and writes of host data to theirs (bench/demo.ts --by-kernel);
   * null (the default) counts nothing.
   */
  tally: Map<string, number> | null = null;
  private readonly pipelines: PipelineCache;
  /** The bindings and parameter words of the dispatch being recorded (reused: a dispatch makes no objects). */
  private readonly bindings: Bindings = { n: 0, buffers: [], ids: [], starts: [], sizes: [] };
  /** Ids for the bind group cache of buffers the pool did not make (negative, apart from the pool's). */
  private readonly otherIds = new WeakMap<GPUBuffer, number>();
  private otherCount = 0;
  private words = new Uint32Array(64);
  private errors: Error[] = [];
  private readonly checks = new Set<Promise<unknown>>();
  private lost: { reason: string; message: string } | null = null;

  /**
   * Kernels on a device from `gpu` (default navigator.gpu); throws WebGPUUnavailableError.
   * `checkSlots`: how many distinct index checks may wait for a read (backend/index-checks.ts; default 64).
   */
  static async create(gpu?: Pick<GPU, "requestAdapter"> | null, opts: { checkSlots?: number } = {}): Promise<WebGPUKernels> {
    return new WebGPUKernels(await requestGpuDevice(gpu), opts);
  }

  constructor(readonly gpu: GpuDevice, opts: { checkSlots?: number } = {}) {
    const keep = (e: Error): void => { this.errors.push(e); };
    // a check WebGPU answers later: its error is kept until the next read or finish, which wait for it
    const report = (check: Promise<Error | null>): void => {
      const p = check.then((e) => { if (e) keep(e); }, (e: unknown) => { keep(e instanceof Error ? e : new Error(String(e))); });
      this.checks.add(p);
      void p.then(() => this.checks.delete(p));
    };
    this.recorder = new Recorder(gpu);
    this.pool = new BufferPool(gpu, this.recorder, report);
    this.indexChecks = new DeviceIndexChecks(gpu, this.pool, this.recorder, report, opts.checkSlots);
    this.pipelines = new PipelineCache(gpu.device, report);
    this.workgroupFloats = Math.min(WORKGROUP_BYTES, gpu.limits.maxComputeWorkgroupStorageSize) / 4;
    this.gemm = { variant: gemmVariantFromEnv(), precision: "fp32", subgroups: gpu.subgroupSizes, shaderF16: gpu.features.shaderF16 };
    void gpu.device.lost.then((info) => { this.lost = { reason: info.reason ?? "unknown", message: info.message }; });
    gpu.device.addEventListener("uncapturederror", (ev) => {
      const message = (ev as GPUUncapturedErrorEvent).error.message;
      keep(new GpuValidationError("WebGPUKernels", "recorded work", "no WebGPU errors", message));
    });
  }

  get maxWorkgroupsPerDimension(): number {
    return this.gpu.limits.maxComputeWorkgroupsPerDimension;
  }

  get maxStorageBuffers(): number {
    return this.gpu.limits.maxStorageBuffersPerShaderStage;
  }

  get maxBindingBytes(): number {
    return this.gpu.limits.maxStorageBufferBindingSize;
  }

  /** Compiled pipelines so far. */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  /** Milliseconds spent compiling them (each once, synchronously, when a kernel first records). */
  get pipelineCompileMs(): number {
    return this.pipelines.compileMs;
  }

  /** Each compiled pipeline's milliseconds, by key (its kernel and variant). */
  get pipelineCompileMsByKey(): ReadonlyMap<string, number> {
    return this.pipelines.compileMsByKey;
  }

  private live(op: string): void {
    if (this.lost) throw new DeviceLostError(op, this.lost.reason, this.lost.message);
  }

  /** A kernel function as a method named `op`: the kernel's arguments after the context; throws DeviceLostError first. */
  private method<A extends unknown[]>(op: string, kernel: (ctx: WebGPUKernels, ...args: A) => void): (...args: A) => void {
    return (...args) => {
      this.live(op);
      kernel(this, ...args);
    };
  }

  /** Waits for the outstanding checks, then throws (and clears) the first error WebGPU reported. */
  private async settle(): Promise<void> {
    await Promise.all([...this.checks]);
    this.raise();
  }

  private raise(): void {
    const e = this.errors[0];
    this.errors = [];
    if (e) throw e;
  }

  /** A device array of n elements (contents undefined). */
  alloc(n: number): GpuArray {
    this.live("alloc");
    return this.pool.acquire(n);
  }

  /** Gives an array's buffer back to the pool (work already recorded still sees it). */
  release(arr: GpuArray): void {
    this.pool.release(arr);
  }

  /** A device array holding `host`. */
  upload(host: Float32Array): GpuArray {
    this.live("upload");
    if (this.tally) this.count(host.length === 1 ? "upload of 1 value" : "upload of values");
    return this.pool.upload(host);
  }

  /** Writes `host` into `arr`, after the work recorded so far. */
  write(arr: GpuArray, host: Float32Array): void {
    this.live("write");
    this.count("write");
    this.pool.write(arr, host);
  }

  /** The contents of `arr` once the work recorded before has run. */
  read(arr: GpuArray): Promise<Float32Array> {
    return this.transfer("read", async () => (await this.readChecked([arr], async ([a]) => [await this.pool.read(a!)]))[0]!);
  }

  /** The contents of each of `arrs` once the work recorded before has run: one submission (BufferPool.readMany). */
  readMany(arrs: readonly GpuArray[], maxBytes?: number): Promise<Float32Array[]> {
    return this.transfer("readMany", () => this.readChecked(arrs, (as) => this.pool.readMany(as, maxBytes), maxBytes));
  }

  /**
   * `arrs` read back by `read`; with index checks waiting, with their slots in the same submission
   * (BufferPool.readMany), zeroed after it, and a slot that is set throws its ValueError instead
   * (every slot free again).
   */
  private async readChecked(arrs: readonly GpuArray[], read: (arrs: readonly GpuArray[]) => Promise<Float32Array[]>,
    maxBytes?: number): Promise<Float32Array[]> {
    const taken = this.indexChecks.take();
    if (taken === null) return read(arrs);
    const reading = this.pool.readMany([...arrs, taken.arr], maxBytes); // records the copies and submits them
    this.indexChecks.clear(taken.ranges.length);
    const got = await reading;
    const words = got.pop()!;
    const err = flaggedError(taken.ranges, new Uint32Array(words.buffer, words.byteOffset, words.length));
    if (err) throw err;
    return got;
  }

  /** A read back from the device, then the errors WebGPU reported meanwhile (thrown before the read's own). */
  private async transfer<R>(op: string, read: () => Promise<R>): Promise<R> {
    this.live(op);
    let host: R;
    try {
      host = await read();
    } catch (e) {
      this.live(op);
      await this.settle();
      throw e;
    }
    await this.settle();
    return host;
  }

  /** Submits the recorded work. */
  flush(): void {
    this.live("flush");
    this.recorder.flush();
  }

  /**
   * Submits the recorded work, waits for it, and throws any error WebGPU reported, and the
   * ValueError of a gather's device index out of range (its flags read in the same submission).
   */
  async finish(): Promise<void> {
    this.live("finish");
    this.indexChecks.checkPending();
    this.flush();
    await this.gpu.device.queue.onSubmittedWorkDone();
    this.live("finish");
    await this.settle();
  }

  // KernelContext

  pipeline(key: string, source: () => string): GPUComputePipeline {
    return this.pipelines.get(key, source);
  }

  indexCheck(check: IndexCheck, n: number): { flags: GpuArray; slot: number } {
    return this.indexChecks.slot(check, n);
  }

  scratch(n: number): GpuArray {
    return this.pool.acquire(n);
  }

  dispatch(kernel: string, pipeline: GPUComputePipeline, outputs: readonly GpuArray[], inputs: readonly GpuArray[],
    params: readonly number[], groups: number | readonly [number, number, number], table?: Uint32Array): void {
    const { maxStorageBufferBindingSize: maxBinding, maxComputeWorkgroupsPerDimension: maxDim, maxStorageBuffersPerShaderStage: maxStorage } = this.gpu.limits;
    // the device's limits, checked before anything is recorded (a scratch copy's window is no larger than its array's)
    const n = outputs.length + inputs.length;
    const storage = n + (table ? 1 : 0);
    if (storage > maxStorage) {
      throw new WebGPUUnsupportedError(kernel, "arrays", `at most maxStorageBuffersPerShaderStage (${maxStorage}) storage bindings`, String(storage));
    }
    const grid = typeof groups === "number" ? gridOf(groups, maxDim) : groups;
    if (grid[1] > maxDim || grid[2] > maxDim || grid[0] > maxDim) {
      throw new WebGPUUnsupportedError(kernel, "workgroups", `at most ${maxDim} per dimension`, `[${grid.join(", ")}]`);
    }
    const b = this.bindings;
    let shared = false;
    for (let i = 0; i < n; i++) {
      const arr = i < outputs.length ? outputs[i]! : inputs[i - outputs.length]!;
      this.bindWindow(i, arr);
      if (b.sizes[i]! > maxBinding) {
        throw new WebGPUUnsupportedError(kernel, `array ${i}`, `at most maxStorageBufferBindingSize (${maxBinding}) bytes`, `${b.sizes[i]} bytes`);
      }
      for (let j = 0; j < i && !shared; j++) shared = b.buffers[j] === arr.buffer;
    }
    if (shared) {
      this.dispatchShared(kernel, pipeline, outputs, inputs, params, grid, table);
      return;
    }
    this.record(pipeline, outputs, inputs, params, grid, table);
    this.count(kernel);
  }

  /**
   * Binds `arr` as binding i + 1 (in `bindings`): from the aligned byte below its offset (its
   * element offset in that window goes first in the params), or, a whole array (offset 0, not a
   * view), to its buffer's end, so that its bind group does not depend on its length: the pool
   * hands a size class's buffers to arrays of other lengths, and a step with other sequence
   * lengths finds the same bind groups.
   */
  private bindWindow(i: number, arr: GpuArray): void {
    const b = this.bindings, made = this.pool.recordOf(arr.buffer);
    let bytes: number;
    if (made) {
      bytes = made.size;
      b.ids[i] = made.id;
    } else {
      bytes = arr.buffer.size;
      let id = this.otherIds.get(arr.buffer);
      if (id === undefined) this.otherIds.set(arr.buffer, (id = -1 - this.otherCount++));
      b.ids[i] = id;
    }
    b.buffers[i] = arr.buffer;
    b.starts[i] = this.windowStart(arr, bytes);
    b.sizes[i] = this.windowSize(arr, bytes, b.starts[i]!);
  }

  /** Whether arr is bound whole, to its buffer's end (see bindWindow): offset 0, not a view, a buffer within the binding limit. */
  private boundWhole(arr: GpuArray, bytes: number): boolean {
    return arr.offset === 0 && !arr.base && bytes <= this.gpu.limits.maxStorageBufferBindingSize;
  }

  /** The first byte of arr's window in its buffer of `bytes` bytes: the aligned byte at or below its offset (0 bound whole). */
  private windowStart(arr: GpuArray, bytes: number): number {
    if (this.boundWhole(arr, bytes)) return 0;
    const align = this.gpu.limits.minStorageBufferOffsetAlignment;
    return Math.floor((arr.offset * 4) / align) * align;
  }

  /** The bytes of arr's window from `start`: to the buffer's end when bound whole, else to its last element (at least 4). */
  private windowSize(arr: GpuArray, bytes: number, start: number): number {
    if (this.boundWhole(arr, bytes)) return bytes;
    return Math.min(bytes - start, Math.max(4, (arr.offset + arr.length) * 4 - start));
  }

  /** Records the dispatch over `outs` and `ins`, bound in `bindings` already: their element offsets, then `params`. */
  private record(pipeline: GPUComputePipeline, outs: readonly GpuArray[], ins: readonly GpuArray[], params: readonly number[],
    grid: readonly [number, number, number], table: Uint32Array | undefined): void {
    const b = this.bindings, n = outs.length + ins.length;
    b.n = n;
    const count = n + params.length;
    if (this.words.length < count) this.words = new Uint32Array(2 * count);
    const words = this.words;
    for (let i = 0; i < n; i++) words[i] = (i < outs.length ? outs[i]! : ins[i - outs.length]!).offset - b.starts[i]! / 4;
    for (let j = 0; j < params.length; j++) words[n + j] = params[j]!;
    this.recorder.dispatch(pipeline, b, words, count, table, grid);
  }

  /**
   * A dispatch whose arrays share a buffer. WebGPU refuses overlapping writable windows, and a
   * buffer bound writable and read-only at once: such an output is computed in a scratch array
   * (copied in, then back), such an input is read from a copy, which also keeps in-place calls
   * exact.
   */
  private dispatchShared(kernel: string, pipeline: GPUComputePipeline, outputs: readonly GpuArray[], inputs: readonly GpuArray[],
    params: readonly number[], grid: readonly [number, number, number], table: Uint32Array | undefined): void {
    const scratch: GpuArray[] = [], back: [GpuArray, GpuArray][] = [];
    const copyOf = (x: GpuArray): GpuArray => {
      const c = this.pool.acquire(x.length);
      if (x.length > 0) {
        this.recorder.copy(x.buffer, x.offset * 4, c.buffer, 0, x.length * 4);
        this.count(`copy for ${kernel}`);
      }
      scratch.push(c);
      return c;
    };
    const overlap = (a: GpuArray, b: GpuArray): boolean => {
      if (a.buffer !== b.buffer) return false;
      const bytes = this.pool.recordOf(a.buffer)?.size ?? a.buffer.size;
      const xs = this.windowStart(a, bytes), ys = this.windowStart(b, bytes);
      return xs < ys + this.windowSize(b, bytes, ys) && ys < xs + this.windowSize(a, bytes, xs);
    };
    const outs: GpuArray[] = [];
    for (const o of outputs) {
      if (!outs.some((p) => overlap(p, o))) outs.push(o);
      else {
        const c = copyOf(o);
        back.push([c, o]);
        outs.push(c);
      }
    }
    const ins = inputs.map((x) => (outs.some((o) => o.buffer === x.buffer) ? copyOf(x) : x));
    for (let i = 0; i < outs.length + ins.length; i++) this.bindWindow(i, i < outs.length ? outs[i]! : ins[i - outs.length]!);
    this.record(pipeline, outs, ins, params, grid, table);
    this.count(kernel);
    for (const [c, o] of back) {
      if (o.length === 0) continue;
      this.recorder.copy(c.buffer, 0, o.buffer, o.offset * 4, o.length * 4);
      this.count(`copy for ${kernel}`);
    }
    for (const c of scratch) this.pool.release(c);
  }

  private count(name: string): void {
    this.tally?.set(name, (this.tally.get(name) ?? 0) + 1);
  }

  /**
   * The matmul precision from now on: "fp32" (the default) or "fp16" (f16 operand tiles, f32 sums:
   * matmul.ts), which throws WebGPUUnsupportedError on a device without shader-f16.
   */
  setMatmulPrecision(precision: GemmPrecision): void {
    if (precision !== "fp32" && precision !== "fp16") {
      throw new ValueError("setMatmulPrecision", "precision", "fp32 or fp16", String(precision));
    }
    if (precision === "fp16" && !this.gpu.features.shaderF16) {
      throw new WebGPUUnsupportedError("setMatmulPrecision", "precision", "fp32 (fp16 needs the shader-f16 feature, which this device lacks)", "fp16");
    }
    this.gemm.precision = precision;
  }

  // kernels: Backend's methods over device arrays

  /** Batched matmul, as Backend.matmul. */
  readonly matmul = this.method("matmul", matmul);

  /** nllLoss's rows and their gradient, as Backend.nllForward / nllBackward. */
  readonly nllForward = this.method("nllForward", nllForward);
  readonly nllBackward = this.method("nllBackward", nllBackward);

  /** A product with a bias on every row in one dispatch, as MatmulBias. */
  readonly matmulBias = this.method("matmulBias", matmulBias);

  /** out [M, N] = op(a) @ op(b) with sums [M] of op(a)'s rows (matmul.ts's matmulSums). */
  readonly matmulSums = this.method("matmulSums", matmulSums);

  /** out [outShape] = x at `strides`, as Backend.stridedCopy. */
  readonly stridedCopy = this.method("stridedCopy", stridedCopy);

  /** out[i] = op(x[i]), as Backend.unary. */
  readonly unary = this.method("unary", unary);

  /** out = a (op) b with broadcasting strides, as Backend.binary. */
  readonly binary = this.method("binary", binary);

  /** Row softmax / log-softmax, as Backend.softmax. */
  readonly softmax = this.method("softmax", softmax);

  /** As Backend.softmaxBackward. */
  readonly softmaxBackward = this.method("softmaxBackward", softmaxBackward);

  /** As Backend.layerNorm. */
  readonly layerNorm = this.method("layerNorm", layerNorm);

  /** As AddLayerNorm.addLayerNorm (backend.ts). */
  readonly addLayerNorm = this.method("addLayerNorm", addLayerNorm);

  /** As Backend.layerNormBackward (dweight, dbias written, not accumulated). */
  readonly layerNormBackward = this.method("layerNormBackward", layerNormBackward);

  /** Fused attention forward, as Backend.attentionForward (operands at their strides; dropout as the js kernel's). */
  readonly attentionForward = this.method("attentionForward", stridedAttentionForward);

  /** Fused attention backward, as Backend.attentionBackward (dq, dk, dv written, not accumulated; operands at their strides). */
  readonly attentionBackward = this.method("attentionBackward", stridedAttentionBackward);

  /** The fused SGD updates, as FusedOptimizerSteps.sgdSteps. */
  readonly sgdSteps = this.method("sgdSteps", sgdSteps);

  /** The fused Adam / AdamW updates, as FusedOptimizerSteps.adamSteps. */
  readonly adamSteps = this.method("adamSteps", adamSteps);

  // dropout, selection, reductions along a dim, gathers

  /** As Backend.dropout (the js kernel's mask and values, bit for bit). */
  readonly dropout = this.method("dropout", dropout);

  /** out = cond ? a : b with broadcasting strides, as Backend.where. */
  readonly where = this.method("where", where);

  /** out = a (op) b ? 1 : 0 with broadcasting strides, as Backend.compare. */
  readonly compare = this.method("compare", compare);

  /** As Backend.extreme (indices as floats). */
  readonly extreme = this.method("extreme", extreme);

  /** Each row's k largest values and their indices, as TopK.topK. */
  readonly topK = this.method("topK", topK);

  /** As Backend.extremeBackward. */
  readonly extremeBackward = this.method("extremeBackward", extremeBackward);

  /** As Backend.logsumexp. */
  readonly logsumexp = this.method("logsumexp", logsumexp);

  /** As Backend.indexSelect. */
  readonly indexSelect = this.method("indexSelect", indexSelect);

  /** As Backend.indexSelectBackward. */
  readonly indexSelectBackward = this.method("indexSelectBackward", indexSelectBackward);

  /** As Backend.groupIndices. */
  readonly groupIndices = this.method("groupIndices", groupIndices);

  /** As SumOfSquares.sumOfSquares (backend.ts). */
  readonly sumOfSquares = this.method("sumOfSquares", sumOfSquares);

  /** As SumOfSquares.clipNorm (backend.ts). */
  readonly clipNorm = this.method("clipNorm", clipNorm);

  /** As ScaleArrays.scaleArrays (backend.ts). */
  readonly scaleArrays = this.method("scaleArrays", scaleArrays);

  /** As Fill.fill (backend.ts). */
  readonly fill = this.method("fill", fill);

  // --- sparse and linear attention ---

  /** Sparse attention forward, as Backend.sparseAttentionForward (the pattern uploaded per call). */
  readonly sparseAttentionForward = this.method("sparseAttentionForward", sparseAttentionForward);

  /** Sparse attention backward, as Backend.sparseAttentionBackward (dq, dk, dv written, not accumulated). */
  readonly sparseAttentionBackward = this.method("sparseAttentionBackward", sparseAttentionBackward);

  /** Linear attention forward, as Backend.linearAttentionForward. */
  readonly linearAttentionForward = this.method("linearAttentionForward", linearAttentionForward);

  /** Linear attention backward, as Backend.linearAttentionBackward (dfq, dfk, dv written, not accumulated). */
  readonly linearAttentionBackward = this.method("linearAttentionBackward", linearAttentionBackward);

  // ---- convolution, pooling and batch norm

  /** As Backend.conv2dForward. */
  readonly conv2dForward = this.method("conv2dForward", conv2dForward);

  /** As Backend.conv2dBackwardInput (dx written). */
  readonly conv2dBackwardInput = this.method("conv2dBackwardInput", conv2dBackwardInput);

  /** As Backend.conv2dBackwardWeight (dweight written). */
  readonly conv2dBackwardWeight = this.method("conv2dBackwardWeight", conv2dBackwardWeight);

  /** As Backend.maxPool2d. */
  readonly maxPool2d = this.method("maxPool2d", maxPool2d);

  /** As Backend.maxPool2dBackward. */
  readonly maxPool2dBackward = this.method("maxPool2dBackward", maxPool2dBackward);

  /** As Backend.avgPool2d. */
  readonly avgPool2d = this.method("avgPool2d", avgPool2d);

  /** As Backend.avgPool2dBackward. */
  readonly avgPool2dBackward = this.method("avgPool2dBackward", avgPool2dBackward);

  /** As Backend.adaptiveAvgPool2d. */
  readonly adaptiveAvgPool2d = this.method("adaptiveAvgPool2d", adaptiveAvgPool2d);

  /** As Backend.adaptiveAvgPool2dBackward. */
  readonly adaptiveAvgPool2dBackward = this.method("adaptiveAvgPool2dBackward", adaptiveAvgPool2dBackward);

  /** As Backend.batchNormStats. */
  readonly batchNormStats = this.method("batchNormStats", batchNormStats);

  /** As Backend.batchNormUpdate. */
  readonly batchNormUpdate = this.method("batchNormUpdate", batchNormUpdate);

  /** As Backend.batchNormForward. */
  readonly batchNormForward = this.method("batchNormForward", batchNormForward);

  /** As Backend.batchNormBackward. */
  readonly batchNormBackward = this.method("batchNormBackward", batchNormBackward);
  // ---- end convolution, pooling and batch norm

  // ---- segment ops

  /** As Backend.segmentSum. */
  readonly segmentSum = this.method("segmentSum", segmentSum);

  /** As Backend.segmentBroadcast. */
  readonly segmentBroadcast = this.method("segmentBroadcast", segmentBroadcast);

  /** As Backend.segmentSoftmax. */
  readonly segmentSoftmax = this.method("segmentSoftmax", segmentSoftmax);

  /** As Backend.segmentSoftmaxBackward. */
  readonly segmentSoftmaxBackward = this.method("segmentSoftmaxBackward", segmentSoftmaxBackward);
  // ---- end segment ops
}
