/**
 * The TypeScript half of the ONNX check with Python's `onnx` and `onnxruntime` (not part of the
 * test suite; tools/interop/onnx_check.py runs it). `npx tsx tools/interop/onnx-export.ts <dir>`
 * exports each test model to `<dir>/<case>/…onnx` and writes `<dir>/<case>.io.json`: for each graph
 * file, its feeds and qkv's outputs for them; for the Seq2SeqTransformer also the source ids and
 * qkv's greedy tokens. Models: MultiheadAttention, a window-attention encoder, a decoder, a
 * Seq2SeqTransformer, a ViT, a CNN-stem hybrid ViT (random BatchNorm statistics) and a
 * SpanExtractor, each in the three attention forms (plain, fused, opset23), and the shipped
 * summarizer (models/summarize-debian, when present) on tokenized text. Non-finite numbers (the
 * SpanExtractor's -Infinity at padding) are written as the strings "-Infinity", "Infinity", "NaN".
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { noGrad } from "../../src/autograd/graph.js";
import { loadTextModelDir } from "../../src/apps/text/node-files.js";
import { loadBackends } from "../../src/node.js";
import { LayerNorm } from "../../src/nn/layers.js";
import type { Module } from "../../src/nn/module.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { SpanExtractor } from "../../src/nn/span-extractor.js";
import { TransformerDecoder, TransformerDecoderLayer } from "../../src/nn/transformer-decoder.js";
import { TransformerEncoder, TransformerEncoderLayer } from "../../src/nn/transformer.js";
import { VisionTransformer, type ViTConfig } from "../../src/nn/vit.js";
import { exportOnnx } from "../../src/onnx/node.js";
import { greedySearch } from "../../src/seq2seq/search.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";

loadBackends({ quiet: true });
const out = process.argv[2];
if (!out) throw new Error("usage: onnx-export.ts <dir>");
const g = new Generator(3);

interface Json { dtype: string; dims: number[]; data: (number | string)[] }
const j = (t: Tensor, dtype = t.dtype === "int32" ? "int64" : t.dtype): Json =>
  ({ dtype, dims: t.shape.slice(), data: Array.from(t.data as ArrayLike<number>, (x) => (Number.isFinite(x) ? x : String(x))) });

function padMask(B: number, n: number): Tensor {
  const m = new Tensor(new Uint8Array(B * n), [B, n], "bool");
  for (let k = n - 2; k < n; k++) if (k > 0) m.data[n + k] = 1;
  return m;
}

type Form = "plain" | "fused" | "opset23";

async function write(name: string, model: Module, example: object, attention: Form, io: Record<string, unknown>): Promise<void> {
  const dir = join(out!, name);
  mkdirSync(dir, { recursive: true });
  const files = await exportOnnx(model, example, model instanceof Seq2SeqTransformer ? dir : join(dir, "model.onnx"), { attention });
  writeFileSync(join(out!, `${name}.io.json`), JSON.stringify({ files: files.map((f) => f.name), attention, ...io }));
  console.log(`${name}: ${files.map((f) => f.name).join(", ")}`);
}

/** A ViT with random BatchNorm statistics and biases (fresh ones are the identity and zeros). */
function vitModel(config: ViTConfig): VisionTransformer {
  const m = new VisionTransformer(config, { generator: g }).eval();
  for (const [n, t] of Object.entries(m.stateDict())) {
    if (t.dtype !== "float32") continue;
    const r = randn(t.shape, { generator: g }).data as Float32Array, d = t.data as Float32Array;
    if (n.endsWith("running_var")) for (let i = 0; i < d.length; i++) d[i] = 0.5 + Math.abs(r[i]!);
    else if (n.endsWith("running_mean") || n.endsWith("bias")) for (let i = 0; i < d.length; i++) d[i] = 0.3 * r[i]!;
  }
  return m;
}

/** A SpanExtractor case: ids [B, N] -> qkv's start_logits, end_logits. */
async function spanCase(name: string, m: SpanExtractor, ids: Tensor, attention: Form): Promise<void> {
  const { start, end } = noGrad(() => m.forward(ids));
  await write(name, m, {}, attention, { runs: [{ file: "model.onnx", feeds: { input_ids: j(ids) }, expected: { start_logits: j(start), end_logits: j(end) } }] });
}

for (const attention of ["plain", "fused", "opset23"] as const) {
  const mha = new MultiheadAttention(16, 4, { batchFirst: true, generator: g }).eval();
  const x = randn([2, 9, 16], { generator: g }), kpm = padMask(2, 9);
  const y = noGrad(() => mha.forward(x, x, x, { keyPaddingMask: kpm, needWeights: false }).output);
  await write(`mha_${attention}`, mha, { query: x, keyPaddingMask: kpm }, attention,
    { runs: [{ file: "model.onnx", feeds: { query: j(x), key_padding_mask: j(kpm) }, expected: { output: j(y) } }] });

  const enc = new TransformerEncoder(new TransformerEncoderLayer(16, 4, { dimFeedforward: 32, dropout: 0, batchFirst: true, normFirst: true, activation: "gelu",
    attention: { kind: "window", window: 2 }, generator: g }), 2, { norm: new LayerNorm(16) }).eval();
  const src = randn([2, 11, 16], { generator: g });
  await write(`encoder_window_${attention}`, enc, { src }, attention,
    { runs: [{ file: "model.onnx", feeds: { src: j(src) }, expected: { output: j(noGrad(() => enc.forward(src))) } }] });

  const dec = new TransformerDecoder(new TransformerDecoderLayer(16, 2, { dimFeedforward: 32, dropout: 0, generator: g }), 2).eval();
  const tgt = randn([6, 2, 16], { generator: g }), mem = randn([8, 2, 16], { generator: g }), mkpm = padMask(2, 8);
  await write(`decoder_${attention}`, dec, { tgt, memory: mem, memoryKeyPaddingMask: mkpm, tgtIsCausal: true }, attention, {
    runs: [{ file: "model.onnx", feeds: { tgt: j(tgt), memory: j(mem), memory_key_padding_mask: j(mkpm) },
      expected: { output: j(noGrad(() => dec.forward(tgt, mem, { memoryKeyPaddingMask: mkpm, tgtIsCausal: true }))) } }],
  });

  const cfg = { vocabSize: 48, dModel: 16, nhead: 2, encoderLayers: 2, decoderLayers: 2, dimFeedforward: 32, dropout: 0, maxLen: 40, padId: 0 };
  const s2s = new Seq2SeqTransformer(cfg, { generator: new Generator(5) }).eval();
  // larger layer weights than the init, so that the greedy tokens vary (see test/onnx/seq2seq.test.ts)
  noGrad(() => { for (const [n, p] of s2s.namedParameters()) if (p.rank > 1 && n !== "embed.weight") for (let i = 0; i < p.data.length; i++) p.data[i] = Number(p.data[i]) * 5; });
  const ids = new Tensor(Int32Array.from([5, 9, 14, 20, 33, 7, 11, 0, 0, 0, 40, 41, 42, 43, 44, 45, 46, 47, 3, 4]), [2, 10], "int32");
  const mask = new Tensor(Int32Array.from(ids.data as Int32Array, (v) => (v === 0 ? 0 : 1)), [2, 10], "int32");
  const memory = noGrad(() => s2s.encode(ids));
  const tgtIn = new Tensor(Int32Array.from([1, 7, 9, 11, 1, 8, 10, 12]), [2, 4], "int32");
  await write(`seq2seq_${attention}`, s2s, {}, attention, {
    runs: [
      { file: "encoder_model.onnx", feeds: { input_ids: j(ids), attention_mask: j(mask) }, expected: { last_hidden_state: j(memory) } },
      { file: "decoder_model.onnx", feeds: { input_ids: j(tgtIn), encoder_attention_mask: j(mask), encoder_hidden_states: j(memory) },
        expected: { logits: j(noGrad(() => s2s.forward(ids, tgtIn))) } },
    ],
    greedy: { input_ids: j(ids), attention_mask: j(mask), bos: 1, eos: 2, maxLen: 12, layers: cfg.decoderLayers, tokens: greedySearch(s2s, ids, { bosId: 1, eosId: 2, maxLen: 12 }) },
  });

  const vits: [string, ViTConfig][] = [
    ["vit", { imageSize: 28, patchSize: 7, inChannels: 1, numClasses: 10, dim: 32, depth: 2, heads: 4 }],
    ["hybrid", { imageSize: [16, 24], patchSize: 4, inChannels: 3, numClasses: 5, dim: 24, depth: 2, heads: 3, stem: [6, 12], pooling: "mean", positions: "sincos2d" }],
  ];
  for (const [name, config] of vits) {
    const vit = vitModel(config);
    const [H, W] = vit.config.imageSize;
    const px = randn([3, vit.config.inChannels, H, W], { generator: g });
    await write(`${name}_${attention}`, vit, {}, attention, {
      runs: [{ file: "model.onnx", feeds: { pixel_values: j(px) },
        expected: { logits: j(noGrad(() => vit.forward(px))), last_hidden_state: j(noGrad(() => vit.features(px))) } }],
    });
  }

  const span = new SpanExtractor({ vocabSize: 40, dModel: 16, nhead: 4, layers: 2, dimFeedforward: 32, dropout: 0, maxLen: 32, padId: 0 }, { generator: new Generator(7) }).eval();
  await spanCase(`span_${attention}`, span, new Tensor(Int32Array.from([5, 9, 14, 20, 33, 7, 11, 2, 0, 0, 0, 40 - 1, 12, 3]), [2, 7], "int32"), attention);
}

const SUMMARIZER = "models/summarize-debian";
if (existsSync(SUMMARIZER)) {
  const b = await loadTextModelDir(SUMMARIZER);
  const m = (b.model as SpanExtractor).eval();
  const texts = ["a command-line tool that converts images between formats and resizes them",
    "library for parsing and writing JSON documents, with a streaming interface"];
  const enc = texts.map((t) => b.tokenizer.encode(t).slice(0, m.config.maxLen));
  const N = Math.max(...enc.map((e) => e.length));
  const ids = new Tensor(Int32Array.from(enc.flatMap((e) => [...e, ...Array<number>(N - e.length).fill(m.config.padId)])), [texts.length, N], "int32");
  for (const attention of ["plain", "opset23"] as const) await spanCase(`summarizer_${attention}`, m, ids, attention);
}
