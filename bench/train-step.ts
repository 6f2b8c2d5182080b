/**
 * What the buffer pool saves a training step: the default ViT of `qkv classify` (batch 128, AdamW)
 * trained with the pool off, with backward's recycling of gradient temporaries only, with the
 * step's graph freed after each update, and with the parameters' gradients given back at the next
 * step's zeroGrad too (`zeroGrad({ release: true })`: both are what fit's `freeGraph` and so the
 * apps do). Each mode runs in its
 * own child process, the modes interleaved round after round, so that other load on the machine
 * falls on all of them alike. Per mode: CPU time per step of the whole process (every thread, the
 * garbage collector's included), wall time per step, and the collections per step (Node's `gc`
 * performance entries: major = mark-compact, minor = scavenge). The losses of every mode are the
 * same bits (test/autograd/recycle.test.ts, free-graph.test.ts, release-grads.test.ts).
 *
 *   npm run bench -- train-step [--steps 15] [--rounds 2]
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { freeGraph } from "../src/autograd/free-graph.js";
import { crossEntropy } from "../src/ops/functional.js";
import { getNumThreads, loadBackends } from "../src/node.js";
import { VisionTransformer } from "../src/nn/vit.js";
import { AdamW } from "../src/optim/adam.js";
import { setBufferPool } from "../src/tensor/pool.js";
import { Generator } from "../src/tensor/rng.js";
import { randint, randn } from "../src/tensor/tensor.js";
import { benchArgs } from "./argv.js";
import { machineInfo } from "./lib.js";

type Mode = "off" | "recycle" | "free" | "grads";
const MODES: readonly Mode[] = ["off", "recycle", "free", "grads"];
const TITLE: Record<Mode, string> = {
  off: "pool off",
  recycle: "backward recycles gradient temporaries",
  free: "and the graph is freed after each update",
  grads: "and the gradients go back at zeroGrad (the apps' loops)",
};

interface Result { cpuMs: number; wallMs: number; major: number; minor: number }

/** One mode in this process: warm-up steps, then `steps` timed ones. */
async function child(mode: Mode, steps: number): Promise<Result> {
  loadBackends({ quiet: true });
  setBufferPool(mode !== "off");
  const vit = new VisionTransformer({ imageSize: [28, 28], patchSize: 4, inChannels: 1, numClasses: 10, dim: 64, depth: 6, heads: 4, mlpRatio: 2 },
    { generator: new Generator(1) });
  const opt = new AdamW(vit.parameters(), { lr: 1e-3 });
  const x = randn([128, 1, 28, 28], { generator: new Generator(2) }); // [B, 1, 28, 28]
  const y = randint(0, 10, [128], { generator: new Generator(3) });
  const step = (): void => {
    opt.zeroGrad({ release: mode === "grads" });
    const loss = crossEntropy(vit.forward(x), y);
    loss.backward();
    opt.step();
    if (mode === "free" || mode === "grads") freeGraph(loss);
  };
  for (let i = 0; i < 3; i++) step();
  let major = 0, minor = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  const c0 = process.cpuUsage(), t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const c = process.cpuUsage(c0), wall = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 100)); // gc entries are delivered asynchronously
  obs.disconnect();
  return { cpuMs: (c.user + c.system) / 1e3 / steps, wallMs: wall / steps, major: major / steps, minor: minor / steps };
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  console.log(JSON.stringify(await child(argv[1] as Mode, Number(argv[2]))));
} else {
  const args = benchArgs(argv);
  const steps = args.int("steps", 15), rounds = args.int("rounds", 2);
  loadBackends({ quiet: true });
  const m = machineInfo();
  console.log(`ViT (dim 64, depth 6, 4 heads, MLP ratio 2), batch 128, AdamW; ${steps} steps after 3 of warm-up, ${rounds} rounds, ` +
    `${getNumThreads()} thread(s)`);
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, node ${m.node}, load average ${m.loadAvgStart.toFixed(1)} at the start`);
  const runs: Record<Mode, Result[]> = { off: [], recycle: [], free: [], grads: [] };
  const self = fileURLToPath(import.meta.url);
  for (let r = 0; r < rounds; r++) {
    for (const mode of MODES) {
      const p = spawnSync(process.execPath, ["--import", "tsx", self, "--child", mode, String(steps)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
      if (p.status !== 0) throw new Error(`train-step: the ${mode} child failed (status ${p.status})`);
      runs[mode].push(JSON.parse(p.stdout.trim().split("\n").pop()!) as Result);
    }
  }
  const best = (rs: Result[], k: keyof Result): number => Math.min(...rs.map((r) => r[k]));
  const base = best(runs.off, "cpuMs");
  console.log("| mode | CPU ms / step | wall ms / step | major GCs / step | minor GCs / step | CPU vs pool off |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const mode of MODES) {
    const rs = runs[mode];
    console.log(`| ${TITLE[mode]} | ${best(rs, "cpuMs").toFixed(0)} | ${best(rs, "wallMs").toFixed(0)} | ${best(rs, "major").toFixed(1)} | ` +
      `${best(rs, "minor").toFixed(1)} | ${(best(rs, "cpuMs") / base).toFixed(2)}x |`);
  }
  console.log("(best of the rounds for each figure)");
}
