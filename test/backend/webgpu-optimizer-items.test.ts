/**
 * The fused optimizer kernels' item checks (src/backend/webgpu/optimizer.ts), which come before
 * any device work: every item of one call has a momentum buffer (SGD) or vmax (Adam, amsgrad) or
 * none, else a ValueError naming the kernel and `items`; items without elements are left out first
 * (a call of only those records nothing). Their numbers: the browser clip family
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
});
