/**
 * Training an encoder–decoder text model (translation): a byte-level BPE tokenizer trained on
 * the training split (or the resumed run's, or the init model's), token-bucketed batches, AdamW
 * with warm-up and inverse-square-root decay, label smoothing, gradient clipping; validation loss
 * on the whole validation split and the task's metric on a sample of it (greedy) every so many
 * steps (a model on a device is validated there: each validation batch's summed loss and each
 * decoding step's ids read back, no parameter); checkpoints and resume (train-loop.ts).
 *
 * Output directory: tokenizer.json, model.safetensors, checkpoints/step-N.safetensors (the last
 * two), log.jsonl (one JSON line per validation).
 *
 * ```ts
 * await trainSeq2Seq({ task: TASKS.translate, outDir: "runs/mt", minutes: 60 });
 * ```
 */
import { Seq2SeqTransformer, type Seq2SeqConfig } from "../../nn/seq2seq.js";
import { crossEntropy } from "../../ops/functional.js";
import { reshape } from "../../ops/shape.js";
import { AdamW } from "../../optim/adam.js";
import { LRScheduler } from "../../optim/schedule.js";
import { TokenBatches, type IdPair, type Seq2SeqBatch } from "../../seq2seq/batching.js";
import { runReadSteps, runReadStepsAsync, type ReadSteps } from "../../tensor/read-steps.js";
import { manualSeed } from "../../tensor/rng.js";
import { TextGenerator } from "./generator.js";
import { scoreTask } from "./tasks.js";
import { checkTrainOptions, prepareRun, runTraining, textSchedule, type TrainCommonOptions, type TrainResult } from "./train-loop.js";

export interface Seq2SeqTrainOptions extends TrainCommonOptions {
  labelSmoothing?: number;
  /** Validation sentences decoded for the metric at each validation (default 200). */
  evalSamples?: number;
}

export async function trainSeq2Seq(o: Seq2SeqTrainOptions): Promise<TrainResult> {
  checkTrainOptions(o, ["dModel", "nhead", "layers", "dimFeedforward", "evalSamples"]);
  const task = o.task, seed = o.seed ?? 0;
  const run = await prepareRun(o);
  const { train, valid, tokenizer, log } = run;

  const encodePairs = (rows: Record<string, string>[]): IdPair[] => rows.map((r) => ({
    src: tokenizer.encode(r[task.srcColumn]!).slice(0, task.maxSrcLen),
    tgt: tokenizer.encode(r[task.tgtColumn]!).slice(0, task.maxTgtLen - 1),
  }));
  const trainPairs = encodePairs(train.rows), validPairs = encodePairs(valid.rows);
  const ids = { padId: tokenizer.padId, bosId: tokenizer.bosId, eosId: tokenizer.eosId };
  const maxTokens = o.maxTokens ?? 2048;
  const plan = new TokenBatches(trainPairs, { maxTokens, seed, ...ids });
  const validPlan = new TokenBatches(validPairs, { maxTokens: 4096, seed, ...ids });

  manualSeed(seed);
  const config: Seq2SeqConfig = run.init ? (run.init.model as Seq2SeqTransformer).config : {
    vocabSize: tokenizer.vocabSize, dModel: o.dModel ?? 256, nhead: o.nhead ?? 4, encoderLayers: o.layers ?? 3, decoderLayers: o.layers ?? 3,
    dimFeedforward: o.dimFeedforward ?? 1024, dropout: o.dropout ?? 0.1, maxLen: Math.max(task.maxSrcLen, task.maxTgtLen), padId: tokenizer.padId,
  };
  const model = new Seq2SeqTransformer(config);
  if (run.init) model.loadStateDict(run.init.model.stateDict());
  const V = config.vocabSize;
  const nParams = model.parameters().reduce((s, p) => s + p.size, 0);
  log(`${task.name}: ${trainPairs.length.toLocaleString("en-US")} training pairs in ${plan.batchesPerEpoch} batches of <= ${maxTokens} tokens; ` +
    `${config.encoderLayers}+${config.decoderLayers} layers, dModel ${config.dModel}, ${config.nhead} heads, ${nParams.toLocaleString("en-US")} parameters`);

  const optimizer = new AdamW(model.parameters(), { lr: o.lr ?? 7e-4, betas: [0.9, 0.98], eps: 1e-9, weightDecay: 1e-4 });
  const scheduler = new LRScheduler(optimizer, textSchedule(o.warmup ?? 600, run.initSteps));
  const ls = o.labelSmoothing ?? 0.1;
  // the validation loss: each validation batch's summed cross-entropy [] read back
  function* validLossSteps(): ReadSteps<number> {
    let total = 0, tokens = 0;
    for (let i = 0; i < validPlan.batchesPerEpoch; i++) {
      const b = validPlan.batchAt(i);
      const [sum] = yield [crossEntropy(reshape(model.forward(b.src, b.tgtIn), [-1, V]), b.tgtOut, { ignoreIndex: ids.padId, reduction: "sum" })]; // []
      total += Number(sum![0]);
      tokens += b.tokens;
    }
    return total / tokens;
  }
  const nSamples = Math.min(o.evalSamples ?? 200, valid.rows.length);
  const bundle = { kind: "seq2seq" as const, task: task.name, model, tokenizer };
  const generator = new TextGenerator(bundle);
  const sampleSrc = valid.rows.slice(0, nSamples).map((r) => r[task.srcColumn]!), sampleRef = valid.rows.slice(0, nSamples).map((r) => r[task.tgtColumn]!);
  // greedy decoding of the sample (each step's ids read back), then the loss; the same steps on the host or the device
  function* validationSteps(): ReadSteps<Record<string, number>> {
    const hyps = yield* generator.generateSteps(sampleSrc, { beam: 1 });
    return { validLoss: yield* validLossSteps(), ...scoreTask(task, hyps, sampleRef) };
  }
  return runTraining<Seq2SeqBatch>(o, run, {
    model, optimizer, scheduler, bundle,
    batchAt: (s) => plan.batchAt(s),
    epochOf: (s) => plan.epochOf(s),
    lossOf: (b) => crossEntropy(reshape(model.forward(b.src, b.tgtIn), [-1, V]), b.tgtOut, { ignoreIndex: ids.padId, labelSmoothing: ls }),
    evaluate: () => runReadSteps(validationSteps()),
    evaluateOnDevice: () => runReadStepsAsync(validationSteps()),
  });
}
