/**
 * 2-D pooling kernels over planes: x [P, H, W] (P = B * C), out [P, oH, oW]. Windows follow
 * torch's CPU kernels: output (oh, ow) covers rows oh * sH - padH + i * dH (i < kH) and likewise
 * columns; taps in the padding are skipped (max) or counted per `countIncludePad` (average).
 */
import type { FloatArray } from "../../tensor/dtype.js";

/**
 * Max over each window; idx [P, oH, oW] saves the flat h * W + w of the max (the first one in
 * row-major order on ties; as torch, a NaN wins and the last NaN is kept).
 */
export function maxPool2d(out: FloatArray, idx: Int32Array, x: FloatArray, P: number, H: number, W: number,
  oH: number, oW: number, kH: number, kW: number, sH: number, sW: number, padH: number, padW: number,
  dH: number, dW: number): void {
  for (let p = 0; p < P; p++) {
    const xo = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const h0 = oh * sH - padH;
      for (let ow = 0; ow < oW; ow++) {
        const w0 = ow * sW - padW;
        let best = -Infinity, at = -1;
        for (let i = 0; i < kH; i++) {
          const h = h0 + i * dH;
          if (h < 0 || h >= H) continue;
          for (let j = 0; j < kW; j++) {
            const w = w0 + j * dW;
            if (w < 0 || w >= W) continue;
            const v = x[xo + h * W + w]!;
            if (at < 0 || v > best || Number.isNaN(v)) {
              best = v;
              at = h * W + w;
            }
          }
        }
        const o = (p * oH + oh) * oW + ow;
        out[o] = best;
        idx[o] = at;
      }
    }
  }
}

/** dx [P, H, W] += dy routed to the saved max of each window. */
export function maxPool2dBackward(dx: FloatArray, dy: FloatArray, idx: Int32Array, P: number, HW: number, oHW: number): void {
  for (let p = 0; p < P; p++) {
    for (let o = 0; o < oHW; o++) {
      const at = idx[p * oHW + o]!;
      if (at >= 0) dx[p * HW + at]! += dy[p * oHW + o]!;
    }
  }
}

/**
 * The window of output (oh, ow) for average pooling: the clipped row / column ranges and the
 * divisor. The window is first clipped to the padded input (its size then is the divisor with
 * `countIncludePad`), then to the input (the divisor without it); `divisor` > 0 overrides both.
 */
function avgWindow(oh: number, ow: number, H: number, W: number, kH: number, kW: number, sH: number, sW: number,
  padH: number, padW: number, countIncludePad: boolean, divisor: number): [number, number, number, number, number] {
  let h0 = oh * sH - padH, w0 = ow * sW - padW;
  let h1 = Math.min(h0 + kH, H + padH), w1 = Math.min(w0 + kW, W + padW);
  const padded = (h1 - h0) * (w1 - w0);
  h0 = Math.max(h0, 0);
  w0 = Math.max(w0, 0);
  h1 = Math.min(h1, H);
  w1 = Math.min(w1, W);
  const div = divisor > 0 ? divisor : countIncludePad ? padded : (h1 - h0) * (w1 - w0);
  return [h0, h1, w0, w1, div];
}

/** Average over each window; a window wholly in the padding gives 0. `divisor` 0: none. */
export function avgPool2d(out: FloatArray, x: FloatArray, P: number, H: number, W: number, oH: number, oW: number,
  kH: number, kW: number, sH: number, sW: number, padH: number, padW: number, countIncludePad: boolean, divisor: number): void {
  for (let oh = 0; oh < oH; oh++) {
    for (let ow = 0; ow < oW; ow++) {
      const [h0, h1, w0, w1, div] = avgWindow(oh, ow, H, W, kH, kW, sH, sW, padH, padW, countIncludePad, divisor);
      for (let p = 0; p < P; p++) {
        const xo = p * H * W;
        let s = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += x[xo + h * W + w]!;
        out[(p * oH + oh) * oW + ow] = h0 < h1 && w0 < w1 ? s / div : 0;
      }
    }
  }
}

/** dx [P, H, W] += dy / divisor spread over each window (the adjoint of avgPool2d). */
export function avgPool2dBackward(dx: FloatArray, dy: FloatArray, P: number, H: number, W: number, oH: number, oW: number,
  kH: number, kW: number, sH: number, sW: number, padH: number, padW: number, countIncludePad: boolean, divisor: number): void {
  for (let oh = 0; oh < oH; oh++) {
    for (let ow = 0; ow < oW; ow++) {
      const [h0, h1, w0, w1, div] = avgWindow(oh, ow, H, W, kH, kW, sH, sW, padH, padW, countIncludePad, divisor);
      if (h0 >= h1 || w0 >= w1) continue;
      for (let p = 0; p < P; p++) {
        const xo = p * H * W;
        const g = dy[(p * oH + oh) * oW + ow]! / div;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) dx[xo + h * W + w]! += g;
      }
    }
  }
}

/** Output o of n -> m adaptive pooling covers [floor(o n / m), ceil((o + 1) n / m)). */
const lo = (o: number, n: number, m: number): number => Math.floor((o * n) / m);
const hi = (o: number, n: number, m: number): number => Math.ceil(((o + 1) * n) / m);

/** Adaptive average pooling [P, H, W] -> [P, oH, oW] (torch's start / end rule). */
export function adaptiveAvgPool2d(out: FloatArray, x: FloatArray, P: number, H: number, W: number, oH: number, oW: number): void {
  for (let p = 0; p < P; p++) {
    const xo = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const h0 = lo(oh, H, oH), h1 = hi(oh, H, oH);
      for (let ow = 0; ow < oW; ow++) {
        const w0 = lo(ow, W, oW), w1 = hi(ow, W, oW);
        let s = 0;
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += x[xo + h * W + w]!;
        out[(p * oH + oh) * oW + ow] = s / ((h1 - h0) * (w1 - w0));
      }
    }
  }
}

/** dx [P, H, W] += each output's gradient spread evenly over its window. */
export function adaptiveAvgPool2dBackward(dx: FloatArray, dy: FloatArray, P: number, H: number, W: number, oH: number, oW: number): void {
  for (let p = 0; p < P; p++) {
    const xo = p * H * W;
    for (let oh = 0; oh < oH; oh++) {
      const h0 = lo(oh, H, oH), h1 = hi(oh, H, oH);
      for (let ow = 0; ow < oW; ow++) {
        const w0 = lo(ow, W, oW), w1 = hi(ow, W, oW);
        const g = dy[(p * oH + oh) * oW + ow]! / ((h1 - h0) * (w1 - w0));
        for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) dx[xo + h * W + w]! += g;
      }
    }
  }
}
