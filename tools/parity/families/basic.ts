/** basic family: Linear, LayerNorm, GELU, ReLU, softmax, log_softmax, Embedding, cross_entropy, sinusoidal PE. */
import { gelu, relu } from "../../../src/ops/elementwise.js";
import { crossEntropy, embedding } from "../../../src/ops/functional.js";
import { linear } from "../../../src/ops/matmul.js";
import { layerNorm } from "../../../src/ops/norm.js";
import { logSoftmax, softmax } from "../../../src/ops/softmax.js";
import { sinusoidalPositionalEncoding } from "../../../src/nn/positional.js";
import { cfg, type FamilyRunner } from "../fixture.js";
import type { Tensor } from "../../../src/tensor/tensor.js";

function need(t: Tensor | undefined, name: string): Tensor {
  if (!t) throw new Error(`input or parameter ${name} expected`);
  return t;
}

export const basic: FamilyRunner = ({ c, inputs, params }) => {
  const op = cfg(c, "op", "string");
  const x = inputs.x;
  switch (op) {
    case "linear":
      return { outputs: { y: linear(need(x, "x"), need(params.weight, "weight"), params.bias ?? null) } };
    case "layer_norm": {
      const shape = c.config.normalized_shape;
      if (!Array.isArray(shape)) throw new Error("config.normalized_shape expected");
      return { outputs: { y: layerNorm(need(x, "x"), shape as number[], params.weight ?? null, params.bias ?? null, cfg(c, "eps", "number", 1e-5)) } };
    }
    case "gelu": {
      const a = cfg(c, "approximate", "string", "none");
      if (a !== "none" && a !== "tanh") throw new Error(`approximate ${a}`);
      return { outputs: { y: gelu(need(x, "x"), a) } };
    }
    case "relu":
      return { outputs: { y: relu(need(x, "x")) } };
    case "softmax":
      return { outputs: { y: softmax(need(x, "x"), cfg(c, "dim", "number", -1)) } };
    case "log_softmax":
      return { outputs: { y: logSoftmax(need(x, "x"), cfg(c, "dim", "number", -1)) } };
    case "embedding": {
      const pad = c.config.padding_idx;
      return { outputs: { y: embedding(need(inputs.indices, "indices"), need(params.weight, "weight"), typeof pad === "number" ? { paddingIdx: pad } : {}) } };
    }
    case "cross_entropy": {
      const red = cfg(c, "reduction", "string", "mean");
      if (red !== "mean" && red !== "sum" && red !== "none") throw new Error(`reduction ${red}`);
      return {
        outputs: {
          loss: crossEntropy(need(inputs.input, "input"), need(inputs.target, "target"), {
            reduction: red,
            ignoreIndex: cfg(c, "ignore_index", "number", -100),
            labelSmoothing: cfg(c, "label_smoothing", "number", 0),
          }),
        },
      };
    }
    case "positional_encoding":
      return { outputs: { pe: sinusoidalPositionalEncoding(cfg(c, "max_len", "number"), cfg(c, "d_model", "number"), cfg(c, "base", "number", 10000)) } };
    default:
      throw new Error(`unknown basic op ${op}`);
  }
};
