/**
 * The qkv half of tools/interop/text_model_check.py and ddp_demo.py: runs a text model directory
 * on inputs from a safetensors file and writes its outputs to another, in eval mode.
 *
 * ```sh
 * npx tsx tools/interop/text-model-run.ts <model dir> <inputs.safetensors> <outputs.safetensors>
 * ```
 *
 * Inputs (int32 or int64 ids): seq2seq `src` [B, S] and `tgt_in` [B, T] -> `logits` [B, T, V] and
 * `memory` [B, S, E]; span `ids` [B, N] -> `start`, `end` [B, N] (-inf at padding). With `tgt_out`
 * [B * T] as well, a seq2seq model also writes `loss`: the summed cross-entropy over the
 * non-padding targets divided by their count (the trainer's validation loss).
 */
import { noGrad } from "../../src/autograd/graph.js";
import { loadTextModelDir } from "../../src/apps/text/node-files.js";
import { loadSafetensors, saveSafetensors } from "../../src/io/safetensors-node.js";
import { loadBackends } from "../../src/node.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { reshape } from "../../src/ops/shape.js";
import { Tensor } from "../../src/tensor/tensor.js";

loadBackends({ quiet: true });
const [dir, inPath, outPath] = process.argv.slice(2);
if (!dir || !inPath || !outPath) {
  console.error("usage: text-model-run.ts <model dir> <inputs.safetensors> <outputs.safetensors>");
  process.exit(2);
}
const ids = (t: Tensor | undefined, name: string): Tensor => {
  if (!t) throw new Error(`${inPath}: no tensor "${name}"`);
  return new Tensor(Int32Array.from(t.data as ArrayLike<number>, Number), t.shape, "int32");
};
const { model } = await loadTextModelDir(dir);
const x = (await loadSafetensors(inPath)).tensors;
const out: Record<string, Tensor> = {};
noGrad(() => {
  if (model instanceof Seq2SeqTransformer) {
    const src = ids(x.get("src"), "src"), tgtIn = ids(x.get("tgt_in"), "tgt_in");
    out.memory = model.encode(src);
    out.logits = model.forward(src, tgtIn);
    if (x.has("tgt_out")) {
      const tgtOut = ids(x.get("tgt_out"), "tgt_out");
      const pad = model.config.padId;
      const n = Array.from(tgtOut.data as Int32Array).filter((v) => v !== pad).length;
      const sum = crossEntropy(reshape(out.logits, [-1, model.config.vocabSize]), tgtOut, { ignoreIndex: pad, reduction: "sum" }).item();
      out.loss = new Tensor(Float32Array.of(sum / n), [1], "float32");
    }
  } else {
    const r = model.forward(ids(x.get("ids"), "ids"));
    out.start = r.start;
    out.end = r.end;
  }
});
await saveSafetensors(outPath, out);
