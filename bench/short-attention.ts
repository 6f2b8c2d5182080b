/**
 * Attention at the short sequences of small models (a ViT's 50 patches, a translation batch's
 * 50 tokens): scaledDotProductAttention's fused kernel against the composed path (matmul,
 * softmax, matmul: what `needWeights: true` runs) on each qkv backend asked for, and against
 * PyTorch's F.scaled_dot_product_attention when its python imports torch. Forward + backward
 * (backward(out, dOut), gradients of q, k, v) unless --forward.
 *
 *   npm run bench -- short-attention [--backends native,wasm] [--shapes 128x4x50x16,40x4x50x64]
 *                                    [--reps 10] [--threads 1] [--forward] [--python PATH] [--no-peers]
 *
 * A shape is BxHxLxD (self-attention, L = S). Cells: median wall ms and process CPU ms after a
 * warm-up run; ratios are of wall times in this run.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  availableBackends, backward, Generator, loadBackends, noGrad, randn, scaledDotProductAttention, setBackend, setNumThreads,
  type BackendName, type Tensor,
} from "../src/node.js";
import { badOption, benchArgs } from "./argv.js";
import { wallAndCpu } from "./lib.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const { opt, int } = benchArgs(argv);
const usage = "npm run bench -- short-attention [--backends native,wasm] [--shapes 128x4x50x16,...] [--reps 10] [--threads 1] [--forward] [--python PATH] [--no-peers]";
if (argv.includes("-h") || argv.includes("--help")) {
  console.log(usage);
  process.exit(0);
}
const shapes = (opt("shapes") ?? "128x4x50x16,40x4x50x64,32x8x96x32,8x8x256x64,2x8x1024x64").split(",").map((s) => {
  const dims = s.split("x").map(Number);
  if (dims.length !== 4 || dims.some((d) => !Number.isInteger(d) || d < 1)) badOption(`--shapes: expected BxHxLxD, got ${s}`);
  return dims as [number, number, number, number];
});
const reps = int("reps", 10), threads = int("threads", 1), forwardOnly = argv.includes("--forward");
const python = opt("python") ?? process.env.QKV_BENCH_PYTHON ?? "python3";

loadBackends({ quiet: true });
setNumThreads(threads);
const backends = (opt("backends")?.split(",") ?? [availableBackends()[0]!]) as BackendName[];
type Time = { wall: number; cpu: number };
const ms = (t: Time): string => `${(t.wall * 1000).toFixed(2).padStart(8)} ms (${(t.cpu * 1000).toFixed(2)} cpu)`;

// One timed pass of attention on q, k, v [B, H, L, D]; composed = the weight-returning path.
function pass(q: Tensor, k: Tensor, v: Tensor, dOut: Tensor, composed: boolean): () => void {
  if (forwardOnly) return () => { noGrad(() => scaledDotProductAttention(q, k, v, { needWeights: composed })); };
  return () => {
    q.grad = k.grad = v.grad = null;
    backward(scaledDotProductAttention(q, k, v, { needWeights: composed }).output, dOut);
  };
}

console.log(`scaledDotProductAttention ${forwardOnly ? "forward" : "forward + backward"}, float32, ${threads} thread(s), median of ${reps}`);
const results: { shape: string; backend: string; fused: Time; composed: Time }[] = [];
for (const [B, H, L, D] of shapes) {
  const gen = new Generator(0);
  const mk = (): Tensor => randn([B, H, L, D], { generator: gen }).requiresGrad_(!forwardOnly);
  const q = mk(), k = mk(), v = mk(), dOut = randn([B, H, L, D], { generator: gen });
  for (const name of backends) {
    setBackend(name);
    const fused = wallAndCpu(pass(q, k, v, dOut, false), reps);
    const composed = wallAndCpu(pass(q, k, v, dOut, true), reps);
    const shape = `${B}x${H}x${L}x${D}`;
    results.push({ shape, backend: name, fused, composed });
    console.log(`  ${shape.padEnd(14)} qkv:${name.padEnd(7)} fused ${ms(fused)}  composed ${ms(composed)}  fused/composed ${(fused.wall / composed.wall).toFixed(2)}`);
  }
}

if (!argv.includes("--no-peers")) {
  const r = spawnSync(python, [path.join(root, "bench", "peers", "torch_sdpa.py"), "--shapes", shapes.map((s) => s.join("x")).join(","),
    "--reps", String(reps), "--threads", String(threads), ...(forwardOnly ? ["--forward"] : [])],
  { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) } });
  interface TorchRows { version: string; rows: Record<string, { ms: number; cpuMs: number }> }
  let t: TorchRows | null = null;
  try {
    t = r.status === 0 ? JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as TorchRows : null;
  } catch {
    t = null;
  }
  if (!t) {
    console.log(`PyTorch: not run (${r.error ? r.error.message : `${python} exited ${r.status}: ${(r.stderr ?? "").trim().split("\n").pop() ?? ""}`}); pass --python /path/to/python with torch`);
  } else {
    console.log(`PyTorch ${t.version} F.scaled_dot_product_attention; qkv / torch wall (below 1: qkv faster)`);
    for (const row of results) {
      const c = t.rows[row.shape];
      if (!c) continue;
      const best = Math.min(row.fused.wall, row.composed.wall) * 1000;
      console.log(`  ${row.shape.padEnd(14)} torch ${c.ms.toFixed(2).padStart(8)} ms  qkv:${row.backend} fused ${(row.fused.wall * 1000 / c.ms).toFixed(2)}x, composed ${(row.composed.wall * 1000 / c.ms).toFixed(2)}x, best ${(best / c.ms).toFixed(2)}x`);
    }
  }
}
