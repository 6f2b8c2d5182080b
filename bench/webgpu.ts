/**
 * The WebGPU kernels (src/backend/webgpu/) on a GPU, fp32: GEMM at n = 1024, 2048, 4096 by each
 * GEMM kernel the device has (the 64 and 128 tiles, the subgroup kernel, and the 128 tile with
 * fp16 staging where it has shader-f16: matmul.ts; the fastest fp32 one at each n is marked) and the
 * attention core forward and forward + backward at B = 1, H = 8, D = 64, N = 1024, 2048, 4096,
 * then at each N the sliding window's sparse attention (|i - j| <= 128) and linear attention against
 * it, then a 3 x 3 convolution's passes (the weight gradient split over K three ways) (the
 * measurement and its spot checks: test/browser/webgpu-bench.ts), with PyTorch CUDA's
 * torch.matmul and F.scaled_dot_product_attention on the same GPU when --torch names a python.
 *
 *   npm run bench -- webgpu [--sizes 1024,2048,4096] [--reps 10] [--warmup 2] [--torch PYTHON]
 *                           [--peak TFLOPS] [--json FILE] [--webgpu PATH] [--cpu-adapter]
 *                           [--browser] [--browser-gpu]
 *
 * In Node the device comes from the optional `webgpu` package (dawn.node: `npm install webgpu`;
 * --webgpu PATH when it is elsewhere); where there is none, or no adapter, or only a CPU one
 * (SwiftShader, lavapipe; --cpu-adapter measures it anyway), the bench says so, measures nothing
 * and exits 0. --browser runs the same measurement in headless Chromium on SwiftShader (the
 * harness of test/browser/webgpu.test.ts), at tiny sizes unless --sizes says otherwise: it proves
 * the path, and its times are SwiftShader's, not a GPU's; --browser-gpu lets Chromium pick its
 * adapter instead. Times are GPU timestamps where the adapter has timestamp-query, else wall
 * clock from submit to onSubmittedWorkDone; medians after warm-up. --peak gives the chip's fp32
 * peak (an H100 / H200 SXM: 67 TFLOP/s by the datasheet) to print GEMM as a share of it. Exit
 * code 1 when a spot check fails.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebGPUKernels, WebGPUUnavailableError } from "../src/backend/webgpu/index.js";
import type { BenchConfig, BenchResult, Check, GemmRow } from "../test/browser/webgpu-bench.js";
import { runBench } from "../test/browser/webgpu-bench.js";
import { WINDOW } from "../test/browser/webgpu-bench-efficient.js";
import { badOption, benchArgs } from "./argv.js";
import { benchDevice } from "./node-device.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const usage = `npm run bench -- webgpu [--sizes 1024,2048,4096] [--reps 10] [--warmup 2] [--torch PYTHON] [--peak TFLOPS]
                        [--json FILE] [--webgpu PATH] [--cpu-adapter] [--browser] [--browser-gpu]`;
const { opt, int } = benchArgs(argv);
const has = (flag: string): boolean => argv.includes(flag);
const log = (line: string): void => { process.stderr.write(`${line}\n`); };

interface TorchPeer {
  version: string;
  device: string;
  sdpaKernels: string[];
  gemm: Record<string, { ms: number; tflops: number }>;
  attention: Record<string, { forwardMs: number; forwardBackwardMs: number; forwardTflops: number; forwardBackwardTflops: number }>;
}

/** SwiftShader (--browser, or --cpu-adapter in Node) runs tiny sizes and 3 reps unless told otherwise: it proves the path. */
const tiny = (browser: boolean, cpu: boolean): boolean => (browser && !has("--browser-gpu")) || cpu;

function sizesOf(browser: boolean, cpu: boolean): number[] {
  const given = opt("sizes");
  const sizes = (given ?? (tiny(browser, cpu) ? "32,64" : "1024,2048,4096")).split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) badOption(`--sizes: expected positive integers, got ${given}`);
  return sizes;
}

const config = (browser: boolean, cpu: boolean): BenchConfig =>
  ({ sizes: sizesOf(browser, cpu), H: 8, D: 64, reps: int("reps", tiny(browser, cpu) ? 3 : 10), warmup: int("warmup", 2) });

/** The measurement in headless Chromium (SwiftShader unless --browser-gpu). */
async function inBrowser(): Promise<BenchResult> {
  const { findChromium } = await import("../tools/playground/site.js");
  const { openWebgpuPage, GPU_ARGS, SWIFTSHADER_ARGS } = await import("../test/browser/webgpu-harness.js");
  const chromium = findChromium();
  if (!chromium) throw new WebGPUUnavailableError("bench webgpu", "--browser", "a Chromium binary (QKV_CHROMIUM or chromium on the PATH)", "none");
  const opened = await openWebgpuPage(chromium, new URL("../test/browser/webgpu-bench-page.ts", import.meta.url),
    has("--browser-gpu") ? GPU_ARGS : SWIFTSHADER_ARGS, 3_600_000);
  opened.page.on("console", (m) => log(`  ${m.text()}`));
  try {
    const c = config(true, false);
    type Api = { qkvWebgpuBench?: { run(c: BenchConfig): Promise<BenchResult> } };
    return await opened.page.evaluate((cc) => (globalThis as Api).qkvWebgpuBench!.run(cc), c);
  } finally {
    await opened.close();
  }
}

/** The measurement in Node on dawn.node; null (after saying why) where there is no GPU to measure. */
async function inNode(): Promise<BenchResult | null> {
  const device = await benchDevice(opt("webgpu"), has("--cpu-adapter"));
  if (typeof device === "string") {
    console.log(`No GPU: ${device}\nNothing was measured.`);
    return null;
  }
  const kernels = new WebGPUKernels(device), g = kernels.gpu;
  try {
    return await runBench(kernels, config(false, g.cpu), (line) => log(`  ${line}`));
  } finally {
    g.device.destroy();
  }
}

function torchPeer(python: string, c: BenchConfig): TorchPeer | string {
  const script = path.join(root, "bench", "peers", "torch_sdpa_cuda.py");
  const r = spawnSync(python, [script, "--sizes", c.sizes.join(","), "--heads", String(c.H), "--dim", String(c.D),
    "--gemm", c.sizes.join(","), "--reps", String(c.reps), "--warmup", String(Math.max(c.warmup, 3))],
  { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.error) return `${python} did not run (${r.error.message})`;
  const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
  let out: unknown = null;
  try {
    out = JSON.parse(line);
  } catch {
    out = null;
  }
  if (r.status !== 0 || typeof out !== "object" || out === null) return `${python} exited ${r.status}: ${(r.stderr ?? "").trim().split("\n").pop() ?? ""}`;
  return "unavailable" in out ? String(out.unavailable) : out as TorchPeer;
}

const f = (x: number, d = 3): string => x.toFixed(d);
const checkText = (c: Check): string => `${c.ok ? "ok" : "FAILED"}: ${c.samples} samples, worst ${c.worst.toFixed(3)} of its bound${c.ok ? "" : ` (${c.detail})`}`;

/** The fastest fp32 GEMM row at n whose spot checks passed (fp16 is not fp32), or undefined. */
function bestGemm(r: BenchResult, n: number): GemmRow | undefined {
  return r.gemm.filter((g) => g.n === n && g.kernel !== "fp16" && g.check.ok).reduce<GemmRow | undefined>((b, g) => (!b || g.time.ms < b.time.ms ? g : b), undefined);
}

function report(r: BenchResult, via: string, torch: TorchPeer | string | null, peak: number | null): string {
  const out: string[] = [];
  const a = r.adapter, c = r.config;
  const swiftshader = a.cpu;
  out.push(`WebGPU kernels, fp32, through ${via}`);
  out.push(`adapter: vendor ${a.vendor || "?"}, architecture ${a.architecture || "?"}, description ${a.description || "?"}${swiftshader ? " — a CPU implementation of WebGPU, NOT a GPU: these times say nothing about GPU speed" : ""}`);
  out.push(`features: ${r.features.join(", ") || "none"}`);
  out.push(`device limits (buffer sizes, workgroup memory and storage buffers requested at the adapter's values): ${Object.entries(r.limits).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  out.push(`timing: ${r.timing === "timestamps" ? "GPU timestamps (first pass begins to last pass ends)" : "wall clock, submit to onSubmittedWorkDone"}, median of ${c.reps} after ${c.warmup} warm-up; wall ms: submit to onSubmittedWorkDone`);
  out.push("");
  out.push(`GEMM: out [n, n] = a [n, n] @ b [n, n], 2 n^3 flop, by each kernel (fp16: f16 operand tiles, f32 sums)${peak ? `; share of a ${peak} TFLOP/s fp32 peak` : ""}`);
  out.push(`${"n".padStart(6)} ${"kernel".padStart(9)} ${"ms".padStart(10)} ${"TFLOP/s".padStart(9)} ${peak ? "of peak".padStart(8) : ""} ${"wall ms".padStart(10)}  check`);
  for (const g of r.gemm) {
    const mark = bestGemm(r, g.n) === g ? " *" : "";
    out.push(`${String(g.n).padStart(6)} ${(g.kernel + mark).padStart(9)} ${f(g.time.ms).padStart(10)} ${f(g.time.tflops, 2).padStart(9)} ${peak ? `${(100 * g.time.tflops / peak).toFixed(1)}%`.padStart(8) : ""} ${f(g.time.wallMs).padStart(10)}  ${checkText(g.check)}`);
  }
  out.push("  * the fastest fp32 kernel at that n");
  out.push("");
  out.push(`attention core: B 1, H ${c.H}, D ${c.D}, not causal; forward 4 N^2 D H flop, backward 2.5 times that`);
  out.push(`${"N".padStart(6)} ${"fwd ms".padStart(10)} ${"TFLOP/s".padStart(8)} ${"fwd+bwd ms".padStart(11)} ${"TFLOP/s".padStart(8)} ${"wall ms".padStart(18)}  check`);
  for (const t of r.attention) {
    out.push(`${String(t.N).padStart(6)} ${f(t.forward.ms).padStart(10)} ${f(t.forward.tflops, 2).padStart(8)} ${f(t.forwardBackward.ms).padStart(11)} ${f(t.forwardBackward.tflops, 2).padStart(8)} ${`${f(t.forward.wallMs)} / ${f(t.forwardBackward.wallMs)}`.padStart(18)}  ${checkText(t.check)}`);
  }
  if (r.efficient.length) {
    out.push("", `efficient attention: B 1, H ${c.H}, D ${c.D}, not causal; window: sparse attention over |i - j| <= ${WINDOW}; linear: features M = D, `
      + "non-causal; x full: the full core's forward + backward time over the row's");
    out.push(`${"N".padStart(6)} ${"kind".padStart(7)} ${"fwd ms".padStart(10)} ${"fwd+bwd ms".padStart(11)} ${"x full".padStart(7)} ${"wall ms".padStart(18)}  check`);
    for (const e of r.efficient) {
      out.push(`${String(e.N).padStart(6)} ${e.kind.padStart(7)} ${f(e.forward.ms).padStart(10)} ${f(e.forwardBackward.ms).padStart(11)} ${(e.vsFull === null ? "-" : f(e.vsFull, 2)).padStart(7)} `
        + `${`${f(e.forward.wallMs)} / ${f(e.forwardBackward.wallMs)}`.padStart(18)}  ${checkText(e.check)}`);
    }
  }
  if (r.conv.length) {
    out.push("", "convolution: 3 x 3, stride 1, padding 1, NCHW, 2 B O C 9 oH oW flop a pass; the weight gradient as splitK decides (auto), unsplit and in 4 ranges of K");
    out.push(`${"shape".padEnd(18)} ${"pass".padEnd(16)} ${"split".padEnd(8)} ${"ms".padStart(10)} ${"TFLOP/s".padStart(8)} ${"wall ms".padStart(10)}  check`);
    for (const v of r.conv) {
      out.push(`${v.shape.padEnd(18)} ${v.pass.padEnd(16)} ${v.split.padEnd(8)} ${f(v.time.ms).padStart(10)} ${f(v.time.tflops, 2).padStart(8)} ${f(v.time.wallMs).padStart(10)}  ${checkText(v.check)}`);
    }
  }
  if (typeof torch === "string") out.push("", `PyTorch: not run (${torch})`);
  else if (torch) {
    out.push("", `PyTorch ${torch.version} on ${torch.device}, fp32, TF32 off, CUDA events (SDPA kernels: ${torch.sdpaKernels.join(", ") || "not listed"})`);
    out.push("qkv / torch: time ratios, above 1 means qkv is slower");
    for (const g of r.gemm) {
      const t = torch.gemm[String(g.n)];
      if (t) out.push(`  GEMM n=${g.n} ${g.kernel}: torch ${f(t.ms)} ms (${f(t.tflops, 2)} TFLOP/s), qkv / torch ${f(g.time.ms / t.ms, 2)}`);
    }
    for (const a2 of r.attention) {
      const t = torch.attention[String(a2.N)];
      if (t) {
        out.push(`  attention N=${a2.N}: forward torch ${f(t.forwardMs)} ms, qkv / torch ${f(a2.forward.ms / t.forwardMs, 2)}; `
          + `forward + backward torch ${f(t.forwardBackwardMs)} ms, qkv / torch ${f(a2.forwardBackward.ms / t.forwardBackwardMs, 2)}`);
      }
    }
  }
  const g4 = bestGemm(r, 4096), a4 = r.attention.find((t) => t.N === 4096);
  if (!swiftshader && (g4 || a4)) {
    out.push("", "targets:");
    if (g4) out.push(`  GEMM n=4096 at >= 40% of the fp32 peak (${g4.kernel}, the fastest fp32 kernel): ${peak ? `${(100 * g4.time.tflops / peak).toFixed(1)}%` : "pass --peak TFLOPS"}`);
    const t4 = typeof torch === "object" && torch ? torch.attention["4096"] : undefined;
    if (a4) out.push(`  attention N=4096 forward + backward within 3x of PyTorch: ${t4 ? `${f(a4.forwardBackward.ms / t4.forwardBackwardMs, 2)}x` : "pass --torch PYTHON"}`);
  }
  return out.join("\n");
}

async function main(): Promise<void> {
  if (has("-h") || has("--help")) {
    console.log(usage);
    return;
  }
  const browser = has("--browser") || has("--browser-gpu");
  const result = browser ? await inBrowser() : await inNode();
  const python = opt("torch");
  if (!result) {
    // no WebGPU GPU here; PyTorch's own numbers are still real where it has a CUDA device
    if (python) {
      const t = torchPeer(python, config(false, false));
      console.log(typeof t === "string" ? `PyTorch: not run (${t})` : `PyTorch ${t.version} on ${t.device}: ${JSON.stringify({ gemm: t.gemm, attention: t.attention })}`);
    }
    return;
  }
  const torch = !python ? null : result.adapter.cpu ? "nothing to compare with: the WebGPU adapter is a CPU implementation" : torchPeer(python, result.config);
  const peakText = opt("peak");
  const peak = peakText === undefined ? null : Number(peakText);
  if (peak !== null && !(peak > 0)) badOption(`--peak: expected TFLOP/s, got ${peakText}`);
  console.log(report(result, browser ? `headless Chromium${has("--browser-gpu") ? "" : " on SwiftShader"}` : "dawn.node (the webgpu package)", torch, peak));
  const json = opt("json");
  if (json) writeFileSync(json, `${JSON.stringify({ date: new Date().toISOString(), argv, result, torch }, null, 2)}\n`);
  if ([...result.gemm, ...result.attention, ...result.efficient, ...result.conv].some((row) => !row.check.ok)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
