/**
 * The trade-off experiment: the retrieve-the-flagged-token task (task.ts) at N = 2048, one small
 * model (model.ts) trained with each attention variant for the same steps and data, reporting
 * accuracy (all positions, near the flag, far from it), time per step and peak memory on the
 * default backend of the Node entry (native when its addon is built); regenerates the table in
 * docs/efficient-attention.md.
 *
 *   npx tsx apps/long-range/run.ts [--n 2048] [--steps 300] [--lr 0.01] [--batch 8] [--task random|first]
 *                                  [--seeds 3] [--variants full,window] [--no-docs]
 *
 * Each (variant, seed) trains in its own child process (so its peak RSS is its own); seed s draws
 * the model's initial weights, the training batches and the evaluation sequences (seed 0: model 0,
 * data 1, evaluation 99). Writes the table into docs/efficient-attention.md and the plot of
 * accuracy against time per step to docs/long-range-tradeoff.svg.
 */
import { getNumThreads } from "../../src/node.js";
import { getNativeIsa } from "../../src/backend/native/index.js";
import { getBackend } from "../../src/backend/registry.js";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/graph.js";
import type { AttentionSpec } from "../../src/attention/select.js";
import { crossEntropy } from "../../src/ops/functional.js";
import { argmax } from "../../src/ops/reduce.js";
import { Adam } from "../../src/optim/adam.js";
import { clipGradNorm } from "../../src/optim/clip.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { LongRangeModel } from "./model.js";
import { tradeoffSvg } from "./plot.js";
import { makeBatch, type FlagPosition } from "./task.js";

const V = 8, D_MODEL = 32, HEADS = 2;
/** Positions within NEAR of the flag count as near (every window here reaches them); beyond FAR as far. */
const NEAR = 16, FAR = 256;

function bandLayout(n: number): Tensor {
  const d = new Uint8Array(n * n);
  for (let r = 0; r < n; r++) for (let c = Math.max(0, r - 1); c <= Math.min(n - 1, r + 1); c++) d[r * n + c] = 1;
  return new Tensor(d, [n, n], "bool");
}

export const variants: Record<string, (N: number) => AttentionSpec> = {
  "full": () => ({ kind: "full" }),
  "window w=64": () => ({ kind: "window", window: 64 }),
  "dilated w=16 d=8": () => ({ kind: "dilated", window: 16, dilation: 8 }),
  "longformer w=64 g=16": () => ({ kind: "longformer", window: 64, numGlobal: 16 }),
  "bigbird bs=32 w=1 g=1 r=2": () => ({ kind: "bigbird", window: 1, numGlobal: 1, numRandom: 2, blockSize: 32, seed: 0 }),
  "block band bs=64": (N) => ({ kind: "block", layout: bandLayout(Math.ceil(N / 64)), blockSize: 64 }),
  "linformer k=64": () => ({ kind: "linformer", k: 64 }),
  "nystrom m=32": () => ({ kind: "nystrom", landmarks: 32 }),
  "linear": () => ({ kind: "linear" }),
  "performer m=64": () => ({ kind: "performer", features: 64, seed: 0 }),
};

interface Result {
  variant: string; seed: number; acc: number; nearAcc: number; farAcc: number; loss: number; msPerStep: number;
  peakMB: number; steps: number; trainS: number;
}

function train(name: string, N: number, steps: number, B: number, lr: number, task: FlagPosition, seed: number): Result {
  const mk = variants[name];
  if (!mk) throw new Error(`unknown variant ${name}`);
  const model = new LongRangeModel(V, D_MODEL, HEADS, N, mk(N), seed);
  const opt = new Adam(model.parameters(), { lr });
  const data = new Generator(1 + 1000 * seed);
  const base = process.resourceUsage().maxRSS / 1024;
  const times: number[] = [];
  const losses: number[] = [];
  const t1 = performance.now();
  for (let s = 0; s < steps; s++) {
    const b = makeBatch(data, B, N, V, task);
    const t0 = performance.now();
    opt.zeroGrad();
    const l = crossEntropy(model.forward(b.ids, b.flags), b.targets);
    backward(l);
    clipGradNorm(model.parameters(), 1);
    opt.step();
    times.push(performance.now() - t0);
    losses.push(l.item());
  }
  const trainS = (performance.now() - t1) / 1000;
  const tail = losses.slice(-10);
  const loss = tail.reduce((a, b) => a + b, 0) / tail.length;
  const peakMB = process.resourceUsage().maxRSS / 1024 - base;
  // evaluation on 32 fresh sequences: all positions, those near the flag, those far from it
  const test = makeBatch(new Generator(99 + 1000 * seed), 32, N, V, task);
  const pred = noGrad(() => argmax(model.forward(test.ids, test.flags), -1));
  let ok = 0, near = 0, nNear = 0, far = 0, nFar = 0;
  for (let x = 0; x < pred.size; x++) {
    const hit = pred.data[x] === test.targets.data[x] ? 1 : 0;
    const dist = Math.abs((x % N) - test.flagAt[Math.floor(x / N)]!);
    ok += hit;
    if (dist <= NEAR) { near += hit; nNear++; }
    if (dist > FAR) { far += hit; nFar++; }
  }
  times.sort((a, b) => a - b);
  return {
    variant: name, seed, acc: ok / pred.size, nearAcc: near / nNear, farAcc: far / nFar, loss,
    msPerStep: times[Math.floor(times.length / 2)]!, peakMB, steps, trainS,
  };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** One variant over its seeds. */
interface Summary {
  variant: string; acc: number; accMin: number; accMax: number; nearAcc: number; farAcc: number; loss: number;
  msPerStep: number; peakMB: number;
}

function summarize(variant: string, runs: readonly Result[]): Summary {
  const accs = runs.map((r) => r.acc);
  return {
    variant, acc: mean(accs), accMin: Math.min(...accs), accMax: Math.max(...accs),
    nearAcc: mean(runs.map((r) => r.nearAcc)), farAcc: mean(runs.map((r) => r.farAcc)), loss: mean(runs.map((r) => r.loss)),
    msPerStep: mean(runs.map((r) => r.msPerStep)), peakMB: Math.max(...runs.map((r) => r.peakMB)),
  };
}

function main(): void {
  const positiveInt = (name: string, fallback: string): number => {
    const v = Number(arg(name, fallback));
    if (!Number.isInteger(v) || v < 1) throw new Error(`long-range: --${name} expected a positive integer, got ${JSON.stringify(arg(name, fallback))}`);
    return v;
  };
  const N = positiveInt("n", "2048"), steps = positiveInt("steps", "300"), B = positiveInt("batch", "8");
  const seeds = positiveInt("seeds", "3");
  const lr = Number(arg("lr", "0.01"));
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`long-range: --lr expected a positive number, got ${JSON.stringify(arg("lr", "0.01"))}`);
  const task = arg("task", "random");
  if (task !== "random" && task !== "first") throw new Error(`--task must be random or first, got ${task}`);
  if (process.argv.includes("--child")) {
    process.stdout.write(`${JSON.stringify(train(arg("child", ""), N, steps, B, lr, task, Number(arg("seed", "0"))))}\n`);
    return;
  }
  const names = arg("variants", Object.keys(variants).join(",")).split(",").map((s) => s.trim());
  const unknown = names.filter((n) => !(n in variants));
  if (unknown.length) throw new Error(`long-range: --variants expected names from ${Object.keys(variants).join(", ")}; got unknown ${unknown.join(", ")}`);
  const self = fileURLToPath(import.meta.url);
  const rows: Summary[] = [];
  const t0 = performance.now();
  for (const name of names) {
    const runs: Result[] = [];
    for (let seed = 0; seed < seeds; seed++) {
      const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", name, "--seed", String(seed), "--n", String(N),
        "--steps", String(steps), "--batch", String(B), "--lr", String(lr), "--task", task], { encoding: "utf8" });
      const line = r.stdout.trim().split("\n").pop() ?? "";
      if (r.status !== 0 || !line.startsWith("{")) throw new Error(`${name} seed ${seed} failed: ${r.stderr}`);
      const row = JSON.parse(line) as Result;
      runs.push(row);
      console.error(`${name} seed ${seed}: acc ${row.acc.toFixed(3)}, near ${row.nearAcc.toFixed(3)}, far ${row.farAcc.toFixed(3)}, ` +
        `loss ${row.loss.toFixed(3)}, ${row.msPerStep.toFixed(0)} ms/step, ${row.peakMB.toFixed(0)} MB, ${row.trainS.toFixed(0)} s`);
    }
    rows.push(summarize(name, runs));
  }
  const be = getBackend().name;
  const backendLabel = be === "native" ? `native backend (${getNativeIsa()}, ${getNumThreads()} threads)` : `${be} backend`;
  const what = task === "random" ? "Retrieve-the-flagged-token (flag at a uniformly random position)" : "Copy-the-first-token (flag at position 0)";
  const table = [
    `${what}, N = ${N}, V = ${V} (chance ${(1 / V).toFixed(3)}), dModel ${D_MODEL}, ${HEADS} heads, 1 layer, batch ${B}, ` +
    `${steps} Adam steps (lr ${lr}, gradient norm clipped to 1), float32 on the ${backendLabel}, ${seeds} seed${seeds === 1 ? "" : "s"} ` +
    `(initial weights, training data and evaluation sequences); accuracy on 32 fresh sequences per seed: ` +
    `all positions (mean, lowest–highest seed) / within ${NEAR} of the flag / farther than ${FAR} from it (means); loss = mean of ` +
    `the last 10 training steps; time = median per training step (mean over seeds); memory = peak RSS increase during training ` +
    `(highest seed).`,
    "",
    "| variant | accuracy | range | near accuracy | far accuracy | loss | ms / step | peak MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.variant} | ${r.acc.toFixed(3)} | ${r.accMin.toFixed(3)}–${r.accMax.toFixed(3)} | ${r.nearAcc.toFixed(3)} | ` +
      `${r.farAcc.toFixed(3)} | ${r.loss.toFixed(3)} | ${r.msPerStep.toFixed(0)} | ${r.peakMB.toFixed(0)} |`),
  ].join("\n");
  console.log(table);
  console.error(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const doc = "docs/efficient-attention.md";
  const begin = "<!-- long-range:begin -->", end = "<!-- long-range:end -->";
  if (!process.argv.includes("--no-docs") && existsSync(doc)) {
    const text = readFileSync(doc, "utf8");
    const a = text.indexOf(begin), b = text.indexOf(end);
    if (a >= 0 && b > a) {
      writeFileSync(doc, `${text.slice(0, a + begin.length)}\n${table}\n${text.slice(b)}`);
      console.error(`updated ${doc}`);
    }
    const svg = "docs/long-range-tradeoff.svg";
    const points = rows.map((r) => ({ label: r.variant, acc: r.acc, accMin: r.accMin, accMax: r.accMax, msPerStep: r.msPerStep, peakMB: r.peakMB }));
    writeFileSync(svg, tradeoffSvg(points, `${task === "random" ? "retrieve-the-flagged-token" : "copy-the-first-token"}, N = ${N}: accuracy against time per step (${seeds} seeds)`, 1 / V));
    console.error(`wrote ${svg}`);
  }
}

main();
