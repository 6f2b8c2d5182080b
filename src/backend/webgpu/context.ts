/// <reference types="@webgpu/types" />
/**
 * What a kernel function sees: device arrays, a pipeline cache and a way to record one dispatch.
 * Kernel files (matmul.ts, elementwise.ts, ...) are plain functions over this interface;
 * WebGPUKernels (kernels.ts) implements it.
 *
 * Binding convention of every kernel: binding 0 is the uniform parameter block, bindings 1.. are
 * the outputs then the inputs in the order given to `dispatch`, and the last binding, when a table
 * is given, is a read-only `array<u32>` (shapes and strides). The parameter block starts with one
 * u32 per array, its element offset inside the bound window (`o_<name>` in WGSL, see wgsl.ts), then
 * the kernel's own words.
 */

import type { IndexCheck } from "../index-checks.js";
import type { GemmOptions } from "./matmul.js";

/** A device array: `length` float32 elements at element `offset` of `buffer`. */
export interface GpuArray {
  buffer: GPUBuffer;
  offset: number;
  length: number;
  /** For a view: the array it was taken from (kept alive, so its buffer stays out of the pool). */
  base?: GpuArray;
}

export interface KernelContext {
  /** The compiled pipeline of `key`, compiled from `source()` the first time it is asked for. */
  pipeline(key: string, source: () => string): GPUComputePipeline;
  /**
   * Records one dispatch of `pipeline` (named `kernel` in errors) over `groups` workgroups (a
   * number is laid out over x and y; the kernel recovers it as wid.y * nwg.x + wid.x and guards
   * against the excess). `params` are u32 words (floats through `f32Bits`).
   */
  dispatch(kernel: string, pipeline: GPUComputePipeline, outputs: readonly GpuArray[], inputs: readonly GpuArray[],
    params: readonly number[], groups: number | readonly [number, number, number], table?: Uint32Array): void;
  /**
   * The flag array and slot a gather over [0, n) with unchecked device indices sets (as a u32
   * word, to 1) when one is outside the range; the next read reports it (backend/index-checks.ts).
   */
  indexCheck(check: IndexCheck, n: number): { flags: GpuArray; slot: number };
  /** A temporary array of n elements, valid for dispatches recorded before `release`. */
  scratch(n: number): GpuArray;
  release(arr: GpuArray): void;
  /** Floats of workgroup memory a kernel may use. */
  readonly workgroupFloats: number;
  /** Workgroups a dispatch may have in one dimension (the device's maxComputeWorkgroupsPerDimension). */
  readonly maxWorkgroupsPerDimension: number;
  /** Storage arrays a kernel may bind (the device's maxStorageBuffersPerShaderStage). */
  readonly maxStorageBuffers: number;
  /** Bytes one storage binding may span (the device's maxStorageBufferBindingSize). */
  readonly maxBindingBytes: number;
  /** How matmul picks its kernel and what the device offers it (matmul.ts); absent: fp32, by size, no subgroups. */
  readonly gemm?: GemmOptions;
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** The bits of x as float32, for a u32 parameter word. */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

export const ceilDiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);

/**
 * Records one dispatch of the pipeline of `key` (compiled from `source()` the first time), named
 * `key` in errors: ctx.pipeline and ctx.dispatch in one call.
 */
export function dispatchKernel(ctx: KernelContext, key: string, source: () => string, outputs: readonly GpuArray[],
  inputs: readonly GpuArray[], params: readonly number[], groups: number | readonly [number, number, number], table?: Uint32Array): void {
  ctx.dispatch(key, ctx.pipeline(key, source), outputs, inputs, params, groups, table);
}

/**
 * `items` split into the groups of one dispatch each, in order: at most `per` items a group, and an
 * item with a buffer (`buffers`) already in its group starts the next one, so that no dispatch
 * binds a buffer twice (WebGPU refuses a buffer written through two bindings).
 */
export function dispatchGroups<T>(items: readonly T[], per: number, buffers: (item: T) => readonly GpuArray[]): T[][] {
  const out: T[][] = [];
  let group: T[] = [], taken = new Set<GPUBuffer>();
  for (const it of items) {
    const bufs = buffers(it).map((a) => a.buffer);
    if (group.length === per || bufs.some((b) => taken.has(b))) {
      out.push(group);
      group = [];
      taken = new Set();
    }
    group.push(it);
    for (const b of bufs) taken.add(b);
  }
  if (group.length > 0) out.push(group);
  return out;
}
