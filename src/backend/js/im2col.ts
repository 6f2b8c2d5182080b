/**
 * im2col / col2im for 2-D convolution, NCHW.
 *
 * cols is laid out [B, C * kH * kW, oH * oW] (torch's per-image columns): row (c, i, j) =
 * (c * kH + i) * kW + j of image b holds, for every output position, the input pixel that kernel
 * tap (i, j) of channel c reads (0 in the padding). Image b's output is then
 * out_b [O, oH * oW] = weight [O, C * kH * kW] @ cols_b, and the channels of a group are one
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

/** cols [B, C * kH * kW, oH * oW] from x [B, C, H, W]. */
export function im2col(cols: FloatArray, x: FloatArray, B: number, C: number, H: number, W: number,
  kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, padTop: number, padLeft: number,
  dH: number, dW: number): void {
  const L = oH * oW, R = C * kH * kW;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const xc = (b * C + c) * H * W;
      for (let i = 0; i < kH; i++) {
        for (let j = 0; j < kW; j++) {
          const [lo, hi] = validRange(j * dW, sW, padLeft, W, oW);
          const colOff = j * dW - padLeft;
          let p = (b * R + (c * kH + i) * kW + j) * L;
          for (let oh = 0; oh < oH; oh++, p += oW) {
            const ih = oh * sH - padTop + i * dH;
            if (ih < 0 || ih >= H) {
              for (let ow = 0; ow < oW; ow++) cols[p + ow] = 0;
              continue;
            }
            const xr = xc + ih * W + colOff;
            for (let ow = 0; ow < lo; ow++) cols[p + ow] = 0;
            for (let ow = lo; ow < hi; ow++) cols[p + ow] = x[xr + ow * sW]!;
            for (let ow = hi; ow < oW; ow++) cols[p + ow] = 0;
          }
        }
      }
    }
  }
}

/** dx [B, C, H, W] += the cols [B, C * kH * kW, oH * oW] gathered back (the adjoint of im2col). */
export function col2im(dx: FloatArray, cols: FloatArray, B: number, C: number, H: number, W: number,
  kH: number, kW: number, oH: number, oW: number, sH: number, sW: number, padTop: number, padLeft: number,
  dH: number, dW: number): void {
  const L = oH * oW, R = C * kH * kW;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const xc = (b * C + c) * H * W;
      for (let i = 0; i < kH; i++) {
        for (let j = 0; j < kW; j++) {
          const [lo, hi] = validRange(j * dW, sW, padLeft, W, oW);
          const colOff = j * dW - padLeft;
          let p = (b * R + (c * kH + i) * kW + j) * L;
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
