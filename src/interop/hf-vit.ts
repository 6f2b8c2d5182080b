/**
 * Hugging Face ViT checkpoints in qkv: a `config.json` and the tensors of a `model.safetensors`
 * saved from `transformers.ViTModel` or `ViTForImageClassification` become qkv's
 * `VisionTransformer` (patch embedding, class token, learned positions, pre-norm blocks), whose
 * `features(x)` is Hugging Face's `last_hidden_state` and whose `forward(x)` is
 * ViTForImageClassification's `logits`.
 *
 * Name map (N = block; ViTForImageClassification's `vit.` prefix is taken off):
 *
 * | Hugging Face | qkv |
 * | --- | --- |
 * | `embeddings.cls_token` | `cls_token` |
 * | `embeddings.position_embeddings` | `pos_embed` |
 * | `embeddings.patch_embeddings.projection` | `patch_embed.proj` |
 * | `encoder.layer.N.layernorm_before` | `blocks.N.norm1` |
 * | `encoder.layer.N.attention.attention.query` / `key` / `value` (weight, bias) | `blocks.N.attn.qkv` (q, k, v stacked on dim 0) |
 * | `encoder.layer.N.attention.output.dense` | `blocks.N.attn.proj` |
 * | `encoder.layer.N.layernorm_after` | `blocks.N.norm2` |
 * | `encoder.layer.N.intermediate.dense` | `blocks.N.mlp.fc1` |
 * | `encoder.layer.N.output.dense` | `blocks.N.mlp.fc2` |
 * | `layernorm` | `norm` |
 * | `classifier` | `head` |
 *
 * ViTModel's `pooler.dense` (tanh of a Linear on the class token; not part of `last_hidden_state`
 * or of the classifier's logits) has no place in qkv's ViT: it is accepted and left out. Without a
 * `classifier`, the head has config.json's `num_labels` rows and is zero (logits 0): use
 * `features`. Bad input is reported whole: every unknown or unsupported field of config.json in
 * one `HfConfigError`, every missing, unexpected or wrongly shaped tensor (in Hugging Face's names)
 * in one `StateDictError`.
 *
 * ```ts
 * const { tensors } = decodeSafetensors(bytes);            // model.safetensors of save_pretrained
 * const vit = loadHfViT(configJsonText, tensors);          // eval mode
 * const hidden = vit.features(pixelValues);                // [B, C, H, W] -> last_hidden_state [B, 1 + N, E]
 * ```
 */
import { VisionTransformer, resolveViTConfig, type ResolvedViTConfig, type ViTConfig } from "../nn/vit.js";
import { QkvError, StateDictError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { HF_IGNORED_FIELDS, HfConfigError } from "./hf.js";
import { layerBoundProblem, parseConfigText, showValue, unknownFieldsProblem } from "./hf-config.js";

/** The fields of a ViT config.json that qkv builds from, with transformers' defaults. */
export interface HfViTConfig {
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  layerNormEps: number;
  imageSize: [number, number];
  patchSize: number;
  numChannels: number;
  /** Rows of the classifier: num_labels, or the size of id2label (transformers' default 2). */
  numLabels: number;
}

type Check = (v: unknown) => string | null;
const int = (min: number): Check => (v) => (typeof v === "number" && Number.isInteger(v) && v >= min ? null : `expected an integer >= ${min}, got ${showValue(v)}`);
const prob: Check = (v) => (typeof v === "number" && v >= 0 && v < 1 ? null : `expected a probability in [0, 1), got ${showValue(v)}`);
const oneOf = (...xs: unknown[]): Check => (v) => (xs.includes(v) ? null : `expected ${xs.map((x) => JSON.stringify(x)).join(" or ")}, got ${showValue(v)}`);
const side: Check = (v) => {
  const ok = (x: unknown): boolean => typeof x === "number" && Number.isInteger(x) && x >= 1;
  return ok(v) || (Array.isArray(v) && v.length === 2 && v.every(ok)) ? null : `expected a positive integer or [height, width], got ${showValue(v)}`;
};

const VIT_FIELDS: Record<string, [unknown, Check]> = {
  hidden_size: [768, int(1)],
  num_hidden_layers: [12, int(1)],
  num_attention_heads: [12, int(1)],
  intermediate_size: [3072, int(1)],
  // qkv's ViT blocks use the exact (erf) GELU, transformers' "gelu"
  hidden_act: ["gelu", oneOf("gelu")],
  hidden_dropout_prob: [0, prob],
  attention_probs_dropout_prob: [0, prob],
  layer_norm_eps: [1e-12, (v) => (typeof v === "number" && v >= 0 && v <= 1 ? null : `expected a number in [0, 1], got ${showValue(v)}`)],
  image_size: [224, side],
  patch_size: [16, (v) => (side(v) === null && (!Array.isArray(v) || v[0] === v[1]) ? null : `expected a square patch (an integer or [p, p]), got ${showValue(v)}`)],
  num_channels: [3, int(1)],
  qkv_bias: [true, oneOf(true)],
  model_type: ["vit", oneOf("vit")],
  num_labels: [null, (v) => (v === null || (typeof v === "number" && Number.isInteger(v) && v >= 1) ? null : `expected an integer >= 1, got ${showValue(v)}`)],
};

/** ViT fields that do not change last_hidden_state or the classifier's logits. */
const VIT_IGNORED = ["encoder_stride", "pooler_output_size", "pooler_act"];

/**
 * Checks a ViT config.json (text or parsed) and returns what qkv builds from, transformers'
 * defaults filled in. Every unknown field and every bad value is listed in one HfConfigError.
 */
export function parseHfViTConfig(config: string | object, op = "loadHfViT"): HfViTConfig {
  const fail = (problems: string[]): never => {
    throw new HfConfigError(op, problems, "a ViT config qkv can build");
  };
  let o: unknown = config;
  if (typeof config === "string") {
    const r = parseConfigText(config);
    o = "problem" in r ? fail([r.problem]) : r.value;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return fail([`expected a JSON object, got ${Array.isArray(o) ? "an array" : showValue(o)}`]);
  const c = o as Record<string, unknown>;
  const problems: string[] = [];
  // id2label / label2id (transformers writes both) count as ignored: they only name the classes
  const unknown = Object.keys(c).filter((k) => !(k in VIT_FIELDS) && !HF_IGNORED_FIELDS.includes(k) && !VIT_IGNORED.includes(k));
  if (unknown.length) problems.push(unknownFieldsProblem(unknown));
  const v: Record<string, unknown> = {};
  for (const [k, [dflt, check]] of Object.entries(VIT_FIELDS)) {
    v[k] = k in c ? c[k] : dflt;
    const p = check(v[k]);
    if (p) problems.push(`${k} ${p}`);
  }
  // the checks across fields, on the fields that passed their own (so that every problem is named at once)
  const good = (k: string): boolean => VIT_FIELDS[k]![1](v[k]) === null;
  const E = v.hidden_size as number, H = v.num_attention_heads as number, I = v.intermediate_size as number;
  const img = v.image_size as number | [number, number], ps = v.patch_size as number | [number, number];
  const imageSize: [number, number] = Array.isArray(img) ? [img[0], img[1]] : [img, img];
  const patchSize = Array.isArray(ps) ? ps[0] : ps;
  if (good("hidden_size") && good("num_attention_heads") && E % H !== 0) problems.push(`hidden_size expected a multiple of num_attention_heads (${H}), got ${E}`);
  if (good("image_size") && good("patch_size") && (imageSize[0] % patchSize !== 0 || imageSize[1] % patchSize !== 0)) {
    problems.push(`image_size expected multiples of patch_size (${patchSize}), got ${showValue(img)}`);
  }
  if (good("hidden_size") && good("intermediate_size") && (I / E) * E !== I) {
    problems.push(`intermediate_size expected a width qkv's ViT can hold as hidden_size * ratio, got ${I} for hidden_size ${E}`);
  }
  const id2label = c.id2label;
  const fromMap = typeof id2label === "object" && id2label !== null ? Object.keys(id2label).length : null;
  const numLabels = (v.num_labels as number | null) ?? fromMap ?? 2;
  if (good("num_labels") && v.num_labels !== null && fromMap !== null && fromMap !== v.num_labels) problems.push(`num_labels expected the size of id2label (${fromMap}), got ${String(v.num_labels)}`);
  if (problems.length) fail(problems);
  return {
    hiddenSize: E, numHiddenLayers: v.num_hidden_layers as number, numAttentionHeads: H, intermediateSize: I,
    hiddenDropoutProb: v.hidden_dropout_prob as number, attentionProbsDropoutProb: v.attention_probs_dropout_prob as number,
    layerNormEps: v.layer_norm_eps as number, imageSize, patchSize, numChannels: v.num_channels as number, numLabels,
  };
}

/** qkv's ViTConfig of a Hugging Face ViT config (class token, learned positions, no stem). */
export function vitConfigOfHf(c: HfViTConfig): ViTConfig {
  return {
    imageSize: c.imageSize, patchSize: c.patchSize, inChannels: c.numChannels, numClasses: c.numLabels, dim: c.hiddenSize,
    depth: c.numHiddenLayers, heads: c.numAttentionHeads, mlpRatio: c.intermediateSize / c.hiddenSize,
    dropout: c.hiddenDropoutProb, pooling: "cls", positions: "learned", stem: null, layerNormEps: c.layerNormEps,
  };
}

/** Hugging Face's names and shapes for a config, each with the qkv name it maps to (q/k/v: three onto one). */
export function hfViTNameMap(c: HfViTConfig, opts: { classifier?: boolean } = {}): { hf: string; shape: number[]; qkv: string; part?: 0 | 1 | 2 }[] {
  const E = c.hiddenSize, I = c.intermediateSize, p = c.patchSize;
  const T = (c.imageSize[0] / p) * (c.imageSize[1] / p) + 1;
  const rows: { hf: string; shape: number[]; qkv: string; part?: 0 | 1 | 2 }[] = [
    { hf: "embeddings.cls_token", shape: [1, 1, E], qkv: "cls_token" },
    { hf: "embeddings.position_embeddings", shape: [1, T, E], qkv: "pos_embed" },
    { hf: "embeddings.patch_embeddings.projection.weight", shape: [E, c.numChannels, p, p], qkv: "patch_embed.proj.weight" },
    { hf: "embeddings.patch_embeddings.projection.bias", shape: [E], qkv: "patch_embed.proj.bias" },
  ];
  for (let n = 0; n < c.numHiddenLayers; n++) {
    const h = `encoder.layer.${n}`, q = `blocks.${n}`;
    (["query", "key", "value"] as const).forEach((name, part) => {
      rows.push({ hf: `${h}.attention.attention.${name}.weight`, shape: [E, E], qkv: `${q}.attn.qkv.weight`, part: part as 0 | 1 | 2 });
      rows.push({ hf: `${h}.attention.attention.${name}.bias`, shape: [E], qkv: `${q}.attn.qkv.bias`, part: part as 0 | 1 | 2 });
    });
    const pairs: [string, string, number[], number[]][] = [
      ["layernorm_before", "norm1", [E], [E]],
      ["attention.output.dense", "attn.proj", [E, E], [E]],
      ["layernorm_after", "norm2", [E], [E]],
      ["intermediate.dense", "mlp.fc1", [I, E], [I]],
      ["output.dense", "mlp.fc2", [E, I], [E]],
    ];
    for (const [hn, qn, ws, bs] of pairs) {
      rows.push({ hf: `${h}.${hn}.weight`, shape: ws, qkv: `${q}.${qn}.weight` });
      rows.push({ hf: `${h}.${hn}.bias`, shape: bs, qkv: `${q}.${qn}.bias` });
    }
  }
  rows.push({ hf: "layernorm.weight", shape: [E], qkv: "norm.weight" }, { hf: "layernorm.bias", shape: [E], qkv: "norm.bias" });
  if (opts.classifier ?? true) {
    rows.push({ hf: "classifier.weight", shape: [c.numLabels, E], qkv: "head.weight" }, { hf: "classifier.bias", shape: [c.numLabels], qkv: "head.bias" });
  }
  return rows;
}

const POOLER = ["pooler.dense.weight", "pooler.dense.bias"];

/**
 * A qkv VisionTransformer from a ViT config.json (text or parsed) and the checkpoint's tensors
 * with Hugging Face's names (ViTModel's, or ViTForImageClassification's with the `vit.` prefix and
 * `classifier`). Names and shapes are all checked before anything is copied; every mismatch is
 * named, in Hugging Face's names, in one StateDictError (tensors of other heads are unexpected
 * unless `strict: false`). Returns the model in eval mode.
 */
export function loadHfViT(config: string | object, tensors: Map<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): VisionTransformer {
  const op = "loadHfViT";
  const c = parseHfViTConfig(config, op);
  let vc: ResolvedViTConfig;
  try {
    vc = resolveViTConfig(vitConfigOfHf(c), op);
  } catch (e) {
    // a config Hugging Face builds but qkv's ViT does not (image sides over its limit)
    if (e instanceof QkvError) throw new HfConfigError(op, [`${e.arg} (qkv's ViT) expected ${e.expected}, got ${e.actual}`], "a ViT config qkv can build");
    throw e;
  }
  const given = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const tooDeep = layerBoundProblem(c.numHiddenLayers, given.size);
  if (tooDeep) throw new HfConfigError(op, [tooDeep], "a ViT config qkv can build");
  const prefix = [...given.keys()].some((n) => n.startsWith("vit.")) ? "vit." : "";
  const byName = new Map<string, Tensor>();
  const unexpected: string[] = [];
  for (const [name, t] of given) {
    // the classifier sits outside the `vit.` prefix
    const k = name.startsWith("classifier.") ? name : prefix && !name.startsWith(prefix) ? null : name.slice(prefix.length);
    if (k === null) unexpected.push(name);
    else if (!POOLER.includes(k)) byName.set(k, t);
  }
  const classifier = byName.has("classifier.weight") || byName.has("classifier.bias");
  // without a classifier the head is built of zeros: no larger than the checkpoint's weights
  const weights = [...given.values()].reduce((n, t) => n + t.data.length, 0);
  if (!classifier && c.numLabels * c.hiddenSize > weights) {
    throw new HfConfigError(op, [`num_labels expected a zero head (num_labels x hidden_size) no larger than the checkpoint's ${weights} weights, got ${c.numLabels} x ${c.hiddenSize}`],
      "a ViT config qkv can build");
  }
  const map = hfViTNameMap(c, { classifier });
  const known = new Set(map.map((r) => r.hf));
  for (const k of byName.keys()) if (!known.has(k)) unexpected.push(k.startsWith("classifier.") ? k : prefix + k);
  const shown = (hf: string): string => (hf.startsWith("classifier.") ? hf : prefix + hf);
  const missing: string[] = [], mismatched: { name: string; expected: number[]; actual: number[] }[] = [];
  for (const r of map) {
    const t = byName.get(r.hf);
    if (!t) missing.push(shown(r.hf));
    else if (t.dtype !== "float32" && t.dtype !== "float64") mismatched.push({ name: `${shown(r.hf)} (dtype ${t.dtype}, expected a float)`, expected: r.shape, actual: t.shape.slice() });
    else if (t.rank !== r.shape.length || t.shape.some((d, i) => d !== r.shape[i])) mismatched.push({ name: shown(r.hf), expected: r.shape, actual: t.shape.slice() });
  }
  const strict = opts.strict ?? true;
  if (missing.length || mismatched.length || (strict && unexpected.length)) throw new StateDictError(op, missing, strict ? unexpected : [], mismatched);

  const model = new VisionTransformer(vc);
  const own = model.stateDict();
  if (!classifier) {
    own["head.weight"]!.data.fill(0);
    own["head.bias"]!.data.fill(0);
  }
  for (const r of map) {
    const src = byName.get(r.hf)!.data, dst = own[r.qkv]!.data as Float32Array;
    const off = r.part === undefined ? 0 : r.part * src.length; // q, k, v: consecutive blocks of qkv
    for (let i = 0; i < src.length; i++) dst[off + i] = Number(src[i]);
  }
  return model.eval();
}
