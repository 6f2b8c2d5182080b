/**
 * The Backend's pooling and batch norm methods over the js kernels (pool.ts, batchnorm.ts), for
 * every host backend (js, native and wasm share them). The ops' host path calls the kernels in
 * pool.ts / batchnorm.ts directly (an Int32Array of argmax, float64 statistics); these methods
 * are the array-typed contract a device backend implements too, so a device backend can be
 * checked against them.
 *
 * ```ts
 * class MyBackend implements Backend { maxPool2d = poolNormMethods.maxPool2d; ... }
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";
import type { AdaptivePool2dArgs, AvgPool2dArgs, Backend, Pool2dArgs } from "../backend.js";
import { batchNormBackward, batchNormForward, batchNormStats } from "./batchnorm.js";
import {
  adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward,
} from "./pool.js";

export type PoolNormMethods = Pick<Backend, "maxPool2d" | "maxPool2dBackward" | "avgPool2d" | "avgPool2dBackward"
  | "adaptiveAvgPool2d" | "adaptiveAvgPool2dBackward" | "batchNormStats" | "batchNormUpdate" | "batchNormForward"
  | "batchNormBackward">;

/** invstd [C] = 1 / sqrt(variance + eps), in float64. */
function invstdOf(variance: FloatArray, C: number, eps: number): Float64Array {
  const r = new Float64Array(C);
  for (let c = 0; c < C; c++) r[c] = 1 / Math.sqrt(variance[c]! + eps);
  return r;
}

export const poolNormMethods: PoolNormMethods = {
  maxPool2d(out: FloatArray, argmax: FloatArray, x: FloatArray, a: Pool2dArgs): void {
    const idx = new Int32Array(a.P * a.oH * a.oW);
    maxPool2d(out, idx, x, a.P, a.H, a.W, a.oH, a.oW, a.kH, a.kW, a.sH, a.sW, a.padH, a.padW, a.dH, a.dW);
    for (let i = 0; i < idx.length; i++) argmax[i] = idx[i]!;
  },
  maxPool2dBackward(dx: FloatArray, dy: FloatArray, argmax: FloatArray, a: Pool2dArgs): void {
    const n = a.P * a.oH * a.oW, idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = argmax[i]!;
    dx.fill(0, 0, a.P * a.H * a.W);
    maxPool2dBackward(dx, dy, idx, a.P, a.H * a.W, a.oH * a.oW);
  },
  avgPool2d(out: FloatArray, x: FloatArray, a: AvgPool2dArgs): void {
    avgPool2d(out, x, a.P, a.H, a.W, a.oH, a.oW, a.kH, a.kW, a.sH, a.sW, a.padH, a.padW, a.countIncludePad, a.divisor);
  },
  avgPool2dBackward(dx: FloatArray, dy: FloatArray, a: AvgPool2dArgs): void {
    dx.fill(0, 0, a.P * a.H * a.W);
    avgPool2dBackward(dx, dy, a.P, a.H, a.W, a.oH, a.oW, a.kH, a.kW, a.sH, a.sW, a.padH, a.padW, a.countIncludePad, a.divisor);
  },
  adaptiveAvgPool2d(out: FloatArray, x: FloatArray, a: AdaptivePool2dArgs): void {
    adaptiveAvgPool2d(out, x, a.P, a.H, a.W, a.oH, a.oW);
  },
  adaptiveAvgPool2dBackward(dx: FloatArray, dy: FloatArray, a: AdaptivePool2dArgs): void {
    dx.fill(0, 0, a.P * a.H * a.W);
    adaptiveAvgPool2dBackward(dx, dy, a.P, a.H, a.W, a.oH, a.oW);
  },
  batchNormStats,
  batchNormUpdate(runningMean: FloatArray, runningVar: FloatArray, mean: FloatArray, variance: FloatArray, C: number,
    momentum: number, unbias: number): void {
    for (let c = 0; c < C; c++) {
      runningMean[c] = (1 - momentum) * runningMean[c]! + momentum * mean[c]!;
      runningVar[c] = (1 - momentum) * runningVar[c]! + momentum * variance[c]! * unbias;
    }
  },
  batchNormForward(out: FloatArray, x: FloatArray, mean: FloatArray, variance: FloatArray, weight: FloatArray | null,
    bias: FloatArray | null, B: number, C: number, S: number, eps: number): void {
    batchNormForward(out, x, mean, invstdOf(variance, C, eps), weight, bias, B, C, S);
  },
  batchNormBackward(dx: FloatArray | null, dweight: FloatArray | null, dbias: FloatArray | null, dy: FloatArray, x: FloatArray,
    mean: FloatArray, variance: FloatArray, weight: FloatArray | null, B: number, C: number, S: number, eps: number,
    batchStats: boolean): void {
    batchNormBackward(dx, dweight, dbias, dy, x, mean, invstdOf(variance, C, eps), weight, B, C, S, batchStats);
  },
};
