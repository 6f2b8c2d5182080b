/**
 * Attention heatmaps: a matrix of weights as an SVG (one rect per cell, row and column labels,
 * a color bar, a tooltip per cell) and a self-contained HTML report of many heads side by side
 * (inline CSS, no scripts, fonts, images or links). Browser-safe: strings in, strings out.
 *
 * ```ts
 * // weights: [L, S] row-major, e.g. one head of an attention map
 * const svg = heatmapSvg(weights, 3, 4, { rowLabels: ["the", "cat", "sat"], colLabels: ["<bos>", "the", "cat", "sat"], title: "head 0" });
 * const html = attentionReportHtml([{ title: "layer 0", heads: [{ label: "head 0", weights, rows: 3, cols: 4 }] }]);
 * ```
 */
import { ValueError } from "../tensor/errors.js";
import { escapeXml, htmlPage } from "./page.js";

export { escapeXml } from "./page.js";

/** Sequential from 0 ("viridis", "blues"), or diverging around 0 ("rdbu": blue below, white at 0, red above). */
export type ColorScale = "viridis" | "blues" | "rdbu";

export interface HeatmapOptions {
  /** One label per row (the queries); defaults to the row index. */
  rowLabels?: string[];
  /** One label per column (the keys); defaults to the column index. */
  colLabels?: string[];
  title?: string;
  /** Cell edge in pixels; by default the larger side of the matrix spans about 400 px (6 to 28 px per cell). */
  cellSize?: number;
  colorScale?: ColorScale;
  /**
   * The value drawn with the top color (default: the largest value of the matrix; with "rdbu",
   * the largest magnitude, and -vmax gets the bottom color).
   */
  vmax?: number;
}

/** Color stops at 0, 1/(n-1), ..., 1 (matplotlib's viridis, ColorBrewer's Blues and RdBu, the latter reversed). */
const SCALES: Record<ColorScale, readonly string[]> = {
  viridis: ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725"],
  blues: ["#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"],
  rdbu: ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"],
};

/** Color of NaN cells (e.g. fully masked rows). */
const NAN_COLOR = "#d9d9d9";

function hexToRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/**
 * The color of `t` in [0, 1] on a scale, as `#rrggbb` (linear interpolation between stops;
 * NaN gives light gray).
 *
 * ```ts
 * colorAt(0, "viridis"); // "#440154"
 * ```
 */
export function colorAt(t: number, scale: ColorScale = "viridis"): string {
  if (Number.isNaN(t)) return NAN_COLOR;
  const stops = SCALES[scale];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(stops[i]!);
  const b = hexToRgb(stops[i + 1]!);
  return `#${a.map((c, k) => Math.round(c + (b[k]! - c) * f).toString(16).padStart(2, "0")).join("")}`;
}

/** A short, readable number: 4 significant digits, no trailing zeros. */
function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** Rounds coordinates to 0.1 px to keep the markup small. */
const r1 = (v: number): number => Math.round(v * 10) / 10;

/** Estimated text width (proportional sans-serif) in px. */
const textWidth = (s: string, fontSize: number): number => [...s].length * fontSize * 0.6;

function checkPositiveInt(op: string, arg: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new ValueError(op, arg, "a positive integer", String(v));
  return v;
}

function checkLabels(op: string, arg: string, labels: unknown, n: number, what: string): string[] | undefined {
  if (labels === undefined) return undefined;
  if (!Array.isArray(labels) || labels.length !== n) {
    throw new ValueError(op, arg, `${n} labels (one per ${what})`, Array.isArray(labels) ? `${labels.length} labels` : typeof labels);
  }
  return labels.map(String);
}

function renderHeatmap(op: string, weights: ArrayLike<number>, rows: number, cols: number, opts: HeatmapOptions, xmlns: boolean): string {
  checkPositiveInt(op, "rows", rows);
  checkPositiveInt(op, "cols", cols);
  if (weights === null || typeof weights !== "object" || typeof weights.length !== "number") {
    throw new ValueError(op, "weights", "an array-like of numbers", String(weights));
  }
  if (weights.length !== rows * cols) {
    throw new ValueError(op, "weights", `rows x cols = ${rows} x ${cols} = ${rows * cols} values`, `${weights.length} values`);
  }
  const rowLabels = checkLabels(op, "rowLabels", opts.rowLabels, rows, "row") ?? Array.from({ length: rows }, (_, i) => String(i));
  const colLabels = checkLabels(op, "colLabels", opts.colLabels, cols, "column") ?? Array.from({ length: cols }, (_, j) => String(j));
  const scale = opts.colorScale ?? "viridis";
  if (!Object.hasOwn(SCALES, scale)) throw new ValueError(op, "colorScale", '"viridis", "blues" or "rdbu"', String(scale));
  const diverging = scale === "rdbu";
  const cell = opts.cellSize ?? Math.max(6, Math.min(28, Math.floor(400 / Math.max(rows, cols))));
  if (typeof cell !== "number" || !Number.isFinite(cell) || cell <= 0) throw new ValueError(op, "cellSize", "a positive number", String(cell));

  let max = -Infinity;
  for (let i = 0; i < weights.length; i++) {
    const v = weights[i]!;
    const m = diverging ? (Number.isFinite(v) ? Math.abs(v) : -Infinity) : v;
    if (m > max) max = m;
  }
  const vmax = opts.vmax ?? max;
  if (opts.vmax !== undefined && (typeof vmax !== "number" || !(vmax > 0) || !Number.isFinite(vmax))) {
    throw new ValueError(op, "vmax", "a positive finite number", String(opts.vmax));
  }
  const ok = vmax > 0 && Number.isFinite(vmax);
  // diverging: -vmax..vmax onto 0..1, an infinite value (a masked score) gray like NaN
  const norm = diverging
    ? (v: number): number => (!Number.isFinite(v) ? NaN : ok ? Math.min(1, Math.max(0, 0.5 + (0.5 * v) / vmax)) : 0.5)
    : (v: number): number => (Number.isNaN(v) ? NaN : ok ? Math.min(1, Math.max(0, v / vmax)) : 0);
  const bottom = diverging && ok ? fmt(-vmax) : "0";

  // Layout: title, rotated column labels above the grid, row labels to its left, color bar to its right.
  const font = Math.max(8, Math.min(12, cell * 0.75));
  const stride = Math.max(1, Math.ceil((font * 1.15) / cell)); // label every `stride`-th row/column when cells are small
  const shown = (labels: string[]) => labels.filter((_, i) => i % stride === 0);
  const maxRowW = Math.max(0, ...shown(rowLabels).map((s) => textWidth(s, font)));
  const maxColW = Math.max(0, ...shown(colLabels).map((s) => textWidth(s, font)));
  const title = opts.title ?? "";
  const titleH = title ? 24 : 4;
  const pad = 6;
  const x0 = pad + maxRowW + 6;
  const y0 = titleH + maxColW * Math.SQRT1_2 + font + 4;
  const gw = cols * cell;
  const gh = rows * cell;
  const barX = x0 + gw + 12;
  const barW = 10;
  const barH = Math.max(gh, 60);
  const barLabelW = Math.max(textWidth(fmt(vmax > 0 ? vmax : 0), 10), textWidth(bottom, 10));
  const width = Math.ceil(Math.max(barX + barW + 4 + barLabelW + pad, x0 + (cols - 0.5) * cell + maxColW * Math.SQRT1_2 + font + pad, textWidth(title, 14) + 2 * pad));
  const height = Math.ceil(y0 + Math.max(gh, barH) + pad);

  const out: string[] = [];
  const label = title ? ` aria-label="${escapeXml(title)}"` : "";
  out.push(`<svg${xmlns ? ' xmlns="http://www.w3.org/2000/svg"' : ""} class="qkv-heatmap" role="img"${label} width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`);
  if (title) out.push(`<text x="${pad}" y="16" font-size="14" font-weight="600" fill="#222">${escapeXml(title)}</text>`);

  // Row labels (right-aligned) and column labels (rotated -45 degrees).
  out.push(`<g font-size="${r1(font)}" fill="#333">`);
  for (let i = 0; i < rows; i += stride) {
    out.push(`<text x="${r1(x0 - 4)}" y="${r1(y0 + (i + 0.5) * cell)}" text-anchor="end" dominant-baseline="central">${escapeXml(rowLabels[i]!)}</text>`);
  }
  for (let j = 0; j < cols; j += stride) {
    const cx = r1(x0 + (j + 0.5) * cell);
    const cy = r1(y0 - 4);
    out.push(`<text x="${cx}" y="${cy}" transform="rotate(-45 ${cx} ${cy})" dominant-baseline="central">${escapeXml(colLabels[j]!)}</text>`);
  }
  out.push("</g>");

  // Cells: [rows, cols] row-major.
  out.push(`<g shape-rendering="crispEdges">`);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = weights[i * cols + j]!;
      out.push(
        `<rect x="${r1(x0 + j * cell)}" y="${r1(y0 + i * cell)}" width="${r1(cell)}" height="${r1(cell)}" fill="${colorAt(norm(v), scale)}">` +
          `<title>${escapeXml(`${rowLabels[i]!} \u2192 ${colLabels[j]!}: ${fmt(v)}`)}</title></rect>`,
      );
    }
  }
  out.push("</g>");

  // Color bar: bottom 0 (diverging: -vmax), top vmax, drawn as horizontal bands.
  const bands = 48;
  out.push(`<g shape-rendering="crispEdges">`);
  for (let k = 0; k < bands; k++) {
    const y = y0 + barH - ((k + 1) * barH) / bands;
    out.push(`<path d="M${r1(barX)} ${r1(y)}h${barW}v${r1(barH / bands + 0.5)}h${-barW}z" fill="${colorAt((k + 0.5) / bands, scale)}"/>`);
  }
  out.push(`<path d="M${r1(barX)} ${r1(y0)}h${barW}v${r1(barH)}h${-barW}z" fill="none" stroke="#999" stroke-width="0.5"/>`);
  out.push("</g>");
  out.push(`<g font-size="10" fill="#555">`);
  out.push(`<text x="${r1(barX + barW + 4)}" y="${r1(y0 + 4)}" dominant-baseline="central">${escapeXml(fmt(vmax > 0 ? vmax : 0))}</text>`);
  out.push(`<text x="${r1(barX + barW + 4)}" y="${r1(y0 + barH - 4)}" dominant-baseline="central">${escapeXml(bottom)}</text>`);
  out.push("</g>");
  out.push("</svg>");
  return out.join("\n");
}

/**
 * A heatmap of a [rows, cols] row-major matrix as an SVG string: one rect per cell colored by
 * value / vmax (vmax defaults to the matrix maximum; values are clamped to [0, 1], NaN is gray;
 * "rdbu" colors -vmax..vmax, white at 0, and draws infinite values gray too),
 * row labels on the left, column labels rotated above, a title, a color bar and a
 * `row → col: value` tooltip per cell. All text is XML-escaped.
 *
 * ```ts
 * const svg = heatmapSvg([0.9, 0.1, 0.3, 0.7], 2, 2, { rowLabels: ["a", "b"], colLabels: ["x", "y"], colorScale: "blues" });
 * ```
 */
export function heatmapSvg(weights: ArrayLike<number>, rows: number, cols: number, opts: HeatmapOptions = {}): string {
  return renderHeatmap("heatmapSvg", weights, rows, cols, opts, true);
}

/** One head's matrix in a report. */
export interface ReportHead {
  label: string;
  /** [rows, cols] row-major. */
  weights: ArrayLike<number>;
  rows: number;
  cols: number;
  rowLabels?: string[];
  colLabels?: string[];
  vmax?: number;
}

export interface ReportSection {
  title: string;
  heads: ReportHead[];
}

export interface ReportOptions {
  title?: string;
  colorScale?: ColorScale;
  cellSize?: number;
}

const CSS = `
:root { color-scheme: light; }
body { margin: 24px; font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 16px; }
h2 { font-size: 16px; margin: 0 0 10px; }
section { background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 14px 16px; margin-bottom: 18px; }
.heads { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 0; }
svg.qkv-heatmap { display: block; }
svg.qkv-heatmap rect:hover { stroke: #f33; stroke-width: 1.5; }
`.trim();

/**
 * A complete, self-contained HTML page (inline CSS and SVG only: no scripts, fonts, images or
 * links) showing each section with its heads' heatmaps side by side. Hovering a cell shows its
 * `row → col: value` tooltip.
 *
 * ```ts
 * const html = attentionReportHtml(
 *   [{ title: "layer 0", heads: [0, 1].map((h) => ({ label: `head ${h}`, weights: w[h], rows: L, cols: S, rowLabels: toks, colLabels: toks })) }],
 *   { title: "attention of a 2-head model" },
 * );
 * ```
 */
export function attentionReportHtml(sections: ReportSection[], opts: ReportOptions = {}): string {
  const op = "attentionReportHtml";
  if (!Array.isArray(sections)) throw new ValueError(op, "sections", "an array of sections", typeof sections);
  const title = opts.title ?? "Attention weights";
  const body: string[] = [];
  sections.forEach((section, s) => {
    if (section === null || typeof section !== "object" || !Array.isArray(section.heads)) {
      throw new ValueError(op, `sections[${s}]`, "{ title, heads: [...] }", String(section));
    }
    body.push(`<section>\n<h2>${escapeXml(String(section.title ?? ""))}</h2>\n<div class="heads">`);
    section.heads.forEach((head, h) => {
      let svg: string;
      try {
        const o: HeatmapOptions = { title: head.label, colorScale: opts.colorScale, cellSize: opts.cellSize, rowLabels: head.rowLabels, colLabels: head.colLabels, vmax: head.vmax };
        svg = renderHeatmap(op, head.weights, head.rows, head.cols, o, false);
      } catch (e) {
        if (e instanceof ValueError) throw new ValueError(op, `sections[${s}].heads[${h}].${e.arg}`, e.expected, e.actual);
        throw e;
      }
      body.push(`<figure>\n${svg}\n</figure>`);
    });
    body.push("</div>\n</section>");
  });
  return htmlPage(title, CSS, [`<h1>${escapeXml(title)}</h1>`, ...body]);
}
