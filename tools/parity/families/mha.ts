/** mha family: torch.nn.MultiheadAttention, parameters loaded by their state-dict names. */
import { MultiheadAttention } from "../../../src/nn/multihead-attention.js";
import { cfg, type FamilyRunner } from "../fixture.js";

export const mha: FamilyRunner = ({ c, inputs, params, load }) => {
  const E = cfg(c, "embed_dim", "number");
  const m = new MultiheadAttention(E, cfg(c, "num_heads", "number"), {
    dropout: cfg(c, "dropout", "number", 0),
    bias: cfg(c, "bias", "boolean", true),
    addBiasKV: cfg(c, "add_bias_kv", "boolean", false),
    addZeroAttn: cfg(c, "add_zero_attn", "boolean", false),
    kdim: cfg(c, "kdim", "number", E),
    vdim: cfg(c, "vdim", "number", E),
    batchFirst: cfg(c, "batch_first", "boolean", false),
  });
  load(m, params);
  const own = Object.fromEntries(m.namedParameters());
  const { query, key, value } = inputs;
  if (!query || !key || !value) throw new Error("inputs query, key, value expected");
  const r = m.forward(query, key, value, {
    keyPaddingMask: inputs.key_padding_mask ?? null,
    attnMask: inputs.attn_mask ?? null,
    needWeights: cfg(c, "need_weights", "boolean", true),
    averageAttnWeights: cfg(c, "average_attn_weights", "boolean", true),
  });
  return { outputs: { attn_output: r.output, attn_output_weights: r.weights }, gradTarget: (n) => own[n] ?? inputs[n] };
};
