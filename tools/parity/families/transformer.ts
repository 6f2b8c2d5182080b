/** transformer family: TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, loaded by state-dict names. */
import { TransformerDecoderLayer } from "../../../src/nn/transformer-decoder.js";
import { TransformerEncoder, TransformerEncoderLayer, type TransformerLayerOptions } from "../../../src/nn/transformer.js";
import { LayerNorm } from "../../../src/nn/layers.js";
import type { Module } from "../../../src/nn/module.js";
import type { Tensor } from "../../../src/tensor/tensor.js";
import { cfg, type CaseContext, type FamilyRunner, type Forward } from "../fixture.js";

function layerOptions(c: CaseContext["c"]): TransformerLayerOptions {
  const act = cfg(c, "activation", "string", "relu");
  if (act !== "relu" && act !== "gelu") throw new Error(`unknown activation ${act}`);
  return {
    dimFeedforward: cfg(c, "dim_feedforward", "number", 2048),
    dropout: cfg(c, "dropout", "number", 0.1),
    activation: act,
    layerNormEps: cfg(c, "layer_norm_eps", "number", 1e-5),
    batchFirst: cfg(c, "batch_first", "boolean", false),
    normFirst: cfg(c, "norm_first", "boolean", false),
    bias: cfg(c, "bias", "boolean", true),
  };
}

function loaded(m: Module, params: Record<string, Tensor>, inputs: Record<string, Tensor>, output: Tensor): Forward {
  const own = Object.fromEntries(m.namedParameters());
  return { outputs: { output }, gradTarget: (n) => own[n] ?? inputs[n] };
}

function need(t: Tensor | undefined, name: string): Tensor {
  if (!t) throw new Error(`input ${name} expected`);
  return t;
}

export const transformer: FamilyRunner = ({ c, inputs, params, load }) => {
  const kind = cfg(c, "module", "string");
  const E = cfg(c, "d_model", "number"), H = cfg(c, "nhead", "number");
  const o = layerOptions(c);
  switch (kind) {
    case "TransformerEncoderLayer": {
      const m = new TransformerEncoderLayer(E, H, o);
      load(m, params);
      const y = m.forward(need(inputs.src, "src"), { srcMask: inputs.src_mask ?? null, srcKeyPaddingMask: inputs.src_key_padding_mask ?? null });
      return loaded(m, params, inputs, y);
    }
    case "TransformerDecoderLayer": {
      const m = new TransformerDecoderLayer(E, H, o);
      load(m, params);
      const y = m.forward(need(inputs.tgt, "tgt"), need(inputs.memory, "memory"), {
        tgtMask: inputs.tgt_mask ?? null,
        memoryMask: inputs.memory_mask ?? null,
        tgtKeyPaddingMask: inputs.tgt_key_padding_mask ?? null,
        memoryKeyPaddingMask: inputs.memory_key_padding_mask ?? null,
      });
      return loaded(m, params, inputs, y);
    }
    case "TransformerEncoder": {
      const finalNorm = cfg(c, "final_norm", "boolean", false);
      const norm = finalNorm ? new LayerNorm(E, { eps: o.layerNormEps ?? 1e-5, bias: o.bias ?? true }) : null;
      const m = new TransformerEncoder(new TransformerEncoderLayer(E, H, o), cfg(c, "num_layers", "number"), { norm });
      load(m, params);
      const y = m.forward(need(inputs.src, "src"), { srcMask: inputs.mask ?? null, srcKeyPaddingMask: inputs.src_key_padding_mask ?? null });
      return loaded(m, params, inputs, y);
    }
    default:
      throw new Error(`unknown transformer module ${kind}`);
  }
};
