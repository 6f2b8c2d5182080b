/**
 * The node classifiers of the graph app: two graph-attention layers (GATConv, as Velickovic et
 * al.'s citation-graph model, or TransformerConv) or, as the baseline that sees no edges, an MLP
 * of the same width on the node features alone.
 *
 * ```ts
 * const m = new NodeClassifier({ kind: "gat", inFeatures: 500, classes: 14 }, new Generator(0));
 * const logits = m.forward(x, edgeIndex);        // x [N, 500], edgeIndex int32 [2, E] -> [N, 14]
 * ```
 */
import { elu } from "../../ops/elementwise.js";
import { dropout } from "../../ops/functional.js";
import { GATConv } from "../../nn/gat.js";
import { Linear } from "../../nn/layers.js";
import { Module } from "../../nn/module.js";
import { TransformerConv } from "../../nn/transformer-conv.js";
import { ValueError } from "../../tensor/errors.js";
import type { Generator } from "../../tensor/rng.js";
import type { Tensor } from "../../tensor/tensor.js";

export const GRAPH_MODEL_KINDS = ["gat", "transformer", "mlp"] as const;
export type GraphModelKind = (typeof GRAPH_MODEL_KINDS)[number];

export interface GraphModelConfig {
  kind: GraphModelKind;
  inFeatures: number;
  classes: number;
  /** Features per head of the first layer (default 8). */
  hidden?: number;
  /** Heads of the first layer (default 8); the MLP's hidden width is hidden * heads. */
  heads?: number;
  /** Dropout on the input and hidden features and on the attention coefficients, in training (default 0.6). */
  dropout?: number;
}

/** The config with every default filled in. */
export function fullConfig(c: GraphModelConfig): Required<GraphModelConfig> {
  const full = { hidden: 8, heads: 8, dropout: 0.6, ...c };
  if (!(GRAPH_MODEL_KINDS as readonly string[]).includes(full.kind)) throw new ValueError("NodeClassifier", "kind", GRAPH_MODEL_KINDS.map((k) => `"${k}"`).join(", "), JSON.stringify(full.kind));
  for (const k of ["inFeatures", "classes", "hidden", "heads"] as const) {
    if (!Number.isInteger(full[k]) || full[k] < 1) throw new ValueError("NodeClassifier", k, "a positive integer", String(full[k]));
  }
  return full;
}

export class NodeClassifier extends Module {
  readonly config: Required<GraphModelConfig>;
  readonly conv1: GATConv | TransformerConv | null = null;
  readonly conv2: GATConv | TransformerConv | null = null;
  readonly lin1: Linear | null = null;
  readonly lin2: Linear | null = null;

  constructor(config: GraphModelConfig, private readonly generator?: Generator) {
    super();
    const c = (this.config = fullConfig(config));
    const g = generator ? { generator } : {};
    const width = c.hidden * c.heads;
    if (c.kind === "gat") {
      this.conv1 = this.registerModule("conv1", new GATConv(c.inFeatures, c.hidden, { heads: c.heads, dropout: c.dropout, ...g }));
      this.conv2 = this.registerModule("conv2", new GATConv(width, c.classes, { heads: 1, concat: false, dropout: c.dropout, ...g }));
    } else if (c.kind === "transformer") {
      this.conv1 = this.registerModule("conv1", new TransformerConv(c.inFeatures, c.hidden, { heads: c.heads, dropout: c.dropout, ...g }));
      this.conv2 = this.registerModule("conv2", new TransformerConv(width, c.classes, { heads: 1, concat: false, dropout: c.dropout, ...g }));
    } else {
      this.lin1 = this.registerModule("lin1", new Linear(c.inFeatures, width, g));
      this.lin2 = this.registerModule("lin2", new Linear(width, c.classes, g));
    }
  }

  /** x [N, inFeatures], edgeIndex int32 [2, E] (unused by the MLP) -> logits [N, classes]. */
  forward(x: Tensor, edgeIndex: Tensor): Tensor {
    const p = this.config.dropout, o = { training: this.training, ...(this.generator ? { generator: this.generator } : {}) };
    let h = dropout(x, p, o); // [N, F]
    if (this.lin1 && this.lin2) return this.lin2.forward(dropout(elu(this.lin1.forward(h)), p, o)); // [N, C]
    h = elu(this.conv1!.forward(h, edgeIndex).output); // [N, heads * hidden]
    return this.conv2!.forward(dropout(h, p, o), edgeIndex).output; // [N, C]
  }
}
