/**
 * Convolution kernels of the js backend, the reference for the fused native and wasm kernels:
 * im2col (im2col.ts) of a chunk of images into per-image columns, then the js batched GEMM; the
 * input gradient is the transposed product and col2im, the weight gradient per-image products of
 * the columns with the incoming gradient, summed.
 *
 * ```ts
 * conv2dForward(out, x, weight, bias, args);         // out [B, O, oH, oW]
 * conv2dBackwardInput(dx, dy, weight, args);          // dx [B, C, H, W]
 * conv2dBackwardWeight(dweight, dy, x, args);         // dweight [O, C / G, kH, kW]
 * ```
 */
import type { FloatArray } from "../../tensor/dtype.js";
import type { Conv2dArgs } from "../backend.js";
import { stridedCopy } from "./copy.js";
import { col2im, im2col } from "./im2col.js";
import { matmul } from "./matmul.js";

/** Column elements per chunk of images (16 MiB of float32): memory stays bounded and the chunk stays in cache longer. */
const COLUMN_CHUNK = 1 << 22;

/** A zeroed array of n elements of x's kind. */
function like(x: FloatArray, n: number): FloatArray {
  return x instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
}

/** The per-call sizes: L positions and K = C kH kW column rows per image, Og / Kg per group, images per chunk. */
function sizes(a: Conv2dArgs): { L: number; K: number; Og: number; Kg: number; CHW: number; nb: number } {
  const L = a.oH * a.oW, K = a.C * a.kH * a.kW;
  const nb = Math.max(1, Math.min(a.B, Math.floor(COLUMN_CHUNK / Math.max(1, K * L))));
  return { L, K, Og: a.O / a.G, Kg: K / a.G, CHW: a.C * a.H * a.W, nb };
}

/** cols [n, K, L] of images b0 .. b0 + n. */
function columns(cols: FloatArray, x: FloatArray, b0: number, n: number, a: Conv2dArgs, CHW: number): void {
  im2col(cols, x.subarray(b0 * CHW, (b0 + n) * CHW), n, a.C, a.H, a.W, a.kH, a.kW, a.oH, a.oW, a.sH, a.sW,
    a.padTop, a.padLeft, a.dH, a.dW);
}

/**
 * out_(b, g) [M, N] = op(weight_g) @ rhs_(b, g) for n images: one call over them, or one per image
 * over the groups. weight_g is [Og, Kg] at g Og Kg; rhs_(b, g) at (b G + g) rhsStride.
 */
function withWeight(out: FloatArray, weight: FloatArray, rhs: FloatArray, n: number, G: number, M: number, N: number,
  depth: number, transW: boolean, wStride: number, rhsStride: number): void {
  if (G === 1) {
    matmul(out, weight, rhs, n, M, N, depth, transW, false, 0, rhsStride, false);
    return;
  }
  for (let b = 0; b < n; b++) {
    matmul(out.subarray(b * G * M * N, (b + 1) * G * M * N), weight, rhs.subarray(b * G * rhsStride, (b + 1) * G * rhsStride),
      G, M, N, depth, transW, false, wStride, rhsStride, false);
  }
}

/** out [B, O, oH, oW] = conv(x [B, C, H, W], weight [O, C / G, kH, kW]) (+ bias [O]). */
export function conv2dForward(out: FloatArray, x: FloatArray, weight: FloatArray, bias: FloatArray | null, a: Conv2dArgs): void {
  const { B, O, G } = a;
  const { L, K, Og, Kg, CHW, nb } = sizes(a);
  if (B === 0 || O === 0 || L === 0) return;
  const cols = like(x, nb * K * L); // [nb, G, Kg, L]
  for (let b0 = 0; b0 < B; b0 += nb) {
    const n = Math.min(nb, B - b0), c = cols.subarray(0, n * K * L);
    columns(c, x, b0, n, a, CHW);
    // 1. out_(b, g) [Og, L] = weight_g [Og, Kg] @ cols_(b, g) [Kg, L]
    withWeight(out.subarray(b0 * O * L, (b0 + n) * O * L), weight, c, n, G, Og, L, Kg, false, Og * Kg, Kg * L);
  }
  // 2. + bias [O] at every position
  if (bias) {
    for (let bo = 0; bo < B * O; bo++) {
      const v = bias[bo % O]!;
      for (let p = bo * L; p < (bo + 1) * L; p++) out[p]! += v;
    }
  }
}

/** dx [B, C, H, W] = the gradient of x for dy [B, O, oH, oW]: undoes 1 of the forward for x. */
export function conv2dBackwardInput(dx: FloatArray, dy: FloatArray, weight: FloatArray, a: Conv2dArgs): void {
  const { B, O, G } = a;
  const { L, K, Og, Kg, CHW, nb } = sizes(a);
  dx.fill(0, 0, B * CHW);
  if (B === 0 || L === 0) return;
  const dcols = like(dx, nb * K * L); // [nb, G, Kg, L]
  for (let b0 = 0; b0 < B; b0 += nb) {
    const n = Math.min(nb, B - b0), c = dcols.subarray(0, n * K * L);
    // dcols_(b, g) [Kg, L] = weight_g^T @ dy_(b, g) [Og, L], then col2im
    withWeight(c, weight, dy.subarray(b0 * O * L, (b0 + n) * O * L), n, G, Kg, L, Og, true, Og * Kg, Og * L);
    col2im(dx.subarray(b0 * CHW, (b0 + n) * CHW), c, n, a.C, a.H, a.W, a.kH, a.kW, a.oH, a.oW, a.sH, a.sW,
      a.padTop, a.padLeft, a.dH, a.dW);
  }
}

/** dweight [O, C / G, kH, kW] = the gradient of the weight for dy and x: undoes 1 of the forward for the weight. */
export function conv2dBackwardWeight(dweight: FloatArray, dy: FloatArray, x: FloatArray, a: Conv2dArgs): void {
  const { B, O, G } = a;
  const { L, K, Og, Kg, CHW, nb } = sizes(a);
  if (B === 0 || L === 0) {
    dweight.fill(0, 0, O * Kg);
    return;
  }
  // dw_g^T [Kg, Og] = sum_b cols_(b, g) [Kg, L] @ dy_(b, g)^T, from columns per chunk; with Og <= L one
  // product per (image, group) into parts no larger than the columns, then a sum over the chunk's images
  const cols = like(x, nb * K * L);
  const dwT = like(x, K * Og); // [G, Kg, Og]
  const part = Og <= L ? like(x, nb * K * Og) : null;
  const ones = like(x, nb).fill(1);
  for (let b0 = 0; b0 < B; b0 += nb) {
    const n = Math.min(nb, B - b0), c = cols.subarray(0, n * K * L), gc = dy.subarray(b0 * O * L, (b0 + n) * O * L);
    columns(c, x, b0, n, a, CHW);
    if (part) {
      matmul(part, c, gc, n * G, Kg, Og, L, false, true, Kg * L, Og * L, false);
      matmul(dwT, ones, part, 1, 1, K * Og, n, false, false, 0, 0, b0 > 0);
    } else {
      for (let b = 0; b < n; b++) {
        matmul(dwT, c.subarray(b * K * L, (b + 1) * K * L), gc.subarray(b * O * L, (b + 1) * O * L),
          G, Kg, Og, L, false, true, Kg * L, Og * L, b0 + b > 0);
      }
    }
  }
  stridedCopy(dweight, dwT, [G, Og, Kg], [Kg * Og, 1, Og]); // [G, Kg, Og] -> [G, Og, Kg]
}
