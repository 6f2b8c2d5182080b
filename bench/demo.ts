/**
 * The dates demo's training speed (`qkv demo`: the 1+1-layer transformer, dModel 64, batches of 64)
 * on one backend: the seconds its steps take (`trainSeconds` of runDatesDemo: the training pairs
 * made, the model built and moved, the steps; not the final evaluation and report), steps per
 * second, and the first and last losses, so two backends' runs (a GPU's and a CPU's) compare the
 * same work.
 *
 *   npm run bench -- demo [--backend native|wasm|js|webgpu] [--steps 1000] [--threads 2]
 *                         [--webgpu PATH] [--cpu-adapter] [--matmul-precision fp16] [--by-kernel] [--host-only] [--null-device] [--sync-reads] [--json FILE]
 *
 * --backend webgpu takes a device from the optional `webgpu` package (dawn.node; --webgpu PATH when
 * it is elsewhere), as bench/webgpu.ts does; where there is none, or only a CPU adapter (SwiftShader,
 * lavapipe) and no --cpu-adapter, it says so, measures nothing and exits 0. On webgpu it also
 * prints what a training step records, counted over steps 2 (3 with the overlap) to --steps (the
 * first compiles and allocates): dispatches, compute passes, buffer copies and clears,
 * submissions, uploads the queue wrote at once (BufferPool.upload); and with --by-kernel, the
 * dispatches and copies by kernel. --host-only records and submits every command
 * as usual but each dispatch with zero workgroups, so the time is the host's share of a step (the
 * library, the WebGPU implementation's CPU side, the submissions and reads; the losses are then
 * meaningless). --null-device runs the WebGPU backend on a WebGPU implementation that does
 * nothing (bench/null-gpu.ts: nothing runs, reads give zeros), so the time is the library's own
 * host work alone (ops, autograd, pools, the recorder), on one thread, with no WebGPU
 * implementation or CPU driver beside it; it needs no device and prints what the backend asked of
 * the implementation per step (buffers and bind groups made, passes, copies, queue writes,
 * submissions, maps). --matmul-precision fp16 runs every product of the model with the GEMM's f16
 * staging (`useWebGPU({ matmulPrecision: "fp16" })`, as `qkv --matmul-precision fp16`; a device
 * without shader-f16 refuses it and nothing is measured). These options are webgpu's: with another backend they end the bench (exit 2).
 * On a device the demo records each update before the last one's loss comes back (fit's
 * `overlap`); --sync-reads waits for each loss before the next update, as fit does by default. The
 * CPU backends run with --threads threads (native: its pool; wasm: its workers).
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { runDatesDemo } from "../src/apps/dates/demo.js";
import { availableBackends, getBackend, setBackend, setNumThreads, setWasmThreads, type BackendName } from "../src/node.js";
import type { WebGPUKernels } from "../src/backend/webgpu/kernels.js";
import type { StepInfo } from "../src/train/fit.js";
import type { GpuDevice } from "../src/backend/webgpu/device.js";
import type { NullGpuCounts } from "./null-gpu.js";
import { badOption, benchArgs } from "./argv.js";

const argv = process.argv.slice(2);
const usage = `npm run bench -- demo [--backend native|wasm|js|webgpu] [--steps 1000] [--threads 2] [--webgpu PATH] [--cpu-adapter] [--matmul-precision fp16] [--by-kernel] [--host-only] [--null-device] [--sync-reads] [--json FILE]`;
const { opt, int } = benchArgs(argv);
const has = (flag: string): boolean => argv.includes(flag);

/** The WebGPU adapter in use (vendor, architecture, description), once select() has taken one. */
let adapter = "";

/** The null GPU's call counts, when --null-device runs. */
let nullCounts: NullGpuCounts | null = null;

/** A device of the null GPU (bench/null-gpu.ts). */
async function nullDevice(): Promise<GpuDevice> {
  const [{ nullGpu }, { requestGpuDevice }] = await Promise.all([import("./null-gpu.js"), import("../src/backend/webgpu/device.js")]);
  const gpu = nullGpu();
  nullCounts = gpu.counts;
  return requestGpuDevice(gpu);
}

/** Makes `name` the active backend; a string saying why not where it cannot be. */
async function select(name: string, threads: number): Promise<string | null> {
  if (name !== "webgpu") {
    const names = availableBackends() as string[];
    if (!names.includes(name)) return `backend ${name} is not available here (available: ${names.join(", ")})`;
    setBackend(name as BackendName);
    if (name === "native") setNumThreads(threads);
    if (name === "wasm") setWasmThreads(threads);
    return null;
  }
  const [{ useWebGPU }, { adapterLine, benchDevice }] = await Promise.all([import("../src/backend/webgpu/use.js"), import("./node-device.js")]);
  const device = has("--null-device") ? await nullDevice() : await benchDevice(opt("webgpu"), has("--cpu-adapter"));
  if (typeof device === "string") return device;
  adapter = adapterLine(device);
  const fp16 = opt("matmul-precision") === "fp16";
  if (fp16 && !device.features.shaderF16) return "--matmul-precision fp16 needs the shader-f16 feature, which this device lacks";
  await useWebGPU({ device: () => Promise.resolve(device), quiet: true, ...(fp16 ? { matmulPrecision: "fp16" as const } : {}) });
  return getBackend().name === "webgpu" ? null : "the WebGPU backend did not start";
}

interface Counts { dispatches: number; passes: number; copies: number; clears: number; submissions: number; directWrites: number }

function counts(k: WebGPUKernels): Counts {
  const r = k.recorder;
  return { dispatches: r.dispatches, passes: r.passes, copies: r.copies, clears: r.clears, submissions: r.submissions, directWrites: k.pool.directWrites };
}

/** The counts of one step, averaged over the n steps of the window (null when there are none, or off webgpu). */
function perStep(first: Counts | null, last: Counts | null, n: number): Counts | null {
  if (!first || !last || n < 1) return null;
  const d = (k: keyof Counts): number => (last![k] - first![k]) / n;
  return { dispatches: d("dispatches"), passes: d("passes"), copies: d("copies"), clears: d("clears"), submissions: d("submissions"), directWrites: d("directWrites") };
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(1));

async function main(): Promise<void> {
  if (has("-h") || has("--help")) {
    console.log(usage);
    return;
  }
  const name = opt("backend") ?? availableBackends()[0]!;
  const steps = int("steps", 1000), threads = int("threads", 2);
  for (const flag of ["--host-only", "--by-kernel"]) if (has(flag) && name !== "webgpu") badOption(`${flag} counts WebGPU commands: it needs --backend webgpu, got --backend ${name}`);
  if (has("--null-device") && name !== "webgpu") badOption(`--null-device runs the WebGPU backend on a WebGPU implementation that does nothing: it needs --backend webgpu, got --backend ${name}`);
  if (has("--null-device") && (opt("webgpu") !== undefined || has("--cpu-adapter"))) badOption("--null-device takes no WebGPU implementation: leave out --webgpu and --cpu-adapter");
  const precision = opt("matmul-precision");
  if (precision !== undefined && precision !== "fp32" && precision !== "fp16") badOption(`--matmul-precision: expected fp32 or fp16, got ${precision}`);
  if (precision !== undefined && name !== "webgpu") badOption(`--matmul-precision is the WebGPU GEMM's: it needs --backend webgpu, got --backend ${name}`);
  if (has("--sync-reads") && name !== "webgpu") badOption(`--sync-reads changes how a device run waits for its losses: it needs --backend webgpu, got --backend ${name}`);
  const why = await select(name, threads);
  if (why !== null) {
    console.log(`No ${name} backend: ${why}\nNothing was measured.`);
    return;
  }
  // on webgpu: the recorder's counts (dispatches, submissions, bind groups made and kept) over the
  // run, and what one step records, over steps 2 (3 with the overlap) .. steps
  const kernels = name === "webgpu" ? (getBackend() as unknown as { kernels: WebGPUKernels }).kernels : null;
  const recorder = kernels?.recorder ?? null;
  const hostOnly = has("--host-only");
  if (hostOnly && recorder) recorder.emptyDispatches = true;
  const before = recorder && { d: recorder.dispatches, s: recorder.submissions, made: recorder.bindGroups.made, reused: recorder.bindGroups.reused };
  let nullFirst: NullGpuCounts | null = null, nullLast: NullGpuCounts | null = null;
  let first: Counts | null = null, last: Counts | null = null, byKernel: Map<string, number> | null = null;
  // the steps after the first (which compiles the kernels and fills the pool): their time, from the step callbacks
  // and the process's CPU time over the same window (every thread: steadier than the wall time
  // where the host's other tenants take turns on its cores)
  let t1 = 0, tN = 0, c1: NodeJS.CpuUsage | null = null, cN: NodeJS.CpuUsage | null = null;
  const onStep = (info: StepInfo): void => {
    if (info.step === 1) {
      t1 = performance.now();
      c1 = process.cpuUsage();
    }
    if (info.step === steps) {
      tN = performance.now();
      cN = process.cpuUsage(c1 ?? undefined);
    }
    if (nullCounts && info.step === 1) nullFirst = { ...nullCounts };
    if (nullCounts && info.step === steps) nullLast = { ...nullCounts };
    if (!kernels) return;
    if (info.step === 1) {
      first = counts(kernels);
      if (has("--by-kernel")) kernels.tally = new Map(); // a map update per dispatch: only when asked for
    }
    if (info.step === steps) {
      last = counts(kernels);
      byKernel = kernels.tally;
      kernels.tally = null;
    }
  };
  const r = await runDatesDemo({ steps, testSize: 1, out: null, log: () => undefined, tty: false, onStep, overlap: !has("--sync-reads") });
  // with the overlap (a device, no --sync-reads) step 1's callback runs once update 2 is recorded,
  // so the window from it to the last step's callback holds updates 3 .. steps
  const from = kernels && !has("--sync-reads") ? 3 : 2, n = steps - from + 1;
  if (kernels) kernels.tally = null;
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
  const line = {
    backend: getBackend().name, steps, threads: name === "webgpu" ? null : threads, matmulPrecision: kernels ? kernels.gemm.precision : null, trainSeconds: r.trainSeconds,
    stepsPerSecond: steps / r.trainSeconds, laterStepMs: n > 0 ? (tN - t1) / n : null,
    laterStepCpuMs: n > 0 && cN !== null ? ((cN as NodeJS.CpuUsage).user + (cN as NodeJS.CpuUsage).system) / 1000 / n : null, firstLoss: r.losses[0] ?? null, lastLoss: r.losses.at(-1) ?? null,
  };
  console.log(`dates demo (1+1 layers, dModel 64, batches of 64) on ${line.backend}${line.threads === null ? "" : `, ${threads} threads`}${line.matmulPrecision === "fp16" ? ", fp16 GEMM staging" : ""}, ${cpu} (${os.cpus().length} CPUs), Node ${process.version}`);
  if (adapter) console.log(`  ${adapter}`);
  if (nullCounts) console.log("  --null-device: a WebGPU implementation that does nothing, so the time is the library's own host work (the losses are meaningless)");
  if (hostOnly) console.log("  --host-only: every dispatch recorded with zero workgroups, so the time is the host's share (the losses are meaningless)");
  if (kernels) console.log(has("--sync-reads") ? "  --sync-reads: each update waits for the last one's loss" : "  each update recorded before the last one's loss came back (fit's overlap)");
  console.log(`  ${steps} steps in ${r.trainSeconds.toFixed(2)} s: ${line.stepsPerSecond.toFixed(1)} steps/s, ${(1000 * r.trainSeconds / steps).toFixed(2)} ms per step`);
  if (line.laterStepMs !== null) console.log(`  steps ${from}-${steps}: ${line.laterStepMs.toFixed(2)} ms per step (the first also compiles kernels and fills the memory pools)`);
  if (line.laterStepCpuMs !== null) console.log(`  steps ${from}-${steps}: ${line.laterStepCpuMs.toFixed(2)} ms of CPU time per step (the process's threads, user and system)`);
  console.log(`  loss ${line.firstLoss?.toFixed(4)} at step 1, ${line.lastLoss?.toFixed(4)} at step ${steps}`);
  const gpu = recorder && before && {
    dispatches: recorder.dispatches - before.d, submissions: recorder.submissions - before.s,
    bindGroupsMade: recorder.bindGroups.made - before.made, bindGroupsReused: recorder.bindGroups.reused - before.reused,
  };
  if (gpu) {
    console.log(`  ${(gpu.dispatches / steps).toFixed(1)} dispatches and ${(gpu.submissions / steps).toFixed(1)} submissions per step; bind groups made ${gpu.bindGroupsMade}, kept and reused ${gpu.bindGroupsReused} (the run, its final evaluation included)`);
  }
  const compile = kernels && { pipelines: kernels.pipelineCount, ms: kernels.pipelineCompileMs };
  if (compile) console.log(`  ${compile.pipelines} pipelines compiled in ${(compile.ms / 1000).toFixed(2)} s (the run, its final evaluation included; each once, when its kernel first records)`);
  if (kernels && has("--by-kernel")) {
    console.log("  the pipelines by compile time (ms), slowest first:");
    for (const [k, ms] of [...kernels.pipelineCompileMsByKey].sort((a, b) => b[1] - a[1])) console.log(`    ${ms.toFixed(1).padStart(8)}  ${k}`);
  }
  const step = perStep(first, last, n);
  if (step) {
    console.log(`  one step (steps ${from}-${steps}): ${fmt(step.dispatches)} dispatches in ${fmt(step.passes)} compute passes, ${fmt(step.copies)} copies, ${fmt(step.clears)} clears, ${fmt(step.submissions)} submissions; ${fmt(step.directWrites)} uploads written by the queue directly`);
  }
  const nullStep = nullFirst && nullLast && n > 0
    ? Object.fromEntries(Object.keys(nullLast).map((k) => [k, (nullLast![k as keyof NullGpuCounts] - nullFirst![k as keyof NullGpuCounts]) / n])) as Record<keyof NullGpuCounts, number>
    : null;
  if (nullStep) {
    console.log(`  asked of the WebGPU implementation per step (steps ${from}-${steps}): ${Object.entries(nullStep).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")}`);
  }
  const tally = byKernel as Map<string, number> | null;
  if (tally) {
    console.log(`  by kernel, per step (steps ${from}-${steps}):`);
    for (const [k, c] of [...tally].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) console.log(`    ${fmt(c / n).padStart(6)}  ${k}`);
  }
  const json = opt("json");
  if (json) writeFileSync(json, `${JSON.stringify({ date: new Date().toISOString(), argv, cpu, node: process.version, ...line, hostOnly, nullDevice: nullStep, gpu, compile: compile && { ...compile, byKey: Object.fromEntries(kernels!.pipelineCompileMsByKey) }, step }, null, 2)}\n`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
