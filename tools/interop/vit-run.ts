/**
 * The qkv half of tools/interop/vit_check.py: runs an image classifier directory (qkv classify's
 * model.safetensors) on the images of a safetensors file and writes its outputs to another, in
 * eval mode: `x` [B, C, H, W] float32 -> `logits` [B, classes] and `features` [B, T, E] (the
 * normalized tokens).
 *
 * ```sh
 * npx tsx tools/interop/vit-run.ts <model dir> <inputs.safetensors> <outputs.safetensors>
 * ```
 */
import { loadClassifierDir } from "../../src/apps/classify/node-files.js";
import { noGrad } from "../../src/autograd/graph.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { loadBackends } from "../../src/node.js";

loadBackends({ quiet: true });
const [dir, inPath, outPath] = process.argv.slice(2);
if (!dir || !inPath || !outPath) {
  console.error("usage: vit-run.ts <model dir> <inputs.safetensors> <outputs.safetensors>");
  process.exit(2);
}
const { model } = await loadClassifierDir(dir);
const x = (await loadSafetensors(inPath)).tensors.get("x");
if (!x) throw new Error(`${inPath}: no tensor "x"`);
const out = noGrad(() => ({ logits: model.forward(x), features: model.features(x) }));
await saveSafetensors(outPath, out);
