/** gat family: PyTorch Geometric's GATConv, parameters loaded by their state-dict names. */
import { GATConv } from "../../../src/nn/gat.js";
import { cfg, type FamilyRunner } from "../fixture.js";

export const gat: FamilyRunner = ({ c, inputs, params, load }) => {
  const m = new GATConv(cfg(c, "in_channels", "number"), cfg(c, "out_channels", "number"), {
    heads: cfg(c, "heads", "number", 1),
    concat: cfg(c, "concat", "boolean", true),
    negativeSlope: cfg(c, "negative_slope", "number", 0.2),
    dropout: cfg(c, "dropout", "number", 0),
    addSelfLoops: cfg(c, "add_self_loops", "boolean", true),
    bias: cfg(c, "bias", "boolean", true),
  });
  load(m, params);
  const own = Object.fromEntries(m.namedParameters());
  const { x, edge_index } = inputs;
  if (!x || !edge_index) throw new Error("inputs x and edge_index expected");
  const r = m.forward(x, edge_index, { returnAttentionWeights: true });
  return { outputs: { out: r.output, alpha: r.alpha, alpha_edge_index: r.edgeIndex }, gradTarget: (n) => own[n] ?? inputs[n] };
};
