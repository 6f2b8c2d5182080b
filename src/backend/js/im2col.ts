/**
 * im2col / col2im for 2-D convolution, NCHW.
 *
 * cols is laid out [C * kH * kW, B, oH * oW]: row (c, i, j) = (c * kH + i) * kW + j holds, for
 * every image and output position, the input pixel that kernel tap (i, j) of channel c reads
 * (0 in the padding). With that layout the whole batch is one GEMM per group:
 * out [O, B * oH * oW] = weight [O, C * kH * kW] @ cols, and the channels of a group are one
 * contiguous block of rows.
 *
 * Output position (oh, ow) reads input row oh * sH - padTop + i * dH and column
 * ow * sW - padLeft + j * dW; the bottom / right padding is whatever oH, oW imply (so asymmetric
 * "same" padding needs no extra argument).
 */
import type { FloatArray } from "../../tensor/dtype.js";

/** The output columns [lo, hi) whose input column ow * s - pad + off lies in [0, W). */
function validRange(off: number, s: number, pad: number, W: number, oW: number): [number, number] {
  // iw = ow * s + (off - pad) in [0, W)  <=>  ow in [ceil((pad - off) / s), ceil((W + pad - off) / s))
  const lo = Math.max(0, Math.ceil((pad - off) / s));
  const hi = Math.min(oW, Math.ceil((W + pad - off) / s));
  return [lo, Math.max(lo, hi)];
}

/** cols [C * kH * kW, B, oH * oW] from x [B, C, H, W]. */
export function im2col(cols: FloatArray, x: FloatArray, B: number, C: number, H: number, W: number,
  kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, padTop: number, padLeft: number,
  dH: number, dW: number): void {
  const L = oH * oW;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kH; i++) {
      for (let j = 0; j < kW; j++) {
        const row = (c * kH + i) * kW + j;
        const [lo, hi] = validRange(j * dW, sW, padLeft, W, oW);
        const colOff = j * dW - padLeft;
        for (let b = 0; b < B; b++) {
          const xc = (b * C + c) * H * W;
          let p = (row * B + b) * L;
          for (let oh = 0; oh < oH; oh++, p += oW) {
            const ih = oh * sH - padTop + i * dH;
            if (ih < 0 || ih >= H) {
              cols.fill(0, p, p + oW);
              continue;
            }
            if (lo > 0) cols.fill(0, p, p + lo);
            const xr = xc + ih * W + colOff;
            if (sW === 1) cols.set(x.subarray(xr + lo, xr + hi), p + lo);
            else for (let ow = lo; ow < hi; ow++) cols[p + ow] = x[xr + ow * sW]!;
            if (hi < oW) cols.fill(0, p + hi, p + oW);
          }
        }
      }
    }
  }
}

/** dx [B, C, H, W] += the cols [C * kH * kW, B, oH * oW] gathered back (the adjoint of im2col). */
export function col2im(dx: FloatArray, cols: FloatArray, B: number, C: number, H: number, W: number,
  kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, padTop: number, padLeft: number,
  dH: number, dW: number): void {
  const L = oH * oW;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < kH; i++) {
      for (let j = 0; j < kW; j++) {
        const row = (c * kH + i) * kW + j;
        const [lo, hi] = validRange(j * dW, sW, padLeft, W, oW);
        const colOff = j * dW - padLeft;
        for (let b = 0; b < B; b++) {
          const xc = (b * C + c) * H * W;
          let p = (row * B + b) * L;
          for (let oh = 0; oh < oH; oh++, p += oW) {
            const ih = oh * sH - padTop + i * dH;
            if (ih < 0 || ih >= H) continue;
            const xr = xc + ih * W + colOff;
            for (let ow = lo; ow < hi; ow++) dx[xr + ow * sW]! += cols[p + ow]!;
          }
        }
      }
    }
  }
}
