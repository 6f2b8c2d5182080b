/**
 * ONNX export of the Vision Transformer and the CNN-stem hybrid: ONNX Runtime's logits and
 * last_hidden_state against qkv's forward on random images at several batch sizes, plain and fused
 * attention; the file's layout; what has no ONNX form.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { BatchNorm2d } from "../../src/nn/conv.js";
import { VisionTransformer, type ViTConfig } from "../../src/nn/vit.js";
import { onnxGraphs } from "../../src/onnx/export.js";
import { decodeModelProto } from "../../src/onnx/proto.js";
import { ExportError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, type Tensor } from "../../src/tensor/tensor.js";
import { assertThrowsMsg } from "../helpers.js";
import { maxDiff, ortSkip, session, toOrt } from "./ort.js";

const TOL = 1e-5;
const BATCHES = [1, 3];
const gen = new Generator(23);

/**
 * A model whose every part does visible work: weights scaled up from the init, biases, the class
 * token and the BatchNorm statistics and affine parameters random (a fresh BatchNorm is the identity).
 */
function model(config: ViTConfig): VisionTransformer {
  const m = new VisionTransformer(config, { generator: gen }).eval();
  noGrad(() => {
    for (const [name, t] of Object.entries(m.stateDict())) {
      if (t.dtype !== "float32") continue; // num_batches_tracked
      const r = randn(t.shape, { generator: gen }).data as Float32Array, d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) {
        if (name.endsWith("running_var")) d[i] = 0.5 + Math.abs(r[i]!);
        else if (name.endsWith("running_mean") || name.endsWith("bias") || name.endsWith("cls_token")) d[i] = 0.3 * r[i]!;
        else if (name.includes(".bn.weight") || name.includes("norm")) d[i] = 1 + 0.2 * r[i]!;
        else d[i] = d[i]! * 3;
      }
    }
  });
  return m;
}

const cases: { name: string; config: ViTConfig }[] = [
  { name: "plain ViT: patches, class token, learned positions", config: { imageSize: 28, patchSize: 7, inChannels: 1, numClasses: 10, dim: 32, depth: 2, heads: 4 } },
  {
    name: "hybrid: CNN stem (conv, BatchNorm, ReLU, max-pool x2), mean pooling, 2-D sin-cos positions, 3 channels, 16 x 24",
    config: { imageSize: [16, 24], patchSize: 4, inChannels: 3, numClasses: 5, dim: 24, depth: 2, heads: 3, mlpRatio: 2, stem: [6, 12], pooling: "mean", positions: "sincos2d" },
  },
];

describe("ONNX export: VisionTransformer", { skip: ortSkip }, () => {
  for (const c of cases) {
    for (const mode of ["plain", "fused", "opset23"] as const) {
      test(`${c.name} (${mode})`, async () => {
        const vit = model(c.config);
        const [H, W] = vit.config.imageSize, C = vit.config.inChannels;
        const [f] = onnxGraphs(vit, { x: randn([1, C, H, W]) }, { attention: mode });
        assert.deepEqual(f!.inputs, ["pixel_values"]);
        assert.deepEqual(f!.outputs, ["logits", "last_hidden_state"]);
        const s = await session(f!.bytes);
        for (const B of BATCHES) {
          const x = randn([B, C, H, W], { generator: gen });
          const [logits, tokens] = noGrad((): [Tensor, Tensor] => [vit.forward(x), vit.features(x)]);
          const r = await s.run({ pixel_values: toOrt(x) });
          const dl = maxDiff(r.logits!.data as Float32Array, logits.data as Float32Array);
          const dt = maxDiff(r.last_hidden_state!.data as Float32Array, tokens.data as Float32Array);
          assert.deepEqual(r.logits!.dims, logits.shape);
          assert.ok(dl <= TOL && dt <= TOL, `B=${B}: logits max |diff| ${dl}, last_hidden_state ${dt}`);
        }
        await s.release();
      });
    }
  }
});

describe("ONNX export: the VisionTransformer file", () => {
  test("symbolic batch, image layers as Conv / BatchNormalization / MaxPool, initializers under the state-dict names", () => {
    const vit = model(cases[1]!.config);
    const [plain] = onnxGraphs(vit, {}, { metadata: { "qkv.classes": '["a","b","c","d","e"]' } });
    const m = decodeModelProto(plain!.bytes);
    assert.deepEqual(m.opset_import.map((o) => `${o.domain ?? ""}:${o.version}`), [":17"]);
    assert.deepEqual(m.graph.input[0]!.type.tensor_type.shape.dim, [{ dim_param: "batch" }, { dim_value: 3 }, { dim_value: 16 }, { dim_value: 24 }]);
    assert.deepEqual(m.graph.output.map((o) => o.name), ["logits", "last_hidden_state"]);
    assert.deepEqual(m.graph.output[1]!.type.tensor_type.shape.dim, [{ dim_param: "batch" }, { dim_value: 24 }, { dim_value: 24 }]);
    const count = (op: string): number => m.graph.node.filter((n) => n.op_type === op).length;
    assert.deepEqual([count("Conv"), count("BatchNormalization"), count("MaxPool"), count("ReduceMean")], [3, 2, 2, 1]);
    const names = m.graph.initializer.map((t) => t.name);
    for (const n of Object.keys(vit.stateDict())) if (!n.endsWith("num_batches_tracked")) assert.ok(names.includes(n), `initializer ${n}`);
    assert.ok(names.includes("pos_embed"), "the fixed positions");
    const meta = Object.fromEntries(m.metadata_props.map((p) => [p.key, p.value]));
    assert.equal(meta["qkv.model"], "VisionTransformer");
    assert.equal(meta["qkv.classes"], '["a","b","c","d","e"]');
    assert.deepEqual(JSON.parse(meta["qkv.config"]!), vit.config);
    const [fused] = onnxGraphs(vit, {}, { attention: "fused" });
    const mf = decodeModelProto(fused!.bytes);
    assert.equal(mf.graph.node.filter((n) => n.op_type === "MultiHeadAttention" && n.domain === "com.microsoft").length, 2);
    assert.equal(mf.graph.node.filter((n) => n.op_type === "Softmax").length, 0);
  });

  test("a BatchNorm2d without running statistics and a wrong example are named", () => {
    const vit = model(cases[1]!.config);
    const bn = vit.patchEmbed.namedModules().find(([, m]) => m instanceof BatchNorm2d)![1] as BatchNorm2d;
    bn.runningMean = null;
    assertThrowsMsg(() => onnxGraphs(vit, {}), ExportError,
      "exportOnnx: cannot export: patch_embed.backbone.0.bn: a BatchNorm2d without running statistics normalizes by the batch's own statistics in eval mode");
    const plain = model(cases[0]!.config);
    assertThrowsMsg(() => onnxGraphs(plain, { x: randn([2, 3, 28, 28]) }), ExportError, "example x: expected [B, 1, 28, 28] (the model's config), got [2, 3, 28, 28]");
  });
});
