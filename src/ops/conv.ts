/**
 * 2-D convolution over NCHW images (torch.nn.functional.conv2d): im2col into per-image columns,
 * then the active backend's batched GEMM (one call over the images; with groups, one call per
 * image over the groups); the backward runs the column and weight GEMMs and col2im.
 *
 * ```ts
 * const y = conv2d(x, weight, bias, { stride: 2, padding: 1 });  // x [B, C, H, W], weight [O, C, 3, 3] -> [B, O, H/2, W/2]
 * const d = conv2d(x, dw, null, { padding: "same", groups: C });  // depthwise, dw [C, 1, kH, kW]
 * ```
 */
import { attach } from "../autograd/graph.js";
import { col2im, im2col } from "../backend/js/im2col.js";
import { allocate, type FloatArray } from "../tensor/dtype.js";
import { ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { checkOutSize, imageDims, outSize, pair, type IntPair } from "./conv-args.js";
import { reshape } from "./shape.js";
import { backendFor, empty, fdata, sameFloat } from "./util.js";

export type { IntPair } from "./conv-args.js";

/** Column elements per chunk of images (16 MiB of float32): memory stays bounded and the chunk stays in cache longer. */
const COLUMN_CHUNK = 1 << 22;

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
  const L = oH * oW, K = C * kH * kW;        // output positions and GEMM depth per image
  const Og = O / G, Kg = K / G;               // per group
  const be = backendFor(dtype);
  const xd = fdata(x), wd = fdata(weight), CHW = C * H * W;
  // images per chunk: a chunk's columns stay near COLUMN_CHUNK elements, one buffer reused by every chunk
  const nb = Math.max(1, Math.min(B, Math.floor(COLUMN_CHUNK / Math.max(1, K * L))));
  /** cols [n, K, L] of images b0 .. b0 + n. */
  const columns = (cols: FloatArray, b0: number, n: number): void =>
    im2col(cols, xd.subarray(b0 * CHW, (b0 + n) * CHW), n, C, H, W, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW);
  /** out_(b, g) [M, N] = op(weight_g) @ rhs_(b, g) for n images: one call over them, or one per image over the groups. */
  const withWeight = (n: number, out: FloatArray, rhs: FloatArray, M: number, N: number, depth: number, transW: boolean, rhsStride: number): void => {
    if (G === 1) {
      be.matmul(out, wd, rhs, n, M, N, depth, transW, false, 0, rhsStride, false);
      return;
    }
    for (let b = 0; b < n; b++) {
      be.matmul(out.subarray(b * G * M * N, (b + 1) * G * M * N), wd, rhs.subarray(b * G * rhsStride, (b + 1) * G * rhsStride),
        G, M, N, depth, transW, false, Og * Kg, rhsStride, false);
    }
  };

  const out = empty([B, O, oH, oW], dtype);
  const od = fdata(out);
  if (B > 0) {
    const cols = allocate(dtype, nb * K * L); // [nb, G, Kg, L]
    for (let b0 = 0; b0 < B; b0 += nb) {
      const n = Math.min(nb, B - b0), c = cols.subarray(0, n * K * L);
      columns(c, b0, n);
      // 1. out_(b, g) [Og, L] = weight_g [Og, Kg] @ cols_(b, g) [Kg, L]
      withWeight(n, od.subarray(b0 * O * L, (b0 + n) * O * L), c, Og, L, Kg, false, Kg * L);
    }
    // 2. + bias [O] at every position
    if (bias) be.binary("add", od, od, fdata(bias), [B, O, L], [O * L, L, 1], [0, 1, 0]);
  }

  const inputs = bias ? [x, weight, bias] : [x, weight];
  const rec = attach(out, "conv2d", inputs, (grad) => {
    const gd = fdata(grad); // [B, G, Og, L]
    const dx = x.requiresGrad ? empty(x.shape, dtype) : null;
    const dw = weight.requiresGrad ? empty(weight.shape, dtype) : null;
    let db: Tensor | null = null;
    if (B > 0 && (dx || dw)) {
      const buf = allocate(dtype, nb * K * L);
      // weight: dw_g^T [Kg, Og] = sum_b cols_(b, g) [Kg, L] @ grad_(b, g)^T, from columns recomputed per chunk (not kept);
      // with Og <= L one product per (image, group) into parts no larger than the columns, then a sum over the chunk's images
      const dwT = dw ? allocate(dtype, K * Og) : null; // [G, Kg, Og]
      const part = dw && Og <= L ? allocate(dtype, nb * K * Og) : null;
      const ones = allocate(dtype, nb).fill(1);
      for (let b0 = 0; b0 < B; b0 += nb) {
        const n = Math.min(nb, B - b0), c = buf.subarray(0, n * K * L), gc = gd.subarray(b0 * O * L, (b0 + n) * O * L);
        if (dwT) {
          // undoes 1 for weight
          columns(c, b0, n);
          if (part) {
            be.matmul(part, c, gc, n * G, Kg, Og, L, false, true, Kg * L, Og * L, false);
            be.matmul(dwT, ones, part, 1, 1, K * Og, n, false, false, 0, 0, b0 > 0);
          } else {
            for (let b = 0; b < n; b++) {
              be.matmul(dwT, c.subarray(b * K * L, (b + 1) * K * L), gc.subarray(b * O * L, (b + 1) * O * L),
                G, Kg, Og, L, false, true, Kg * L, Og * L, b0 + b > 0);
            }
          }
        }
        if (dx) {
          // undoes 1 for x: dcols_(b, g) [Kg, L] = weight_g^T @ grad_(b, g), then col2im
          withWeight(n, c, gc, Kg, L, Og, true, Og * L);
          col2im(fdata(dx).subarray(b0 * CHW, (b0 + n) * CHW), c, n, C, H, W, kH, kW, oH, oW, sH, sW, padTop, padLeft, dH, dW);
        }
      }
      if (dw && dwT) be.stridedCopy(fdata(dw), dwT, [G, Og, Kg], [Kg * Og, 1, Og]); // [G, Kg, Og] -> [G, Og, Kg]
    }
    if (bias && bias.requiresGrad) {
      // undoes 2: sums of grad [B, O, L] over B and L
      db = empty([O], dtype);
      if (B > 0) {
        const rows = allocate(dtype, B * O);
        be.matmul(rows, gd, allocate(dtype, L).fill(1), 1, B * O, 1, L, false, false, 0, 0, false); // [B * O, L] @ [L, 1]
        be.matmul(fdata(db), allocate(dtype, B).fill(1), rows, 1, 1, O, B, false, false, 0, 0, false); // [1, B] @ [B, O]
      }
    }
    return bias ? [dx, dw, db] : [dx, dw];
  });
  return batched ? rec : reshape(rec, [O, oH, oW]);
}
