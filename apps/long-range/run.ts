/**
 * The trade-off experiment: the copy-the-first-token task (task.ts) at N = 2048, one small model
 * (model.ts) trained with each attention variant for the same steps, reporting accuracy, time per
 * step and peak memory; regenerates the table in docs/efficient-attention.md.
 *
 *   npx tsx apps/long-range/run.ts [--n 2048] [--steps 60] [--lr 0.05] [--batch 1] [--variants full,window] [--no-docs]
 *
 * Each variant trains in its own child process (so its peak RSS is its own).
 */
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
import { makeBatch } from "./task.js";

const V = 8, D_MODEL = 32, HEADS = 2;

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

interface Result { variant: string; acc: number; farAcc: number; loss: number; msPerStep: number; peakMB: number; steps: number }

function train(name: string, N: number, steps: number, B: number, lr: number): Result {
  const mk = variants[name];
  if (!mk) throw new Error(`unknown variant ${name}`);
  const model = new LongRangeModel(V, D_MODEL, HEADS, N, mk(N), 0);
  const opt = new Adam(model.parameters(), { lr });
  const data = new Generator(1);
  const base = process.resourceUsage().maxRSS / 1024;
  const times: number[] = [];
  let loss = NaN;
  for (let s = 0; s < steps; s++) {
    const b = makeBatch(data, B, N, V);
    const t0 = performance.now();
    opt.zeroGrad();
    const l = crossEntropy(model.forward(b.ids, b.flags), b.targets);
    backward(l);
    clipGradNorm(model.parameters(), 1);
    opt.step();
    times.push(performance.now() - t0);
    loss = l.item();
  }
  const peakMB = process.resourceUsage().maxRSS / 1024 - base;
  // evaluation on fresh sequences: all positions, and the far half (i >= N/2)
  const test = makeBatch(new Generator(99), 32, N, V);
  const pred = noGrad(() => argmax(model.forward(test.ids, test.flags), -1));
  let ok = 0, far = 0, nFar = 0;
  for (let x = 0; x < pred.size; x++) {
    const hit = pred.data[x] === test.targets.data[x] ? 1 : 0;
    ok += hit;
    if (x % N >= N / 2) { far += hit; nFar++; }
  }
  times.sort((a, b) => a - b);
  return { variant: name, acc: ok / pred.size, farAcc: far / nFar, loss, msPerStep: times[Math.floor(times.length / 2)]!, peakMB, steps };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function main(): void {
  const N = Number(arg("n", "2048")), steps = Number(arg("steps", "60")), B = Number(arg("batch", "1")), lr = Number(arg("lr", "0.05"));
  if (process.argv.includes("--child")) {
    process.stdout.write(`${JSON.stringify(train(arg("child", ""), N, steps, B, lr))}\n`);
    return;
  }
  const names = arg("variants", Object.keys(variants).join(",")).split(",").map((s) => s.trim());
  const self = fileURLToPath(import.meta.url);
  const rows: Result[] = [];
  const t0 = performance.now();
  for (const name of names) {
    const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", name, "--n", String(N), "--steps", String(steps), "--batch", String(B), "--lr", String(lr)], { encoding: "utf8" });
    const line = r.stdout.trim().split("\n").pop() ?? "";
    if (r.status !== 0 || !line.startsWith("{")) throw new Error(`${name} failed: ${r.stderr}`);
    const row = JSON.parse(line) as Result;
    rows.push(row);
    console.error(`${name}: acc ${row.acc.toFixed(3)}, far ${row.farAcc.toFixed(3)}, ${row.msPerStep.toFixed(0)} ms/step, ${row.peakMB.toFixed(0)} MB`);
  }
  const table = [
    `Copy-the-first-token, N = ${N}, V = ${V} (chance ${(1 / V).toFixed(3)}), dModel ${D_MODEL}, ${HEADS} heads, 1 layer, batch ${B}, ${steps} Adam steps (lr ${lr}, gradient norm clipped to 1); ` +
    `accuracy on 32 fresh sequences (all positions / positions >= N/2); time = median per training step; memory = peak RSS increase during training.`,
    "",
    "| variant | accuracy | far accuracy | final loss | ms / step | peak MB |",
    "|---|---:|---:|---:|---:|---:|",
    ...rows.map((r) => `| ${r.variant} | ${r.acc.toFixed(3)} | ${r.farAcc.toFixed(3)} | ${r.loss.toFixed(3)} | ${r.msPerStep.toFixed(0)} | ${r.peakMB.toFixed(0)} |`),
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
  }
}

main();
