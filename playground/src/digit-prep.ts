/**
 * A drawing as MNIST's digits were prepared (no DOM): the strokes' bounding box scaled, aspect
 * kept, to fit a 20 x 20 box (each output pixel the mean of the input pixels it covers, so
 * edges come out gray), then placed on a 28 x 28 black image with its centre of mass at the
 * centre (LeCun et al.: "centered in a 28x28 image by computing the center of mass of the
 * pixels"). Input and output are white on black, one gray byte per pixel.
 *
 * ```ts
 * const pixels = prepareDigit(gray, 280, 280);  // Uint8Array(784), or null when nothing is drawn
 * ```
 */
import { ValueError } from "../../src/tensor/errors.js";

/** The output side (MNIST's 28) and the box the digit is scaled into (MNIST's 20). */
export const DIGIT_SIDE = 28;
export const DIGIT_BOX = 20;
/** Input pixels at most this gray count as background when finding the strokes. */
const INK = 16;

export interface DigitOptions {
  side?: number;
  box?: number;
}

/** The prepared image of `gray` (width x height, row by row, white strokes on black); null when it has no strokes. */
export function prepareDigit(gray: ArrayLike<number>, width: number, height: number, o: DigitOptions = {}): Uint8Array | null {
  const side = o.side ?? DIGIT_SIDE, box = Math.min(o.box ?? DIGIT_BOX, side);
  if (gray.length !== width * height) throw new ValueError("prepareDigit", "gray", `width x height = ${width} x ${height} = ${width * height} pixels`, `${gray.length} values`);
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (gray[y * width + x]! > INK) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1, scale = box / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale)), th = Math.max(1, Math.round(bh * scale));
  // area mean: output pixel (i, j) covers input rows [y0 + i / sy, y0 + (i + 1) / sy)
  const sx = tw / bw, sy = th / bh;
  const small = new Float64Array(tw * th);
  for (let i = 0; i < th; i++) {
    const ya = y0 + i / sy, yb = y0 + (i + 1) / sy;
    for (let j = 0; j < tw; j++) {
      const xa = x0 + j / sx, xb = x0 + (j + 1) / sx;
      let sum = 0, area = 0;
      for (let y = Math.floor(ya); y < Math.ceil(yb); y++) {
        const wy = Math.min(yb, y + 1) - Math.max(ya, y);
        for (let x = Math.floor(xa); x < Math.ceil(xb); x++) {
          const w = wy * (Math.min(xb, x + 1) - Math.max(xa, x));
          sum += w * gray[y * width + x]!;
          area += w;
        }
      }
      small[i * tw + j] = area > 0 ? sum / area : 0;
    }
  }
  // centre of mass of the scaled digit, in its own pixel coordinates (pixel centres at k + 0.5)
  let mass = 0, cx = 0, cy = 0;
  for (let i = 0; i < th; i++) for (let j = 0; j < tw; j++) { const v = small[i * tw + j]!; mass += v; cx += v * (j + 0.5); cy += v * (i + 0.5); }
  cx = mass > 0 ? cx / mass : tw / 2;
  cy = mass > 0 ? cy / mass : th / 2;
  const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  const ox = clamp(Math.round(side / 2 - cx), side - tw), oy = clamp(Math.round(side / 2 - cy), side - th);
  const out = new Uint8Array(side * side);
  for (let i = 0; i < th; i++) for (let j = 0; j < tw; j++) out[(oy + i) * side + ox + j] = Math.round(Math.min(255, small[i * tw + j]!));
  return out;
}
