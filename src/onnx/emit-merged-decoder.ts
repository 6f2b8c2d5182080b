/**
 * decoder_model_merged: a Seq2SeqTransformer's two decoder graphs as one, in the layout of Hugging
 * Face Optimum's merged decoders (what transformers.js loads by default). The graph takes every
 * input of both (input_ids, encoder_attention_mask, encoder_hidden_states, past_key_values.N.*)
 * and `use_cache_branch` (bool [1]); an If on it runs
 *
 *   then (true):  the with-past step (positions from the past length; encoder_hidden_states unread),
 *                 its present.N.encoder.* the past_key_values.N.encoder.* passed through;
 *   else (false): the first step (cross keys/values projected from encoder_hidden_states; the past
 *                 inputs unread, so a caller gives them empty, with past length 0).
 *
 * Both branches read the weights from the outer graph's initializers, stored once, so the file
 * is about the size of one decoder graph. Value names are unique across the outer graph and both
 * branches (the branches' outputs are prefixed "with_past." and "no_past.").
 *
 * ```ts
 * const { g, inputs, outputs } = emitSeq2SeqMergedDecoder(model, "plain");
 * const bytes = g.finish();
 * ```
 */
import type { Seq2SeqTransformer } from "../nn/seq2seq.js";
import { opsetOf, type AttentionForm } from "./emit-attention.js";
import { declareDecoderInputs, declareStepOutputs, emitSeq2SeqStep, type EmittedGraph } from "./emit-seq2seq.js";
import { GraphBuilder } from "./graph.js";

export function emitSeq2SeqMergedDecoder(m: Seq2SeqTransformer, form: AttentionForm): EmittedGraph {
  const c = m.config, H = c.nhead, D = c.dModel / c.nhead;
  const g = new GraphBuilder("Seq2SeqTransformer.decoder_merged", opsetOf(form));
  // past lengths of their own: the first step is given empty pasts (length 0) whatever the source length
  const inputs = declareDecoderInputs(g, m, true, { decoder: "past_decoder_sequence_length", encoder: "past_encoder_sequence_length" });
  inputs.push(g.input("use_cache_branch", "bool", [1]));

  const withPast = g.subgraph("with_past");
  const outputs = declareStepOutputs(withPast, m, emitSeq2SeqStep(withPast, m, form, true),
    { total: "total_decoder_sequence_length", encoder: "past_encoder_sequence_length" }, true, "with_past.");
  const noPast = g.subgraph("no_past");
  declareStepOutputs(noPast, m, emitSeq2SeqStep(noPast, m, form, false),
    { total: "decoder_sequence_length", encoder: "encoder_sequence_length" }, true, "no_past.");

  g.ifElse("use_cache_branch", withPast, noPast, outputs);
  for (const name of outputs) {
    const dims = name === "logits" ? ["batch", "decoder_sequence_length", c.vocabSize]
      : ["batch", H, name.includes(".decoder.") ? "total_decoder_sequence_length" : "encoder_sequence_length", D];
    g.output(name, name, "float32", dims);
  }
  return { g, inputs, outputs };
}
