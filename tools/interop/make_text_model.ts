/**
 * Writes a tiny random text model of each kind with qkv's model files (model.safetensors with F16
 * weights and the "qkv.*" metadata, tokenizer.json), for tools/interop/text_model_check.py until
 * the shipped models are at hand:
 *
 * ```sh
 * npx tsx tools/interop/make_text_model.ts /tmp/tm     # /tmp/tm/seq2seq, /tmp/tm/span
 * ```
 */
import { join } from "node:path";
import { saveTextModelDir } from "../../src/apps/text/node-files.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { SpanExtractor } from "../../src/nn/span-extractor.js";
import { Generator } from "../../src/tensor/rng.js";
import { BpeTokenizer } from "../../src/text/bpe.js";

const out = process.argv[2];
if (!out) {
  console.error("usage: make_text_model.ts <dir>");
  process.exit(2);
}
const text = [
  "the quick brown fox jumps over the lazy dog", "el rápido zorro marrón salta sobre el perro perezoso",
  "a package that provides the tools to build the documentation", "una biblioteca de atención para el texto",
];
const tokenizer = BpeTokenizer.train(text, { vocabSize: 300 });
const V = tokenizer.vocabSize, padId = tokenizer.padId;
const s2s = new Seq2SeqTransformer({ vocabSize: V, dModel: 32, nhead: 4, encoderLayers: 2, decoderLayers: 2, dimFeedforward: 64, dropout: 0.1, maxLen: 64, padId, activation: "gelu" },
  { generator: new Generator(11) });
await saveTextModelDir(join(out, "seq2seq"), { kind: "seq2seq", task: "translate", model: s2s, tokenizer, info: { steps: 0, note: "random" } });
const span = new SpanExtractor({ vocabSize: V, dModel: 32, nhead: 4, layers: 2, dimFeedforward: 64, dropout: 0.1, maxLen: 64, padId }, { generator: new Generator(12) });
await saveTextModelDir(join(out, "span"), { kind: "span", task: "summarize", model: span, tokenizer, info: { steps: 0, note: "random" } });
console.log(`wrote ${join(out, "seq2seq")} and ${join(out, "span")} (vocabulary ${V}, padId ${padId})`);
