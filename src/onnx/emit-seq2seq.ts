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
 * position input.
 *
 * ```ts
 * const { g, inputs, outputs } = emitSeq2SeqDecoder(model, "plain", true);
 * ```
 */
import type { Seq2SeqTransformer } from "../nn/seq2seq.js";
import type { SpanExtractor } from "../nn/span-extractor.js";
import { dimScalar, dimVector, opsetOf, paddingMask, type AttentionForm } from "./emit-attention.js";
import { MaskCache, emitDecoderStep, emitEncoder, type StepCache } from "./emit-transformer.js";
import { GraphBuilder } from "./graph.js";

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

/** The decoder graph: the first step (withPast false: memory in, cross keys/values out) or a later one. */
export function emitSeq2SeqDecoder(m: Seq2SeqTransformer, form: AttentionForm, withPast: boolean): EmittedGraph {
  const c = m.config, H = c.nhead, D = c.dModel / c.nhead, N = c.decoderLayers;
  const g = new GraphBuilder(withPast ? "Seq2SeqTransformer.decoder_with_past" : "Seq2SeqTransformer.decoder", opsetOf(form));
  const ids = g.input("input_ids", "int64", ["batch", "decoder_sequence_length"]);
  const encMask = g.input("encoder_attention_mask", "int64", ["batch", "encoder_sequence_length"]);
  const inputs = ["input_ids", "encoder_attention_mask"];
  const cache: StepCache = { past: [], memory: null };
  if (withPast) {
    for (let i = 0; i < N; i++) {
      const kv = (side: string, len: string): string[] => ["key", "value"].map((w) => {
        const name = `past_key_values.${i}.${side}.${w}`;
        inputs.push(name);
        return g.input(name, "float32", ["batch", H, len, D]);
      });
      const [selfK, selfV] = kv("decoder", "past_decoder_sequence_length");
      const [crossK, crossV] = kv("encoder", "encoder_sequence_length");
      cache.past.push({ selfK: selfK!, selfV: selfV!, crossK: crossK!, crossV: crossV! });
    }
  } else {
    cache.memory = g.input("encoder_hidden_states", "float32", ["batch", "encoder_sequence_length", c.dModel]);
    inputs.push("encoder_hidden_states");
    for (let i = 0; i < N; i++) cache.past.push({ selfK: null, selfV: null, crossK: null, crossV: null });
  }
  const past = withPast ? dimScalar(g, cache.past[0]!.selfK!, 2) : null;
  const x = embedTokens(g, m, ids, past);
  const T = dimScalar(g, ids, 1);
  const S = past ? g.node("Add", [past, T]) : T;
  const selfMask = new MaskCache(g, null, T, S, past).of({ kind: "full", causal: true });
  const { out, present } = emitDecoderStep(g, m.decoder, "decoder", x, cache, selfMask, hfPadding(g, encMask), form);
  const logits = g.node("MatMul", [out, g.node("Transpose", [g.param("embed.weight", m.embed.weight)], { perm: [1, 0] })]);
  g.output(logits, "logits", "float32", ["batch", "decoder_sequence_length", c.vocabSize]);
  const outputs = ["logits"];
  const total = withPast ? "total_decoder_sequence_length" : "decoder_sequence_length";
  present.forEach((p, i) => {
    const out = (v: string, name: string, len: string): void => {
      g.output(v, name, "float32", ["batch", H, len, D]);
      outputs.push(name);
    };
    out(p.selfK, `present.${i}.decoder.key`, total);
    out(p.selfV, `present.${i}.decoder.value`, total);
    if (!withPast) {
      out(p.crossK, `present.${i}.encoder.key`, "encoder_sequence_length");
      out(p.crossV, `present.${i}.encoder.value`, "encoder_sequence_length");
    }
  });
  return { g, inputs, outputs };
}
