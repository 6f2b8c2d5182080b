/**
 * vision family: conv2d (through the Conv2d module, parameters by their state-dict names), a ViT
 * patch embedding (through the PatchEmbedding module), max / avg / adaptive-avg pooling,
 * BatchNorm2d in train and eval mode.
 */
import { AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d } from "../../../src/nn/conv.js";
import type { Module } from "../../../src/nn/module.js";
import { PatchEmbedding } from "../../../src/nn/vit.js";
import type { Tensor } from "../../../src/tensor/tensor.js";
import { cfg, type CaseContext, type FamilyRunner, type FxCase, type Forward } from "../fixture.js";

function pairOf(c: FxCase, key: string, fallback?: [number, number]): [number, number] {
  const v = c.config[key] ?? fallback;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => typeof n === "number")) throw new Error(`fixture ${c.name}: config.${key} expected [h, w]`);
  return [v[0] as number, v[1] as number];
}

/** Loads the case's tensors into `m` by state-dict name, then runs it; gradients are read from the module's own parameters. */
function withParams(load: CaseContext["load"], m: Module, state: Record<string, Tensor>, inputs: Record<string, Tensor>, run: () => Forward["outputs"], strict = true): Forward {
  load(m, state, { strict });
  const own = Object.fromEntries(m.namedParameters());
  return { outputs: run(), gradTarget: (n) => own[n] ?? inputs[n] };
}

export const vision: FamilyRunner = ({ c, inputs, params, load }) => {
  const op = cfg(c, "op", "string");
  const x = inputs.x;
  if (!x) throw new Error("input x expected");
  switch (op) {
    case "conv2d": {
      const p = c.config.padding;
      const padding = p === "same" || p === "valid" ? p : pairOf(c, "padding");
      const m = new Conv2d(cfg(c, "in_channels", "number"), cfg(c, "out_channels", "number"), pairOf(c, "kernel_size"), {
        stride: pairOf(c, "stride"), padding, dilation: pairOf(c, "dilation"),
        groups: cfg(c, "groups", "number"), bias: cfg(c, "bias", "boolean"),
      });
      return withParams(load, m, params, inputs, () => ({ y: m.forward(x) }));
    }
    case "patch_embed": {
      // the fixture's weight and bias are the projection's (timm: patch_embed.proj.*)
      const m = new PatchEmbedding(cfg(c, "in_channels", "number"), cfg(c, "embed_dim", "number"), cfg(c, "patch", "number"));
      load(m, { "proj.weight": params.weight!, "proj.bias": params.bias! });
      return { outputs: { y: m.forward(x) }, gradTarget: (n) => (n === "x" ? x : n === "weight" ? m.proj.weight : n === "bias" ? m.proj.bias : undefined) };
    }
    case "max_pool2d":
      return {
        outputs: {
          y: new MaxPool2d(pairOf(c, "kernel_size"), {
            stride: pairOf(c, "stride"), padding: pairOf(c, "padding"), dilation: pairOf(c, "dilation", [1, 1]), ceilMode: cfg(c, "ceil_mode", "boolean"),
          }).forward(x),
        },
      };
    case "avg_pool2d": {
      const d = c.config.divisor_override;
      if (d !== undefined && d !== null && typeof d !== "number") throw new Error(`fixture ${c.name}: config.divisor_override expected a number or null`);
      return {
        outputs: {
          y: new AvgPool2d(pairOf(c, "kernel_size"), {
            stride: pairOf(c, "stride"), padding: pairOf(c, "padding"), ceilMode: cfg(c, "ceil_mode", "boolean"),
            countIncludePad: cfg(c, "count_include_pad", "boolean"), ...(typeof d === "number" ? { divisorOverride: d } : {}),
          }).forward(x),
        },
      };
    }
    case "adaptive_avg_pool2d":
      return { outputs: { y: new AdaptiveAvgPool2d(pairOf(c, "output_size")).forward(x) } };
    case "batch_norm2d":
    case "batch_norm2d_eval": {
      const m = new BatchNorm2d(cfg(c, "num_features", "number"), { eps: cfg(c, "eps", "number"), momentum: cfg(c, "momentum", "number") });
      const rm = inputs.running_mean_in, rv = inputs.running_var_in;
      if (!rm || !rv) throw new Error("inputs running_mean_in and running_var_in expected");
      if (op === "batch_norm2d_eval") m.eval();
      // num_batches_tracked is not in the fixture: the rest of the state dict loads by name
      return withParams(load, m, { ...params, running_mean: rm, running_var: rv }, inputs, () => {
        const y = m.forward(x);
        return op === "batch_norm2d" ? { y, running_mean: m.runningMean, running_var: m.runningVar } : { y };
      }, false);
    }
    default:
      throw new Error(`unknown vision op ${op}`);
  }
};
