/**
 * The qkv half of tools/interop/ddp_demo.py (training started in qkv, continued in PyTorch with
 * DistributedDataParallel, evaluated back in qkv). Modes:
 *
 * ```sh
 * npx tsx tools/interop/ddp-demo.ts train <data dir> <out dir> <steps>        # trainSeq2Seq, a tiny model, validation every steps/4
 * npx tsx tools/interop/ddp-demo.ts batches <data dir> <out dir> <from> <n> <file.safetensors>
 * npx tsx tools/interop/ddp-demo.ts eval <model dir> <batches.safetensors> <logits.safetensors>
 * ```
 *
 * `batches` writes the training batches of steps from … from + n - 1 as the trainer would draw them
 * (`train.N.src`, `train.N.tgt_in`, `train.N.tgt_out`), and every validation batch
 * (`valid.N.…`), so PyTorch continues on the same data; `eval` prints the validation loss of a
 * model directory as JSON (summed cross-entropy over the validation targets / their count, the
 * trainer's validLoss) and writes the logits of validation batch 0.
 */
import { join } from "node:path";
import { noGrad } from "../../src/autograd/graph.js";
import { loadTextModelDir, readTsvFile } from "../../src/apps/text/node-files.js";
import { TASKS } from "../../src/apps/text/tasks.js";
import { trainSeq2Seq } from "../../src/apps/text/train-seq2seq.js";
import { saveSafetensors, loadSafetensors } from "../../src/io/safetensors-node.js";
import { loadBackends } from "../../src/node.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { reshape } from "../../src/ops/shape.js";
import { TokenBatches, type IdPair } from "../../src/seq2seq/batching.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { loadTokenizer } from "../../src/text/node.js";

loadBackends({ quiet: true });
const task = TASKS.translate;
/** The demo's model and batches: tiny, so that the whole round trip takes seconds. */
const DEMO = { dModel: 32, nhead: 2, layers: 1, dimFeedforward: 64, vocabSize: 320, maxTokens: 384, lr: 3e-3, warmup: 8, seed: 0 };

async function plans(dataDir: string, outDir: string): Promise<{ train: TokenBatches; valid: TokenBatches }> {
  const tok = await loadTokenizer(join(outDir, "tokenizer.json"));
  const pairs = async (file: string): Promise<IdPair[]> => (await readTsvFile(join(dataDir, file), [task.srcColumn, task.tgtColumn])).rows.map((r) => ({
    src: tok.encode(r[task.srcColumn]!).slice(0, task.maxSrcLen),
    tgt: tok.encode(r[task.tgtColumn]!).slice(0, task.maxTgtLen - 1),
  }));
  const ids = { padId: tok.padId, bosId: tok.bosId, eosId: tok.eosId, seed: DEMO.seed };
  return { train: new TokenBatches(await pairs("train.tsv"), { maxTokens: DEMO.maxTokens, ...ids }), valid: new TokenBatches(await pairs("valid.tsv"), { maxTokens: 4096, ...ids }) };
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "train" && args.length === 3) {
  const [dataDir, outDir, steps] = args as [string, string, string];
  const n = Number(steps);
  const { seed, ...rest } = DEMO;
  await trainSeq2Seq({ task, dataDir, outDir, steps: n, seed, ...rest, evalEvery: Math.max(1, Math.floor(n / 4)), checkpointEvery: n, evalSamples: 2, tty: false });
} else if (mode === "batches" && args.length === 5) {
  const [dataDir, outDir, from, n, file] = args as [string, string, string, string, string];
  const { train, valid } = await plans(dataDir, outDir);
  const out: Record<string, Tensor> = {};
  for (let i = 0; i < Number(n); i++) {
    const b = train.batchAt(Number(from) + i);
    Object.assign(out, { [`train.${i}.src`]: b.src, [`train.${i}.tgt_in`]: b.tgtIn, [`train.${i}.tgt_out`]: b.tgtOut });
  }
  for (let i = 0; i < valid.batchesPerEpoch; i++) {
    const b = valid.batchAt(i);
    Object.assign(out, { [`valid.${i}.src`]: b.src, [`valid.${i}.tgt_in`]: b.tgtIn, [`valid.${i}.tgt_out`]: b.tgtOut });
  }
  await saveSafetensors(file, out);
  console.log(JSON.stringify({ train: Number(n), valid: valid.batchesPerEpoch }));
} else if (mode === "eval" && args.length === 3) {
  const [dir, file, logitsFile] = args as [string, string, string];
  const { model } = await loadTextModelDir(dir);
  if (!(model instanceof Seq2SeqTransformer)) throw new Error(`${dir}: not a seq2seq model`);
  const t = (await loadSafetensors(file)).tensors;
  const int32 = (name: string): Tensor => {
    const x = t.get(name)!;
    return new Tensor(Int32Array.from(x.data as ArrayLike<number>, Number), x.shape, "int32");
  };
  const { padId, vocabSize: V } = model.config;
  let total = 0, tokens = 0, first: Tensor | null = null;
  noGrad(() => {
    for (let i = 0; t.has(`valid.${i}.src`); i++) {
      const tgtOut = int32(`valid.${i}.tgt_out`);
      const logits = model.forward(int32(`valid.${i}.src`), int32(`valid.${i}.tgt_in`)); // [B, T, V]
      first ??= logits;
      total += crossEntropy(reshape(logits, [-1, V]), tgtOut, { ignoreIndex: padId, reduction: "sum" }).item();
      tokens += Array.from(tgtOut.data as Int32Array).filter((v) => v !== padId).length;
    }
  });
  if (first) await saveSafetensors(logitsFile, { logits: first });
  console.log(JSON.stringify({ validLoss: total / tokens, tokens }));
} else {
  console.error("usage: ddp-demo.ts train <data> <out> <steps> | batches <data> <out> <from> <n> <file> | eval <model dir> <batches> <logits>");
  process.exit(2);
}
