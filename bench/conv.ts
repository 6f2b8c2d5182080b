/**
 * conv2d speed: a k x k, C -> C convolution with padding k / 2 on x [batch, C, size, size]
 * (default 3x3, 64 -> 64, 32x32, batch 32), forward and forward + backward, on each qkv backend
 * asked for, against PyTorch CPU (F.conv2d) when its python imports torch; forward + backward is
 * y.backward(dy) on both sides. Also times the backend kernels alone (forward, input gradient,
 * weight gradient) on each backend.
 *
 *   npm run bench -- conv [--backends native,wasm] [--batch 32] [--channels 64] [--size 32] [--kernel 3]
 *                         [--reps 10] [--threads 2] [--python PATH] [--no-peers]
 *
 * Cells: median wall ms and process CPU ms (all threads) after a warm-up run; on a machine shared
 * with other work, wall time counts the slices other processes took. GFLOP/s from wall time, with
 * 2·B·C·C·k²·size² FLOPs for the forward and three times that for forward + backward.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  availableBackends, backward, conv2d, Generator, getBackend, loadBackends, mul, noGrad, randn, setBackend, setNumThreads,
  type BackendName, type Conv2dArgs,
} from "../src/node.js";
import { benchArgs } from "./argv.js";
import { wallAndCpu } from "./lib.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const { opt, int: num } = benchArgs(argv);
if (argv.includes("-h") || argv.includes("--help")) {
  console.log("npm run bench -- conv [--backends native,wasm] [--batch 32] [--channels 64] [--size 32] [--kernel 3] [--reps 10] [--threads 2] [--python PATH] [--no-peers]");
  process.exit(0);
}
const Bn = num("batch", 32), C = num("channels", 64), S = num("size", 32), k = num("kernel", 3);
const reps = num("reps", 10), threads = num("threads", 2);
const python = opt("python") ?? process.env.QKV_BENCH_PYTHON ?? "python3";

loadBackends({ quiet: true });
setNumThreads(threads);
const backends = (opt("backends")?.split(",") ?? [availableBackends()[0]!]) as BackendName[];
const gflop = (2 * Bn * C * C * k * k * S * S) / 1e9;
const gen = new Generator(0);
const x = randn([Bn, C, S, S], { generator: gen });
const w = mul(randn([C, C, k, k], { generator: gen }), 0.05);
const b = randn([C], { generator: gen });
const dy = randn([Bn, C, S, S], { generator: gen });
const pad = k >> 1;

const fmt = (t: { wall: number; cpu: number }, flops: number): string =>
  `${(t.wall * 1000).toFixed(1).padStart(8)} ms wall ${(t.cpu * 1000).toFixed(1).padStart(8)} ms cpu ${(flops / t.wall).toFixed(1).padStart(7)} GFLOP/s`;

console.log(`conv2d ${k}x${k}, ${C} -> ${C} channels, x [${Bn}, ${C}, ${S}, ${S}], padding ${pad}, float32; ${threads} threads; median of ${reps}`);
console.log(`GFLOP: forward ${gflop.toFixed(2)}, forward + backward ${(3 * gflop).toFixed(2)}`);
const timed: { name: string; fwd: { wall: number; cpu: number }; fb: { wall: number; cpu: number } }[] = [];
for (const name of backends) {
  setBackend(name);
  const fwd = wallAndCpu(() => { noGrad(() => conv2d(x, w, b, { padding: pad })); }, reps);
  const xs = x.detach().requiresGrad_(true), ws = w.detach().requiresGrad_(true), bs = b.detach().requiresGrad_(true);
  const fb = wallAndCpu(() => {
    xs.grad = ws.grad = bs.grad = null;
    backward(conv2d(xs, ws, bs, { padding: pad }), dy);
  }, reps);
  console.log(`  qkv:${name.padEnd(7)} forward           ${fmt(fwd, gflop)}`);
  console.log(`  qkv:${name.padEnd(7)} forward + backward ${fmt(fb, 3 * gflop)}`);
  timed.push({ name, fwd, fb });
}

// the backend kernels alone, on each backend
{
  const args: Conv2dArgs = { B: Bn, C, H: S, W: S, O: C, kH: k, kW: k, oH: S, oW: S, sH: 1, sW: 1, padTop: pad, padLeft: pad, dH: 1, dW: 1, G: 1 };
  const out = new Float32Array(dy.size), dx = new Float32Array(x.size), dw = new Float32Array(w.size);
  const xd = x.data as Float32Array, wd = w.data as Float32Array, bd = b.data as Float32Array, dyd = dy.data as Float32Array;
  for (const name of backends) {
    setBackend(name);
    const be = getBackend();
    const parts: [string, () => void][] = [
      ["conv2dForward", () => be.conv2dForward(out, xd, wd, bd, args)],
      ["conv2dBackwardInput", () => be.conv2dBackwardInput(dx, dyd, wd, args)],
      ["conv2dBackwardWeight", () => be.conv2dBackwardWeight(dw, dyd, xd, args)],
    ];
    console.log(`kernels (${be.name})`);
    for (const [label, fn] of parts) console.log(`  ${label.padEnd(20)} ${fmt(wallAndCpu(fn, reps), gflop)}`);
  }
}

interface TorchConv {
  version: string; threads: number; mkldnn: boolean; cpuCapability: string;
  fwd: { ms: number; cpuMs: number }; fwdBwd: { ms: number; cpuMs: number };
}

if (!argv.includes("--no-peers")) {
  const r = spawnSync(python, [path.join(root, "bench", "peers", "torch_conv.py"), "--batch", String(Bn), "--channels", String(C),
    "--size", String(S), "--kernel", String(k), "--reps", String(reps), "--threads", String(threads)],
  { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) } });
  const last = r.stdout?.trim().split("\n").pop() ?? "";
  let t: TorchConv | null = null;
  try {
    t = r.status === 0 ? JSON.parse(last) as TorchConv : null;
  } catch {
    t = null;
  }
  if (!t) {
    console.log(`PyTorch: not run (${r.error ? r.error.message : `${python} exited ${r.status}: ${(r.stderr ?? "").trim().split("\n").pop() ?? ""}`}); pass --python /path/to/python with torch`);
  } else {
    console.log(`PyTorch ${t.version} (CPU capability ${t.cpuCapability}, mkldnn ${t.mkldnn}, ${t.threads} threads)`);
    const row = (label: string, c: { ms: number; cpuMs: number }, f: number): string =>
      `  torch         ${label} ${fmt({ wall: c.ms / 1000, cpu: c.cpuMs / 1000 }, f)}`;
    console.log(row("forward          ", t.fwd, gflop));
    console.log(row("forward + backward", t.fwdBwd, 3 * gflop));
    const ratio = (q: { wall: number; cpu: number }, c: { ms: number; cpuMs: number }): string =>
      `${((q.wall * 1000) / c.ms).toFixed(2)}x wall, ${((q.cpu * 1000) / c.cpuMs).toFixed(2)}x cpu`;
    console.log("qkv / torch (this run; below 1: qkv faster)");
    for (const q of timed) {
      console.log(`  qkv:${q.name.padEnd(7)} forward ${ratio(q.fwd, t.fwd)}; forward + backward ${ratio(q.fb, t.fwdBwd)}`);
    }
  }
}
