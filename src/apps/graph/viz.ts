/**
 * The graph view (viz/graph-view.ts) of a trained graph-attention classifier: every layer's
 * attention coefficients on the whole graph when it is small, else on the neighbourhood of one
 * node (the node and its neighbours, the edges among them). Node labels carry the true and the
 * predicted class. Browser-safe.
 *
 * ```ts
 * const html = graphAttentionPage(model, ds, { node: "gimp" });
 * ```
 */
import { noGrad } from "../../autograd/graph.js";
import { captureAttention } from "../../interpret/capture.js";
import { argmax } from "../../ops/reduce.js";
import { ValueError } from "../../tensor/errors.js";
import { graphLayerFromRecord, graphPageHtml, type GraphLayer } from "../../viz/graph-view.js";
import { graphTensors, type GraphDataset } from "./data.js";
import type { NodeClassifier } from "./model.js";

/** Graphs up to this many nodes are drawn whole. */
export const WHOLE_GRAPH_NODES = 80;
/** Most neighbours drawn around one node (those of highest degree). */
export const MAX_NEIGHBOURS = 60;

export interface GraphPageOptions {
  /** The node whose neighbourhood to draw (a name), for graphs too large to draw whole; default: the test node of highest degree. */
  node?: string;
  op?: string;
}

export function graphAttentionPage(model: NodeClassifier, ds: GraphDataset, o: GraphPageOptions = {}): string {
  const op = o.op ?? "graphAttentionPage";
  if (model.config.kind === "mlp") throw new ValueError(op, "model", "a graph-attention model (gat or transformer)", "the mlp, which has no attention");
  const N = ds.nodes.length, t = graphTensors(ds);
  const degree = new Int32Array(N);
  for (const v of t.edgeIndex.data.subarray(0, t.edgeIndex.shape[1]!)) degree[Number(v)]!++;
  let keep: number[];
  let subtitle: string;
  if (N <= WHOLE_GRAPH_NODES && o.node === undefined) {
    keep = [...Array(N).keys()];
    subtitle = `${ds.name}: all ${N} nodes`;
  } else {
    let center: number;
    if (o.node !== undefined) {
      center = ds.nodes.indexOf(o.node);
      if (center < 0) throw new ValueError(op, "node", `a node of ${ds.name} (e.g. ${JSON.stringify(ds.nodes[0])})`, JSON.stringify(o.node));
    } else {
      center = ds.split.test.reduce((b, n) => (degree[n]! > degree[b]! ? n : b), ds.split.test[0]!);
    }
    const nb = new Set<number>();
    for (let e = 0; e < ds.edges.src.length; e++) {
      if (ds.edges.src[e] === center) nb.add(ds.edges.dst[e]!);
      if (ds.edges.dst[e] === center) nb.add(ds.edges.src[e]!);
    }
    const top = [...nb].sort((a, b) => degree[b]! - degree[a]! || a - b).slice(0, MAX_NEIGHBOURS);
    keep = [center, ...top];
    subtitle = `${ds.name}: ${ds.nodes[center]} and ${top.length} of its ${nb.size} neighbours`;
  }
  model.eval();
  const { output, records } = noGrad(() => captureAttention(model, () => model.forward(t.x, t.edgeIndex)));
  const pred = argmax(output, -1).data;
  const local = new Map(keep.map((n, i) => [n, i]));
  const layers: GraphLayer[] = records.map((r) => {
    const l = graphLayerFromRecord(r);
    const src: number[] = [], dst: number[] = [], alpha: number[] = [];
    for (let e = 0; e < l.src.length; e++) {
      const s = local.get(l.src[e]!), d = local.get(l.dst[e]!);
      if (s === undefined || d === undefined) continue;
      src.push(s);
      dst.push(d);
      for (let k = 0; k < l.heads; k++) alpha.push(l.alpha[e * l.heads + k]!);
    }
    return { ...l, src, dst, alpha };
  });
  const nodes = keep.map((n) => {
    const y = ds.classes[ds.labels[n]!]!, p = ds.classes[Number(pred[n])]!;
    return `${ds.nodes[n]} (${y}${p === y ? "" : `, predicted ${p}`})`;
  });
  return graphPageHtml({ title: `${model.config.kind === "gat" ? "GATConv" : "TransformerConv"} attention on ${ds.name}`, subtitle, nodes, layers });
}
