/**
 * The qkv half of tools/interop/hf_vit_check.py: loads a Hugging Face ViT directory (config.json +
 * model.safetensors of ViTModel or ViTForImageClassification) with loadHfViTDir and runs it on
 * `pixel_values` [B, C, H, W] from a safetensors file, writing `last_hidden_state` (features) and
 * `logits` (forward).
 *
 * ```sh
 * npx tsx tools/interop/hf-vit-run.ts <hf dir> <inputs.safetensors> <outputs.safetensors>
 * ```
 */
import { noGrad } from "../../src/autograd/graph.js";
import { loadHfViTDir } from "../../src/interop/hf-node.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { loadBackends } from "../../src/node.js";

loadBackends({ quiet: true });
const [dir, inPath, outPath] = process.argv.slice(2);
if (!dir || !inPath || !outPath) {
  console.error("usage: hf-vit-run.ts <hf dir> <inputs.safetensors> <outputs.safetensors>");
  process.exit(2);
}
const x = (await loadSafetensors(inPath)).tensors.get("pixel_values");
if (!x) throw new Error(`${inPath}: no tensor "pixel_values"`);
const vit = await loadHfViTDir(dir);
const r = noGrad(() => ({ last_hidden_state: vit.features(x), logits: vit.forward(x) }));
await saveSafetensors(outPath, r);
