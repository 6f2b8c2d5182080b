/**
 * Efficient attention benchmark: time (median of repeats) and peak memory of forward and
 * forward + backward against N for every variant and for fused full attention (B=1, H=8, D=64,
 * float32, the default backend of the Node entry: native when its addon is built). Each (variant, N) runs in its own child process, so the peak RSS of
 * one row is not inflated by another; memory is the peak-RSS increase over the child's baseline
 * with the inputs allocated.
 *
 *   npm run bench -- efficient [--max 65536] [--min 1024] [--svg docs/efficient-attention.svg]
 *                              [--variants window,linear] [--reps 3] [--limit 60] [--md docs/efficient-attention.md]
 *   (or npx tsx bench/efficient.ts with the same options)
 *
 * Full attention is skipped where its extrapolated (quadratic) time passes --limit seconds.
 * --md replaces the text between `<!-- bench:begin -->` and `<!-- bench:end -->` in that file.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { getNumThreads } from "../src/node.js";
import { getNativeIsa } from "../src/backend/native/index.js";
import { getBackend } from "../src/backend/registry.js";
import { backward } from "../src/autograd/backward.js";
import { noGrad } from "../src/autograd/graph.js";
import { efficientAttention, type AttentionSpec, type EfficientAttentionOptions } from "../src/attention/select.js";
import { PerformerFeatures } from "../src/attention/performer.js";
import { sum } from "../src/ops/reduce.js";
import { Generator } from "../src/tensor/rng.js";
import { Tensor, randn } from "../src/tensor/tensor.js";

const H = 8, D = 64;

/** The benchmarked variants and their settings (per-query cost in parentheses). */
export const variants: Record<string, (N: number) => AttentionSpec> = {
  full: () => ({ kind: "full" }),
  "window w=64": () => ({ kind: "window", window: 64 }), // 129 keys
  "window causal w=128": () => ({ kind: "window", window: 128, causal: true }), // 129 keys
  "dilated w=32 d=4": () => ({ kind: "dilated", window: 32, dilation: 4 }), // 65 keys over ±128
  "longformer w=64 g=32": () => ({ kind: "longformer", window: 64, numGlobal: 32 }), // 161 keys (+ 32 global rows of N)
  "bigbird bs=32 w=1 g=1 r=2": () => ({ kind: "bigbird", window: 1, numGlobal: 1, numRandom: 2, blockSize: 32, seed: 0 }), // 6 blocks = 192 keys
  "block local bs=64": (N) => ({ kind: "block", layout: bandLayout(Math.ceil(N / 64)), blockSize: 64 }), // 2 blocks = 128 keys
  "linformer k=128": () => ({ kind: "linformer", k: 128 }),
  "nystrom m=64": () => ({ kind: "nystrom", landmarks: 64 }),
  "linear": () => ({ kind: "linear" }),
  "linear causal": () => ({ kind: "linear", causal: true }),
  "performer m=128": () => ({ kind: "performer", features: 128, seed: 0 }),
};

/** Block layout of the previous and the own block (a causal local band). */
function bandLayout(n: number): Tensor {
  const d = new Uint8Array(n * n);
  for (let r = 0; r < n; r++) for (let c = Math.max(0, r - 1); c <= r; c++) d[r * n + c] = 1;
  return new Tensor(d, [n, n], "bool");
}

interface Row { variant: string; N: number; fwdMs: number; fwdBwdMs: number; fwdMB: number; fwdBwdMB: number; reps: number }

const maxRssMB = (): number => process.resourceUsage().maxRSS / 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs fn up to `reps` times (stopping once 10 s are spent), returns the median ms and the count. */
function time(fn: () => void, reps: number): [number, number] {
  const ts: number[] = [];
  const t0 = performance.now();
  while (ts.length < reps && (ts.length === 0 || performance.now() - t0 < 10_000)) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  return [median(ts), ts.length];
}

function child(variant: string, N: number, reps: number): Row {
  const mk = variants[variant];
  if (!mk) throw new Error(`unknown variant ${variant}`);
  const g = new Generator(1);
  const q = randn([1, H, N, D], { generator: g, requiresGrad: true });
  const k = randn([1, H, N, D], { generator: g, requiresGrad: true });
  const v = randn([1, H, N, D], { generator: g, requiresGrad: true });
  const spec = mk(N);
  const opts: EfficientAttentionOptions = {};
  if (spec.kind === "linformer") {
    opts.E = randn([spec.k, N], { generator: g, requiresGrad: true });
    opts.F = randn([spec.k, N], { generator: g, requiresGrad: true });
    for (const P of [opts.E, opts.F]) for (let x = 0; x < P.size; x++) P.data[x] = Number(P.data[x]) / Math.sqrt(spec.k);
  }
  if (spec.kind === "performer") opts.features = new PerformerFeatures(D, spec.features, spec.seed);
  // warm the JIT on a small problem, then take the baseline
  const qs = randn([1, 1, 256, D]), ks = randn([1, 1, 256, D]), vs = randn([1, 1, 256, D]);
  const small: EfficientAttentionOptions = spec.kind === "linformer"
    ? { E: randn([spec.k, 256]), F: randn([spec.k, 256]) } : spec.kind === "performer" ? { features: opts.features! } : {};
  noGrad(() => efficientAttention(qs, ks, vs, spec.kind === "block" ? mk(256) : spec, small));
  const base = maxRssMB();
  const [fwdMs] = time(() => { noGrad(() => efficientAttention(q, k, v, spec, opts)); }, reps);
  const fwdMB = maxRssMB() - base;
  const [fwdBwdMs, n] = time(() => {
    q.grad = k.grad = v.grad = null;
    backward(sum(efficientAttention(q, k, v, spec, opts).output));
  }, reps);
  const fwdBwdMB = maxRssMB() - base;
  return { variant, N, fwdMs, fwdBwdMs, fwdMB, fwdBwdMB, reps: n };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

/** A log-log SVG plot of forward + backward time against N, one line per variant. */
export function svgPlot(rows: Row[], title: string): string {
  const W = 760, Hh = 480, ml = 70, mr = 230, mt = 40, mb = 50;
  const ns = rows.map((r) => r.N), ts = rows.map((r) => r.fwdBwdMs / 1000);
  const x0 = Math.log2(Math.min(...ns)), x1 = Math.log2(Math.max(...ns));
  const y0 = Math.floor(Math.log10(Math.min(...ts))), y1 = Math.ceil(Math.log10(Math.max(...ts)));
  const X = (n: number): number => ml + ((Math.log2(n) - x0) / Math.max(1e-9, x1 - x0)) * (W - ml - mr);
  const Y = (t: number): number => mt + (1 - (Math.log10(t) - y0) / Math.max(1e-9, y1 - y0)) * (Hh - mt - mb);
  const colors = ["#000000", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79"];
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" viewBox="0 0 ${W} ${Hh}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${Hh}" fill="#ffffff"/>`);
  out.push(`<text x="${ml}" y="22" font-size="14">${title}</text>`);
  for (let e = x0; e <= x1 + 1e-9; e++) {
    const x = X(2 ** e);
    out.push(`<line x1="${x}" y1="${mt}" x2="${x}" y2="${Hh - mb}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${x}" y="${Hh - mb + 16}" text-anchor="middle">${2 ** e >= 1024 ? `${2 ** e / 1024}k` : 2 ** e}</text>`);
  }
  for (let e = y0; e <= y1; e++) {
    const y = Y(10 ** e);
    out.push(`<line x1="${ml}" y1="${y}" x2="${W - mr}" y2="${y}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${ml - 6}" y="${y + 4}" text-anchor="end">${10 ** e >= 1 ? `${10 ** e} s` : `${10 ** e * 1000} ms`}</text>`);
  }
  out.push(`<text x="${(ml + W - mr) / 2}" y="${Hh - 12}" text-anchor="middle">sequence length N (log scale)</text>`);
  out.push(`<text transform="translate(16 ${(mt + Hh - mb) / 2}) rotate(-90)" text-anchor="middle">forward + backward time (log scale)</text>`);
  out.push(`<rect x="${ml}" y="${mt}" width="${W - ml - mr}" height="${Hh - mt - mb}" fill="none" stroke="#000"/>`);
  const names = [...new Set(rows.map((r) => r.variant))];
  names.forEach((name, i) => {
    const c = colors[i % colors.length]!;
    const pts = rows.filter((r) => r.variant === name).sort((a, b) => a.N - b.N);
    out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map((r) => `${X(r.N).toFixed(1)},${Y(r.fwdBwdMs / 1000).toFixed(1)}`).join(" ")}"/>`);
    for (const r of pts) out.push(`<circle cx="${X(r.N).toFixed(1)}" cy="${Y(r.fwdBwdMs / 1000).toFixed(1)}" r="3" fill="${c}"/>`);
    const ly = mt + 10 + i * 18;
    out.push(`<line x1="${W - mr + 14}" y1="${ly}" x2="${W - mr + 34}" y2="${ly}" stroke="${c}" stroke-width="2"/>`);
    out.push(`<text x="${W - mr + 40}" y="${ly + 4}">${name}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

const help = `npm run bench -- efficient [options]   (or npx tsx bench/efficient.ts [options])
  --min N           smallest sequence length (default 1024; N doubles up to --max)
  --max N           largest sequence length (default 65536)
  --variants LIST   comma-separated variant names (default all: ${Object.keys(variants).join(", ")})
  --reps N          repeats per row, median reported (default 3; fewer once 10 s are spent)
  --limit S         skip full attention where its estimated time passes S seconds (default 60)
  --md FILE         replace the text between <!-- bench:begin --> and <!-- bench:end --> in FILE
  --svg FILE        write a log-log plot of forward + backward time against N`;

/** A whole-number option of at least `least`; exits with a message naming the option otherwise. */
function intOption(name: string, fallback: string, least: number): number {
  const raw = arg(name, fallback), v = Number(raw);
  if (!Number.isInteger(v) || v < least) {
    console.error(`bench efficient: --${name} expected an integer >= ${least}, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return v;
}

function main(): void {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(help);
    return;
  }
  if (process.argv.includes("--child")) {
    const i = process.argv.indexOf("--child");
    const row = child(process.argv[i + 1]!, Number(process.argv[i + 2]), Number(arg("reps", "3")));
    process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  const min = intOption("min", "1024", 1), max = intOption("max", "65536", min);
  const reps = String(intOption("reps", "3", 1)), limit = intOption("limit", "60", 0) * 1000;
  const names = arg("variants", Object.keys(variants).join(",")).split(",").map((s) => s.trim());
  const unknown = names.filter((n) => !(n in variants));
  if (unknown.length) {
    console.error(`bench efficient: --variants expected names from ${Object.keys(variants).join(", ")}; got unknown ${unknown.map((n) => JSON.stringify(n)).join(", ")}`);
    process.exit(2);
  }
  const svg = arg("svg", "");
  const self = fileURLToPath(import.meta.url);
  const rows: Row[] = [];
  const notes: string[] = [];
  const lines: string[] = [];
  const say = (l: string): void => { lines.push(l); console.log(l); };
  const be = getBackend().name;
  const backendLabel = be === "native" ? `native backend (${getNativeIsa()}, ${getNumThreads()} threads)` : `${be} backend`;
  say(`B=1, H=${H}, D=${D}, float32, ${backendLabel}; time = median of up to ${reps} runs; memory = peak RSS increase (MB) in a fresh process\n`);
  say("| variant | N | forward | fwd+bwd | fwd MB | fwd+bwd MB |");
  say("|---|---:|---:|---:|---:|---:|");
  for (const name of names) {
    let prev: Row | null = null;
    for (let N = min; N <= max; N *= 2) {
      const quadratic = name === "full";
      const est = prev ? prev.fwdBwdMs * (quadratic ? 4 : 2) : 0;
      if (quadratic && prev && est > limit) {
        notes.push(`${name}: skipped N >= ${N} (fwd+bwd estimated ${fmtMs(est)} > ${fmtMs(limit)})`);
        break;
      }
      const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", name, String(N), "--reps", reps], { encoding: "utf8", maxBuffer: 1 << 24 });
      const line = r.stdout.trim().split("\n").pop() ?? "";
      if (r.status !== 0 || !line.startsWith("{")) {
        notes.push(`${name} N=${N}: failed (${(r.stderr || "").trim().split("\n").slice(-1)[0] ?? r.status})`);
        break;
      }
      const row = JSON.parse(line) as Row;
      rows.push(row);
      prev = row;
      say(`| ${name} | ${N} | ${fmtMs(row.fwdMs)} | ${fmtMs(row.fwdBwdMs)} | ${row.fwdMB.toFixed(0)} | ${row.fwdBwdMB.toFixed(0)} |`);
    }
  }
  say("\nGrowth per doubling, 16k -> 32k and 32k -> 64k (linear-time variants must stay <= 2.5x):\n");
  for (const name of names) {
    const at = (n: number): Row | undefined => rows.find((r) => r.variant === name && r.N === n);
    const parts: string[] = [];
    let above = false;
    for (const [lo, hi] of [[16384, 32768], [32768, 65536]] as const) {
      const a = at(lo), b = at(hi);
      if (!a || !b) continue;
      const rf = b.fwdMs / a.fwdMs, rb = b.fwdBwdMs / a.fwdBwdMs;
      above ||= Math.max(rf, rb) > 2.5;
      parts.push(`${lo / 1024}k -> ${hi / 1024}k: forward x${rf.toFixed(2)}, fwd+bwd x${rb.toFixed(2)}`);
    }
    if (parts.length) say(`- ${name}: ${parts.join("; ")}${name !== "full" && above ? "  ** above 2.5x **" : ""}`);
  }
  if (notes.length) say("");
  for (const n of notes) say(`- note: ${n}`);
  const md = arg("md", "");
  if (md) {
    const text = readFileSync(md, "utf8");
    const begin = "<!-- bench:begin -->", end = "<!-- bench:end -->";
    const a = text.indexOf(begin), b = text.indexOf(end);
    if (a >= 0 && b > a) writeFileSync(md, `${text.slice(0, a + begin.length)}\n${lines.join("\n")}\n${text.slice(b)}`);
  }
  if (svg && rows.length) {
    writeFileSync(svg, svgPlot(rows, `attention forward + backward, B=1 H=${H} D=${D} (float32, ${backendLabel})`));
    console.log(`wrote ${svg}`);
  }
}

main();
