/**
 * Draws the steps of steps.ts: one section per step with its formula, a sentence on what it does,
 * and its matrices as the heatmaps of `qkv viz` reports (heatmapSvg: signed values on the
 * diverging scale, weights from 0 to 1; every cell's number in its tooltip and, on hover, in the
 * read-out line).
 */
import { heatmapSvg, type ColorScale } from "../../src/viz/heatmap.js";
import type { Matrix, Steps } from "./steps.js";

const CELL = 15;

interface Fig {
  title: string;
  m: Matrix;
  rows: string[];
  cols: string[];
  scale?: ColorScale;
  vmax?: number;
}

function figure(f: Fig): string {
  const svg = heatmapSvg(f.m.values, f.m.rows, f.m.cols, {
    title: f.title, rowLabels: f.rows, colLabels: f.cols, cellSize: CELL, colorScale: f.scale ?? "rdbu", ...(f.vmax !== undefined ? { vmax: f.vmax } : {}),
  });
  return `<figure>${svg}</figure>`;
}

function section(id: string, title: string, text: string, figs: Fig[]): string {
  return `<section class="step" id="${id}"><h3>${title}</h3><p>${text}</p><div class="figs">${figs.map(figure).join("")}</div></section>`;
}

const dims = (n: number, p: string): string[] => Array.from({ length: n }, (_, i) => `${p}${i}`);

/** The sections' HTML for `s`. Token labels are escaped by heatmapSvg; the rest is fixed text. */
export function stepsHtml(s: Steps): string {
  const { tokens: t, E, H, D } = s;
  const e = dims(E, "e"), d = dims(D, "d");
  const hs = Array.from({ length: H }, (_, h) => h);
  const perHead = (name: string, list: Matrix[], cols: string[], scale?: ColorScale, vmax?: number): Fig[] =>
    hs.map((h) => ({ title: `${name}, head ${h}`, m: list[h]!, rows: t, cols, ...(scale ? { scale } : {}), ...(vmax !== undefined ? { vmax } : {}) }));
  const masks = [s.input.causal ? "causal" : "", s.input.padding ? "padding" : ""].filter(Boolean);
  const out: string[] = [];
  out.push(section("step-embed", "1. Tokens to vectors",
    `Each token becomes a vector of E = ${E} numbers (here drawn at random per word: the same word gets the same vector), ` +
    `plus a sinusoidal position so that order counts: <code>x = embedding + position</code>, [L, E].`,
    [{ title: "embedding", m: s.embeddings, rows: t, cols: e }, { title: "position", m: s.positions, rows: t, cols: e }, { title: "x", m: s.x, rows: t, cols: e }]));
  out.push(section("step-proj", "2. Queries, keys and values",
    `Three learned projections of x: <code>Q = x W<sub>q</sub><sup>T</sup></code>, <code>K = x W<sub>k</sub><sup>T</sup></code>, ` +
    `<code>V = x W<sub>v</sub><sup>T</sup></code>, each [L, E], split into H = ${H} head${H > 1 ? "s" : ""} of D = ${D} columns.`,
    [...hs.flatMap((h) => [
      { title: `Q, head ${h}`, m: s.q[h]!, rows: t, cols: d },
      { title: `K, head ${h}`, m: s.k[h]!, rows: t, cols: d },
      { title: `V, head ${h}`, m: s.v[h]!, rows: t, cols: d },
    ])]));
  out.push(section("step-scores", "3. Scores",
    "How well each query (row) matches each key (column): <code>Q K<sup>T</sup></code>, [L, S] per head.",
    perHead("Q Kᵀ", s.scores, t)));
  out.push(section("step-scale", "4. Scaling",
    `Divided by √D = ${Math.sqrt(D).toFixed(3)}, so that the scores of wider heads do not grow with D and push softmax into one-hot corners.`,
    perHead("Q Kᵀ / √D", s.scaled, t)));
  out.push(section("step-mask", "5. Masks",
    `${masks.length ? `On: ${masks.join(" and ")}.` : "No mask is on: every query sees every key."} ` +
    "A masked score becomes −∞ (gray), so softmax gives it weight 0. The causal mask hides later tokens (a decoder must not read ahead); " +
    "the padding mask hides the &lt;pad&gt; tokens a shorter sentence gets in a batch. Toggle them above.",
    [{ title: "mask (1 = hidden)", m: s.mask, rows: t, cols: t, scale: "blues", vmax: 1 }, ...perHead("masked scores", s.masked, t)]));
  out.push(section("step-softmax", "6. Softmax",
    "Each row becomes weights that are at least 0 and sum to 1: <code>softmax(scores)</code>. This is the attention map.",
    perHead("weights", s.weights, t, "viridis", 1)));
  out.push(section("step-sum", "7. Weighted sum",
    "Each token's new vector mixes the values by those weights: <code>weights · V</code>, [L, D] per head.",
    perHead("weights · V", s.headOutputs, d)));
  out.push(section("step-concat", "8. Heads side by side, then one projection",
    `The ${H} head output${H > 1 ? "s are" : " is"} concatenated back to [L, E] and mixed by <code>W<sub>o</sub></code>: the layer's output.`,
    [{ title: "concatenated heads", m: s.concat, rows: t, cols: e }, { title: "output = concat · W_oᵀ", m: s.output, rows: t, cols: e }]));
  out.push(section("step-compare", "Dot, scaled dot and cosine scores side by side",
    "The same Q and K scored three ways (same masks): the raw dot product (no scaling: peakier), scaled dot product " +
    "(the Transformer's), and cosine similarity (lengths removed: scores in [−1, 1], so flatter).",
    hs.flatMap((h) => [
      { title: `dot, head ${h}`, m: s.compare.dot[h]!, rows: t, cols: t, scale: "viridis" as const, vmax: 1 },
      { title: `scaled dot, head ${h}`, m: s.compare.scaled[h]!, rows: t, cols: t, scale: "viridis" as const, vmax: 1 },
      { title: `cosine, head ${h}`, m: s.compare.cosine[h]!, rows: t, cols: t, scale: "viridis" as const, vmax: 1 },
    ])));
  return out.join("\n");
}
