/**
 * Writes two small random image classifiers in qkv classify's model file (model.safetensors with
 * F16 weights and the "qkv.*" metadata): a ViT (patches, class token, learned positions) and a
 * CNN-stem hybrid (mean pooling, 2-D sine-cosine positions, random BatchNorm statistics), for
 * tools/interop/vit_check.py until shipped classifiers are at hand:
 *
 * ```sh
 * npx tsx tools/interop/make_vit_model.ts /tmp/vm     # /tmp/vm/vit, /tmp/vm/hybrid
 * ```
 */
import { join } from "node:path";
import { saveClassifierDir } from "../../src/apps/classify/node-files.js";
import { VisionTransformer } from "../../src/nn/vit.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn } from "../../src/tensor/tensor.js";

const out = process.argv[2];
if (!out) {
  console.error("usage: make_vit_model.ts <dir>");
  process.exit(2);
}
const g = new Generator(21);
const classes = Array.from({ length: 10 }, (_, i) => String(i));
const normalize = { mean: 0.1307, std: 0.3081 };
const vit = new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, numClasses: 10, dim: 32, depth: 2, heads: 4, dropout: 0.1 }, { generator: g });
await saveClassifierDir(join(out, "vit"), { kind: "vit", dataset: "mnist", classes, normalize, model: vit, info: { note: "random" } });
const hybrid = new VisionTransformer({ imageSize: 28, patchSize: 4, inChannels: 1, numClasses: 10, dim: 24, depth: 2, heads: 3, mlpRatio: 2, dropout: 0.1,
  stem: [8, 16], pooling: "mean", positions: "sincos2d" }, { generator: g });
for (const [n, t] of Object.entries(hybrid.stateDict())) {
  const r = randn(t.shape, { generator: g }).data as Float32Array;
  if (n.endsWith("running_var")) t.data.set(r.map((v) => 0.5 + Math.abs(v)));
  else if (n.endsWith("running_mean")) t.data.set(r.map((v) => 0.3 * v));
}
await saveClassifierDir(join(out, "hybrid"), { kind: "hybrid", dataset: "mnist", classes, normalize, model: hybrid, info: { note: "random" } });
console.log(`wrote ${join(out, "vit")} and ${join(out, "hybrid")}`);
