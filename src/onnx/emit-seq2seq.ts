/**
 * Seq2SeqTransformer as ONNX graphs for generation, in the layout of Hugging Face Optimum's
 * encoder–decoder exports (what ONNX Runtime generation loops and transformers.js feed):
 *
 *   encoder_model            input_ids, attention_mask [batch, encoder_sequence_length] (int64, 1 = token)
 *                            -> last_hidden_state [batch, encoder_sequence_length, E]
 *   decoder_model            input_ids [batch, decoder_sequence_length], encoder_attention_mask,
 *                            encoder_hidden_states -> logits [batch, decoder_sequence_length, V],
 *                            present.N.decoder.key/value, present.N.encoder.key/value
 *   decoder_with_past_model  input_ids, encoder_attention_mask, past_key_values.N.decoder.key/value
 *                            [batch, H, past_decoder_sequence_length, D], past_key_values.N.encoder.key/value
 *                            [batch, H, encoder_sequence_length, D] -> logits, present.N.decoder.key/value
 *
 * The decoder's positions start at the past length (the past keys' dim 2), so a step needs no
 * position input. The decoder's inputs, body and outputs are separate functions, so that
 * emit-merged-decoder.ts can write both bodies as the branches of one graph.
 *
 * ```ts
 * const { g, inputs, outputs } = emitSeq2SeqDecoder(model, "plain", true);
 * ```
 */
import type { Seq2SeqTransformer } from "../nn/seq2seq.js";
import type { SpanExtractor } from "../nn/span-extractor.js";
import { dimScalar, dimVector, opsetOf, paddingMask, type AttentionForm } from "./emit-attention.js";
import { MaskCache, emitDecoderStep, emitEncoder, type LayerKV, type StepCache } from "./emit-transformer.js";
import { GraphBuilder, type Dim } from "./graph.js";

export interface EmittedGraph {
  g: GraphBuilder;
  inputs: string[];
  outputs: string[];
}

/**
 * Scaled embeddings plus positions offset … offset + N - 1 of ids [B, N] -> [B, N, E] (a model
 * with `embed.weight` [V, E] and the sinusoidal table `pe` [maxLen, E] in its state dict).
 */
export function embedTokens(g: GraphBuilder, m: Seq2SeqTransformer | SpanExtractor, ids: string, offset: string | null): string {
  const E = m.config.dModel;
  const pe = m.stateDict().pe!;
  const n = dimVector(g, ids, 1);
  const start = offset ? g.node("Unsqueeze", [offset, g.ints([0])]) : g.ints([0]);
  const pos = g.node("Slice", [g.param("pe", pe), start, g.node("Add", [start, n]), g.ints([0])]); // [N, E]
  const x = g.node("Mul", [g.node("Gather", [g.param("embed.weight", m.embed.weight), ids], { axis: 0 }), g.scalar(Math.sqrt(E))]);
  return g.node("Add", [x, pos]); // [B, N, E]
}

/** The additive mask of an int64 attention mask [B, S] (1 = token, 0 = padding): [B, 1, 1, S]. */
function hfPadding(g: GraphBuilder, mask: string): string {
  return paddingMask(g, g.node("Equal", [mask, g.constant({ type: "int64", dims: [], data: [0] }, "int")]));
}

export function emitSeq2SeqEncoder(m: Seq2SeqTransformer, form: AttentionForm): EmittedGraph {
  const g = new GraphBuilder("Seq2SeqTransformer.encoder", opsetOf(form));
  const dims = ["batch", "encoder_sequence_length"];
  const ids = g.input("input_ids", "int64", dims);
  const mask = g.input("attention_mask", "int64", dims);
  const x = embedTokens(g, m, ids, null);
  const L = dimScalar(g, ids, 1);
  const y = emitEncoder(g, m.encoder, "encoder", x, new MaskCache(g, hfPadding(g, mask), L, L), form);
  g.output(y, "last_hidden_state", "float32", [...dims, m.config.dModel]);
  return { g, inputs: ["input_ids", "attention_mask"], outputs: ["last_hidden_state"] };
}

/** The lengths named in a decoder step's output dims. */
export interface StepDims {
  /** The present self-attention keys/values' length: past + new tokens. */
  total: string;
  /** The present cross-attention keys/values' length. */
  encoder: string;
}

/** A decoder graph's values: the step's logits [B, T, V] and each layer's present keys/values. */
export interface StepValues {
  logits: string;
  present: LayerKV[];
}

/**
 * Declares the decoder's inputs in `g`: input_ids, encoder_attention_mask, then
 * encoder_hidden_states when `memory`, and past_key_values.N.* when `past` (its two entries name
 * the past lengths of the self- and cross-attention keys). Returns the input names in order.
 */
export function declareDecoderInputs(g: GraphBuilder, m: Seq2SeqTransformer, memory: boolean, past: { decoder: string; encoder: string } | null): string[] {
  const c = m.config, H = c.nhead, D = c.dModel / c.nhead;
  const inputs = [g.input("input_ids", "int64", ["batch", "decoder_sequence_length"]), g.input("encoder_attention_mask", "int64", ["batch", "encoder_sequence_length"])];
  if (memory) inputs.push(g.input("encoder_hidden_states", "float32", ["batch", "encoder_sequence_length", c.dModel]));
  if (past) {
    for (let i = 0; i < c.decoderLayers; i++) {
      for (const [side, len] of [["decoder", past.decoder], ["encoder", past.encoder]] as const) {
        for (const w of ["key", "value"]) inputs.push(g.input(`past_key_values.${i}.${side}.${w}`, "float32", ["batch", H, len, D]));
      }
    }
  }
  return inputs;
}

/**
 * The decoder's body in `g`, reading the inputs of declareDecoderInputs by name (`g` may be a
 * subgraph of the graph that declares them): with `withPast`, the past keys/values (the positions
 * start at their length); without, the memory (cross keys/values projected from it).
 */
export function emitSeq2SeqStep(g: GraphBuilder, m: Seq2SeqTransformer, form: AttentionForm, withPast: boolean): StepValues {
  const c = m.config;
  const layer = (i: number, side: string, w: string): string => `past_key_values.${i}.${side}.${w}`;
  const cache: StepCache = withPast
    ? {
      memory: null,
      past: Array.from({ length: c.decoderLayers }, (_, i) => ({
        selfK: layer(i, "decoder", "key"), selfV: layer(i, "decoder", "value"), crossK: layer(i, "encoder", "key"), crossV: layer(i, "encoder", "value"),
      })),
    }
    : { memory: "encoder_hidden_states", past: Array.from({ length: c.decoderLayers }, () => ({ selfK: null, selfV: null, crossK: null, crossV: null })) };
  const past = withPast ? dimScalar(g, layer(0, "decoder", "key"), 2) : null;
  const x = embedTokens(g, m, "input_ids", past);
  const T = dimScalar(g, "input_ids", 1);
  const S = past ? g.node("Add", [past, T]) : T;
  const selfMask = new MaskCache(g, null, T, S, past).of({ kind: "full", causal: true });
  const { out, present } = emitDecoderStep(g, m.decoder, "decoder", x, cache, selfMask, hfPadding(g, "encoder_attention_mask"), form);
  const logits = g.node("MatMul", [out, g.node("Transpose", [g.param("embed.weight", m.embed.weight)], { perm: [1, 0] })]); // [B, T, V]
  return { logits, present };
}

/**
 * Declares a step's outputs in `g`: logits, present.N.decoder.key/value and, with `encoder`,
 * present.N.encoder.key/value, each named `prefix` + its name. Returns the names without the prefix.
 */
export function declareStepOutputs(g: GraphBuilder, m: Seq2SeqTransformer, step: StepValues, dims: StepDims, encoder: boolean, prefix = ""): string[] {
  const c = m.config, H = c.nhead, D = c.dModel / c.nhead;
  const outputs: string[] = [];
  const out = (v: string, name: string, dims: readonly Dim[]): void => {
    g.output(v, prefix + name, "float32", dims);
    outputs.push(name);
  };
  out(step.logits, "logits", ["batch", "decoder_sequence_length", c.vocabSize]);
  step.present.forEach((p, i) => {
    out(p.selfK, `present.${i}.decoder.key`, ["batch", H, dims.total, D]);
    out(p.selfV, `present.${i}.decoder.value`, ["batch", H, dims.total, D]);
    if (encoder) {
      out(p.crossK, `present.${i}.encoder.key`, ["batch", H, dims.encoder, D]);
      out(p.crossV, `present.${i}.encoder.value`, ["batch", H, dims.encoder, D]);
    }
  });
  return outputs;
}

/** The decoder graph: the first step (withPast false: memory in, cross keys/values out) or a later one. */
export function emitSeq2SeqDecoder(m: Seq2SeqTransformer, form: AttentionForm, withPast: boolean): EmittedGraph {
  const g = new GraphBuilder(withPast ? "Seq2SeqTransformer.decoder_with_past" : "Seq2SeqTransformer.decoder", opsetOf(form));
  const inputs = declareDecoderInputs(g, m, !withPast, withPast ? { decoder: "past_decoder_sequence_length", encoder: "encoder_sequence_length" } : null);
  const step = emitSeq2SeqStep(g, m, form, withPast);
  const total = withPast ? "total_decoder_sequence_length" : "decoder_sequence_length";
  const outputs = declareStepOutputs(g, m, step, { total, encoder: "encoder_sequence_length" }, !withPast);
  return { g, inputs, outputs };
}
