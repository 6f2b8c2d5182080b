/** alibi family: head slopes, causal / symmetric bias tensors, and attention with the bias added. */
import { scaledDotProductAttention } from "../../../src/attention/sdpa.js";
import { alibiBias, alibiSlopes } from "../../../src/nn/alibi.js";
import type { Tensor } from "../../../src/tensor/tensor.js";
import { cfg, type FamilyRunner } from "../fixture.js";

export const alibi: FamilyRunner = ({ c, inputs }) => {
  const op = cfg(c, "op", "string");
  switch (op) {
    case "alibi_slopes_bias": {
      const H = cfg(c, "num_heads", "number"), L = cfg(c, "L", "number");
      return {
        outputs: {
          slopes: alibiSlopes(H),
          bias_causal: alibiBias(H, L, L, { causal: true }),
          bias_symmetric: alibiBias(H, L, L, { causal: false }),
        },
      };
    }
    case "alibi_slopes": {
      const list = c.config.num_heads_list;
      if (!Array.isArray(list)) throw new Error("config.num_heads_list expected");
      const outputs: Record<string, Tensor> = {};
      for (const H of list) outputs[`slopes_h${Number(H)}`] = alibiSlopes(Number(H));
      return { outputs };
    }
    case "alibi_attention": {
      const { q, k, v } = inputs;
      if (!q || !k || !v) throw new Error("inputs q, k, v expected");
      const variant = cfg(c, "variant", "string");
      if (variant !== "causal" && variant !== "symmetric") throw new Error(`unknown variant ${variant}`);
      const H = q.shape[q.rank - 3]!, L = q.shape[q.rank - 2]!, S = k.shape[k.rank - 2]!;
      const bias = alibiBias(H, L, S, { causal: variant === "causal", offset: 0 }); // [H, L, S]
      const r = scaledDotProductAttention(q, k, v, { attnMask: bias, needWeights: true, scale: cfg(c, "scale", "number", 1 / Math.sqrt(q.shape[q.rank - 1]!)) });
      return { outputs: { output: r.output, weights: r.weights } };
    }
    default:
      throw new Error(`unknown alibi op ${op}`);
  }
};
