/**
 * 2-D pooling over NCHW images with torch's output sizes: maxPool2d, avgPool2d, adaptiveAvgPool2d.
 * Inputs are [B, C, H, W] or unbatched [C, H, W]. On a host backend the js kernels run on the
 * host arrays; on a device backend its pooling kernels (the argmax of max pooling kept on the
 * device as floats, its backward a gather).
 *
 * ```ts
 * const m = maxPool2d(x, 3, { stride: 2, padding: 1 });   // [B, C, 32, 32] -> [B, C, 16, 16]
 * const a = avgPool2d(x, 2, { ceilMode: true });         // [B, C, 7, 7] -> [B, C, 4, 4]
 * const g = adaptiveAvgPool2d(x, 1);                     // global average: [B, C, 1, 1]
 * ```
 */
import { attach } from "../autograd/graph.js";
import {
  adaptiveAvgPool2d as adaptiveKernel, adaptiveAvgPool2dBackward, avgPool2d as avgKernel, avgPool2dBackward,
  maxPool2d as maxKernel, maxPool2dBackward,
} from "../backend/js/pool.js";
import type { AdaptivePool2dArgs, AnyBackend, AvgPool2dArgs, Pool2dArgs } from "../backend/backend.js";
import type { DeviceBackend } from "../backend/tensor-arrays.js";
import type { DeviceArray } from "../tensor/device.js";
import { ValueError } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { checkOutSize, imageDims, outSize, pair, type IntPair } from "./conv-args.js";
import { arrayOf, empty, emptyOn, fdata, floatOf, kernelsFor } from "./util.js";

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: IntPair;
  /** Implicit -Infinity padding on each side, at most half the kernel (default 0). */
  padding?: IntPair;
  dilation?: IntPair;
  /** Ceil instead of floor in the output size; a last window must still start inside the input or the left padding. */
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: IntPair;
  /** Zero padding on each side, at most half the kernel (default 0). */
  padding?: IntPair;
  ceilMode?: boolean;
  /** Count the padding taps in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide every window's sum by this instead. */
  divisorOverride?: number;
}

interface Window {
  P: number; H: number; W: number; oH: number; oW: number;
  kH: number; kW: number; sH: number; sW: number; pH: number; pW: number; dH: number; dW: number;
  outShape: number[];
}

function window(x: Tensor, kernelSize: IntPair, stride: IntPair | undefined, padding: IntPair | undefined,
  dilation: IntPair | undefined, ceilMode: boolean | undefined, op: string): Window {
  expectTensor(x, "x", op);
  floatOf(x, "x", op);
  const { dims: [B, C, H, W], batched } = imageDims(x, op);
  const [kH, kW] = pair(kernelSize, "kernelSize", op, 1);
  const [sH, sW] = pair(stride ?? [kH, kW], "stride", op, 1);
  const [pH, pW] = pair(padding ?? 0, "padding", op, 0);
  const [dH, dW] = pair(dilation ?? 1, "dilation", op, 1);
  if (2 * pH > kH || 2 * pW > kW) {
    throw new ValueError(op, "padding", `at most half the kernel size [${kH}, ${kW}]`, `[${pH}, ${pW}]`);
  }
  if (ceilMode !== undefined && typeof ceilMode !== "boolean") throw new ValueError(op, "ceilMode", "a boolean", String(ceilMode));
  const oH = outSize(H, kH, sH, pH, pH, dH, ceilMode), oW = outSize(W, kW, sW, pW, pW, dW, ceilMode);
  checkOutSize(oH, oW, H, W, op, `kernel [${kH}, ${kW}], stride [${sH}, ${sW}], padding [${pH}, ${pW}], dilation [${dH}, ${dW}]${ceilMode ? ", ceilMode" : ""}`);
  return { P: B * C, H, W, oH, oW, kH, kW, sH, sW, pH, pW, dH, dW, outShape: batched ? [B, C, oH, oW] : [C, oH, oW] };
}

/** Max over kH x kW windows: x [B, C, H, W] -> [B, C, oH, oW]; the gradient goes to each window's max. */
export function maxPool2d(x: Tensor, kernelSize: IntPair, opts: MaxPool2dOptions = {}): Tensor {
  const w = window(x, kernelSize, opts.stride, opts.padding, opts.dilation, opts.ceilMode, "maxPool2d");
  const be = kernelsFor(x.dtype);
  if (be.kind === "device") return maxPool2dOnDevice(x, w, be);
  const out = empty(w.outShape, x.dtype);
  const idx = new Int32Array(out.size);
  maxKernel(fdata(out), idx, fdata(x), w.P, w.H, w.W, w.oH, w.oW, w.kH, w.kW, w.sH, w.sW, w.pH, w.pW, w.dH, w.dW);
  return attach(out, "maxPool2d", [x], (g) => {
    const dx = empty(x.shape, g.dtype);
    maxPool2dBackward(fdata(dx), fdata(g), idx, w.P, w.H * w.W, w.oH * w.oW);
    return [dx];
  });
}

/** Mean over kH x kW windows (torch's divisor rules): x [B, C, H, W] -> [B, C, oH, oW]. */
export function avgPool2d(x: Tensor, kernelSize: IntPair, opts: AvgPool2dOptions = {}): Tensor {
  const op = "avgPool2d";
  const w = window(x, kernelSize, opts.stride, opts.padding, 1, opts.ceilMode, op);
  const include = opts.countIncludePad ?? true;
  if (typeof include !== "boolean") throw new ValueError(op, "countIncludePad", "a boolean", String(include));
  const div = opts.divisorOverride;
  if (div !== undefined && !(Number.isInteger(div) && div > 0)) throw new ValueError(op, "divisorOverride", "a positive integer", String(div));
  const divisor = div ?? 0;
  const be = kernelsFor(x.dtype);
  if (be.kind === "device") return avgPool2dOnDevice(x, w, include, divisor, be);
  const out = empty(w.outShape, x.dtype);
  avgKernel(fdata(out), fdata(x), w.P, w.H, w.W, w.oH, w.oW, w.kH, w.kW, w.sH, w.sW, w.pH, w.pW, include, divisor);
  return attach(out, op, [x], (g) => {
    const dx = empty(x.shape, g.dtype);
    avgPool2dBackward(fdata(dx), fdata(g), w.P, w.H, w.W, w.oH, w.oW, w.kH, w.kW, w.sH, w.sW, w.pH, w.pW, include, divisor);
    return [dx];
  });
}

/**
 * Average pooling to a fixed output size: x [B, C, H, W] -> [B, C, oH, oW]; output row o covers
 * input rows [floor(o H / oH), ceil((o + 1) H / oH)). `outputSize` is an int, or [oH, oW] where
 * null keeps that input size.
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor {
  const op = "adaptiveAvgPool2d";
  expectTensor(x, "x", op);
  floatOf(x, "x", op);
  const { dims: [B, C, H, W], batched } = imageDims(x, op);
  if (H < 1 || W < 1) throw new ValueError(op, "x", "an input of at least [1, 1] per plane", `[${H}, ${W}]`);
  const given = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize;
  const ok = Array.isArray(given) && given.length === 2 && given.every((n) => n === null || (Number.isInteger(n) && n >= 1));
  if (!ok) {
    throw new ValueError(op, "outputSize", "a positive integer or a pair of them (null keeps the input size)",
      Array.isArray(outputSize) ? `[${outputSize.join(", ")}]` : String(outputSize));
  }
  const oH = given[0] ?? H, oW = given[1] ?? W;
  const P = B * C;
  const be = kernelsFor(x.dtype);
  if (be.kind === "device") return adaptiveOnDevice(x, batched ? [B, C, oH, oW] : [C, oH, oW], { P, H, W, oH, oW }, be);
  const out = empty(batched ? [B, C, oH, oW] : [C, oH, oW], x.dtype);
  adaptiveKernel(fdata(out), fdata(x), P, H, W, oH, oW);
  return attach(out, op, [x], (g) => {
    const dx = empty(x.shape, g.dtype);
    adaptiveAvgPool2dBackward(fdata(dx), fdata(g), P, H, W, oH, oW);
    return [dx];
  });
}

// ---- the device path: the backend's pooling kernels on its arrays

const poolArgs = (w: Window): Pool2dArgs => ({
  P: w.P, H: w.H, W: w.W, oH: w.oH, oW: w.oW, kH: w.kH, kW: w.kW, sH: w.sH, sW: w.sW, padH: w.pH, padW: w.pW, dH: w.dH, dW: w.dW,
});

function maxPool2dOnDevice(x: Tensor, w: Window, be: AnyBackend): Tensor {
  if (w.H * w.W > 2 ** 24) throw new ValueError("maxPool2d", "x", "planes of at most 2^24 elements on a device", `[${w.H}, ${w.W}]`);
  const a = poolArgs(w);
  const out = emptyOn(be, w.outShape, x.dtype);
  const argmax = be.alloc(out.size); // [P, oH, oW], flat h W + w as floats (exact below 2^24)
  be.maxPool2d(arrayOf(out, be), argmax, arrayOf(x, be), a);
  const rec = attach(out, "maxPool2d", [x], (g) => {
    const dx = emptyOn(be, x.shape, g.dtype);
    be.maxPool2dBackward(arrayOf(dx, be), arrayOf(g, be), argmax, a);
    return [dx];
  });
  // without a backward the argmax goes back now; with one, when the graph is collected
  if (!rec.requiresGrad) (be as DeviceBackend).release(argmax as DeviceArray);
  return rec;
}

function avgPool2dOnDevice(x: Tensor, w: Window, countIncludePad: boolean, divisor: number, be: AnyBackend): Tensor {
  const a: AvgPool2dArgs = { ...poolArgs(w), countIncludePad, divisor };
  const out = emptyOn(be, w.outShape, x.dtype);
  be.avgPool2d(arrayOf(out, be), arrayOf(x, be), a);
  return attach(out, "avgPool2d", [x], (g) => {
    const dx = emptyOn(be, x.shape, g.dtype);
    be.avgPool2dBackward(arrayOf(dx, be), arrayOf(g, be), a);
    return [dx];
  });
}

function adaptiveOnDevice(x: Tensor, outShape: number[], a: AdaptivePool2dArgs, be: AnyBackend): Tensor {
  const out = emptyOn(be, outShape, x.dtype);
  be.adaptiveAvgPool2d(arrayOf(out, be), arrayOf(x, be), a);
  return attach(out, "adaptiveAvgPool2d", [x], (g) => {
    const dx = emptyOn(be, x.shape, g.dtype);
    be.adaptiveAvgPool2dBackward(arrayOf(dx, be), arrayOf(g, be), a);
    return [dx];
  });
}
