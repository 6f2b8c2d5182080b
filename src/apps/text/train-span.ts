/**
 * Training the extractive summarizer: a SpanExtractor learns to point at the run of words of a
 * description that best matches its synopsis (the oracle span by ROUGE-L, at most 24 words).
 * Batches of similar length, AdamW with warm-up and inverse-square-root decay, validation
 * ROUGE on the whole validation split (a model on a device is scored there: each batch's start and
 * end scores read back, no parameter), checkpoints and resume, model files rewritten at every
 * validation — the same loop as the seq2seq trainer.
 *
 * ```ts
 * await trainSpan({ task: TASKS.summarize, outDir: "runs/sum", minutes: 20 });
 * ```
 */
import { SpanExtractor } from "../../nn/span-extractor.js";
import { add, mul } from "../../ops/elementwise.js";
import { crossEntropy } from "../../ops/functional.js";
import { AdamW } from "../../optim/adam.js";
import { LRScheduler } from "../../optim/schedule.js";
import { runReadSteps, runReadStepsAsync, type ReadSteps } from "../../tensor/read-steps.js";
import { Generator, manualSeed } from "../../tensor/rng.js";
import { Tensor } from "../../tensor/tensor.js";
import { MAX_SPAN_WORDS, TextGenerator } from "./generator.js";
import { oracleSpan, wordTokens } from "./span-data.js";
import { scoreTask } from "./tasks.js";
import { checkTrainOptions, prepareRun, runTraining, textSchedule, type TrainCommonOptions, type TrainResult } from "./train-loop.js";

export interface SpanTrainOptions extends TrainCommonOptions {
  /** Longest input in tokens (default 160; longer descriptions are cut). */
  maxLen?: number;
}

interface SpanExample {
  ids: number[];
  start: number;
  end: number;
}

interface SpanBatch {
  ids: Tensor;
  start: Tensor;
  end: Tensor;
}

export async function trainSpan(o: SpanTrainOptions): Promise<TrainResult> {
  checkTrainOptions(o, ["dModel", "nhead", "layers", "dimFeedforward", "maxLen"]);
  const task = o.task, seed = o.seed ?? 0;
  const run = await prepareRun(o);
  const { train, valid, tokenizer, log } = run;
  const maxLen = o.maxLen ?? 160;

  // each description with its oracle span as token positions (rows whose synopsis shares no word are left out)
  const examples: SpanExample[] = [];
  for (const r of train.rows) {
    const w = wordTokens(tokenizer, r[task.srcColumn]!, maxLen);
    const sp = oracleSpan(w.words, r[task.tgtColumn]!, MAX_SPAN_WORDS);
    if (sp.f === 0) continue;
    examples.push({ ids: w.ids, start: w.wordOf.indexOf(sp.first), end: w.wordOf.lastIndexOf(sp.last) });
  }
  // batches of similar length, at most maxTokens padded tokens; order reshuffled each epoch
  const maxTokens = o.maxTokens ?? 4096;
  const sorted = examples.map((_, i) => i).sort((a, b) => examples[a]!.ids.length - examples[b]!.ids.length);
  const batches: number[][] = [];
  for (let i = 0, cur: number[] = []; i <= sorted.length; i++) {
    const j = sorted[i];
    if (j === undefined || (cur.length + 1) * examples[j]!.ids.length > maxTokens) {
      if (cur.length) batches.push(cur);
      cur = [];
    }
    if (j !== undefined) cur.push(j);
  }
  const batchAt = (step: number): SpanBatch => {
    const epoch = Math.floor(step / batches.length), k = step % batches.length;
    const u = new Float64Array(batches.length);
    new Generator(seed * 1000003 + epoch).fillUniform(u);
    const order = batches.map((_, i) => i).sort((a, b) => u[a]! - u[b]! || a - b);
    const members = batches[order[k]!]!.map((i) => examples[i]!);
    const N = Math.max(...members.map((e) => e.ids.length));
    const ids = new Int32Array(members.length * N).fill(tokenizer.padId);
    members.forEach((e, b) => ids.set(e.ids, b * N));
    return {
      ids: new Tensor(ids, [members.length, N], "int32"),
      start: new Tensor(Int32Array.from(members, (e) => e.start), [members.length], "int32"),
      end: new Tensor(Int32Array.from(members, (e) => e.end), [members.length], "int32"),
    };
  };

  manualSeed(seed);
  const config = {
    vocabSize: tokenizer.vocabSize, dModel: o.dModel ?? 256, nhead: o.nhead ?? 4, layers: o.layers ?? 4,
    dimFeedforward: o.dimFeedforward ?? 1024, dropout: o.dropout ?? 0.1, maxLen, padId: tokenizer.padId,
  };
  const model = new SpanExtractor(config);
  if (run.init) model.loadStateDict(run.init.model.stateDict());
  const nParams = model.parameters().reduce((s, p) => s + p.size, 0);
  log(`${task.name}: span extraction; ${examples.length.toLocaleString("en-US")} of ${train.rows.length.toLocaleString("en-US")} training rows have an oracle span ` +
    `(${batches.length} batches of <= ${maxTokens} tokens); ${config.layers} layers, dModel ${config.dModel}, ${nParams.toLocaleString("en-US")} parameters`);
  const optimizer = new AdamW(model.parameters(), { lr: o.lr ?? 5e-4, betas: [0.9, 0.98], eps: 1e-9, weightDecay: 1e-2 });
  const scheduler = new LRScheduler(optimizer, textSchedule(o.warmup ?? 300, run.initSteps));
  const bundle = { kind: "span" as const, task: task.name, model, tokenizer };
  const generator = new TextGenerator(bundle);
  const validSrc = valid.rows.map((r) => r[task.srcColumn]!), validRef = valid.rows.map((r) => r[task.tgtColumn]!);
  // the best span of every validation row (each batch's start and end scores read back); the same steps on the host or the device
  function* validationSteps(): ReadSteps<Record<string, number>> {
    return scoreTask(task, yield* generator.generateSteps(validSrc), validRef);
  }
  return runTraining<SpanBatch>(o, run, {
    model, optimizer, scheduler, bundle,
    batchAt,
    epochOf: (s) => Math.floor(s / batches.length),
    lossOf: (b) => {
      const { start, end } = model.forward(b.ids); // [B, N] each
      return mul(add(crossEntropy(start, b.start), crossEntropy(end, b.end)), 0.5);
    },
    evaluate: () => runReadSteps(validationSteps()),
    evaluateOnDevice: () => runReadStepsAsync(validationSteps()),
  });
}
