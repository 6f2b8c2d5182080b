/** efficient family: sliding window (+ global tokens), Linformer, linear attention (elu + 1). */
import { efficientAttention, type AttentionSpec } from "../../../src/attention/select.js";
import { cfg, type FamilyRunner } from "../fixture.js";

export const efficient: FamilyRunner = ({ c, inputs, params }) => {
  const { q, k, v } = inputs;
  if (!q || !k || !v) throw new Error("inputs q, k, v expected");
  const variant = cfg(c, "variant", "string");
  const needWeights = "weights" in (c.outputs ?? {});
  const scale = cfg(c, "scale", "number", 1 / Math.sqrt(q.shape[q.rank - 1]!));
  let spec: AttentionSpec;
  if (variant === "sliding_window") spec = { kind: "window", window: cfg(c, "window", "number") };
  else if (variant === "sliding_window_global") spec = { kind: "longformer", window: cfg(c, "window", "number"), numGlobal: cfg(c, "num_global", "number") };
  else if (variant === "linformer") spec = { kind: "linformer", k: cfg(c, "k_proj", "number") };
  else if (variant === "linear_attention") {
    const fm = cfg(c, "feature_map", "string", "elu+1");
    if (fm !== "elu+1") throw new Error(`unknown feature_map ${fm}`);
    spec = { kind: "linear", causal: cfg(c, "causal", "boolean", false) };
  } else throw new Error(`unknown variant ${variant}`);
  const r = efficientAttention(q, k, v, spec, {
    scale, needWeights,
    ...(params.E ? { E: params.E } : {}),
    ...(params.F ? { F: params.F } : {}),
  });
  return { outputs: { output: r.output, weights: r.weights } };
};
