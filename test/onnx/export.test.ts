import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AttentionSpec } from "../../src/attention/select.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { TransformerDecoder, TransformerDecoderLayer } from "../../src/nn/transformer-decoder.js";
import { TransformerEncoder, TransformerEncoderLayer, type TransformerLayerOptions } from "../../src/nn/transformer.js";
import { LayerNorm } from "../../src/nn/layers.js";
import { onnxGraphs, type OnnxGraphFile } from "../../src/onnx/export.js";
import { decodeModelProto } from "../../src/onnx/proto.js";
import { ExportError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { noGrad } from "../../src/autograd/graph.js";
import { assertThrowsMsg } from "../helpers.js";
import { maxDiff, ortSkip, session, toOrt } from "./ort.js";

const TOL = 1e-5;
const LENGTHS = [1, 4, 9, 17];
const modes = ["plain", "fused", "opset23"] as const;
const gen = new Generator(11);

/** bool [B, n]: batch row 1 has its last `pad` positions padded. */
function padding(B: number, n: number, pad: number): Tensor {
  const m = new Tensor(new Uint8Array(B * n), [B, n], "bool");
  for (let j = Math.max(1, n - pad); j < n; j++) m.data[n + j] = 1;
  return m;
}

/** Runs a graph on ORT and returns the max |diff| against qkv's output. */
async function diffOf(file: OnnxGraphFile, feeds: Record<string, Tensor>, expected: Tensor): Promise<number> {
  const s = await session(file.bytes);
  const r = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)])));
  await s.release();
  return maxDiff(r.output!.data as Float32Array, expected.data as Float32Array);
}

describe("ONNX export: MultiheadAttention", { skip: ortSkip }, () => {
  for (const mode of modes) {
    test(`self-attention, batch-first, key padding and causal (${mode})`, async () => {
      const mha = new MultiheadAttention(16, 4, { batchFirst: true, generator: gen }).eval();
      for (const causal of [false, true]) {
        const [f] = onnxGraphs(mha, { query: randn([2, 3, 16]), keyPaddingMask: padding(2, 3, 1), isCausal: causal }, { attention: mode });
        for (const L of LENGTHS) {
          const x = randn([2, L, 16], { generator: gen }), kpm = padding(2, L, 2);
          const ref = noGrad(() => mha.forward(x, x, x, { keyPaddingMask: kpm, isCausal: causal, needWeights: false }).output);
          const d = await diffOf(f!, { query: x, key_padding_mask: kpm }, ref);
          assert.ok(d <= TOL, `causal ${causal} L=${L}: max |diff| ${d}`);
        }
      }
    });

    test(`cross-attention, sequence-first, kdim/vdim, float attn_mask (${mode})`, async () => {
      const mha = new MultiheadAttention(16, 2, { kdim: 6, vdim: 10, generator: gen }).eval();
      const [f] = onnxGraphs(mha, { query: randn([3, 2, 16]), key: randn([5, 2, 6]), value: randn([5, 2, 10]), attnMask: randn([3, 5]) }, { attention: mode });
      assert.deepEqual(f!.inputs, ["query", "key", "value", "attn_mask"]);
      for (const L of LENGTHS) {
        const S = L + 3;
        const q = randn([L, 2, 16], { generator: gen }), k = randn([S, 2, 6], { generator: gen }), v = randn([S, 2, 10], { generator: gen });
        const am = randn([L, S], { generator: gen });
        const ref = noGrad(() => mha.forward(q, k, v, { attnMask: am, needWeights: false }).output);
        const d = await diffOf(f!, { query: q, key: k, value: v, attn_mask: am }, ref);
        assert.ok(d <= TOL, `L=${L}: max |diff| ${d}`);
      }
    });
  }
});

const layerOpts = (o: TransformerLayerOptions): TransformerLayerOptions => ({ dimFeedforward: 32, dropout: 0, generator: gen, ...o });

describe("ONNX export: TransformerEncoder", { skip: ortSkip }, () => {
  const cases: { name: string; opts: TransformerLayerOptions; pad: boolean; causal?: boolean }[] = [
    { name: "post-norm relu, sequence-first, padding", opts: {}, pad: true },
    { name: "pre-norm gelu, batch-first, causal", opts: { normFirst: true, activation: "gelu", batchFirst: true }, pad: false, causal: true },
    { name: "window", opts: { batchFirst: true, attention: { kind: "window", window: 2 } }, pad: false },
    { name: "causal window", opts: { batchFirst: true, attention: { kind: "window", window: 3 } }, pad: false, causal: true },
    { name: "dilated", opts: { batchFirst: true, normFirst: true, attention: { kind: "dilated", window: 2, dilation: 3 } }, pad: false },
    { name: "longformer", opts: { batchFirst: true, attention: { kind: "longformer", window: 1, numGlobal: 2 } }, pad: false },
  ];
  for (const c of cases) {
    for (const mode of modes) {
      test(`${c.name} (${mode})`, async () => {
        const enc = new TransformerEncoder(new TransformerEncoderLayer(16, 4, layerOpts(c.opts)), 2, { norm: new LayerNorm(16) }).eval();
        const bf = c.opts.batchFirst ?? false;
        const shape = (L: number): number[] => (bf ? [2, L, 16] : [L, 2, 16]);
        const ex = { src: randn(shape(3)), ...(c.pad ? { srcKeyPaddingMask: padding(2, 3, 1) } : {}), isCausal: c.causal ?? false };
        const [f] = onnxGraphs(enc, ex, { attention: mode });
        for (const L of LENGTHS) {
          const x = randn(shape(L), { generator: gen }), kpm = padding(2, L, 2);
          const ref = noGrad(() => enc.forward(x, { ...(c.pad ? { srcKeyPaddingMask: kpm } : {}), isCausal: c.causal ?? false }));
          const d = await diffOf(f!, { src: x, ...(c.pad ? { src_key_padding_mask: kpm } : {}) }, ref);
          assert.ok(d <= TOL, `L=${L}: max |diff| ${d}`);
        }
      });
    }
  }

  test("one layer alone, with a bool src_mask input", async () => {
    const layer = new TransformerEncoderLayer(16, 2, layerOpts({ batchFirst: true })).eval();
    const [f] = onnxGraphs(layer, { src: randn([1, 3, 16]), srcMask: new Tensor(new Uint8Array(9), [3, 3], "bool") });
    for (const L of LENGTHS) {
      const x = randn([2, L, 16], { generator: gen });
      const m = new Tensor(Uint8Array.from({ length: L * L }, (_, i) => ((i % L) > Math.floor(i / L) + 1 ? 1 : 0)), [L, L], "bool");
      const ref = noGrad(() => layer.forward(x, { srcMask: m }));
      const d = await diffOf(f!, { src: x, src_mask: m }, ref);
      assert.ok(d <= TOL, `L=${L}: max |diff| ${d}`);
    }
  });
});

describe("ONNX export: TransformerDecoder", { skip: ortSkip }, () => {
  const cases: { name: string; opts: TransformerLayerOptions }[] = [
    { name: "post-norm, sequence-first", opts: {} },
    { name: "pre-norm gelu, batch-first", opts: { normFirst: true, activation: "gelu", batchFirst: true } },
    { name: "causal window self-attention", opts: { batchFirst: true, attention: { kind: "window", window: 2 } } },
  ];
  for (const c of cases) {
    for (const mode of modes) {
      test(`${c.name}: causal target, memory padding (${mode})`, async () => {
        const dec = new TransformerDecoder(new TransformerDecoderLayer(16, 4, layerOpts(c.opts)), 2, { norm: new LayerNorm(16) }).eval();
        const bf = c.opts.batchFirst ?? false;
        const shape = (L: number): number[] => (bf ? [2, L, 16] : [L, 2, 16]);
        const full = (c.opts.attention?.kind ?? "full") === "full";
        const [f] = onnxGraphs(dec, { tgt: randn(shape(2)), memory: randn(shape(3)), memoryKeyPaddingMask: padding(2, 3, 1), tgtIsCausal: full }, { attention: mode });
        for (const T of LENGTHS) {
          const S = T + 2;
          const tgt = randn(shape(T), { generator: gen }), mem = randn(shape(S), { generator: gen }), mkpm = padding(2, S, 2);
          const ref = noGrad(() => dec.forward(tgt, mem, { memoryKeyPaddingMask: mkpm, tgtIsCausal: full }));
          const d = await diffOf(f!, { tgt, memory: mem, memory_key_padding_mask: mkpm }, ref);
          assert.ok(d <= TOL, `T=${T}: max |diff| ${d}`);
        }
      });
    }
  }
});

describe("ONNX export: the file", () => {
  test("opset 17, symbolic batch and sequence dims, parameters under their state-dict names", () => {
    const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, layerOpts({ batchFirst: true })), 1);
    const [plain] = onnxGraphs(enc, { src: randn([1, 2, 8]) });
    const m = decodeModelProto(plain!.bytes);
    const opsets = (x: typeof m): string[] => x.opset_import.map((o) => `${o.domain ?? ""}:${o.version}`);
    assert.deepEqual(opsets(m), [":17"]);
    assert.deepEqual(m.graph.input[0]!.type.tensor_type.shape.dim, [{ dim_param: "batch" }, { dim_param: "seq" }, { dim_value: 8 }]);
    const names = m.graph.initializer.map((t) => t.name);
    for (const n of Object.keys(enc.stateDict())) assert.ok(names.includes(n), `initializer ${n}`);
    assert.ok(!m.graph.node.some((n) => n.domain === "com.microsoft"));
    const [fused] = onnxGraphs(enc, { src: randn([1, 2, 8]) }, { attention: "fused" });
    const mf = decodeModelProto(fused!.bytes);
    assert.deepEqual(opsets(mf), [":17", "com.microsoft:1"]);
    assert.equal(mf.graph.node.filter((n) => n.op_type === "MultiHeadAttention").length, 1);
    assert.equal(fused!.attention, "fused");
  });

  test("opset23: ai.onnx Attention in opset 23 (IR 11), heads and scale as attributes, the mask at its query length", () => {
    const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, layerOpts({ batchFirst: true })), 2);
    const [f] = onnxGraphs(enc, { src: randn([1, 2, 8]), srcKeyPaddingMask: padding(1, 2, 1) }, { attention: "opset23" });
    assert.equal(f!.attention, "opset23");
    const m = decodeModelProto(f!.bytes);
    assert.deepEqual(m.opset_import.map((o) => `${o.domain ?? ""}:${o.version}`), [":23"]);
    assert.equal(m.ir_version, 11);
    const att = m.graph.node.filter((n) => n.op_type === "Attention");
    assert.equal(att.length, 2);
    assert.ok(!m.graph.node.some((n) => n.op_type === "Softmax" || n.domain === "com.microsoft"));
    for (const n of att) {
      assert.equal(n.domain ?? "", "");
      const attrs = Object.fromEntries(n.attribute.map((a) => [a.name, a.i ?? a.f]));
      assert.deepEqual(Object.keys(attrs).sort(), ["kv_num_heads", "q_num_heads", "scale"]);
      assert.equal(attrs.q_num_heads, 2);
      assert.equal(attrs.kv_num_heads, 2);
      assert.ok(Math.abs((attrs.scale as number) - 0.5) < 1e-7);
      assert.equal(n.input.length, 4); // q, k, v, the expanded additive mask
    }
    // opset 18+ forms of the other operators: Split with num_outputs
    for (const n of m.graph.node.filter((x) => x.op_type === "Split")) assert.ok(n.attribute.some((a) => a.name === "num_outputs" && a.i === 3));
  });
});

describe("ONNX export: what has no ONNX form", () => {
  test("every problem of the model in one ExportError", () => {
    const kinds: AttentionSpec[] = [{ kind: "performer", features: 8, seed: 1 }, { kind: "nystrom", landmarks: 2 }];
    for (const attention of kinds) {
      const enc = new TransformerEncoder(new TransformerEncoderLayer(8, 2, layerOpts({ attention, activation: (x) => x })), 2);
      assertThrowsMsg(() => onnxGraphs(enc, { src: randn([3, 1, 8]) }), ExportError,
        `exportOnnx: cannot export: layers.0: a custom activation function has no ONNX form (exportable: "relu", "gelu")`,
        `layers.0.self_attn: attention kind "${attention.kind}" has no ONNX form (exportable: full, window, dilated, longformer)`,
        `layers.1.self_attn: attention kind "${attention.kind}"`, "layers.1: a custom activation");
    }
    const mha = new MultiheadAttention(8, 2, { addBiasKV: true, addZeroAttn: true, attention: { kind: "linear" } });
    try {
      onnxGraphs(mha, { query: randn([2, 1, 8]) });
      assert.fail("no error");
    } catch (e) {
      assert.ok(e instanceof ExportError);
      assert.deepEqual(e.problems, [
        'MultiheadAttention: attention kind "linear" has no ONNX form (exportable: full, window, dilated, longformer)',
        "MultiheadAttention: addBiasKV is not exported",
        "MultiheadAttention: addZeroAttn is not exported",
      ]);
    }
  });

  test("wrong example inputs are all named", () => {
    const mha = new MultiheadAttention(8, 2);
    assertThrowsMsg(() => onnxGraphs(mha, { query: randn([2, 8]), key: randn([2, 1, 5]) }), ExportError,
      "example query: expected rank 3 with last dim 8 (batched), got [2, 8]", "example key: expected rank 3 with last dim 8 (batched), got [2, 1, 5]");
    assertThrowsMsg(() => onnxGraphs(mha, { query: randn([2, 1, 8]) }, { attention: "flash" as "fused" }), ExportError, 'options.attention: expected "plain", "fused", "opset23", got "flash"');
  });
});
