/**
 * The qkv half of tools/interop/hf_check.py: loads a Hugging Face BERT directory (config.json +
 * model.safetensors) with loadHfBertDir and runs it on `input_ids`, `attention_mask` and
 * `token_type_ids` (int32 or int64 [B, N]) from a safetensors file, writing `last_hidden_state`
 * and `pooler_output`.
 *
 * ```sh
 * npx tsx tools/interop/hf-bert-run.ts <hf dir> <inputs.safetensors> <outputs.safetensors>
 * ```
 */
import { noGrad } from "../../src/autograd/graph.js";
import { loadHfBertDir } from "../../src/interop/hf-node.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { loadBackends } from "../../src/node.js";
import { Tensor } from "../../src/tensor/tensor.js";

loadBackends({ quiet: true });
const [dir, inPath, outPath] = process.argv.slice(2);
if (!dir || !inPath || !outPath) {
  console.error("usage: hf-bert-run.ts <hf dir> <inputs.safetensors> <outputs.safetensors>");
  process.exit(2);
}
const x = (await loadSafetensors(inPath)).tensors;
const int32 = (name: string): Tensor => {
  const t = x.get(name);
  if (!t) throw new Error(`${inPath}: no tensor "${name}"`);
  return new Tensor(Int32Array.from(t.data as ArrayLike<number>, Number), t.shape, "int32");
};
const bert = await loadHfBertDir(dir);
const r = noGrad(() => bert.forward(int32("input_ids"), { attentionMask: int32("attention_mask"), tokenTypeIds: int32("token_type_ids") }));
await saveSafetensors(outPath, { last_hidden_state: r.lastHiddenState, ...(r.poolerOutput ? { pooler_output: r.poolerOutput } : {}) });
