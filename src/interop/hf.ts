/**
 * Hugging Face BERT checkpoints in qkv: a `config.json` and the tensors of a `model.safetensors`
 * with Hugging Face's parameter names become a `BertModel` built from qkv's own modules
 * (embeddings, a post-norm `TransformerEncoder`, the pooler), with the same outputs as
 * `transformers.BertModel` (`last_hidden_state`, `pooler_output`).
 *
 * Name map (N = layer; the checkpoint may carry a `bert.` prefix, and LayerNorm `gamma` / `beta`
 * as older checkpoints do):
 *
 * | Hugging Face | qkv |
 * | --- | --- |
 * | `embeddings.word_embeddings` / `position_embeddings` / `token_type_embeddings` | same names |
 * | `embeddings.LayerNorm` | `embeddings.norm` |
 * | `encoder.layer.N.attention.self.query` / `key` / `value` (weight, bias) | `encoder.layers.N.self_attn.in_proj_weight` / `in_proj_bias` (q, k, v stacked on dim 0) |
 * | `encoder.layer.N.attention.output.dense` | `encoder.layers.N.self_attn.out_proj` |
 * | `encoder.layer.N.attention.output.LayerNorm` | `encoder.layers.N.norm1` |
 * | `encoder.layer.N.intermediate.dense` | `encoder.layers.N.linear1` |
 * | `encoder.layer.N.output.dense` | `encoder.layers.N.linear2` |
 * | `encoder.layer.N.output.LayerNorm` | `encoder.layers.N.norm2` |
 * | `pooler.dense` | `pooler` |
 *
 * Bad input is reported whole: every unknown or unsupported field of config.json in one
 * `HfConfigError`, every missing, unexpected or wrongly shaped tensor (in Hugging Face's names) in
 * one `StateDictError`.
 *
 * ```ts
 * const { tensors } = decodeSafetensors(bytes);                 // model.safetensors of save_pretrained
 * const bert = loadHfBert(configJsonText, tensors);             // eval mode
 * const { lastHiddenState, poolerOutput } = bert.forward(ids, { attentionMask }); // ids int32 [B, N] -> [B, N, E], [B, E]
 * ```
 */
import { add, gelu, tanh } from "../ops/elementwise.js";
import { squeeze, slice } from "../ops/shape.js";
import { Dropout, Embedding, LayerNorm, Linear } from "../nn/layers.js";
import { Module } from "../nn/module.js";
import { TransformerEncoder, TransformerEncoderLayer, type Activation } from "../nn/transformer.js";
import { DTypeError, ShapeError, StateDictError, ValueError, fmtShape } from "../tensor/errors.js";
import { layerBoundProblem, parseConfigText, showValue, unknownFieldsProblem } from "./hf-config.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";

/** The fields of a BERT config.json that qkv builds from (camelCased), with transformers' defaults. */
export interface HfBertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  /** "gelu" (exact), "relu", "gelu_new" / "gelu_pytorch_tanh" (tanh approximation). */
  hiddenAct: "gelu" | "relu" | "gelu_new" | "gelu_pytorch_tanh";
  hiddenDropoutProb: number;
  attentionProbsDropoutProb: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number | null;
}

/** config.json is not a BERT config qkv can build: `problems` holds every unknown or bad field. */
export class HfConfigError extends ValueError {
  /** Spelled out, so that minified bundles keep it. */
  override name = "HfConfigError";
  constructor(op: string, readonly problems: string[], expected = "a BERT config qkv can build") {
    super(op, "config.json", expected, problems.join("; "), `${op}: config.json: ${problems.join("; ")}`);
  }
}

// field -> [default, check]; the checks return a problem or null
type Check = (v: unknown) => string | null;
const int = (min: number): Check => (v) => (typeof v === "number" && Number.isInteger(v) && v >= min ? null : `expected an integer >= ${min}, got ${showValue(v)}`);
const prob: Check = (v) => (typeof v === "number" && v >= 0 && v < 1 ? null : `expected a probability in [0, 1), got ${showValue(v)}`);
const oneOf = (...xs: unknown[]): Check => (v) => (xs.includes(v) ? null : `expected ${xs.map((x) => JSON.stringify(x)).join(" or ")}, got ${showValue(v)}`);

const BERT_FIELDS: Record<string, [unknown, Check]> = {
  vocab_size: [30522, int(1)],
  hidden_size: [768, int(1)],
  num_hidden_layers: [12, int(1)],
  num_attention_heads: [12, int(1)],
  intermediate_size: [3072, int(1)],
  hidden_act: ["gelu", oneOf("gelu", "relu", "gelu_new", "gelu_pytorch_tanh")],
  hidden_dropout_prob: [0.1, prob],
  attention_probs_dropout_prob: [0.1, prob],
  max_position_embeddings: [512, int(1)],
  type_vocab_size: [2, int(1)],
  layer_norm_eps: [1e-12, (v) => (typeof v === "number" && v >= 0 ? null : `expected a number >= 0, got ${showValue(v)}`)],
  pad_token_id: [0, (v) => (v === null || (typeof v === "number" && Number.isInteger(v) && v >= 0) ? null : `expected a token id or null, got ${showValue(v)}`)],
  // what qkv's BertModel is: an absolute-position encoder without cross-attention
  position_embedding_type: ["absolute", oneOf("absolute")],
  is_decoder: [false, oneOf(false)],
  add_cross_attention: [false, oneOf(false)],
  model_type: ["bert", oneOf("bert")],
  pruned_heads: [{}, (v) => (typeof v === "object" && v !== null && Object.keys(v).length === 0 ? null : "expected no pruned heads")],
};

/**
 * Fields of transformers' configs that do not change the encoder's outputs (initialization, the
 * heads of task models, generation, bookkeeping): accepted and ignored.
 */
export const HF_IGNORED_FIELDS: readonly string[] = [
  "architectures", "transformers_version", "dtype", "torch_dtype", "initializer_range", "use_cache", "classifier_dropout",
  "bos_token_id", "eos_token_id", "sep_token_id", "decoder_start_token_id", "tie_word_embeddings", "gradient_checkpointing",
  "output_attentions", "output_hidden_states", "return_dict", "torchscript", "id2label", "label2id", "num_labels", "problem_type",
  "finetuning_task", "tokenizer_class", "prefix", "chunk_size_feed_forward", "_name_or_path", "directionality",
  "pooler_fc_size", "pooler_num_attention_heads", "pooler_num_fc_layers", "pooler_size_per_head", "pooler_type",
];

/**
 * Checks a BERT config.json (text or parsed) and returns what qkv builds from, transformers'
 * defaults filled in. Every unknown field and every bad value is listed in one HfConfigError.
 */
export function parseHfBertConfig(config: string | object, op = "loadHfBert"): HfBertConfig {
  let o: unknown = config;
  if (typeof config === "string") {
    const r = parseConfigText(config);
    if ("problem" in r) throw new HfConfigError(op, [r.problem]);
    o = r.value;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new HfConfigError(op, [`expected a JSON object, got ${Array.isArray(o) ? "an array" : showValue(o)}`]);
  const c = o as Record<string, unknown>;
  const problems: string[] = [];
  const unknown = Object.keys(c).filter((k) => !(k in BERT_FIELDS) && !HF_IGNORED_FIELDS.includes(k));
  if (unknown.length) problems.push(unknownFieldsProblem(unknown));
  const v: Record<string, unknown> = {};
  for (const [k, [dflt, check]] of Object.entries(BERT_FIELDS)) {
    v[k] = k in c ? c[k] : dflt;
    const p = check(v[k]);
    if (p) problems.push(`${k} ${p}`);
  }
  const E = v.hidden_size, H = v.num_attention_heads, V = v.vocab_size, pad = v.pad_token_id;
  if (typeof E === "number" && typeof H === "number" && Number.isInteger(E) && Number.isInteger(H) && H > 0 && E % H !== 0) {
    problems.push(`hidden_size expected a multiple of num_attention_heads (${H}), got ${E}`);
  }
  if (typeof pad === "number" && typeof V === "number" && pad >= V) problems.push(`pad_token_id expected an id below vocab_size (${V}), got ${pad}`);
  if (problems.length) throw new HfConfigError(op, problems);
  return {
    vocabSize: v.vocab_size as number, hiddenSize: v.hidden_size as number, numHiddenLayers: v.num_hidden_layers as number,
    numAttentionHeads: v.num_attention_heads as number, intermediateSize: v.intermediate_size as number,
    hiddenAct: v.hidden_act as HfBertConfig["hiddenAct"], hiddenDropoutProb: v.hidden_dropout_prob as number,
    attentionProbsDropoutProb: v.attention_probs_dropout_prob as number, maxPositionEmbeddings: v.max_position_embeddings as number,
    typeVocabSize: v.type_vocab_size as number, layerNormEps: v.layer_norm_eps as number, padTokenId: pad as number | null,
  };
}

function activation(a: HfBertConfig["hiddenAct"]): Activation {
  return a === "gelu" ? "gelu" : a === "relu" ? "relu" : (x: Tensor) => gelu(x, "tanh");
}

/** word + position + token type embeddings, LayerNorm, dropout. */
export class BertEmbeddings extends Module {
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly tokenTypeEmbeddings: Embedding;
  readonly norm: LayerNorm;
  private readonly dropout: Dropout;
  constructor(c: HfBertConfig) {
    super();
    const E = c.hiddenSize;
    this.wordEmbeddings = this.registerModule("word_embeddings", new Embedding(c.vocabSize, E, c.padTokenId !== null ? { paddingIdx: c.padTokenId } : {}));
    this.positionEmbeddings = this.registerModule("position_embeddings", new Embedding(c.maxPositionEmbeddings, E));
    this.tokenTypeEmbeddings = this.registerModule("token_type_embeddings", new Embedding(c.typeVocabSize, E));
    this.norm = this.registerModule("norm", new LayerNorm(E, { eps: c.layerNormEps }));
    this.dropout = this.registerModule("dropout", new Dropout(c.hiddenDropoutProb));
  }
  /** ids, tokenTypeIds int32 [B, N] -> [B, N, E]; positions 0 … N - 1. */
  forward(ids: Tensor, tokenTypeIds: Tensor): Tensor {
    const N = ids.shape[1]!;
    const pos = slice(this.positionEmbeddings.weight, 0, 0, N); // [N, E]
    const x = add(add(this.wordEmbeddings.forward(ids), this.tokenTypeEmbeddings.forward(tokenTypeIds)), pos); // [B, N, E]
    return this.dropout.forward(this.norm.forward(x));
  }
}

export interface BertForwardOptions {
  /** [B, N], int32 or bool: 1 / true for a token, 0 / false for padding (Hugging Face's convention). */
  attentionMask?: Tensor;
  /** int32 [B, N] (default zeros). */
  tokenTypeIds?: Tensor;
}

/**
 * A BERT-shaped encoder from qkv's modules: `embeddings`, `encoder` (post-norm
 * TransformerEncoder, batch-first) and an optional `pooler` (Linear, tanh of the first token).
 * Dropout: hidden_dropout_prob everywhere (qkv's layers have one rate; it matters in training only).
 */
export class BertModel extends Module {
  readonly embeddings: BertEmbeddings;
  readonly encoder: TransformerEncoder;
  readonly pooler: Linear | null;
  constructor(readonly config: HfBertConfig, opts: { pooler?: boolean } = {}) {
    super();
    const c = config;
    this.embeddings = this.registerModule("embeddings", new BertEmbeddings(c));
    this.encoder = this.registerModule("encoder", new TransformerEncoder(new TransformerEncoderLayer(c.hiddenSize, c.numAttentionHeads, {
      dimFeedforward: c.intermediateSize, dropout: c.hiddenDropoutProb, activation: activation(c.hiddenAct),
      layerNormEps: c.layerNormEps, batchFirst: true, normFirst: false,
    }), c.numHiddenLayers));
    this.pooler = this.registerModule("pooler", opts.pooler ?? true ? new Linear(c.hiddenSize, c.hiddenSize) : null);
  }

  /** ids int32 [B, N] -> lastHiddenState [B, N, E] and poolerOutput [B, E] (null without a pooler). */
  forward(ids: Tensor, opts: BertForwardOptions = {}): { lastHiddenState: Tensor; poolerOutput: Tensor | null } {
    const op = "BertModel.forward";
    expectTensor(ids, "ids", op);
    if (ids.dtype !== "int32") throw new DTypeError(op, "ids", "int32", ids.dtype);
    if (ids.rank !== 2) throw new ShapeError(op, "ids", "[B, N]", fmtShape(ids.shape));
    const [B, N] = ids.shape as [number, number];
    if (N > this.config.maxPositionEmbeddings) throw new ShapeError(op, "ids", `at most ${this.config.maxPositionEmbeddings} positions (max_position_embeddings)`, fmtShape(ids.shape));
    const same = (t: Tensor, arg: string): void => {
      expectTensor(t, arg, op);
      if (t.rank !== 2 || t.shape[0] !== B || t.shape[1] !== N) throw new ShapeError(op, arg, fmtShape([B, N]), fmtShape(t.shape));
    };
    let types = opts.tokenTypeIds;
    if (types) {
      same(types, "tokenTypeIds");
      if (types.dtype !== "int32") throw new DTypeError(op, "tokenTypeIds", "int32", types.dtype);
    } else types = new Tensor(new Int32Array(B * N), [B, N], "int32");
    let pad: Tensor | null = null;
    if (opts.attentionMask) {
      const m = opts.attentionMask;
      same(m, "attentionMask");
      if (m.dtype !== "int32" && m.dtype !== "bool") throw new DTypeError(op, "attentionMask", "int32 or bool", m.dtype);
      pad = new Tensor(Uint8Array.from(m.data as ArrayLike<number>, (v) => (Number(v) === 0 ? 1 : 0)), [B, N], "bool"); // true at padding
    }
    const x = this.embeddings.forward(ids, types); // [B, N, E]
    const h = this.encoder.forward(x, { srcKeyPaddingMask: pad }); // [B, N, E]
    const poolerOutput = this.pooler ? tanh(this.pooler.forward(squeeze(slice(h, 1, 0, 1), 1))) : null; // [B, E]
    return { lastHiddenState: h, poolerOutput };
  }
}

/** Hugging Face's names and shapes for a config, each with the qkv name it maps to (q/k/v: three onto one). */
export function hfBertNameMap(c: HfBertConfig, opts: { pooler?: boolean } = {}): { hf: string; shape: number[]; qkv: string; part?: 0 | 1 | 2 }[] {
  const E = c.hiddenSize, I = c.intermediateSize;
  const rows: { hf: string; shape: number[]; qkv: string; part?: 0 | 1 | 2 }[] = [
    { hf: "embeddings.word_embeddings.weight", shape: [c.vocabSize, E], qkv: "embeddings.word_embeddings.weight" },
    { hf: "embeddings.position_embeddings.weight", shape: [c.maxPositionEmbeddings, E], qkv: "embeddings.position_embeddings.weight" },
    { hf: "embeddings.token_type_embeddings.weight", shape: [c.typeVocabSize, E], qkv: "embeddings.token_type_embeddings.weight" },
    { hf: "embeddings.LayerNorm.weight", shape: [E], qkv: "embeddings.norm.weight" },
    { hf: "embeddings.LayerNorm.bias", shape: [E], qkv: "embeddings.norm.bias" },
  ];
  for (let n = 0; n < c.numHiddenLayers; n++) {
    const h = `encoder.layer.${n}`, q = `encoder.layers.${n}`;
    (["query", "key", "value"] as const).forEach((p, part) => {
      rows.push({ hf: `${h}.attention.self.${p}.weight`, shape: [E, E], qkv: `${q}.self_attn.in_proj_weight`, part: part as 0 | 1 | 2 });
      rows.push({ hf: `${h}.attention.self.${p}.bias`, shape: [E], qkv: `${q}.self_attn.in_proj_bias`, part: part as 0 | 1 | 2 });
    });
    const pairs: [string, string, number[], number[]][] = [
      ["attention.output.dense", "self_attn.out_proj", [E, E], [E]],
      ["attention.output.LayerNorm", "norm1", [E], [E]],
      ["intermediate.dense", "linear1", [I, E], [I]],
      ["output.dense", "linear2", [E, I], [E]],
      ["output.LayerNorm", "norm2", [E], [E]],
    ];
    for (const [hn, qn, ws, bs] of pairs) {
      rows.push({ hf: `${h}.${hn}.weight`, shape: ws, qkv: `${q}.${qn}.weight` });
      rows.push({ hf: `${h}.${hn}.bias`, shape: bs, qkv: `${q}.${qn}.bias` });
    }
  }
  if (opts.pooler ?? true) {
    rows.push({ hf: "pooler.dense.weight", shape: [E, E], qkv: "pooler.weight" });
    rows.push({ hf: "pooler.dense.bias", shape: [E], qkv: "pooler.bias" });
  }
  return rows;
}

/** Hugging Face's own renames on load: no `bert.` prefix, LayerNorm gamma / beta as weight / bias. */
function canonicalName(name: string, prefix: string): string | null {
  if (prefix && !name.startsWith(prefix)) return null;
  return name.slice(prefix.length).replace(/\.LayerNorm\.gamma$/, ".LayerNorm.weight").replace(/\.LayerNorm\.beta$/, ".LayerNorm.bias");
}

/**
 * A qkv BertModel from a BERT config.json (text or parsed) and the checkpoint's tensors with
 * Hugging Face's names (a `bert.` prefix is taken off; task heads such as `cls.*` are unexpected
 * unless `strict: false`). The pooler is built when the checkpoint has one (or as `pooler` says).
 * All names and shapes are checked before anything is copied; every mismatch is named, in
 * Hugging Face's names, in one StateDictError. Returns the model in eval mode.
 */
export function loadHfBert(config: string | object, tensors: Map<string, Tensor> | Record<string, Tensor>,
  opts: { strict?: boolean; pooler?: boolean } = {}): BertModel {
  const op = "loadHfBert";
  const c = parseHfBertConfig(config, op);
  const given = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const tooDeep = layerBoundProblem(c.numHiddenLayers, given.size);
  if (tooDeep) throw new HfConfigError(op, [tooDeep]);
  const names = [...given.keys()];
  const prefix = names.some((n) => n.startsWith("bert.")) ? "bert." : "";
  const byName = new Map<string, Tensor>();
  const unexpected: string[] = [];
  for (const [name, t] of given) {
    const k = canonicalName(name, prefix);
    if (k === null) unexpected.push(name);
    else if (k !== "embeddings.position_ids") byName.set(k, t); // a buffer older checkpoints saved: arange, rebuilt
  }
  const pooler = opts.pooler ?? byName.has("pooler.dense.weight");
  const map = hfBertNameMap(c, { pooler });
  const known = new Set(map.map((r) => r.hf));
  for (const k of byName.keys()) if (!known.has(k)) unexpected.push(prefix + k);
  const missing: string[] = [], mismatched: { name: string; expected: number[]; actual: number[] }[] = [];
  for (const r of map) {
    const t = byName.get(r.hf);
    if (!t) missing.push(prefix + r.hf);
    else if (t.dtype !== "float32" && t.dtype !== "float64") mismatched.push({ name: `${prefix + r.hf} (dtype ${t.dtype}, expected a float)`, expected: r.shape, actual: t.shape.slice() });
    else if (t.rank !== r.shape.length || t.shape.some((d, i) => d !== r.shape[i])) mismatched.push({ name: prefix + r.hf, expected: r.shape, actual: t.shape.slice() });
  }
  const strict = opts.strict ?? true;
  if (missing.length || mismatched.length || (strict && unexpected.length)) throw new StateDictError(op, missing, strict ? unexpected : [], mismatched);

  const model = new BertModel(c, { pooler });
  const own = model.stateDict();
  for (const r of map) {
    const src = byName.get(r.hf)!.data, dst = own[r.qkv]!.data as Float32Array;
    const off = r.part === undefined ? 0 : r.part * src.length; // q, k, v: consecutive blocks of in_proj
    for (let i = 0; i < src.length; i++) dst[off + i] = Number(src[i]);
  }
  return model.eval();
}
