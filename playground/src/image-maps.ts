/**
 * Drawing the image panel's pictures on canvases: a gray image scaled up with square pixels, and
 * over it, optionally, a map over the patch grid (rollout or one head's weights) in the viridis
 * colours of `qkv viz`, scaled to the map's largest value, at an adjustable opacity.
 *
 * ```ts
 * drawImageMap(canvas, { pixels, height: 28, width: 28 }, { grid: [7, 7], values: rollout }, 0.6);
 * ```
 */
import { colorAt } from "../../src/viz/heatmap.js";

export interface GrayPicture {
  /** height x width gray values in 0..255, row by row. */
  pixels: ArrayLike<number>;
  height: number;
  width: number;
}

export interface GridMap {
  /** [gh, gw] */
  grid: [number, number];
  /** [gh * gw], non-negative. */
  values: ArrayLike<number>;
}

/** The mean of equal-length maps (a layer's mean of heads). */
export function meanMap(maps: readonly ArrayLike<number>[]): Float64Array {
  const n = maps[0]?.length ?? 0, out = new Float64Array(n);
  for (const m of maps) for (let i = 0; i < n; i++) out[i]! += Number(m[i]) / maps.length;
  return out;
}

/** Draws `image` filling `canvas` (its current size), with `map` laid over it at opacity `alpha` in [0, 1]. */
export function drawImageMap(canvas: HTMLCanvasElement, image: GrayPicture, map: GridMap | null, alpha: number): void {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const W = canvas.width, H = canvas.height;
  const cw = W / image.width, ch = H / image.height;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, W, H);
  for (let r = 0; r < image.height; r++) {
    for (let c = 0; c < image.width; c++) {
      const v = Math.round(Number(image.pixels[r * image.width + c]) || 0);
      if (v <= 0) continue;
      ctx.fillStyle = `rgb(${v},${v},${v})`;
      ctx.fillRect(Math.floor(c * cw), Math.floor(r * ch), Math.ceil(cw), Math.ceil(ch));
    }
  }
  if (!map) return;
  const [gh, gw] = map.grid;
  let max = 0;
  for (let i = 0; i < gh * gw; i++) max = Math.max(max, Number(map.values[i]));
  ctx.globalAlpha = Math.min(1, Math.max(0, alpha));
  for (let r = 0; r < gh; r++) {
    for (let c = 0; c < gw; c++) {
      const x0 = Math.round((c * W) / gw), x1 = Math.round(((c + 1) * W) / gw), y0 = Math.round((r * H) / gh), y1 = Math.round(((r + 1) * H) / gh);
      ctx.fillStyle = colorAt(max > 0 ? Number(map.values[r * gw + c]) / max : 0, "viridis");
      ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
    }
  }
  ctx.globalAlpha = 1;
}

/** The patch [row, column] under canvas point (x, y) in CSS pixels, or null outside. */
export function patchAt(canvas: HTMLCanvasElement, grid: [number, number], x: number, y: number): [number, number] | null {
  const rect = canvas.getBoundingClientRect();
  if (rect.width <= 0 || rect.height <= 0) return null;
  const r = Math.floor(((y - rect.top) / rect.height) * grid[0]), c = Math.floor(((x - rect.left) / rect.width) * grid[1]);
  return r >= 0 && r < grid[0] && c >= 0 && c < grid[1] ? [r, c] : null;
}
