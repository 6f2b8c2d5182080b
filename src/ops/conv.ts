/**
 * 2-D convolution over NCHW images (torch.nn.functional.conv2d): validated here, computed by the
 * backend's convolution kernels (native and wasm: GEMMs whose packing reads the image, no columns
 * written out; js: im2col + the batched GEMM, the reference; webgpu: im2col, one GEMM over the
 * groups, col2im as a gather), on the active backend's arrays (a device tensor stays on its
 * device); the backward is the kernels for x and the weight and a sum of the incoming gradient
 * for the bias.
 *
 * ```ts
 * const y = conv2d(x, weight, bias, { stride: 2, padding: 1 });  // x [B, C, H, W], weight [O, C, 3, 3] -> [B, O, H/2, W/2]
 * const d = conv2d(x, dw, null, { padding: "same", groups: C });  // depthwise, dw [C, 1, kH, kW]
 * ```
 */
import { attach } from "../autograd/graph.js";
import type { Conv2dArgs } from "../backend/backend.js";
import type { DeviceBackend } from "../backend/tensor-arrays.js";
import type { DeviceArray } from "../tensor/device.js";
import { allocate } from "../tensor/dtype.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { checkOutSize, imageDims, outSize, pair, type IntPair } from "./conv-args.js";
import { reshape } from "./shape.js";
import { arrayOf, empty, emptyOn, fullOn, kernelsFor, onesArray, sameFloat } from "./util.js";

export type { IntPair } from "./conv-args.js";

export interface Conv2dOptions {
  /** Step between output positions (default 1). */
  stride?: IntPair;
  /**
   * Zero padding on each side (default 0); "valid" is 0, "same" keeps H and W (stride 1 only; an
   * odd total d (k - 1) puts the extra row / column at the bottom / right, as torch).
   */
  padding?: IntPair | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: IntPair;
  /** Channel groups (default 1): C and O split into `groups` independent convolutions; groups = C is depthwise. */
  groups?: number;
}

/** Everything the forward and backward need about one call, validated. */
function geometry(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: Conv2dOptions): { g: Conv2dArgs; batched: boolean } {
  const op = "conv2d";
  const { dims: [B, C, H, W], batched } = imageDims(x, op);
  if (weight.rank !== 4) throw new ShapeError(op, "weight", "[O, C / groups, kH, kW]", fmtShape(weight.shape));
  const [O, Cg, kH, kW] = [weight.shape[0]!, weight.shape[1]!, weight.shape[2]!, weight.shape[3]!];
  const G = opts.groups ?? 1;
  if (!Number.isInteger(G) || G < 1) throw new ValueError(op, "groups", "a positive integer", String(G));
  if (C % G !== 0) throw new ValueError(op, "groups", `a divisor of the ${C} input channels`, String(G));
  if (O % G !== 0) throw new ValueError(op, "groups", `a divisor of the ${O} output channels (weight ${fmtShape(weight.shape)})`, String(G));
  if (Cg * G !== C || C === 0 || O === 0 || kH === 0 || kW === 0) {
    throw new ShapeError(op, "weight", `[O, ${C / G}, kH, kW] with O, kH, kW >= 1 (x has ${C} channels, groups ${G})`, fmtShape(weight.shape));
  }
  if (bias) {
    expectTensor(bias, "bias", op);
    sameFloat(x, bias, "x", "bias", op);
    if (bias.rank !== 1 || bias.shape[0] !== O) throw new ShapeError(op, "bias", `[${O}]`, fmtShape(bias.shape));
  }
  const [sH, sW] = pair(opts.stride ?? 1, "stride", op, 1);
  const [dH, dW] = pair(opts.dilation ?? 1, "dilation", op, 1);
  const p = opts.padding ?? 0;
  let pads: [number, number, number, number]; // top, bottom, left, right
  if (p === "valid") pads = [0, 0, 0, 0];
  else if (p === "same") {
    if (sH !== 1 || sW !== 1) throw new ValueError(op, "padding", '"same" with stride 1 only', `"same" with stride [${sH}, ${sW}]`);
    const tH = dH * (kH - 1), tW = dW * (kW - 1);
    pads = [tH >> 1, tH - (tH >> 1), tW >> 1, tW - (tW >> 1)];
  } else if (typeof p === "string") {
    throw new ValueError(op, "padding", 'an integer, a pair, "same" or "valid"', JSON.stringify(p));
  } else {
    const [pH, pW] = pair(p, "padding", op, 0);
    pads = [pH, pH, pW, pW];
  }
  const [padTop, padBottom, padLeft, padRight] = pads;
  const oH = outSize(H, kH, sH, padTop, padBottom, dH), oW = outSize(W, kW, sW, padLeft, padRight, dW);
  checkOutSize(oH, oW, H, W, op, `kernel [${kH}, ${kW}], stride [${sH}, ${sW}], padding [${padTop}+${padBottom}, ${padLeft}+${padRight}], dilation [${dH}, ${dW}]`);
  return { g: { B, C, H, W, O, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW, G }, batched };
}

/**
 * Cross-correlation of x [B, C, H, W] (or [C, H, W]) with weight [O, C / groups, kH, kW], plus
 * bias [O]: out [B, O, oH, oW], oH = floor((H + 2 padH - dH (kH - 1) - 1) / sH) + 1 (likewise oW).
 * A kernel larger than the padded input (an empty output) is a ValueError.
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  expectTensor(x, "x", "conv2d");
  expectTensor(weight, "weight", "conv2d");
  const dtype = sameFloat(x, weight, "x", "weight", "conv2d");
  const { g, batched } = geometry(x, weight, bias, opts);
  const { B, O, oH, oW } = g;
  const L = oH * oW;
  // the active backend's kernels: a host backend's on host arrays, a device backend's on its arrays
  const be = kernelsFor(dtype);
  const host = be.kind === "host";
  const make = (shape: readonly number[]): Tensor => (host ? empty(shape, dtype) : emptyOn(be, shape, dtype));
  // 1. out [B, O, oH, oW] = conv(x, weight) + bias
  const out = make([B, O, oH, oW]);
  be.conv2dForward(arrayOf(out, be), arrayOf(x, be), arrayOf(weight, be), bias ? arrayOf(bias, be) : null, g);

  const inputs = bias ? [x, weight, bias] : [x, weight];
  const rec = attach(out, "conv2d", inputs, (grad) => {
    const gd = arrayOf(grad, be); // [B, O, L]
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    // undoes 1 for x and for the weight
    if (x.requiresGrad) {
      dx = make(x.shape);
      be.conv2dBackwardInput(arrayOf(dx, be), gd, arrayOf(weight, be), g);
    }
    if (weight.requiresGrad) {
      dw = make(weight.shape);
      be.conv2dBackwardWeight(arrayOf(dw, be), gd, arrayOf(x, be), g);
    }
    if (bias && bias.requiresGrad) {
      // undoes the bias of 1: sums of grad [B, O, L] over B and L
      db = host ? empty([O], dtype) : B === 0 ? fullOn(be, [O], dtype, 0) : emptyOn(be, [O], dtype);
      if (B > 0) {
        const rows = host ? allocate(dtype, B * O) : be.alloc(B * O);
        const onesL = host ? allocate(dtype, L).fill(1) : onesArray(be, dtype, L);
        const onesB = host ? allocate(dtype, B).fill(1) : onesArray(be, dtype, B);
        be.matmul(rows, gd, onesL, 1, B * O, 1, L, false, false, 0, 0, false); // [B * O, L] @ [L, 1]
        be.matmul(arrayOf(db, be), onesB, rows, 1, 1, O, B, false, false, 0, 0, false); // [1, B] @ [B, O]
        if (!host) (be as DeviceBackend).release(rows as DeviceArray); // the ones are the backend's, kept
      }
    }
    return bias ? [dx, dw, db] : [dx, dw];
  });
  return batched ? rec : reshape(rec, [O, oH, oW]);
}
