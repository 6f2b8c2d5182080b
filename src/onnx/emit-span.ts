/**
 * SpanExtractor (nn/span-extractor.ts, the summarization app's extractive model) as one ONNX
 * graph in the layout of Hugging Face question-answering exports:
 *
 *   model.onnx   input_ids int64 [batch, sequence_length]
 *                -> start_logits, end_logits float32 [batch, sequence_length]
 *
 * As SpanExtractor.forward: the positions whose id is the config's padId are padding (masked out
 * of attention; their scores are -Infinity), embeddings are scaled by sqrt(E) and the sinusoidal
 * positions added, then the pre-norm encoder with its final norm and the [E -> 2] head.
 *
 * ```ts
 * const { g, inputs, outputs } = emitSpanExtractor(model, "plain");
 * const bytes = g.finish();
 * ```
 */
import type { SpanExtractor } from "../nn/span-extractor.js";
import { dimScalar, emitLinear, opsetOf, paddingMask, type AttentionForm } from "./emit-attention.js";
import { embedTokens, type EmittedGraph } from "./emit-seq2seq.js";
import { MaskCache, emitEncoder } from "./emit-transformer.js";
import { GraphBuilder } from "./graph.js";

export function emitSpanExtractor(m: SpanExtractor, form: AttentionForm): EmittedGraph {
  const g = new GraphBuilder("SpanExtractor", opsetOf(form));
  const dims = ["batch", "sequence_length"];
  const ids = g.input("input_ids", "int64", dims);
  const pad = g.node("Equal", [ids, g.constant({ type: "int64", dims: [], data: [m.config.padId] }, "pad_id")]); // bool [B, N]
  const x = embedTokens(g, m, ids, null); // [B, N, E]
  const N = dimScalar(g, ids, 1);
  const h = emitEncoder(g, m.encoder, "encoder", x, new MaskCache(g, paddingMask(g, pad), N, N), form); // [B, N, E]
  const [s0, s1] = g.split(emitLinear(g, m.head, "head", h), 2, -1); // [B, N, 1] each
  const scores = (s: string): string => g.node("Where", [pad, g.scalar(-Infinity), g.node("Squeeze", [s, g.ints([2])])]); // [B, N]
  g.output(scores(s0!), "start_logits", "float32", dims);
  g.output(scores(s1!), "end_logits", "float32", dims);
  return { g, inputs: ["input_ids"], outputs: ["start_logits", "end_logits"] };
}
