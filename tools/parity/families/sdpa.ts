/** sdpa, dot_cosine and gqa families: the attention core functions. */
import { cosineAttention, dotProductAttention, scaledDotProductAttention } from "../../../src/attention/sdpa.js";
import { cfg, type FamilyRunner } from "../fixture.js";

export const sdpa: FamilyRunner = ({ c, inputs }) => {
  const { q, k, v } = inputs;
  if (!q || !k || !v) throw new Error("inputs q, k, v expected");
  const custom = cfg(c, "custom_scale", "boolean", false);
  const mask = inputs.attn_mask ?? null;
  const r = scaledDotProductAttention(q, k, v, {
    attnMask: mask,
    isCausal: cfg(c, "is_causal", "boolean", false),
    needWeights: "weights" in (c.outputs ?? {}),
    ...(custom ? { scale: cfg(c, "scale", "number") } : {}),
  });
  return { outputs: { output: r.output, weights: r.weights } };
};

export const dotCosine: FamilyRunner = ({ c, inputs }) => {
  const { q, k, v } = inputs;
  if (!q || !k || !v) throw new Error("inputs q, k, v expected");
  const needWeights = "weights" in (c.outputs ?? {});
  const score = cfg(c, "score", "string");
  let r;
  if (score === "dot") r = dotProductAttention(q, k, v, { needWeights });
  else if (score === "cosine") r = cosineAttention(q, k, v, { needWeights, scale: cfg(c, "scale", "number", 1), eps: cfg(c, "eps", "number", 1e-8) });
  else throw new Error(`unknown score ${score}`);
  return { outputs: { output: r.output, weights: r.weights } };
};

export const gqa: FamilyRunner = ({ c, inputs }) => {
  const { q, k, v } = inputs;
  if (!q || !k || !v) throw new Error("inputs q, k, v expected");
  const r = scaledDotProductAttention(q, k, v, {
    isCausal: cfg(c, "is_causal", "boolean", false),
    needWeights: "weights" in (c.outputs ?? {}),
  });
  return { outputs: { output: r.output, weights: r.weights } };
};
