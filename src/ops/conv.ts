/**
 * 2-D convolution over NCHW images (torch.nn.functional.conv2d): im2col, then one batched GEMM
 * per call on the active backend (a batch of `groups` matrices); the backward runs two more GEMMs
 * (weight and column gradients) and col2im.
 *
 * ```ts
 * const y = conv2d(x, weight, bias, { stride: 2, padding: 1 });  // x [B, C, H, W], weight [O, C, 3, 3] -> [B, O, H/2, W/2]
 * const d = conv2d(x, dw, null, { padding: "same", groups: C });  // depthwise, dw [C, 1, kH, kW]
 * ```
 */
import { attach } from "../autograd/graph.js";
import { col2im, im2col } from "../backend/js/im2col.js";
import { allocate } from "../tensor/dtype.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { checkOutSize, imageDims, outSize, pair, type IntPair } from "./conv-args.js";
import { reshape } from "./shape.js";
import { backendFor, empty, fdata, sameFloat } from "./util.js";

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
interface ConvGeometry {
  B: number; C: number; H: number; W: number; O: number; kH: number; kW: number;
  oH: number; oW: number; sH: number; sW: number; padTop: number; padLeft: number; dH: number; dW: number;
  G: number;
}

function geometry(x: Tensor, weight: Tensor, bias: Tensor | null | undefined, opts: Conv2dOptions): { g: ConvGeometry; batched: boolean } {
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
  const { B, C, H, W, O, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW, G } = g;
  const L = oH * oW, N = B * L;           // output positions per image, in the batch
  const Og = O / G, Kg = (C / G) * kH * kW; // per group: output channels, GEMM depth
  const be = backendFor(dtype);
  const columns = (): Float32Array | Float64Array => {
    const cols = allocate(dtype, C * kH * kW * N); // [G, Kg, B, L]
    im2col(cols, fdata(x), B, C, H, W, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW);
    return cols;
  };

  // 1. outT [G, Og, B * L] = weight_g [Og, Kg] @ cols_g [Kg, B * L]
  const outT = allocate(dtype, O * N);
  if (N > 0) be.matmul(outT, fdata(weight), columns(), G, Og, N, Kg, false, false, Og * Kg, Kg * N, false);
  // 2. + bias [O] on every column
  if (bias && N > 0) be.binary("add", outT, outT, fdata(bias), [O, N], [N, 1], [1, 0]);
  // 3. [O, B, L] -> [B, O, L] (already in place for one image)
  const out = B === 1 ? new Tensor(outT, [1, O, oH, oW], dtype) : empty([B, O, oH, oW], dtype);
  if (B > 1) be.stridedCopy(fdata(out), outT, [B, O, L], [L, N, 1]);

  const inputs = bias ? [x, weight, bias] : [x, weight];
  const rec = attach(out, "conv2d", inputs, (grad) => {
    // undoes 3: gT [O, B, L] from grad [B, O, L]
    let gT = fdata(grad);
    if (B > 1) {
      gT = allocate(dtype, O * N);
      be.stridedCopy(gT, fdata(grad), [O, B, L], [L, O * L, 1]);
    }
    let dx: Tensor | null = null, dw: Tensor | null = null, db: Tensor | null = null;
    if (x.requiresGrad) {
      // undoes 1 for x: dcols_g [Kg, B * L] = weight_g^T @ gT_g, then col2im
      dx = empty(x.shape, dtype);
      if (N > 0) {
        const dcols = allocate(dtype, C * kH * kW * N);
        be.matmul(dcols, fdata(weight), gT, G, Kg, N, Og, true, false, Og * Kg, Og * N, false);
        col2im(fdata(dx), dcols, B, C, H, W, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW);
      }
    }
    if (weight.requiresGrad) {
      // undoes 1 for weight: dw_g [Og, Kg] = gT_g [Og, B * L] @ cols_g^T (cols recomputed, not kept)
      dw = empty(weight.shape, dtype);
      if (N > 0) be.matmul(fdata(dw), gT, columns(), G, Og, Kg, N, false, true, Og * N, Kg * N, false);
    }
    if (bias && bias.requiresGrad) {
      // undoes 2: row sums of gT [O, B * L]
      db = empty([O], dtype);
      if (N > 0) be.matmul(fdata(db), gT, allocate(dtype, N).fill(1), 1, O, 1, N, false, false, 0, 0, false);
    }
    return bias ? [dx, dw, db] : [dx, dw];
  });
  return batched ? rec : reshape(rec, [O, oH, oW]);
}
