/**
 * Experiment 4, the number of heads: for a fixed width E = 64, 1 / 2 / 4 / 8 / 16 heads on two
 * tasks — the dates task (src/data/dates.ts, the `qkv demo` encoder-decoder) and the pair-recall task
 * (two flagged tokens anywhere; the answer needs both) — accuracy, speed, and how many heads can be
 * switched off before accuracy drops by more than 1 point (prune.ts).
 */
import { CharVocab, generateDatePairs, splitDates, type DatePair } from "../../data/dates.js";
import { crossEntropy } from "../../ops/functional.js";
import { reshape } from "../../ops/shape.js";
import { AdamW } from "../../optim/adam.js";
import { LRScheduler, warmupCosine } from "../../optim/schedule.js";
import { manualSeed } from "../../tensor/rng.js";
import { fit } from "../../train/fit.js";
import { lineChartSvg, type ChartSeries } from "../../viz/chart.js";
import { makeBatch, type Batch } from "../dates/batches.js";
import { greedyDecode } from "../dates/decode.js";
import { DateModel, flatLogits } from "../dates/model.js";
import type { Experiment, RunContext } from "./experiment.js";
import { countParameters, SequenceClassifier } from "./models.js";
import { HeadMasker, headRedundancy, type RedundancyResult } from "./prune.js";
import { fmtSpread, pct, sig3, spread, type ExperimentOutput, type Table } from "./results.js";
import { pairRecallTask } from "./tasks.js";
import { accuracy, heldOut, trainClassifier } from "./train.js";

interface Settings {
  heads: number[];
  width: number;
  dates: { steps: number; batchSize: number; testSize: number; lr: number };
  pairRecall: { length: number; layers: number; steps: number; batchSize: number; evalSize: number; lr: number };
  /** Accuracy drop (fraction) that ends pruning. */
  tolerance: number;
}

const FULL: Settings = {
  heads: [1, 2, 4, 8, 16], width: 64,
  dates: { steps: 500, batchSize: 64, testSize: 300, lr: 6e-3 },
  pairRecall: { length: 32, layers: 1, steps: 150, batchSize: 32, evalSize: 1000, lr: 3e-3 },
  tolerance: 0.01,
};
const QUICK: Settings = {
  heads: [1, 4, 16], width: 64,
  dates: { steps: 12, batchSize: 16, testSize: 24, lr: 6e-3 },
  pairRecall: { length: 16, layers: 1, steps: 25, batchSize: 16, evalSize: 100, lr: 3e-3 },
  tolerance: 0.01,
};

type TaskName = "dates" | "pair-recall";

interface Run {
  task: TaskName;
  heads: number;
  seed: number;
  params: number;
  accuracy: number;
  /** Training wall time per update, ms. */
  msPerStep: number;
  /** Scoring wall time per example, ms. */
  msPerExample: number;
  prunable: number;
  totalHeads: number;
  pruneCurve: number[];
}

function datesAccuracy(model: DateModel, pairs: DatePair[], vocab: CharVocab): number {
  model.eval();
  let right = 0;
  for (let i = 0; i < pairs.length; i += 250) {
    const part = pairs.slice(i, i + 250);
    greedyDecode(model, makeBatch(part, vocab), vocab, 12).forEach((o, j) => { if (o === part[j]!.target) right++; });
  }
  model.train();
  return right / Math.max(pairs.length, 1);
}

async function runDates(s: Settings, H: number, seed: number): Promise<Run> {
  const o = s.dates, E = s.width;
  manualSeed(seed);
  const { train, test } = splitDates(seed, { trainSize: o.steps * o.batchSize, testSize: o.testSize });
  const vocab = CharVocab.fromStrings(generateDatePairs(5000, seed + 1).flatMap((p) => [p.source, p.target]));
  const model = new DateModel({ vocabSize: vocab.size, dModel: E, nhead: H, layers: 1, dimFeedforward: 2 * E, dropout: 0 });
  const optimizer = new AdamW(model.parameters(), { lr: o.lr, weightDecay: 0.01, betas: [0.9, 0.98] });
  const warmupSteps = Math.min(100, Math.floor(o.steps / 10));
  const scheduler = new LRScheduler(optimizer, warmupCosine({ warmupSteps, totalSteps: o.steps, minLr: 0.02 }));
  const t0 = performance.now();
  await fit<Batch>({
    model, optimizer, scheduler, steps: o.steps, seed, clipNorm: 1, freeGraph: true,
    batches: (i) => makeBatch(train.slice(i * o.batchSize, (i + 1) * o.batchSize), vocab),
    trainStep: (b) => crossEntropy(flatLogits(model.forward(b.src, b.srcPad, b.tgtIn)), reshape(b.tgtOut, [-1]), { ignoreIndex: vocab.padId, labelSmoothing: 0.05 }),
  });
  const msPerStep = (performance.now() - t0) / o.steps;
  const t1 = performance.now();
  const acc = datesAccuracy(model, test, vocab);
  const msPerExample = (performance.now() - t1) / test.length;
  const red = headRedundancy(new HeadMasker(model), () => datesAccuracy(model, test, vocab), s.tolerance);
  return result("dates", H, seed, countParameters(model), acc, msPerStep, msPerExample, red);
}

async function runPairRecall(s: Settings, H: number, seed: number): Promise<Run> {
  const o = s.pairRecall;
  const task = pairRecallTask({ length: o.length });
  manualSeed(seed);
  const model = new SequenceClassifier({ kind: "transformer", vocabSize: task.vocabSize, classes: task.classes, width: s.width, heads: H, layers: o.layers, maxLen: o.length });
  const r = await trainClassifier(model, task, { steps: o.steps, batchSize: o.batchSize, seed, lr: o.lr, evalSize: o.evalSize });
  const evalSet = heldOut(task, o.evalSize);
  const t1 = performance.now();
  accuracy(model, evalSet);
  const msPerExample = (performance.now() - t1) / o.evalSize;
  const red = headRedundancy(new HeadMasker(model), () => accuracy(model, evalSet), s.tolerance);
  return result("pair-recall", H, seed, countParameters(model), r.accuracy, r.msPerStep, msPerExample, red);
}

function result(task: TaskName, heads: number, seed: number, params: number, acc: number, msPerStep: number, msPerExample: number, red: RedundancyResult): Run {
  return { task, heads, seed, params, accuracy: acc, msPerStep, msPerExample, prunable: red.prunable, totalHeads: red.total, pruneCurve: red.curve };
}

async function run(ctx: RunContext): Promise<ExperimentOutput> {
  const s = ctx.quick ? QUICK : FULL;
  const runs: Run[] = [];
  const tasks: TaskName[] = ["dates", "pair-recall"];
  for (const task of tasks) {
    for (const H of s.heads) {
      for (const seed of ctx.seeds) {
        const r = task === "dates" ? await runDates(s, H, seed) : await runPairRecall(s, H, seed);
        runs.push(r);
        ctx.log(`  heads ${task} H=${H} seed ${seed}: accuracy ${pct(r.accuracy)}%, ${r.msPerStep.toFixed(0)} ms/step, ${r.prunable}/${r.totalHeads} heads prunable`);
      }
    }
  }
  const of = (t: TaskName, H: number): Run[] => runs.filter((r) => r.task === t && r.heads === H);
  const stat = (t: TaskName, H: number, f: (r: Run) => number) => spread(of(t, H).map(f));
  const labels: Record<TaskName, string> = { dates: "dates (exact match)", "pair-recall": "pair recall" };
  const accSeries: ChartSeries[] = tasks.map((t) => ({
    name: labels[t], points: s.heads.map((H) => { const a = stat(t, H, (r) => r.accuracy); return { x: H, y: a.mean, lo: a.mean - a.std, hi: a.mean + a.std }; }),
  }));
  const speedSeries: ChartSeries[] = tasks.map((t) => ({
    name: `${labels[t]}: ms per training step`, points: s.heads.map((H) => ({ x: H, y: stat(t, H, (r) => r.msPerStep).mean })),
  }));
  const pruneSeries: ChartSeries[] = tasks.map((t) => ({
    name: labels[t], points: s.heads.map((H) => { const p = stat(t, H, (r) => r.prunable / r.totalHeads); return { x: H, y: p.mean, lo: p.mean - p.std, hi: p.mean + p.std }; }),
  }));
  const xAxis = { xLabel: "heads (width fixed at 64)", xLog: true, xTicks: s.heads };
  const svgs = {
    "heads-accuracy.svg": lineChartSvg(accSeries, { ...xAxis, title: "Accuracy against the number of heads", yLabel: "held-out accuracy (mean ± std)", yMin: 0, yMax: 1 }),
    "heads-speed.svg": lineChartSvg(speedSeries, { ...xAxis, title: "Training step time against the number of heads", yLabel: "ms per step" }),
    "heads-pruning.svg": lineChartSvg(pruneSeries, { ...xAxis, title: `Heads that can be switched off before accuracy drops by more than ${100 * s.tolerance} point`, yLabel: "fraction of all heads (mean ± std)", yMin: 0, yMax: 1 }),
  };
  const tables: Table[] = tasks.map((t) => ({
    caption: `${labels[t]}: accuracy (%), speed, and heads switched off before a ${100 * s.tolerance}-point drop (mean over seeds, of all heads of the model)`,
    columns: ["heads", "head dim", "parameters", "accuracy %", "ms / step", "ms / example (scoring)", "prunable heads"],
    rows: s.heads.map((H) => {
      const rs = of(t, H);
      return [H, s.width / H, rs[0]!.params.toLocaleString("en-US"), fmtSpread(stat(t, H, (r) => r.accuracy), pct), sig3(stat(t, H, (r) => r.msPerStep).mean),
        sig3(stat(t, H, (r) => r.msPerExample).mean), `${sig3(stat(t, H, (r) => r.prunable).mean)} / ${rs[0]!.totalHeads}`];
    }),
  }));
  const bestH = (t: TaskName): number => s.heads.reduce((b, H) => (stat(t, H, (r) => r.accuracy).mean > stat(t, b, (r) => r.accuracy).mean ? H : b), s.heads[0]!);
  const accAt = (t: TaskName, H: number): string => pct(stat(t, H, (r) => r.accuracy).mean);
  const H0 = s.heads[0]!, H1 = s.heads.at(-1)!;
  const slow = (t: TaskName): string => sig3(stat(t, H1, (r) => r.msPerStep).mean / stat(t, H0, (r) => r.msPerStep).mean);
  const bd = bestH("dates"), bp = bestH("pair-recall");
  const gain = (t: TaskName): number => stat(t, H1, (r) => r.accuracy).mean - stat(t, H0, (r) => r.accuracy).mean;
  const helped = tasks.filter((t) => gain(t) > 0.02).map((t) => labels[t]);
  const verdict =
    (helped.length === tasks.length ? `More heads helped on both tasks at this width` : helped.length ? `More heads helped on ${helped.join(", ")} only` : `More heads did not help at this width`) +
    `: dates ${accAt("dates", H0)}% with ${H0} head${H0 > 1 ? "s" : ""} and ${accAt("dates", H1)}% with ${H1} (best: ${bd}); pair recall ${accAt("pair-recall", H0)}% and ${accAt("pair-recall", H1)}% (best: ${bp}); ` +
    `while a step with ${H1} heads takes ${slow("dates")}× (dates) and ${slow("pair-recall")}× (pair recall) the time of ${H0} (the FLOPs are the same, split into smaller matrices). ` +
    `With ${H1} heads, ${sig3(stat("dates", H1, (r) => r.prunable / r.totalHeads).mean * 100)}% (dates) and ${sig3(stat("pair-recall", H1, (r) => r.prunable / r.totalHeads).mean * 100)}% (pair recall) of them can be switched off for at most ${100 * s.tolerance} point of accuracy.`;

  return {
    report: {
      setup: [
        `Width fixed at E = ${s.width} (head dim ${s.heads.map((H) => s.width / H).join(" / ")}), heads ${s.heads.join(", ")}; the parameter count does not depend on the number of heads.`,
        `Dates: the \`qkv demo\` model (1 encoder + 1 decoder layer, pre-norm, feed-forward ${2 * s.width}, no dropout), ${s.dates.steps} AdamW updates of ${s.dates.batchSize} pairs (lr ${s.dates.lr}), exact match of greedy decoding on ${s.dates.testSize} held-out dates. Its heads: encoder self-attention, decoder self-attention and cross-attention (3 × H).`,
        `Pair recall: sequences of ${s.pairRecall.length} tokens with one A-flagged value a and one B-flagged value b (values 0–3) at random positions; the answer is the pair (a, b), one of 16 classes (chance 6.25%). A ${s.pairRecall.layers}-layer transformer classifier, ${s.pairRecall.steps} updates of ${s.pairRecall.batchSize} (few on purpose: every head count learns the task given enough; the budget shows which learn it first), scored on ${s.pairRecall.evalSize} held-out sequences.`,
        `Head redundancy (Michel et al., 2019): each head's importance is the accuracy lost when it alone is switched off (its columns of the output projection zeroed); heads are switched off from the least important on until accuracy drops by more than ${100 * s.tolerance} point; the table counts those switched off before that. Seeds: ${ctx.seeds.join(", ")}.`,
      ].join("\n\n"),
      plots: [
        { file: "heads-accuracy.svg", caption: "Accuracy against the number of heads." },
        { file: "heads-speed.svg", caption: "Training step time against the number of heads." },
        { file: "heads-pruning.svg", caption: "Fraction of the heads that can be switched off within 1 point of accuracy." },
      ],
      tables,
      verdict,
      seeds: ctx.seeds,
      data: { settings: s, runs },
    },
    svgs,
  };
}

export const heads: Experiment = {
  name: "heads",
  title: "4. Number of heads",
  question: "The number of heads is a hyper-parameter: more heads are more expressive and cost more compute.",
  defaultSeeds: [0, 1],
  fullMinutes: 10,
  run,
};
