/**
 * Graph view for graph attention (GATConv): the nodes on a circle, every edge of the layer drawn
 * source -> target with width and opacity by its attention coefficient, a layer and head (or the
 * mean of the heads) selectable, hovering a node shows only its incoming edges and their weights.
 * One self-contained HTML file (inline CSS, JavaScript and data). Browser-safe.
 *
 * ```ts
 * const { records } = captureAttention(gat, () => gat.forward(x, edgeIndex));
 * const html = graphPageHtml({ title: "GAT", nodes: ["a", "b", "c"], layers: [graphLayerFromRecord(records[0]!)] });
 * ```
 */
import type { AttentionRecord } from "../interpret/capture.js";
import { ValueError } from "../tensor/errors.js";
import { scriptJson } from "./attention-view.js";
import { escapeXml, htmlPage } from "./page.js";
import { GRAPH_SCRIPT, VIEW_CSS } from "./view-script.js";

export interface GraphLayer {
  name: string;
  /** Edge sources and targets (node indices), one per edge. */
  src: ArrayLike<number>;
  dst: ArrayLike<number>;
  /** [E, heads] row-major: the coefficient of each edge per head. */
  alpha: ArrayLike<number>;
  heads: number;
}

export interface GraphPageData {
  title: string;
  subtitle?: string;
  /** One label per node. */
  nodes: string[];
  layers: GraphLayer[];
}

/** A GATConv record of captureAttention as a graph layer. */
export function graphLayerFromRecord(r: AttentionRecord): GraphLayer {
  if (r.kind !== "graph" || !r.edgeIndex) throw new ValueError("graphLayerFromRecord", "record", "a graph record (GATConv, TransformerConv)", `a ${r.kind} record (${r.name})`);
  const E = r.edgeIndex.shape[1]!;
  const ei = Array.from(r.edgeIndex.data, Number);
  return { name: r.name || "graph attention", src: ei.slice(0, E), dst: ei.slice(E), alpha: Array.from(r.weights.data, Number), heads: r.weights.shape[1]! };
}

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

export function graphPageHtml(data: GraphPageData): string {
  const op = "graphPageHtml";
  if (data === null || typeof data !== "object") throw new ValueError(op, "data", "{ title, nodes, layers }", String(data));
  if (!Array.isArray(data.nodes) || data.nodes.length === 0) throw new ValueError(op, "nodes", "a non-empty array of node labels", Array.isArray(data.nodes) ? "[]" : typeof data.nodes);
  const N = data.nodes.length;
  if (!Array.isArray(data.layers) || data.layers.length === 0) throw new ValueError(op, "layers", "a non-empty array of layers", typeof data.layers);
  const layers = data.layers.map((l, k) => {
    const a = `layers[${k}]`;
    if (!Number.isInteger(l.heads) || l.heads < 1) throw new ValueError(op, `${a}.heads`, "a positive integer", String(l.heads));
    const E = l.src?.length ?? -1;
    if (l.dst?.length !== E || E < 1) throw new ValueError(op, `${a}.dst`, `${E} edge targets (as many as ${a}.src)`, String(l.dst?.length));
    if (l.alpha?.length !== E * l.heads) throw new ValueError(op, `${a}.alpha`, `edges x heads = ${E} x ${l.heads} = ${E * l.heads} values`, `${l.alpha?.length} values`);
    for (const [arg, arr] of [["src", l.src], ["dst", l.dst]] as const) {
      for (let e = 0; e < E; e++) {
        const v = arr[e]!;
        if (!Number.isInteger(v) || v < 0 || v >= N) throw new ValueError(op, `${a}.${arg}`, `node indices in [0, ${N}) (nodes has ${N} labels)`, String(v));
      }
    }
    return { name: String(l.name), heads: l.heads, src: Array.from(l.src), dst: Array.from(l.dst), alpha: Array.from(l.alpha, (v) => round4(Number(v))) };
  });
  const title = String(data.title ?? "Graph attention");
  return htmlPage(title, VIEW_CSS, [
    `<h1>${escapeXml(title)}</h1>`,
    data.subtitle ? `<p class="sub">${escapeXml(data.subtitle)}</p>` : "",
    `<section id="graph-view"><h2>Graph view</h2><div class="controls"><label>Layer <select id="layer"></select></label><label>Head <select id="head"></select></label>` +
      `<span class="sub">edge width and opacity: attention of the target on the source; hover a node for its incoming edges</span></div><canvas id="gv"></canvas></section>`,
    '<div id="tip"></div>',
    `<script type="application/json" id="qkv-data">${scriptJson({ nodes: data.nodes.map(String), layers })}</script>`,
    `<script>${GRAPH_SCRIPT}</script>`,
  ], { viewport: false });
}
