/**
 * The fused optimizer kernels' item checks (src/backend/webgpu/optimizer.ts), which come before
 * any device work: every item of one call has a momentum buffer (SGD) or vmax (Adam, amsgrad) or
 * none, else a ValueError naming the kernel and `items`; items without elements are left out first
 * (a call of only those records nothing). A step over the same arrays as the last one reuses its
 * plan: what it records is what a context that never planned would record, and a changed array,
 * offset or size plans again. Their numbers: the browser clip family
 * (test/browser/webgpu-clip-cases.ts).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { KernelContext, GpuArray } from "../../src/backend/webgpu/context.js";
import { adamSteps, sgdSteps } from "../../src/backend/webgpu/optimizer.js";
import { ValueError } from "../../src/tensor/errors.js";

/** No device: a kernel that reached for one would throw a TypeError, not a ValueError. */
const noDevice = null as unknown as KernelContext;
const arr = (length: number): GpuArray => ({ buffer: null as unknown as GPUBuffer, offset: 0, length });
const sgd = { lr: 0.1, weightDecay: 0, momentum: 0.9, dampening: 0, nesterov: false, maximize: false };
const adam = { b1: 0.9, b2: 0.999, eps: 1e-8, decay: 1, l2: 0, maximize: false };

const isMix = (kernel: string, expected: string) => (e: unknown): boolean =>
  e instanceof ValueError && e.message === `${kernel}: items expected ${expected}, got a mix`;

describe("webgpu fused optimizer steps: item checks", () => {
  test("sgdSteps: items with and without a momentum buffer in one call are a ValueError", () => {
    const withBuf = { p: arr(3), g: arr(3), buf: arr(3), n: 3, first: false }, without = { p: arr(2), g: arr(2), buf: null, n: 2, first: false };
    assert.throws(() => sgdSteps(noDevice, [withBuf, without], sgd), isMix("sgdSteps", "every item with a momentum buffer or none"));
    assert.throws(() => sgdSteps(noDevice, [without, withBuf], sgd), isMix("sgdSteps", "every item with a momentum buffer or none"));
    // an empty item does not count: its missing buffer is no mix, and a call of empty items records nothing
    assert.doesNotThrow(() => sgdSteps(noDevice, [{ ...without, n: 0 }, { ...without, n: 0 }], sgd));
  });

  test("adamSteps: items with and without vmax in one call are a ValueError", () => {
    const item = (vmax: boolean, n = 4) => ({ p: arr(n), g: arr(n), m: arr(n), v: arr(n), vmax: vmax ? arr(n) : null, n, stepSize: 1e-3, bc2Sqrt: 1 });
    assert.throws(() => adamSteps(noDevice, [item(true), item(false)], adam), isMix("adamSteps", "every item with vmax or none (one amsgrad setting)"));
    assert.throws(() => adamSteps(noDevice, [item(false), item(true)], adam), isMix("adamSteps", "every item with vmax or none (one amsgrad setting)"));
    assert.doesNotThrow(() => adamSteps(noDevice, [item(true, 0), item(false, 0)], adam));
  });

  test("adamSteps over the same arrays as the last call reuses its plan: the same dispatches as a fresh plan; a changed array plans again", () => {
    /** A stand-in context recording each dispatch (its kernel, pipeline key, arrays, parameters, workgroups). */
    const recorder = () => {
      const log: string[] = [];
      const ctx = {
        maxStorageBuffers: 8, maxBindingBytes: 1 << 20, maxWorkgroupsPerDimension: 65535,
        pipeline: (key: string) => ({ key }) as unknown as GPUComputePipeline,
        dispatch: (kernel: string, p: GPUComputePipeline, outs: readonly GpuArray[], ins: readonly GpuArray[], params: readonly number[], groups: unknown) => {
          const w = (a: GpuArray) => `${(a.buffer as unknown as { name: string }).name}@${a.offset}+${a.length}`;
          log.push(`${kernel} ${(p as unknown as { key: string }).key} out ${outs.map(w).join(" ")} in ${ins.map(w).join(" ")} [${params.join()}] ${JSON.stringify(groups)}`);
        },
      } as unknown as KernelContext;
      return { ctx, log };
    };
    const buffer = (name: string, floats: number) => ({ name, size: 4 * floats }) as unknown as GPUBuffer;
    const flatM = buffer("m", 64), flatV = buffer("v", 64);
    const grads = Array.from({ length: 6 }, (_, i) => buffer(`g${i}`, 8)), params = Array.from({ length: 6 }, (_, i) => buffer(`p${i}`, 8));
    const items = (step: number, g: GPUBuffer[]) => g.map((gb, i) => ({
      p: { buffer: params[i]!, offset: 0, length: 5 + (i % 3) }, g: { buffer: gb, offset: 0, length: 5 + (i % 3) },
      m: { buffer: flatM, offset: 8 * i, length: 5 + (i % 3) }, v: { buffer: flatV, offset: 8 * i, length: 5 + (i % 3) }, vmax: null,
      n: 5 + (i % 3), stepSize: 1e-3 * step, bc2Sqrt: 1 - 0.01 * step,
    }));
    const kept = recorder();
    const steps: [string, GPUBuffer[]][] = [
      ["first", grads], ["the same arrays", grads], ["the same again", grads],
      ["a gradient in another buffer", [...grads.slice(0, 3), buffer("h3", 8), ...grads.slice(4)]],
      ["back to the first", grads],
    ];
    steps.forEach(([what, g], step) => {
      const fresh = recorder();
      adamSteps(fresh.ctx, items(step, g), adam);
      const from = kept.log.length;
      adamSteps(kept.ctx, items(step, g), adam);
      assert.deepEqual(kept.log.slice(from), fresh.log, what);
      assert.ok(fresh.log.length >= 2, `${what}: 6 items over 8 bindings take more than one dispatch`);
    });
    // the offset of one moment moved: planned again
    const moved = items(9, grads);
    moved[2]!.m = { ...moved[2]!.m, offset: 40 };
    const fresh = recorder(), from = kept.log.length;
    adamSteps(fresh.ctx, moved, adam);
    adamSteps(kept.ctx, moved, adam);
    assert.deepEqual(kept.log.slice(from), fresh.log);
  });
});
