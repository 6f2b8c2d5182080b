/**
 * Image view for vision transformers, as one self-contained HTML file (inline CSS, JavaScript and
 * data; no network access): the input image; a map over the patch grid laid on the image (the
 * attention rollout, attention × gradient, or any layer's head) with its opacity adjustable and
 * each patch's value on hover; every layer × head (and each layer's mean of heads) as a thumbnail
 * of the image with its map, a click showing it large. Maps are stored divided by their largest
 * value as 16-bit fixed point, with that value beside them. Browser-safe.
 *
 * ```ts
 * const html = imagePageHtml({
 *   title: "ViT on a digit", image: { height: 28, width: 28, channels: 1, pixels },  // pixels [H * W * C] in 0..255
 *   grid: [7, 7], overlays: [{ name: "rollout", values: r }],                        // r [7 * 7]
 *   layers: [{ name: "blocks.0.attn", heads: [h0, h1] }],                             // h [7 * 7] per head
 * });
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { encodeUnit16, scriptJson } from "./attention-view.js";
import { escapeXml, htmlPage } from "./page.js";
import { IMAGE_CSS, IMAGE_SCRIPT } from "./image-script.js";
import { VIEW_CSS } from "./view-script.js";

export interface ViewImage {
  height: number;
  width: number;
  /** 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** [height, width, channels] row-major, values in 0..255. */
  pixels: ArrayLike<number>;
}

/** A map over the patch grid drawn on the image (rollout, attention × gradient). */
export interface ImageOverlay {
  name: string;
  /** [gh * gw] row-major, non-negative. */
  values: ArrayLike<number>;
  /** How it was computed (shown under the image). */
  note?: string;
}

/** One attention layer: one [gh * gw] map per head (e.g. the class token's weights on the patches). */
export interface ImageLayer {
  name: string;
  heads: ArrayLike<number>[];
}

export interface ImagePageData {
  title: string;
  subtitle?: string;
  image: ViewImage;
  /** The patch grid [gh, gw]: value k of a map belongs to patch row floor(k / gw), column k % gw. */
  grid: [number, number];
  /** At least one of overlays and layers is non-empty. */
  overlays: ImageOverlay[];
  layers: ImageLayer[];
  /** The same layers and heads as attention × gradient (its positive part); optional. */
  gradLayers?: ImageLayer[];
  /** What the per-head maps are (shown above the thumbnails). */
  layerNote?: string;
}

/** Bytes as base64. */
function encodeBytes(b: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < b.length; i += 8192) bin += String.fromCharCode(...b.subarray(i, i + 8192));
  return btoa(bin);
}

const isSide = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 8192;

/** A non-negative map as { v: unit16 of values / max, max }. */
function encodeMap(op: string, arg: string, m: unknown, cells: number, gridText: string): { v: string; max: number } {
  if (m === null || typeof m !== "object" || typeof (m as ArrayLike<number>).length !== "number") throw new ValueError(op, arg, "an array of numbers", String(m));
  const a = m as ArrayLike<number>;
  if (a.length !== cells) throw new ValueError(op, arg, `grid[0] x grid[1] = ${gridText} = ${cells} values (one per patch)`, `${a.length} values`);
  let max = 0;
  for (let i = 0; i < cells; i++) {
    const v = Number(a[i]);
    if (!Number.isFinite(v) || v < 0) throw new ValueError(op, arg, "finite non-negative values", `${a[i]} at ${i}`);
    if (v > max) max = v;
  }
  const scaled = new Float64Array(cells);
  if (max > 0) for (let i = 0; i < cells; i++) scaled[i] = Number(a[i]) / max;
  return { v: encodeUnit16(scaled), max };
}

/** The page as a string; checks the image and every map against the grid. */
export function imagePageHtml(data: ImagePageData): string {
  const op = "imagePageHtml";
  if (data === null || typeof data !== "object") throw new ValueError(op, "data", "{ title, image, grid, overlays, layers }", String(data));
  const im = data.image;
  if (im === null || typeof im !== "object") throw new ValueError(op, "image", "{ height, width, channels, pixels }", String(im));
  if (!isSide(im.height) || !isSide(im.width)) throw new ValueError(op, "image", "a height and width in [1, 8192]", `${im.height} x ${im.width}`);
  if (im.channels !== 1 && im.channels !== 3) throw new ValueError(op, "image.channels", "1 or 3", String(im.channels));
  const npx = im.height * im.width * im.channels;
  if (typeof im.pixels?.length !== "number" || im.pixels.length !== npx) {
    throw new ValueError(op, "image.pixels", `height x width x channels = ${im.height} x ${im.width} x ${im.channels} = ${npx} values`, `${im.pixels?.length} values`);
  }
  const bytes = new Uint8Array(npx);
  for (let i = 0; i < npx; i++) bytes[i] = Math.round(Math.min(255, Math.max(0, Number(im.pixels[i]) || 0)));
  const g = data.grid;
  if (!Array.isArray(g) || g.length !== 2 || !isSide(g[0]) || !isSide(g[1]) || g[0] > im.height || g[1] > im.width) {
    throw new ValueError(op, "grid", `[gh, gw], positive integers at most the image's [${im.height}, ${im.width}]`, JSON.stringify(g) ?? String(g));
  }
  const cells = g[0] * g[1], gridText = `${g[0]} x ${g[1]}`;
  if (!Array.isArray(data.overlays)) throw new ValueError(op, "overlays", "an array of maps", typeof data.overlays);
  if (!Array.isArray(data.layers)) throw new ValueError(op, "layers", "an array of layers", typeof data.layers);
  if (data.overlays.length === 0 && data.layers.length === 0) throw new ValueError(op, "layers", "at least one layer or overlay", "none of either");
  const overlays = data.overlays.map((o, k) => ({ name: String(o.name), note: o.note === undefined ? "" : String(o.note), ...encodeMap(op, `overlays[${k}].values`, o.values, cells, gridText) }));
  const layersOf = (ls: ImageLayer[], arg: string) => ls.map((l, li) => {
    if (!Array.isArray(l?.heads) || l.heads.length === 0) throw new ValueError(op, `${arg}[${li}].heads`, "a non-empty array of maps", typeof l?.heads);
    return { name: String(l.name), heads: l.heads.map((h, hi) => encodeMap(op, `${arg}[${li}].heads[${hi}]`, h, cells, gridText)) };
  });
  const layers = layersOf(data.layers, "layers");
  let gradLayers: ReturnType<typeof layersOf> | null = null;
  if (data.gradLayers !== undefined) {
    if (!Array.isArray(data.gradLayers) || data.gradLayers.length !== layers.length) {
      throw new ValueError(op, "gradLayers", `${layers.length} layers (as many as layers)`, Array.isArray(data.gradLayers) ? `${data.gradLayers.length} layers` : typeof data.gradLayers);
    }
    data.gradLayers.forEach((l, li) => {
      if (l?.heads?.length !== layers[li]!.heads.length) throw new ValueError(op, `gradLayers[${li}].heads`, `${layers[li]!.heads.length} maps (as many as layers[${li}].heads)`, `${l?.heads?.length} maps`);
    });
    gradLayers = layersOf(data.gradLayers, "gradLayers");
  }
  const title = String(data.title ?? "Attention on an image");
  const payload = { image: { h: im.height, w: im.width, c: im.channels, px: encodeBytes(bytes) }, grid: [g[0], g[1]], overlays, layers, gradLayers };
  return htmlPage(title, `${VIEW_CSS}\n${IMAGE_CSS}`, [
    `<h1>${escapeXml(title)}</h1>`,
    data.subtitle ? `<p class="sub">${escapeXml(data.subtitle)}</p>` : "",
    `<section id="image-view"><h2>Image view</h2>`,
    `<div class="controls"><label>Map <select id="map"></select></label><label>Opacity <input type="range" id="alpha" min="0" max="100" value="60"></label>` +
      `<span class="sub">hover a patch for its value</span></div>`,
    `<div class="pair"><figure><figcaption>input (${im.width} x ${im.height}, ${gridText} patches)</figcaption><canvas id="img"></canvas></figure>` +
      `<figure><figcaption id="map-name"></figcaption><canvas id="ov"></canvas><div class="note" id="map-note"></div></figure></div></section>`,
    `<section id="layers-view"><h2>Layers × heads</h2>`,
    `<div class="controls">${gradLayers ? '<label>Show <select id="kind"><option value="attn">attention</option><option value="grad">attention × gradient</option></select></label>' : ""}` +
      `<span class="sub">every layer (rows) and head (columns), then the mean of the layer's heads; each map scaled to its own largest value; click one to show it above</span></div>`,
    data.layerNote ? `<p class="sub">${escapeXml(data.layerNote)}</p>` : "",
    `<div class="grid" id="grid"></div></section>`,
    '<div id="tip"></div>',
    `<script type="application/json" id="qkv-data">${scriptJson(payload)}</script>`,
    `<script>${IMAGE_SCRIPT}</script>`,
  ]);
}
