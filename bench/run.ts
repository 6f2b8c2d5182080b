/**
 * `npm run bench`: attention speed and memory of every qkv backend that loads here, against
 * onnxruntime-node, TF.js (wasm) and PyTorch (when importable), on the same rows.
 *
 * Rows (float32, B=1):
 *   core  scaledDotProductAttention (fused path), q/k/v [1, 8, N, 64]
 *   mha   MultiheadAttention(512, 8, batchFirst), self-attention on x [1, N, 512], needWeights false
 *         (its weights prepacked with prepackWeights, as ONNX Runtime packs them when it makes a
 *         session: the forward rows, under noGrad, use the packed copies; forward + backward
 *         records gradients, so it packs on every call as training does)
 * each forward and forward + backward, N in 128, 512, 1024, 2048, 4096; plus the peak RSS of one
 * forward + backward at N = 16384, each in a fresh child process.
 *
 *   npm run bench -- efficient [...]   runs bench/efficient.ts with the remaining arguments
 *   npm run bench -- conv [...]        runs bench/conv.ts (conv2d against PyTorch) with the remaining arguments
 *   npm run bench -- onnx-mha [...]    runs bench/onnx-mha.ts (exported attention in ONNX Runtime: plain, fused, opset23)
 *   npm run bench -- short-attention [...]  runs bench/short-attention.ts (fused against composed at short lengths)
 *   npm run bench -- train-step [...]  runs bench/train-step.ts (a ViT training step with the buffer pool off, recycling, freeing the graph)
 *   npm run bench -- webgpu [...]      runs bench/webgpu.ts (the WebGPU kernels on a GPU: GEMM, attention, PyTorch CUDA)
 *   npm run bench -- ops [...]         runs bench/ops.ts (where a step's time goes, per backend kernel)
 *   npm run bench -- demo [...]        runs bench/demo.ts (the dates demo's training steps on one backend, webgpu included)
 *
 *   npm run bench -- [--json FILE] [--md FILE] [--filter SUBSTRING] [--quick] [--no-peers]
 *                    [--python PATH] [--backends native,js] [--sizes 128,512] [--mem-n 16384]
 *                    [--row-limit 20] [--mem-limit 120] [--threads 2]
 *
 * Times are medians after a warm-up run, repeated up to a time budget; a series whose next row
 * would take more than --row-limit seconds (quadratic estimate from the previous size) is skipped
 * and reported. GFLOP/s counts 4·B·H·N²·D for the core forward (QK^T and PV), plus 8·B·N·E² for the
 * MHA projections; backward counts as twice the forward. Ratios are qkv ms / peer ms (below 1:
 * qkv is faster).
 */
import { spawn, spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  availableBackends, backward, getNumThreads, getWasmThreads, Generator, MultiheadAttention, noGrad, prepackWeights, randn,
  scaledDotProductAttention, setBackend, Tensor, type BackendName,
} from "../src/node.js";
import {
  B, D, E, H, errorLine, flopsOf, fmtMs, fmtRatio, fmtSeconds, machineInfo, measure, memoryId, peakRssMiB, rowId,
  SeriesGuard, table, type Cell, type Group, type MachineInfo, type MemoryRow, type Pass, type Row, type TimingOptions,
} from "./lib.js";
import type { MhaWeights } from "./peers/onnx-graph.js";
import { OrtPeer, ortImpls } from "./peers/ort.js";
import { TfjsPeer } from "./peers/tfjs.js";

const self = fileURLToPath(import.meta.url);
const root = path.resolve(path.dirname(self), "..");
const groups: Group[] = ["core", "mha"];
const passes: Pass[] = ["fwd", "fwd+bwd"];
const groupTitle: Record<Group, string> = {
  core: `attention core: scaledDotProductAttention, q/k/v [${B}, ${H}, N, ${D}]`,
  mha: `full MultiheadAttention(${E}, ${H}), self-attention on x [${B}, N, ${E}]`,
};
const passTitle: Record<Pass, string> = { fwd: "forward", "fwd+bwd": "forward + backward" };

export interface Options {
  json: string | null;
  md: string | null;
  filter: string | null;
  quick: boolean;
  peers: boolean;
  python: string;
  pythonGiven: boolean;
  backends: BackendName[] | null;
  sizes: number[];
  memN: number;
  rowLimitMs: number;
  memLimitMs: number;
  threads: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    json: null, md: null, filter: null, quick: false, peers: true, python: process.env.QKV_BENCH_PYTHON ?? "python3",
    pythonGiven: process.env.QKV_BENCH_PYTHON !== undefined, backends: null, sizes: [128, 512, 1024, 2048, 4096],
    memN: 16384, rowLimitMs: 20_000, memLimitMs: 120_000, threads: 2,
  };
  let sizesGiven = false, memGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = Number(val());
      if (!(v > 0)) throw new Error(`${a} needs a positive number`);
      return v;
    };
    switch (a) {
      case "--json": o.json = val(); break;
      case "--md": o.md = val(); break;
      case "--filter": o.filter = val(); break;
      case "--quick": o.quick = true; break;
      case "--no-peers": o.peers = false; break;
      case "--python": o.python = val(); o.pythonGiven = true; break;
      case "--backends": o.backends = val().split(",").map((s) => s.trim()) as BackendName[]; break;
      case "--sizes": o.sizes = val().split(",").map(Number); sizesGiven = true; break;
      case "--mem-n": o.memN = num(); memGiven = true; break;
      case "--row-limit": o.rowLimitMs = num() * 1000; break;
      case "--mem-limit": o.memLimitMs = num() * 1000; break;
      case "--threads": o.threads = num(); break;
      case "-h": case "--help":
        console.log(fileHelp());
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a} (see --help)`);
    }
  }
  if (o.sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--sizes needs positive integers");
  if (o.quick) {
    if (!sizesGiven) o.sizes = [128, 512];
    o.sizes = o.sizes.filter((n) => n <= 512);
    if (!o.sizes.length) throw new Error("--quick runs sizes up to 512 only");
    if (!memGiven) o.memN = Math.max(...o.sizes);
  }
  o.sizes.sort((a, b) => a - b);
  return o;
}

function fileHelp(): string {
  return [
    "npm run bench -- [options]",
    "npm run bench -- efficient [options]   the efficient attention benchmark (bench/efficient.ts; its options: efficient --help)",
    "npm run bench -- conv [options]        conv2d against PyTorch (bench/conv.ts; its options: conv --help)",
    "npm run bench -- short-attention [options]  fused against composed attention at short lengths, and PyTorch (bench/short-attention.ts)",
    "npm run bench -- train-step [options]  a ViT training step with the buffer pool off, recycling, freeing the graph (bench/train-step.ts: --steps --rounds)",
    "npm run bench -- onnx-mha [options]    exported attention in ONNX Runtime: plain ops, fused, opset23 (bench/onnx-mha.ts: --model mha|vit --n --threads --reps)",
    "npm run bench -- webgpu [options]      the WebGPU kernels on a GPU: GEMM, attention, PyTorch CUDA with --torch (bench/webgpu.ts: webgpu --help)",
    "npm run bench -- demo [options]        the dates demo's training speed on one backend, webgpu included (bench/demo.ts: demo --help)",
    "npm run bench -- ops [options]         where a step's time goes, per backend kernel (bench/ops.ts: --model vit|mha --n --steps --top --backend)",
    "  --json FILE        write every figure as JSON",
    "  --md FILE          write the report (markdown) to FILE as well as stdout",
    "  --filter TEXT      only rows whose id contains TEXT (ids: 'core fwd N=512', 'mha fwd+bwd N=1024', 'memory core fwd+bwd N=16384')",
    "  --quick            smoke run: N <= 512, few repeats, memory row at the largest N",
    "  --no-peers         qkv backends only",
    "  --python PATH      python with torch for the PyTorch peer (default python3, or $QKV_BENCH_PYTHON)",
    "  --backends LIST    qkv backends to run (default: every one that loads)",
    "  --sizes LIST       sequence lengths (default 128,512,1024,2048,4096)",
    "  --mem-n N          sequence length of the memory rows (default 16384)",
    "  --row-limit S      skip a series once a row would take longer than S seconds (default 20)",
    "  --mem-limit S      skip a memory row whose one run would take longer than S seconds (default 120)",
    "  --threads N        threads of onnxruntime, PyTorch and the TF.js wasm backend (default 2)",
  ].join("\n");
}

const matches = (o: Options, id: string): boolean => o.filter === null || id.includes(o.filter);

/** Deterministic inputs of one row, shared by every implementation. */
interface RowData {
  /** core: q, k, v [1, H, N, D]; mha: x [1, N, E]. */
  inputs: Float32Array[];
  /** Output gradient: [1, H, N, D] or [1, N, E]. */
  dy: Float32Array;
}

const dataCache = new Map<string, RowData>();
function rowData(group: Group, N: number): RowData {
  const key = `${group}|${N}`;
  let d = dataCache.get(key);
  if (!d) {
    const g = new Generator(1000 + N + (group === "mha" ? 1 : 0));
    const shape = group === "core" ? [B, H, N, D] : [B, N, E];
    const count = group === "core" ? 3 : 1;
    const inputs = Array.from({ length: count }, () => randn(shape, { generator: g }).data as Float32Array);
    d = { inputs, dy: randn(shape, { generator: g }).data as Float32Array };
    dataCache.set(key, d);
  }
  return d;
}

let mhaModule: MultiheadAttention | null = null;
function mha(): MultiheadAttention {
  if (!mhaModule) {
    mhaModule = new MultiheadAttention(E, H, { batchFirst: true, generator: new Generator(7) });
    // nonzero biases, so that a peer that dropped them would fail the output check
    const g = new Generator(8);
    for (const p of [mhaModule.inProjBias, mhaModule.outProj.bias]) {
      if (p) p.data.set(randn(p.shape, { generator: g }).data as Float32Array);
    }
    prepackWeights(mhaModule); // packed for the backend active at its first product (repacked for another)
  }
  return mhaModule;
}

function mhaWeights(): MhaWeights {
  const m = mha();
  return {
    inProjWeight: m.inProjWeight!.data as Float32Array,
    inProjBias: m.inProjBias!.data as Float32Array,
    outProjWeight: m.outProj.weight.data as Float32Array,
    outProjBias: m.outProj.bias!.data as Float32Array,
  };
}

/** A qkv runner for one row on the active backend; forward runners return the output data. */
function qkvRunner(group: Group, pass: Pass, N: number): () => Float32Array | null {
  const d = rowData(group, N);
  const grad = pass === "fwd+bwd";
  if (group === "core") {
    const [q, k, v] = d.inputs.map((x) => {
      const t = new Tensor(x, [B, H, N, D], "float32");
      return grad ? t.requiresGrad_(true) : t;
    }) as [Tensor, Tensor, Tensor];
    if (!grad) return () => noGrad(() => scaledDotProductAttention(q, k, v).output.data as Float32Array);
    const dy = new Tensor(d.dy, [B, H, N, D], "float32");
    return () => {
      q.grad = k.grad = v.grad = null;
      backward(scaledDotProductAttention(q, k, v).output, dy);
      return null;
    };
  }
  const m = mha();
  const x = new Tensor(d.inputs[0]!, [B, N, E], "float32");
  if (!grad) return () => noGrad(() => m.forward(x, x, x, { needWeights: false }).output.data as Float32Array);
  x.requiresGrad_(true);
  const dy = new Tensor(d.dy, [B, N, E], "float32");
  return () => {
    m.zeroGrad();
    x.grad = null;
    backward(m.forward(x, x, x, { needWeights: false }).output, dy);
    return null;
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Infinity : m;
}

interface Check { impl: string; group: Group; N: number; maxAbsDiff: number; ok: boolean }

interface PeerInfo {
  ort: { version: string; intraOpThreads: number } | { unavailable: string } | null;
  tfjs: { version: string; threads: number; simd: boolean } | { unavailable: string } | null;
  torch: { version: string; blas: string; blasDetail: string | null; cpuCapability: string; threads: number; python: string } | { unavailable: string } | null;
}

export interface Report {
  schema: 1;
  date: string;
  command: string;
  options: Omit<Options, "json" | "md">;
  machine: MachineInfo;
  backends: BackendName[];
  threads: Record<string, number>;
  peers: PeerInfo;
  rows: Row[];
  memory: MemoryRow[];
  memorySkipped: { id: string; impl: string; reason: string }[];
  checks: Check[];
  notes: string[];
}

const log = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

/** The rows selected by the options (timing rows) and the memory row ids. */
function plan(o: Options): { rows: Row[]; memory: Group[] } {
  const rows: Row[] = [];
  for (const group of groups) {
    for (const pass of passes) {
      for (const N of o.sizes) {
        const id = rowId(group, pass, N);
        if (matches(o, id)) rows.push({ id, group, pass, N, gflop: flopsOf(group, pass, N) / 1e9, results: [], skipped: [], ratios: [] });
      }
    }
  }
  return { rows, memory: groups.filter((g) => matches(o, memoryId(g, o.memN))) };
}

async function runSeries(rows: Row[], guard: SeriesGuard, impl: string, prepare: (r: Row) => Promise<() => unknown> | (() => unknown),
  cleanup?: () => void): Promise<void> {
  for (const r of rows) {
    const skip = guard.skipReason(impl, r.group, r.pass, r.N);
    if (skip) {
      r.skipped.push({ impl, reason: skip });
      log(`  ${r.id.padEnd(24)} ${impl.padEnd(14)} ${skip}`);
      continue;
    }
    try {
      const fn = await prepare(r);
      const t = await measure(fn, guard.optionsFor(guard.estimate(impl, r.group, r.pass, r.N)));
      guard.record(impl, r.group, r.pass, r.N, t.ms);
      const cell: Cell = { impl, ms: t.ms, minMs: t.minMs, reps: t.reps, gflops: r.gflop / (t.ms / 1000) };
      r.results.push(cell);
      log(`  ${r.id.padEnd(24)} ${impl.padEnd(14)} ${fmtMs(t.ms).padStart(8)} ms  ${cell.gflops.toFixed(1).padStart(6)} GFLOP/s  (${t.reps} runs)`);
    } catch (e) {
      const msg = guard.fail(impl, r.group, r.pass, r.N, e);
      r.skipped.push({ impl, reason: msg });
      log(`  ${r.id.padEnd(24)} ${impl.padEnd(14)} ${msg}`);
    } finally {
      cleanup?.();
    }
  }
}

/** Child-process entry of a memory row: prints one JSON line. */
function childMemory(group: Group, backend: BackendName, N: number): void {
  setBackend(backend);
  qkvRunner(group, "fwd+bwd", 128)(); // load code paths before the baseline
  const run = qkvRunner(group, "fwd+bwd", N);
  const base = peakRssMiB();
  const t = performance.now();
  run();
  const ms = performance.now() - t;
  const peak = peakRssMiB();
  process.stdout.write(`${JSON.stringify({ peakMiB: peak, baselineMiB: base, deltaMiB: peak - base, ms })}\n`);
}

function parseLastJson<T>(stdout: string): T | null {
  const line = stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) return null;
  try {
    return JSON.parse(line) as T;
  } catch {
    return null;
  }
}

function torchAvailable(o: Options): string | null {
  const r = spawnSync(o.python, ["-c", "import torch"], { encoding: "utf8", timeout: 120_000 });
  if (r.error) return `${o.python} did not run (${r.error.message})`;
  if (r.status !== 0) return `\`${o.python} -c "import torch"\` failed${o.pythonGiven ? "" : "; pass --python /path/to/venv/bin/python"}`;
  return null;
}

const torchEnv = (o: Options): NodeJS.ProcessEnv => ({
  ...process.env, OMP_NUM_THREADS: String(o.threads), MKL_NUM_THREADS: String(o.threads),
});

interface TorchResult { impl: string; id: string; ms?: number; minMs?: number; reps?: number; skipped?: string; error?: string }
interface TorchInfo { version: string; blas: string; blasDetail: string | null; cpuCapability: string; threads: number; config: string }

async function runTorch(o: Options, rows: Row[], timing: TimingOptions): Promise<TorchInfo | null> {
  const spec = {
    threads: o.threads, rowLimitMs: o.rowLimitMs, timing,
    rows: rows.flatMap((r) => (r.group === "core" ? ["torch:default", "torch:math"] : ["torch:default"]).map((impl) => ({ impl, id: r.id, group: r.group, pass: r.pass, N: r.N })))
      // series order: impl, then group/pass, then N (rows are already N-ascending within a group/pass)
      .sort((a, b) => a.impl.localeCompare(b.impl)),
  };
  const script = path.join(root, "bench", "peers", "torch_bench.py");
  const child = spawn(o.python, [script, "--spec", JSON.stringify(spec)], { env: torchEnv(o), stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "", buf = "";
  child.stderr.on("data", (c: Buffer) => { err += c.toString(); });
  child.stdout.on("data", (c: Buffer) => {
    const s = c.toString();
    out += s;
    buf += s;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const p = parseLastJson<{ progress?: TorchResult }>(line)?.progress;
      if (p) log(`  ${p.id.padEnd(24)} ${p.impl.padEnd(14)} ${p.ms !== undefined ? `${fmtMs(p.ms).padStart(8)} ms` : p.skipped ?? p.error}`);
    }
  });
  const code = await new Promise<number | null>((res) => child.on("close", res));
  const result = parseLastJson<{ info: TorchInfo; results: TorchResult[] }>(out);
  if (code !== 0 || !result?.results) {
    log(`  torch: failed (exit ${code}): ${err.trim().split("\n").slice(-1)[0] ?? ""}`);
    return null;
  }
  for (const t of result.results) {
    const r = rows.find((x) => x.id === t.id);
    if (!r) continue;
    if (t.ms !== undefined) r.results.push({ impl: t.impl, ms: t.ms, minMs: t.minMs ?? t.ms, reps: t.reps ?? 0, gflops: r.gflop / (t.ms / 1000) });
    else r.skipped.push({ impl: t.impl, reason: t.skipped ?? t.error ?? "no result" });
  }
  return result.info;
}

const isQkv = (impl: string): boolean => impl.startsWith("qkv:");

function computeRatios(rows: Row[]): void {
  for (const r of rows) {
    r.ratios = [];
    for (const a of r.results.filter((c) => isQkv(c.impl))) {
      for (const p of r.results.filter((c) => !isQkv(c.impl))) r.ratios.push({ qkv: a.impl, peer: p.impl, ratio: a.ms / p.ms });
    }
  }
}

function render(rep: Report, o: Options): string {
  const out: string[] = [];
  const m = rep.machine;
  out.push(`# qkv benchmark`);
  out.push("");
  out.push(`- date: ${rep.date}`);
  out.push(`- command: \`${rep.command}\``);
  out.push(`- machine: ${m.cpu}, ${m.cores} cores${m.avx512 ? ", AVX-512" : ""}, ${m.memGiB} GiB, ${m.platform}, Node ${m.node}`);
  out.push(`- load average (1 min) at start / end: ${m.loadAvgStart.toFixed(2)} / ${(m.loadAvgEnd ?? 0).toFixed(2)}`);
  out.push(`- qkv backends: ${rep.backends.join(", ")}; threads: ${Object.entries(rep.threads).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  const p = rep.peers;
  const peerLine = (name: string, v: object | null, fmt: (x: never) => string): string =>
    v === null ? `${name}: not run` : "unavailable" in v ? `${name}: unavailable (${(v as { unavailable: string }).unavailable})` : `${name}: ${fmt(v as never)}`;
  out.push(`- peers: ${[
    peerLine("onnxruntime-node", p.ort, (x: { version: string; intraOpThreads: number }) => `${x.version}, CPU EP, ${x.intraOpThreads} intra-op threads, forward only`),
    peerLine("TF.js", p.tfjs, (x: { version: string; threads: number; simd: boolean }) => `tfjs-core + tfjs-backend-wasm ${x.version}, ${x.threads} thread${x.threads === 1 ? "" : "s"}${x.simd ? ", SIMD" : ""}`),
    peerLine("PyTorch", p.torch, (x: { version: string; blas: string; blasDetail: string | null; cpuCapability: string; threads: number }) =>
      `${x.version}, BLAS ${x.blas}${x.blasDetail ? ` (${x.blasDetail})` : ""}, CPU capability ${x.cpuCapability}, ${x.threads} threads`),
  ].join("; ")}`);
  out.push(`- cells: median ms (GFLOP/s); GFLOP = 4·B·H·N²·D for the core forward, + 8·B·N·E² for the MHA projections, ×3 for forward + backward`);
  out.push(`- ratios: qkv ms / peer ms (below 1: qkv is faster)`);
  for (const group of groups) {
    for (const pass of passes) {
      const rows = rep.rows.filter((r) => r.group === group && r.pass === pass);
      if (!rows.length) continue;
      const impls = [...new Set(rows.flatMap((r) => [...r.results.map((c) => c.impl), ...r.skipped.map((s) => s.impl)]))];
      const qkvImpls = impls.filter(isQkv), peerImpls = impls.filter((i) => !isQkv(i));
      const ordered = [...qkvImpls, ...peerImpls];
      out.push("");
      out.push(`## ${groupTitle[group]} — ${passTitle[pass]}`);
      out.push("");
      const notes: string[] = [];
      out.push(table(["N", "GFLOP", ...ordered], rows.map((r) => [
        String(r.N), r.gflop.toFixed(2),
        ...ordered.map((impl) => {
          const c = r.results.find((x) => x.impl === impl);
          if (c) return `${fmtMs(c.ms)} (${c.gflops.toFixed(1)})`;
          const s = r.skipped.find((x) => x.impl === impl);
          if (s) notes.push(`${impl} at N=${r.N}: ${s.reason}`);
          return "—";
        }),
      ])));
      const pairs = qkvImpls.flatMap((a) => peerImpls.map((b) => [a, b] as const))
        .filter(([a, b]) => rows.some((r) => r.ratios.some((x) => x.qkv === a && x.peer === b)));
      if (pairs.length) {
        out.push("");
        out.push(table(["N", ...pairs.map(([a, b]) => `${a.slice(4)} / ${b}`)], rows.map((r) => [
          String(r.N), ...pairs.map(([a, b]) => {
            const x = r.ratios.find((y) => y.qkv === a && y.peer === b);
            return x ? fmtRatio(x.ratio) : "—";
          }),
        ])));
      }
      if (notes.length) {
        out.push("");
        for (const n of compressNotes(notes)) out.push(`- ${n}`);
      }
    }
  }
  if (rep.memory.length || rep.memorySkipped.length) {
    out.push("");
    out.push(`## Peak memory of one forward + backward at N=${o.memN} (fresh process each)`);
    out.push("");
    out.push(table(["row", "impl", "peak RSS MiB", "baseline MiB", "increase MiB", "time"], rep.memory.map((x) => [
      `${x.group} N=${x.N}`, x.impl, x.peakMiB.toFixed(0), x.baselineMiB.toFixed(0), x.deltaMiB.toFixed(0), fmtSeconds(x.ms),
    ])));
    out.push("");
    out.push("baseline: the process's RSS high-water mark with the runtime loaded, the inputs allocated and a small warm-up run done.");
    for (const s of rep.memorySkipped) out.push(`- ${s.id} ${s.impl}: ${s.reason}`);
  }
  if (rep.checks.length) {
    out.push("");
    out.push(`Output checks against qkv (${rep.backends[0]}), forward, same inputs and weights: ${rep.checks.map((c) => `${c.impl} ${c.group} N=${c.N} max|diff| ${c.maxAbsDiff.toExponential(1)}${c.ok ? "" : " MISMATCH"}`).join("; ")}.`);
  }
  if (rep.notes.length) {
    out.push("");
    for (const n of rep.notes) out.push(`- ${n}`);
  }
  return out.join("\n");
}

/** Merges "impl at N=a: reason" notes whose reason is a repeated skip into one line per impl. */
function compressNotes(notes: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const n of notes) {
    const impl = n.split(" at N=")[0]!;
    const sizes = notes.filter((x) => x.startsWith(`${impl} at N=`)).map((x) => /N=(\d+)/.exec(x)![1]);
    if (seen.has(impl)) continue;
    seen.add(impl);
    const first = n.slice(n.indexOf(": ") + 2);
    out.push(`${impl} not run at N=${sizes.join(", ")} (first: ${first})`);
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "efficient" || argv[0] === "conv" || argv[0] === "onnx-mha" || argv[0] === "short-attention" || argv[0] === "train-step"
    || argv[0] === "webgpu" || argv[0] === "ops" || argv[0] === "demo") {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "bench", `${argv[0]}.ts`), ...argv.slice(1)], { stdio: "inherit" });
    process.exitCode = r.status ?? 1;
    return;
  }
  if (argv[0] === "--child-mem") {
    childMemory(argv[1] as Group, argv[2] as BackendName, Number(argv[3]));
    return;
  }
  const o = parseArgs(argv);
  const machine = machineInfo();
  const available = availableBackends();
  const backends = o.backends ? o.backends.filter((b) => available.includes(b)) : available;
  const notes: string[] = [];
  if (o.backends) {
    for (const b of o.backends) if (!available.includes(b)) notes.push(`backend ${b} requested but not available here (available: ${available.join(", ")})`);
  }
  const timing: TimingOptions = o.quick
    ? { warmup: 1, warmupMs: 0, minReps: 2, maxReps: 3, budgetMs: 200 }
    : { warmup: 1, warmupMs: 300, minReps: 3, maxReps: 50, budgetMs: 1500 };
  const { rows, memory: memGroups } = plan(o);
  const guard = new SeriesGuard(o.rowLimitMs, timing);
  const threads: Record<string, number> = {};
  for (const b of backends) {
    if (b === "native") {
      try {
        threads["qkv:native"] = getNumThreads();
      } catch {
        // thread count unknown
      }
    } else if (b === "wasm") {
      threads["qkv:wasm"] = getWasmThreads(); // workers over shared memory (default: the cores)
    } else threads[`qkv:${b}`] = 1; // js runs on the calling thread
  }
  log(`qkv bench: ${rows.length} timing rows, memory rows: ${memGroups.join(", ") || "none"}; backends: ${backends.join(", ")}; peers: ${o.peers ? "on" : "off"}`);

  // qkv backends
  const checks: Check[] = [];
  const refs = new Map<string, Float32Array>();
  for (const b of backends) {
    setBackend(b);
    log(`qkv:${b}`);
    await runSeries(rows, guard, `qkv:${b}`, (r) => qkvRunner(r.group, r.pass, r.N));
  }
  const refOf = (group: Group, N: number): Float32Array => {
    const key = `${group}|${N}`;
    let ref = refs.get(key);
    if (!ref) {
      setBackend(backends[0] ?? "js");
      ref = qkvRunner(group, "fwd", N)()!;
      refs.set(key, ref);
    }
    return ref;
  };
  const check = (impl: string, group: Group, N: number, out: Float32Array): void => {
    if (checks.some((c) => c.impl === impl && c.group === group)) return;
    const d = maxAbsDiff(refOf(group, N), out);
    const ok = d < (group === "core" ? 1e-3 : 5e-3);
    checks.push({ impl, group, N, maxAbsDiff: d, ok });
    if (!ok) log(`  check ${impl} ${group} N=${N}: max|diff| ${d} against qkv — MISMATCH`);
  };

  const peers: PeerInfo = { ort: null, tfjs: null, torch: null };
  if (o.peers && rows.length) {
    // onnxruntime-node, forward rows
    const ort = await OrtPeer.create(o.threads, H, D, E, mhaWeights());
    if (typeof ort === "string") {
      peers.ort = { unavailable: ort };
      notes.push(ort);
    } else {
      peers.ort = { version: ort.version, intraOpThreads: o.threads };
      const fwdRows = rows.filter((r) => r.pass === "fwd");
      for (const impl of ortImpls) {
        log(impl);
        await runSeries(fwdRows, guard, impl, async (r) => {
          const run = await ort.prepare(impl, r.group, r.N, rowData(r.group, r.N).inputs);
          const outp = await run();
          check(impl, r.group, r.N, impl === "ort:fused" && r.group === "core" ? OrtPeer.bnhdToBhnd(outp, H, r.N, D) : outp);
          return run;
        });
      }
      await ort.release();
    }
    // TF.js (wasm)
    const tfjs = await TfjsPeer.create(o.threads, H, D, E);
    if (typeof tfjs === "string") {
      peers.tfjs = { unavailable: tfjs };
      notes.push(tfjs);
    } else {
      peers.tfjs = { version: tfjs.version, threads: tfjs.threads, simd: tfjs.simd };
      threads["tfjs-wasm"] = tfjs.threads;
      log("tfjs-wasm");
      let dispose: (() => void) | null = null;
      await runSeries(rows, guard, "tfjs-wasm", (r) => {
        const d = rowData(r.group, r.N);
        const p = tfjs.prepare(r.group, r.pass, r.N, d.inputs, d.dy, mhaWeights());
        dispose = p.dispose;
        if (r.pass === "fwd") check("tfjs-wasm", r.group, r.N, p.run()!);
        return p.run;
      }, () => {
        dispose?.();
        dispose = null;
      });
    }
    // PyTorch
    const why = torchAvailable(o);
    if (why) {
      peers.torch = { unavailable: why };
      notes.push(`PyTorch not run: ${why}`);
      log(`torch: not run (${why})`);
    } else {
      log("torch");
      const info = await runTorch(o, rows, timing);
      if (info) {
        peers.torch = { version: info.version, blas: info.blas, blasDetail: info.blasDetail, cpuCapability: info.cpuCapability, threads: info.threads, python: o.python };
        threads.torch = info.threads;
      } else {
        peers.torch = { unavailable: "the torch script failed" };
      }
    }
    if (peers.ort && "version" in peers.ort) threads.ort = o.threads;
  }

  // memory rows, each in a fresh process
  const memory: MemoryRow[] = [];
  const memorySkipped: Report["memorySkipped"] = [];
  for (const group of memGroups) {
    const id = memoryId(group, o.memN);
    const impls: string[] = backends.map((b) => `qkv:${b}`);
    if (o.peers && peers.torch && "version" in peers.torch) impls.push("torch:default");
    for (const impl of impls) {
      const est = guard.estimate(impl, group, "fwd+bwd", o.memN);
      if (est !== null && est > o.memLimitMs) {
        const reason = `skipped: one forward + backward estimated at ${fmtSeconds(est)} > ${fmtSeconds(o.memLimitMs)}`;
        memorySkipped.push({ id, impl, reason });
        log(`  ${id.padEnd(24)} ${impl.padEnd(14)} ${reason}`);
        continue;
      }
      const timeout = Math.max(o.memLimitMs * 2, 60_000);
      const r = impl === "torch:default"
        ? spawnSync(o.python, [path.join(root, "bench", "peers", "torch_bench.py"), "--mem", group, "--n", String(o.memN), "--threads", String(o.threads)],
          { encoding: "utf8", env: torchEnv(o), timeout, maxBuffer: 1 << 24 })
        : spawnSync(process.execPath, ["--import", "tsx", self, "--child-mem", group, impl.slice(4), String(o.memN)],
          { encoding: "utf8", cwd: root, timeout, maxBuffer: 1 << 24 });
      const res = parseLastJson<{ peakMiB: number; baselineMiB: number; deltaMiB: number; ms: number }>(r.stdout ?? "");
      if (r.status !== 0 || !res) {
        const reason = r.error ? `failed: ${errorLine(r.error)}` : r.signal ? `failed: ${r.signal}` : `failed: ${(r.stderr ?? "").trim().split("\n").slice(-1)[0] ?? r.status}`;
        memorySkipped.push({ id, impl, reason });
        log(`  ${id.padEnd(24)} ${impl.padEnd(14)} ${reason}`);
        continue;
      }
      memory.push({ id, group, pass: "fwd+bwd", N: o.memN, impl, ...res });
      log(`  ${id.padEnd(24)} ${impl.padEnd(14)} peak ${res.peakMiB.toFixed(0)} MiB (+${res.deltaMiB.toFixed(0)} over baseline), ${fmtSeconds(res.ms)}`);
    }
  }

  computeRatios(rows);
  machine.loadAvgEnd = os.loadavg()[0]!;
  const { json: _j, md: _m, ...opts } = o;
  const rep: Report = {
    schema: 1, date: new Date().toISOString(), command: `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`,
    options: opts, machine, backends, threads, peers, rows, memory, memorySkipped, checks, notes,
  };
  const text = render(rep, o);
  console.log(text);
  if (o.md) writeFileSync(o.md, `${text}\n`);
  if (o.json) writeFileSync(o.json, `${JSON.stringify(rep, null, 2)}\n`);
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
