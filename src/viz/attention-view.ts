/**
 * Interactive attention pages in the style of BertViz, as one self-contained HTML file (inline
 * CSS, JavaScript and data; no network access): a head view (query tokens on the left, key tokens
 * on the right, one line per weight above 0.01 with opacity by weight, one color per head; heads
 * selectable, hovering a token shows only its lines), a model view (every layer × head as a
 * thumbnail heatmap; a click opens it in the head view), optional matrices (rollout, flow) and a
 * table of per-head statistics. Drawing is on canvases, so 512 tokens stay usable. Weights are
 * stored as 16-bit fixed point (resolution 1/65535), values clamped to [0, 1]. Browser-safe.
 *
 * ```ts
 * const html = attentionPageHtml({
 *   title: "encoder self-attention",
 *   groups: [{ name: "encoder", rows: toks, cols: toks, layers: [{ name: "layers.0", heads: [w0, w1] }] }], // w: [L*S] per head
 * });
 * ```
 */
import type { HeadStats } from "../interpret/head-stats.js";
import { ValueError } from "../tensor/errors.js";
import { escapeXml, htmlPage } from "./page.js";
import { ATTENTION_SCRIPT, VIEW_CSS } from "./view-script.js";

export interface ViewLayer {
  /** e.g. the module's dotted name. */
  name: string;
  /** One [rows * cols] row-major map per head. */
  heads: ArrayLike<number>[];
}

/** Attention maps over one pair of token sequences (encoder self, decoder self, cross, ...). */
export interface ViewGroup {
  name: string;
  /** Query tokens (left side of the head view). */
  rows: string[];
  /** Key tokens (right side). */
  cols: string[];
  layers: ViewLayer[];
}

/** A single [rows * cols] matrix shown as a heatmap (rollout, flow, ...). */
export interface ViewMatrix {
  name: string;
  rows: string[];
  cols: string[];
  values: ArrayLike<number>;
}

export interface AttentionPageData {
  title: string;
  /** A line under the title. */
  subtitle?: string;
  groups: ViewGroup[];
  matrices?: ViewMatrix[];
  /** Per-head statistics, one table row per (layer, head). */
  stats?: { layer: string; heads: HeadStats[] }[];
}

/** Values in [0, 1] as base64 of little-endian uint16 (v * 65535, rounded). */
export function encodeUnit16(values: ArrayLike<number>): string {
  const n = values.length;
  let bin = "";
  const chunk: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = Number(values[i]);
    const q = Number.isFinite(v) ? Math.round(Math.min(1, Math.max(0, v)) * 65535) : 0;
    chunk.push(q & 255, q >> 8);
    if (chunk.length >= 8192) {
      bin += String.fromCharCode(...chunk);
      chunk.length = 0;
    }
  }
  bin += String.fromCharCode(...chunk);
  return btoa(bin);
}

function checkTokens(op: string, arg: string, t: unknown): string[] {
  if (!Array.isArray(t) || t.length === 0) throw new ValueError(op, arg, "a non-empty array of token labels", Array.isArray(t) ? "[]" : typeof t);
  return t.map(String);
}

function checkMap(op: string, arg: string, w: unknown, rows: number, cols: number, rowArg: string, colArg: string): ArrayLike<number> {
  if (w === null || typeof w !== "object" || typeof (w as ArrayLike<number>).length !== "number") throw new ValueError(op, arg, "an array of numbers", String(w));
  const n = (w as ArrayLike<number>).length;
  if (n !== rows * cols) {
    throw new ValueError(op, arg, `${rowArg}.length x ${colArg}.length = ${rows} x ${cols} = ${rows * cols} values (one per token pair)`, `${n} values`);
  }
  return w as ArrayLike<number>;
}

/** JSON safe inside a <script> element. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

const fmt = (v: number | null): string => (v === null ? "–" : v.toFixed(3));

/** The page as a string; checks every map against its token labels. */
export function attentionPageHtml(data: AttentionPageData): string {
  const op = "attentionPageHtml";
  if (data === null || typeof data !== "object") throw new ValueError(op, "data", "{ title, groups }", String(data));
  if (!Array.isArray(data.groups) || data.groups.length === 0) throw new ValueError(op, "groups", "a non-empty array of groups", Array.isArray(data.groups) ? "[]" : typeof data.groups);
  const groups = data.groups.map((g, gi) => {
    const a = `groups[${gi}]`;
    const rows = checkTokens(op, `${a}.rows`, g.rows), cols = checkTokens(op, `${a}.cols`, g.cols);
    if (!Array.isArray(g.layers) || g.layers.length === 0) throw new ValueError(op, `${a}.layers`, "a non-empty array of layers", typeof g.layers);
    return {
      name: String(g.name), rows, cols,
      layers: g.layers.map((l, li) => {
        if (!Array.isArray(l.heads) || l.heads.length === 0) throw new ValueError(op, `${a}.layers[${li}].heads`, "a non-empty array of maps", typeof l.heads);
        return { name: String(l.name), heads: l.heads.map((h, hi) => encodeUnit16(checkMap(op, `${a}.layers[${li}].heads[${hi}]`, h, rows.length, cols.length, `${a}.rows`, `${a}.cols`))) };
      }),
    };
  });
  const matrices = (data.matrices ?? []).map((m, k) => {
    const rows = checkTokens(op, `matrices[${k}].rows`, m.rows), cols = checkTokens(op, `matrices[${k}].cols`, m.cols);
    return { name: String(m.name), rows, cols, values: encodeUnit16(checkMap(op, `matrices[${k}].values`, m.values, rows.length, cols.length, `matrices[${k}].rows`, `matrices[${k}].cols`)) };
  });
  const title = String(data.title ?? "Attention");
  const body: string[] = [];
  body.push(`<h1>${escapeXml(title)}</h1>`);
  if (data.subtitle) body.push(`<p class="sub">${escapeXml(data.subtitle)}</p>`);
  body.push(
    `<section id="head-view"><h2>Head view</h2>`,
    `<div class="controls"><label>Attention <select id="group"></select></label><label>Layer <select id="layer"></select></label>` +
      `<span>Heads <span class="heads" id="heads"></span></span><span class="sub">hover a token to see only its lines</span></div>`,
    `<div class="scroll"><canvas id="hv"></canvas></div></section>`,
    `<section id="model-view"><h2>Model view</h2><p class="sub">every layer (rows) and head (columns) of the selected attention; click one to open it above</p><div class="grid" id="grid"></div></section>`,
  );
  if (matrices.length) {
    body.push(`<section id="matrices"><h2>Rollout and flow</h2><div class="mats">`);
    matrices.forEach((m, k) => body.push(`<figure><figcaption>${escapeXml(m.name)}</figcaption><canvas id="mat-${k}"></canvas></figure>`));
    body.push(`</div></section>`);
  }
  if (data.stats?.length) {
    body.push(`<section id="stats"><h2>Which heads look where</h2><table class="stats"><tr><th>layer</th><th>head</th><th>entropy (nats)</th><th>mean distance</th><th>self</th><th>previous</th><th>next</th><th>first</th><th>max weight</th></tr>`);
    for (const s of data.stats) {
      for (const h of s.heads) {
        body.push(`<tr><td>${escapeXml(s.layer)}</td><td>${h.head}</td><td>${fmt(h.entropy)}</td><td>${fmt(h.meanDistance)}</td><td>${fmt(h.self)}</td><td>${fmt(h.previous)}</td><td>${fmt(h.next)}</td><td>${fmt(h.first)}</td><td>${fmt(h.maxWeight)}</td></tr>`);
      }
    }
    body.push(`</table></section>`);
  }
  return htmlPage(title, VIEW_CSS, [
    ...body,
    '<div id="tip"></div>',
    `<script type="application/json" id="qkv-data">${scriptJson({ groups, matrices })}</script>`,
    `<script>${ATTENTION_SCRIPT}</script>`,
  ]);
}
