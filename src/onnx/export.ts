/**
 * ONNX export without tracing: each exportable module has an emitter that writes its graph
 * (emit-*.ts); this file picks the emitter, lays out the graph's inputs and outputs with
 * symbolic batch and sequence dims, and checks the whole model first, so that every part without
 * an ONNX form is named in one ExportError.
 *
 * Exported: MultiheadAttention, TransformerEncoderLayer / TransformerEncoder,
 * TransformerDecoderLayer / TransformerDecoder (whole target), Seq2SeqTransformer as four
 * graphs in the layout ONNX Runtime generation code and transformers.js read (encoder_model,
 * decoder_model, decoder_with_past_model, and decoder_model_merged: both decoders behind an If on
 * use_cache_branch; see docs/onnx.md), and VisionTransformer (patch or
 * CNN-stem embedding; pixel_values -> logits) and SpanExtractor (input_ids -> start_logits,
 * end_logits). Attention kinds: full, window, dilated, longformer
 * (their patterns become masks). Attention forms: plain ops, com.microsoft.MultiHeadAttention, or
 * the standard Attention operator (opset 23; the graph imports ai.onnx 23).
 *
 * ```ts
 * const files = onnxGraphs(mha, { query: randn([2, 5, 16]) });          // [{ name: "model.onnx", bytes, … }]
 * const s2s = onnxGraphs(model, {}, { attention: "fused" });             // encoder + three decoder graphs
 * const std = onnxGraphs(mha, { query: x }, { attention: "opset23" });    // ai.onnx Attention, opset 23
 * ```
 */
import type { Module } from "../nn/module.js";
import { MultiheadAttention } from "../nn/multihead-attention.js";
import { Seq2SeqTransformer } from "../nn/seq2seq.js";
import { SpanExtractor } from "../nn/span-extractor.js";
import { TransformerDecoder, TransformerDecoderLayer } from "../nn/transformer-decoder.js";
import { TransformerEncoder, TransformerEncoderLayer } from "../nn/transformer.js";
import { VisionTransformer, vitTokens } from "../nn/vit.js";
import { ExportError } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import {
  attentionForms, dimScalar, emitMha, mhaProblems, opsetOf, paddingMask, sumMasks, userMask, type AttentionForm,
} from "./emit-attention.js";
import { emitSeq2SeqMergedDecoder } from "./emit-merged-decoder.js";
import { emitSeq2SeqDecoder, emitSeq2SeqEncoder } from "./emit-seq2seq.js";
import { emitSpanExtractor } from "./emit-span.js";
import { MaskCache, emitDecoder, emitDecoderLayer, emitEncoder, emitEncoderLayer } from "./emit-transformer.js";
import { emitViT, imageProblems } from "./emit-vit.js";
import { GraphBuilder, type Dim } from "./graph.js";

const OP = "exportOnnx";

export interface OnnxExportOptions {
  /**
   * "plain" (default): attention in standard ops (MatMul, Softmax, …), runs anywhere;
   * "fused": ONNX Runtime's com.microsoft.MultiHeadAttention (faster there, ORT only);
   * "opset23": the standard Attention operator of opset 23 (runtimes with opset 23, e.g. ORT >= 1.23).
   */
  attention?: AttentionForm;
  /** More metadata_props for every file written (e.g. a classifier's class names). */
  metadata?: Record<string, string>;
}

/** One exported graph: the file name it is written under, its bytes and its interface. */
export interface OnnxGraphFile {
  name: string;
  bytes: Uint8Array;
  inputs: string[];
  outputs: string[];
  attention: AttentionForm;
}

/** Example inputs of a MultiheadAttention: which inputs the graph has (their sizes stay symbolic). */
export interface MhaExample {
  /** [L, B, E] (batchFirst: [B, L, E]). */
  query: Tensor;
  /** Omitted or the query itself: one input "query" serves as key and value (self-attention). */
  key?: Tensor;
  value?: Tensor;
  /** bool [B, S]: the graph gets a key_padding_mask input. */
  keyPaddingMask?: Tensor;
  /** [L, S] bool or float: the graph gets an attn_mask input. */
  attnMask?: Tensor;
  isCausal?: boolean;
}

/** Example inputs of an encoder (layer). */
export interface EncoderExample {
  src: Tensor;
  srcKeyPaddingMask?: Tensor;
  srcMask?: Tensor;
  isCausal?: boolean;
}

/** Example inputs of a decoder (layer) over a whole target. */
export interface DecoderExample {
  tgt: Tensor;
  memory: Tensor;
  tgtMask?: Tensor;
  tgtKeyPaddingMask?: Tensor;
  memoryKeyPaddingMask?: Tensor;
  tgtIsCausal?: boolean;
}

/** Example input of a VisionTransformer (optional: the graph's image size comes from the config). */
export interface ViTExample {
  /** [B, C, H, W], checked against the config when given. */
  x?: Tensor;
}

export type ExportableModel = MultiheadAttention | TransformerEncoderLayer | TransformerEncoder | TransformerDecoderLayer | TransformerDecoder | Seq2SeqTransformer
  | VisionTransformer | SpanExtractor;

/** Everything in `model` that has no ONNX form, by module name. */
export function exportProblems(model: Module): string[] {
  const out: string[] = [];
  const known = [MultiheadAttention, TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder, Seq2SeqTransformer, VisionTransformer, SpanExtractor];
  if (!known.some((k) => model instanceof k)) out.push(`${model.constructor.name}: no ONNX emitter (exportable: ${known.map((k) => k.name).join(", ")})`);
  for (const [name, m] of model.namedModules()) {
    if (m instanceof MultiheadAttention) out.push(...mhaProblems(m, name));
    if ((m instanceof TransformerEncoderLayer || m instanceof TransformerDecoderLayer) && typeof m.options.activation === "function") {
      out.push(`${name || m.constructor.name}: a custom activation function has no ONNX form (exportable: "relu", "gelu")`);
    }
  }
  out.push(...imageProblems(model));
  return out;
}

/** A graph built but not yet encoded (onnxGraphs adds the metadata every file shares). */
interface PendingFile { g: GraphBuilder; name: string; inputs: string[]; outputs: string[]; meta: Record<string, string> }

const fileOf = (g: GraphBuilder, name: string, inputs: string[], outputs: string[], meta: Record<string, string>): PendingFile =>
  ({ g, name, inputs, outputs, meta });

function finish(p: PendingFile, attention: AttentionForm, extra: Record<string, string>): OnnxGraphFile {
  return { name: p.name, bytes: p.g.finish({ ...extra, ...p.meta, "qkv.attention": attention }), inputs: p.inputs, outputs: p.outputs, attention };
}

/** Checks an example tensor is batched [*, *, E] (rank 3) float; pushes what is wrong. */
function checkExample(problems: string[], what: string, t: Tensor | undefined, lastDim: number | null, rank = 3): void {
  if (t === undefined) return;
  if (!(t instanceof Tensor)) { problems.push(`example ${what}: expected a Tensor`); return; }
  if (t.rank !== rank || (lastDim !== null && t.shape[rank - 1] !== lastDim)) {
    problems.push(`example ${what}: expected rank ${rank}${lastDim !== null ? ` with last dim ${lastDim}` : ""} (batched), got [${t.shape.join(", ")}]`);
  }
}

/** A sequence input in the module's layout, as a batch-first value. */
function seqInput(g: GraphBuilder, name: string, batchFirst: boolean, len: string, E: number): string {
  const x = g.input(name, "float32", batchFirst ? ["batch", len, E] : [len, "batch", E]);
  return batchFirst ? x : g.node("Transpose", [x], { perm: [1, 0, 2] });
}

function seqOutput(g: GraphBuilder, y: string, name: string, batchFirst: boolean, len: string, E: number): void {
  g.output(batchFirst ? y : g.node("Transpose", [y], { perm: [1, 0, 2] }), name, "float32", batchFirst ? ["batch", len, E] : [len, "batch", E]);
}

/** An optional mask input: key padding bool [batch, len] or attention mask [lq, lk]; -> additive. */
function maskInputs(g: GraphBuilder, inputs: string[], kpm: { name: string; t: Tensor | undefined; len: Dim } | null,
  am: { name: string; t: Tensor | undefined; lq: Dim; lk: Dim } | null): string | null {
  const parts: string[] = [];
  if (kpm?.t) {
    inputs.push(g.input(kpm.name, "bool", ["batch", kpm.len]));
    parts.push(paddingMask(g, kpm.name));
  }
  if (am?.t) {
    const isBool = am.t.dtype === "bool";
    inputs.push(g.input(am.name, isBool ? "bool" : "float32", [am.lq, am.lk]));
    parts.push(userMask(g, am.name, isBool));
  }
  return sumMasks(g, parts);
}

function mhaGraphs(m: MultiheadAttention, ex: MhaExample, form: AttentionForm): PendingFile[] {
  const problems: string[] = [];
  checkExample(problems, "query", ex.query, m.embedDim);
  checkExample(problems, "key", ex.key, m.kdim);
  checkExample(problems, "value", ex.value, m.vdim);
  checkExample(problems, "keyPaddingMask", ex.keyPaddingMask, null, 2);
  checkExample(problems, "attnMask", ex.attnMask, null, 2);
  if (problems.length) throw new ExportError(OP, problems);
  const g = new GraphBuilder("MultiheadAttention", opsetOf(form));
  const bf = m.batchFirst, E = m.embedDim;
  const self = (ex.key === undefined || ex.key === ex.query) && (ex.value === undefined || ex.value === ex.query);
  const inputs = ["query"];
  const q = seqInput(g, "query", bf, "seq", E);
  let k = q, v = q;
  if (!self) {
    k = seqInput(g, "key", bf, "kv_seq", m.kdim);
    v = seqInput(g, "value", bf, "kv_seq", m.vdim);
    inputs.push("key", "value");
  }
  const S = self ? "seq" : "kv_seq";
  const base = maskInputs(g, inputs, { name: "key_padding_mask", t: ex.keyPaddingMask, len: S }, { name: "attn_mask", t: ex.attnMask, lq: "seq", lk: S });
  const spec = ex.isCausal ? { ...m.attention, causal: true } : m.attention;
  const mask = new MaskCache(g, base, dimScalar(g, q, 1), dimScalar(g, k, 1)).of(spec);
  seqOutput(g, emitMha(g, m, "", { q, k, v, mask, form }), "output", bf, "seq", E);
  return [fileOf(g, "model.onnx", inputs, ["output"], { "qkv.model": "MultiheadAttention" })];
}

function encoderGraphs(m: TransformerEncoderLayer | TransformerEncoder, ex: EncoderExample, form: AttentionForm): PendingFile[] {
  const layer = m instanceof TransformerEncoder ? m.layers.at(0) : m;
  const E = layer.dModel, bf = layer.options.batchFirst;
  const problems: string[] = [];
  checkExample(problems, "src", ex.src, E);
  checkExample(problems, "srcKeyPaddingMask", ex.srcKeyPaddingMask, null, 2);
  checkExample(problems, "srcMask", ex.srcMask, null, 2);
  if (problems.length) throw new ExportError(OP, problems);
  const g = new GraphBuilder(m.constructor.name, opsetOf(form));
  const inputs = ["src"];
  const x = seqInput(g, "src", bf, "seq", E);
  const base = maskInputs(g, inputs, { name: "src_key_padding_mask", t: ex.srcKeyPaddingMask, len: "seq" }, { name: "src_mask", t: ex.srcMask, lq: "seq", lk: "seq" });
  const L = dimScalar(g, x, 1);
  const masks = new MaskCache(g, ex.isCausal ? sumMasks(g, [base, new MaskCache(g, null, L, L).of({ kind: "full", causal: true })]) : base, L, L);
  const y = m instanceof TransformerEncoder ? emitEncoder(g, m, "", x, masks, form) : emitEncoderLayer(g, m, "", x, masks, form);
  seqOutput(g, y, "output", bf, "seq", E);
  return [fileOf(g, "model.onnx", inputs, ["output"], { "qkv.model": m.constructor.name })];
}

function decoderGraphs(m: TransformerDecoderLayer | TransformerDecoder, ex: DecoderExample, form: AttentionForm): PendingFile[] {
  const layer = m instanceof TransformerDecoder ? m.layers.at(0) : m;
  const E = layer.dModel, bf = layer.options.batchFirst;
  const problems: string[] = [];
  checkExample(problems, "tgt", ex.tgt, E);
  checkExample(problems, "memory", ex.memory, E);
  checkExample(problems, "tgtMask", ex.tgtMask, null, 2);
  checkExample(problems, "tgtKeyPaddingMask", ex.tgtKeyPaddingMask, null, 2);
  checkExample(problems, "memoryKeyPaddingMask", ex.memoryKeyPaddingMask, null, 2);
  if (problems.length) throw new ExportError(OP, problems);
  const g = new GraphBuilder(m.constructor.name, opsetOf(form));
  const inputs = ["tgt", "memory"];
  const x = seqInput(g, "tgt", bf, "seq", E);
  const mem = seqInput(g, "memory", bf, "memory_seq", E);
  const selfBase = maskInputs(g, inputs, { name: "tgt_key_padding_mask", t: ex.tgtKeyPaddingMask, len: "seq" }, { name: "tgt_mask", t: ex.tgtMask, lq: "seq", lk: "seq" });
  const cross = maskInputs(g, inputs, { name: "memory_key_padding_mask", t: ex.memoryKeyPaddingMask, len: "memory_seq" }, null);
  const T = dimScalar(g, x, 1);
  // an efficient self-attention is causal already; full attention is when tgtIsCausal says so
  const causal = ex.tgtIsCausal ? new MaskCache(g, null, T, T).of({ kind: "full", causal: true }) : null;
  const selfMasks = new MaskCache(g, layer.selfAttn.attention.kind === "full" ? sumMasks(g, [selfBase, causal]) : selfBase, T, T);
  const y = m instanceof TransformerDecoder
    ? emitDecoder(g, m, "", x, mem, { self: selfMasks, cross }, form)
    : emitDecoderLayer(g, m, "", x, mem, { self: selfMasks, cross }, form);
  seqOutput(g, y, "output", bf, "seq", E);
  return [fileOf(g, "model.onnx", inputs, ["output"], { "qkv.model": m.constructor.name })];
}

function vitGraphs(m: VisionTransformer, ex: ViTExample, form: AttentionForm): PendingFile[] {
  const c = m.config, [H, W] = c.imageSize;
  if (ex.x !== undefined) {
    const x = ex.x;
    if (!(x instanceof Tensor) || x.rank !== 4 || x.shape[1] !== c.inChannels || x.shape[2] !== H || x.shape[3] !== W) {
      throw new ExportError(OP, [`example x: expected [B, ${c.inChannels}, ${H}, ${W}] (the model's config), got ${x instanceof Tensor ? `[${x.shape.join(", ")}]` : "not a Tensor"}`]);
    }
  }
  const g = new GraphBuilder("VisionTransformer", opsetOf(form));
  const x = g.input("pixel_values", "float32", ["batch", c.inChannels, H, W]);
  const { logits, tokens } = emitViT(g, m, "", x, form);
  g.output(logits, "logits", "float32", ["batch", c.numClasses]);
  g.output(tokens, "last_hidden_state", "float32", ["batch", vitTokens(c).tokens, c.dim]);
  return [fileOf(g, "model.onnx", ["pixel_values"], ["logits", "last_hidden_state"],
    { "qkv.model": "VisionTransformer", "qkv.config": JSON.stringify(c) })];
}

function spanGraphs(m: SpanExtractor, form: AttentionForm): PendingFile[] {
  const { g, inputs, outputs } = emitSpanExtractor(m, form);
  return [fileOf(g, "model.onnx", inputs, outputs, { "qkv.model": "SpanExtractor", "qkv.config": JSON.stringify(m.config) })];
}

function seq2seqGraphs(m: Seq2SeqTransformer, form: AttentionForm): PendingFile[] {
  const meta = { "qkv.model": "Seq2SeqTransformer", "qkv.config": JSON.stringify(m.config) };
  const enc = emitSeq2SeqEncoder(m, form);
  const dec = emitSeq2SeqDecoder(m, form, false);
  const past = emitSeq2SeqDecoder(m, form, true);
  const merged = emitSeq2SeqMergedDecoder(m, form);
  return [
    fileOf(enc.g, "encoder_model.onnx", enc.inputs, enc.outputs, meta),
    fileOf(dec.g, "decoder_model.onnx", dec.inputs, dec.outputs, meta),
    fileOf(past.g, "decoder_with_past_model.onnx", past.inputs, past.outputs, meta),
    fileOf(merged.g, "decoder_model_merged.onnx", merged.inputs, merged.outputs, meta),
  ];
}

/**
 * The ONNX graphs of `model` (eval-mode: no dropout; BatchNorm with its running statistics), as
 * file names and bytes: "model.onnx" for a module, encoder_model.onnx / decoder_model.onnx /
 * decoder_with_past_model.onnx / decoder_model_merged.onnx for a Seq2SeqTransformer. The example inputs say which optional
 * inputs (masks) the graph takes and the layout; batch and sequence sizes are symbolic (a
 * VisionTransformer's image size is its config's: pixel_values [batch, C, H, W] -> logits
 * [batch, classes] and last_hidden_state [batch, T, E]). Throws an ExportError naming every part
 * without an ONNX form (attention kind, addBiasKV, custom activation, BatchNorm2d without running
 * statistics, wrong example).
 */
export function onnxGraphs(model: MultiheadAttention, example: MhaExample, opts?: OnnxExportOptions): OnnxGraphFile[];
export function onnxGraphs(model: TransformerEncoderLayer | TransformerEncoder, example: EncoderExample, opts?: OnnxExportOptions): OnnxGraphFile[];
export function onnxGraphs(model: TransformerDecoderLayer | TransformerDecoder, example: DecoderExample, opts?: OnnxExportOptions): OnnxGraphFile[];
export function onnxGraphs(model: Seq2SeqTransformer, example?: Record<string, never>, opts?: OnnxExportOptions): OnnxGraphFile[];
export function onnxGraphs(model: VisionTransformer, example?: ViTExample, opts?: OnnxExportOptions): OnnxGraphFile[];
export function onnxGraphs(model: SpanExtractor, example?: Record<string, never>, opts?: OnnxExportOptions): OnnxGraphFile[];
export function onnxGraphs(model: Module, example?: unknown, opts?: OnnxExportOptions): OnnxGraphFile[];
export function onnxGraphs(model: Module, example: unknown = {}, opts: OnnxExportOptions = {}): OnnxGraphFile[] {
  const problems = exportProblems(model);
  const attention = opts.attention ?? "plain";
  if (!attentionForms.includes(attention)) {
    problems.push(`options.attention: expected ${attentionForms.map((f) => JSON.stringify(f)).join(", ")}, got ${JSON.stringify(attention)}`);
  }
  if (problems.length) throw new ExportError(OP, problems);
  return graphsOf(model, example, attention).map((f) => finish(f, attention, opts.metadata ?? {}));
}

function graphsOf(model: Module, example: unknown, form: AttentionForm): PendingFile[] {
  if (model instanceof Seq2SeqTransformer) return seq2seqGraphs(model, form);
  if (model instanceof SpanExtractor) return spanGraphs(model, form);
  if (typeof example !== "object" || example === null) throw new ExportError(OP, ["exampleInputs: expected an object of example tensors"]);
  if (model instanceof VisionTransformer) return vitGraphs(model, example as ViTExample, form);
  if (model instanceof MultiheadAttention) return mhaGraphs(model, example as MhaExample, form);
  if (model instanceof TransformerEncoderLayer || model instanceof TransformerEncoder) return encoderGraphs(model, example as EncoderExample, form);
  return decoderGraphs(model as TransformerDecoderLayer | TransformerDecoder, example as DecoderExample, form);
}
