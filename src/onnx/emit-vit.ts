/**
 * ONNX emitters for the Vision Transformer and its CNN-stem hybrid (nn/vit.ts, nn/hybrid.ts):
 * Conv (the patch projection, the stem's 3x3 convolutions and its 1x1 projection),
 * BatchNormalization with the running statistics (eval mode), Relu, MaxPool, the tokens
 * (flatten + transpose, class token, positions), the pre-norm blocks through the attention
 * emitters (plain ops, com.microsoft.MultiHeadAttention or opset-23 Attention), the final norm, the pooling (class
 * token or mean) and the head. Images are NCHW with a symbolic batch.
 *
 * ```ts
 * const g = new GraphBuilder("VisionTransformer");
 * const x = g.input("pixel_values", "float32", ["batch", 1, 28, 28]);
 * const { logits, tokens } = emitViT(g, vit, "", x, "plain"); // [B, classes], [B, T, E]
 * ```
 */
import { BatchNorm2d, type Conv2d } from "../nn/conv.js";
import type { ConvStage, ConvStem } from "../nn/hybrid.js";
import type { Module } from "../nn/module.js";
import { PatchEmbedding, type ViTAttention, type ViTBlock, type VisionTransformer } from "../nn/vit.js";
import { pair } from "../ops/conv-args.js";
import { dimVector, emitActivation, emitAttentionCore, emitLayerNorm, emitLinear, type AttentionForm } from "./emit-attention.js";
import type { GraphBuilder } from "./graph.js";

const dot = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

const filled = (g: GraphBuilder, n: number, v: number, prefix: string): string =>
  g.constant({ type: "float32", dims: [n], data: new Float32Array(n).fill(v) }, prefix);

/** Conv2d: x [B, C, H, W] -> [B, O, oH, oW] (stride, padding incl. "same" / "valid", dilation, groups). */
export function emitConv2d(g: GraphBuilder, conv: Conv2d, prefix: string, x: string): string {
  const op = "exportOnnx";
  const [kH, kW] = conv.kernelSize;
  const [sH, sW] = pair(conv.opts.stride ?? 1, "stride", op, 1);
  const [dH, dW] = pair(conv.opts.dilation ?? 1, "dilation", op, 1);
  const p = conv.opts.padding ?? 0;
  let pads: number[]; // ONNX order: top, left, bottom, right
  if (p === "valid") pads = [0, 0, 0, 0];
  else if (p === "same") {
    const tH = dH * (kH - 1), tW = dW * (kW - 1); // the odd extra row / column at the bottom / right, as conv2d
    pads = [tH >> 1, tW >> 1, tH - (tH >> 1), tW - (tW >> 1)];
  } else {
    const [pH, pW] = pair(p, "padding", op, 0);
    pads = [pH, pW, pH, pW];
  }
  const inputs = [x, g.param(dot(prefix, "weight"), conv.weight)];
  if (conv.bias) inputs.push(g.param(dot(prefix, "bias"), conv.bias));
  return g.node("Conv", inputs, { kernel_shape: [kH, kW], strides: [sH, sW], pads, dilations: [dH, dW], group: conv.opts.groups ?? 1 });
}

/** BatchNorm2d in eval mode: (x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel. */
export function emitBatchNorm2d(g: GraphBuilder, bn: BatchNorm2d, prefix: string, x: string): string {
  const C = bn.numFeatures;
  const scale = bn.weight ? g.param(dot(prefix, "weight"), bn.weight) : filled(g, C, 1, "ones");
  const bias = bn.bias ? g.param(dot(prefix, "bias"), bn.bias) : filled(g, C, 0, "zeros");
  // exportProblems refuses a BatchNorm2d without running statistics before any emitter runs
  const mean = g.param(dot(prefix, "running_mean"), bn.runningMean!);
  const variance = g.param(dot(prefix, "running_var"), bn.runningVar!);
  return g.node("BatchNormalization", [x, scale, bias, mean, variance], { epsilon: { f: bn.eps } });
}

/** One stem stage: conv 3x3 -> BatchNorm -> ReLU -> 2x2 max-pool (floor), [B, C, H, W] -> [B, O, H / 2, W / 2]. */
function emitConvStage(g: GraphBuilder, s: ConvStage, prefix: string, x: string): string {
  const y = g.node("Relu", [emitBatchNorm2d(g, s.bn, dot(prefix, "bn"), emitConv2d(g, s.conv, dot(prefix, "conv"), x))]);
  return g.node("MaxPool", [y], { kernel_shape: [2, 2], strides: [2, 2] });
}

/** [B, E, h, w] -> tokens [B, h w, E] (row by row). */
function tokensOf(g: GraphBuilder, fmap: string, E: number): string {
  return g.node("Transpose", [g.node("Reshape", [fmap, g.ints([0, E, -1])])], { perm: [0, 2, 1] });
}

/** The patch embedding or the CNN stem: x [B, C, H, W] -> [B, N, E]. */
export function emitPatchEmbed(g: GraphBuilder, m: PatchEmbedding | ConvStem, prefix: string, x: string): string {
  if (m instanceof PatchEmbedding) return tokensOf(g, emitConv2d(g, m.proj, dot(prefix, "proj"), x), m.dim);
  let h = x;
  m.backbone.items.forEach((s, i) => { h = emitConvStage(g, s, dot(prefix, `backbone.${i}`), h); });
  return tokensOf(g, emitConv2d(g, m.proj, dot(prefix, "proj"), h), m.dim);
}

/** timm's Attention: qkv projection, split into q, k, v [B, T, E], attention over heads, proj -> [B, T, E]. */
export function emitViTAttention(g: GraphBuilder, a: ViTAttention, prefix: string, x: string, form: AttentionForm): string {
  const H = a.heads, D = a.headDim;
  const [q, k, v] = g.split(emitLinear(g, a.qkv, dot(prefix, "qkv"), x), 3, -1) as [string, string, string];
  const o = emitAttentionCore(g, form, q, k, v, null, H, D, false);
  return emitLinear(g, a.proj, dot(prefix, "proj"), o);
}

/** A pre-norm block: x + attn(norm1(x)), then x + fc2(gelu(fc1(norm2(x)))). */
export function emitViTBlock(g: GraphBuilder, b: ViTBlock, prefix: string, x: string, form: AttentionForm): string {
  const h = g.node("Add", [x, emitViTAttention(g, b.attn, dot(prefix, "attn"), emitLayerNorm(g, b.norm1, dot(prefix, "norm1"), x), form)]);
  const n2 = emitLayerNorm(g, b.norm2, dot(prefix, "norm2"), h);
  const m = emitLinear(g, b.mlp.fc2, dot(prefix, "mlp.fc2"), emitActivation(g, "gelu", emitLinear(g, b.mlp.fc1, dot(prefix, "mlp.fc1"), n2)));
  return g.node("Add", [h, m]);
}

/**
 * The whole classifier: images x [B, C, H, W] -> logits [B, classes], and the normalized tokens
 * [B, T, E] the pooling reads (the class token first when there is one).
 */
export function emitViT(g: GraphBuilder, vit: VisionTransformer, prefix: string, x: string, form: AttentionForm): { logits: string; tokens: string } {
  const E = vit.config.dim;
  let h = emitPatchEmbed(g, vit.patchEmbed, dot(prefix, "patch_embed"), x); // [B, N, E]
  if (vit.clsToken) {
    const shape = g.node("Concat", [dimVector(g, x, 0), g.ints([1, E])], { axis: 0 });
    h = g.node("Concat", [g.node("Expand", [g.param(dot(prefix, "cls_token"), vit.clsToken), shape]), h], { axis: 1 }); // [B, T, E]
  }
  // learned positions are a parameter; fixed 2-D sine-cosine ones a buffer, written under the same name
  h = g.node("Add", [h, g.param(dot(prefix, "pos_embed"), vit.posEmbed)]);
  vit.blocks.items.forEach((b, i) => { h = emitViTBlock(g, b, dot(prefix, `blocks.${i}`), h, form); });
  const tokens = emitLayerNorm(g, vit.norm, dot(prefix, "norm"), h); // [B, T, E]
  const pooled = vit.clsToken
    ? g.node("Gather", [tokens, g.constant({ type: "int64", dims: [], data: [0] }, "int")], { axis: 1 }) // [B, E]
    : g.reduceMean(tokens, [1], 0);
  return { logits: emitLinear(g, vit.head, dot(prefix, "head"), pooled), tokens };
}

/** What keeps the image layers of `model` from being exported (BatchNorm2d without running statistics). */
export function imageProblems(model: Module): string[] {
  const out: string[] = [];
  for (const [name, m] of model.namedModules()) {
    if (m instanceof BatchNorm2d && (!m.runningMean || !m.runningVar)) {
      out.push(`${name || "BatchNorm2d"}: a BatchNorm2d without running statistics normalizes by the batch's own statistics in eval mode; no ONNX form is written for it`);
    }
  }
  return out;
}
