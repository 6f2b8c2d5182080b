/**
 * Experiment 1, long-range dependencies: accuracy on the flagged-token task (the answer is the
 * token D positions before the query) against D, for LSTM, GRU, a transformer encoder and
 * efficient-attention encoders, at matched parameter counts and training budgets.
 */
import { manualSeed } from "../../tensor/rng.js";
import { lineChartSvg, type ChartSeries } from "../../viz/chart.js";
import type { Experiment, RunContext } from "./experiment.js";
import { countParameters, matchedTo, modelLabels, referenceParameters, SequenceClassifier, type ModelKind } from "./models.js";
import { fmtSpread, pct, sig3, spread, type ExperimentOutput, type Spread } from "./results.js";
import { flaggedTokenTask } from "./tasks.js";
import { trainClassifier } from "./train.js";

interface Settings {
  distances: number[];
  kinds: ModelKind[];
  /** Tokens before the flagged one (sequence length L = D + 1 + prefix). */
  prefix: number;
  values: number;
  /** Width E of the reference transformer; every model is sized to its parameter count. */
  referenceWidth: number;
  /** Attention heads of the transformers. */
  heads: number;
  steps: number;
  batchSize: number;
  lr: number;
  evalSize: number;
}

const FULL: Settings = {
  distances: [8, 16, 32, 64, 128, 1024], kinds: ["lstm", "gru", "transformer", "linear", "window"],
  prefix: 3, values: 8, referenceWidth: 40, heads: 2, steps: 150, batchSize: 16, lr: 3e-3, evalSize: 512,
};
const QUICK: Settings = {
  distances: [8, 32], kinds: ["lstm", "gru", "transformer", "linear", "window"],
  prefix: 3, values: 8, referenceWidth: 40, heads: 2, steps: 40, batchSize: 16, lr: 3e-3, evalSize: 128,
};

interface Run {
  kind: ModelKind;
  distance: number;
  seed: number;
  params: number;
  width: number;
  accuracy: number;
  finalLoss: number;
  msPerStep: number;
}

async function run(ctx: RunContext): Promise<ExperimentOutput> {
  const s = ctx.quick ? QUICK : FULL;
  const runs: Run[] = [];
  for (const D of s.distances) {
    const task = flaggedTokenTask({ length: D + 1 + s.prefix, distance: D, values: s.values });
    for (const kind of s.kinds) {
      for (const seed of ctx.seeds) {
        manualSeed(seed);
        const cfg = matchedTo(kind, { vocabSize: task.vocabSize, classes: task.classes, maxLen: task.length }, s.referenceWidth, { heads: s.heads });
        const model = new SequenceClassifier(cfg);
        const r = await trainClassifier(model, task, { steps: s.steps, batchSize: s.batchSize, seed, lr: s.lr, evalSize: s.evalSize });
        runs.push({ kind, distance: D, seed, params: countParameters(model), width: cfg.width, accuracy: r.accuracy, finalLoss: r.finalLoss, msPerStep: r.msPerStep });
        ctx.log(`  long-range D=${D} ${kind} seed ${seed}: accuracy ${pct(r.accuracy)}%, ${r.msPerStep.toFixed(0)} ms/step`);
      }
    }
  }
  const acc = (k: ModelKind, D: number): Spread => spread(runs.filter((r) => r.kind === k && r.distance === D).map((r) => r.accuracy));
  const chance = 1 / s.values;
  const series: ChartSeries[] = s.kinds.map((k) => ({
    name: modelLabels[k],
    points: s.distances.map((D) => { const a = acc(k, D); return { x: D, y: a.mean, lo: a.mean - a.std, hi: a.mean + a.std }; }),
  }));
  series.push({ name: `chance (1/${s.values})`, points: s.distances.map((D) => ({ x: D, y: chance })), color: "#999999", dashed: true });
  const svg = lineChartSvg(series, {
    title: "Flagged-token task: held-out accuracy against distance", xLabel: "distance D from the flagged token to the query (log scale)",
    yLabel: "accuracy (mean ± std over seeds)", xLog: true, xTicks: s.distances, yMin: 0, yMax: 1,
  });

  const paramsOf = (k: ModelKind): string => {
    const ps = [...new Set(runs.filter((r) => r.kind === k).map((r) => r.params))];
    return ps.length === 1 ? ps[0]!.toLocaleString("en-US") : `${Math.min(...ps).toLocaleString("en-US")}–${Math.max(...ps).toLocaleString("en-US")}`;
  };
  const widthOf = (k: ModelKind): number => runs.find((r) => r.kind === k)!.width;
  const table = {
    caption: "Held-out accuracy (%), mean ± std over seeds; the last columns: parameters and the model's width (E, or the hidden size)",
    columns: ["model", ...s.distances.map((D) => `D = ${D}`), "parameters", "width", "ms / step (longest D)"],
    rows: s.kinds.map((k) => [
      modelLabels[k], ...s.distances.map((D) => fmtSpread(acc(k, D), pct)), paramsOf(k), widthOf(k),
      sig3(spread(runs.filter((r) => r.kind === k && r.distance === s.distances.at(-1)).map((r) => r.msPerStep)).mean),
    ]),
  };

  const maxD = s.distances.at(-1)!;
  const solved = (k: ModelKind): number | null => {
    let last: number | null = null;
    for (const D of s.distances) { if (acc(k, D).mean >= 0.9) last = D; else break; }
    return last;
  };
  const full = acc("transformer", maxD).mean;
  const rnnBest = Math.max(acc("lstm", maxD).mean, acc("gru", maxD).mean);
  const reachOf = (k: ModelKind): string => (solved(k) === null ? "at no D" : `up to D = ${solved(k)}`);
  const reach = s.kinds.map((k) => `${modelLabels[k]} ${reachOf(k)}`).join("; ");
  const attnReach = solved("transformer") ?? 0, rnnReach = Math.max(solved("lstm") ?? 0, solved("gru") ?? 0);
  const verdict =
    `${attnReach > rnnReach ? "The claim holds at this budget" : attnReach < rnnReach ? "The claim fails at this budget" : "No clear difference at this budget"}: ` +
    `held-out accuracy is ≥ 90% — ${reach}. At D = ${maxD} full attention reaches ${pct(full)}% and the better recurrent net ${pct(rnnBest)}% (chance ${pct(chance)}%)` +
    (full < 0.5 ? `: attention's path to the flag is one step at any D, but at initialization it spreads its weight over all ${maxD + 1 + s.prefix} positions, so the signal that teaches the lookup shrinks with D and ${s.steps} updates no longer suffice.` : ".") +
    (s.kinds.includes("window") ? ` The window variant cannot see past 2 layers × 16 positions, so it can only guess beyond D = 32: efficient attention keeps the long path only if its pattern does.` : "");

  return {
    report: {
      setup: [
        `The flagged-token task: a sequence of random values 0–${s.values - 1}, one of them flagged (its own token ids), the query token last; the answer is the flagged value, which sits exactly D positions before the query (sequence length D + ${1 + s.prefix}). Chance is ${pct(chance)}%.`,
        `Models (one classifier: embedding, body, a linear layer on the last position): ${s.kinds.map((k) => modelLabels[k]).join(", ")}; transformers are 2 pre-norm layers, ${s.heads} heads, feed-forward 2E, sinusoidal positions; recurrent nets 1 layer with 32-wide embeddings.`,
        `Matched parameters: the reference is the full-attention transformer at E = ${s.referenceWidth} (${referenceParameters({ vocabSize: 2 * s.values + 1, classes: s.values, maxLen: 0 }, s.referenceWidth).toLocaleString("en-US")} parameters; the efficient variants have the same); the recurrent nets' hidden size is the one whose parameter count is closest (table). Matched budget: every model gets the same ${s.steps} AdamW updates (lr ${s.lr}, warm-up and cosine decay, gradient norm clipped to 1) on the same ${s.batchSize}-sequence batches drawn from the seed, and is scored on the same ${s.evalSize} held-out sequences. Seeds: ${ctx.seeds.join(", ")}.`,
      ].join("\n\n"),
      plots: [{ file: "long-range.svg", caption: "Accuracy against D (log scale); bars: ± one standard deviation over seeds." }],
      tables: [table],
      verdict,
      seeds: ctx.seeds,
      data: { settings: s, runs },
    },
    svgs: { "long-range.svg": svg },
  };
}

export const longRange: Experiment = {
  name: "long-range",
  title: "1. Long-range dependencies",
  question: "RNNs capture long-range dependencies poorly; self-attention relates every position to every other directly, so it captures them.",
  defaultSeeds: [0, 1],
  fullMinutes: 25,
  run,
};
