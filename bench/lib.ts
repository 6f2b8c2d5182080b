/**
 * Shared pieces of the benchmark (bench/run.ts): the row model, FLOP counts, timing with
 * warm-up and adaptive repeats, the skip estimate, and table formatting.
 */
import { readFileSync } from "node:fs";
import os from "node:os";

export type Group = "core" | "mha";
export type Pass = "fwd" | "fwd+bwd";

export const B = 1, H = 8, D = 64, E = 512;

/** One timed cell: an implementation on one row. */
export interface Cell {
  impl: string;
  ms: number;
  minMs: number;
  reps: number;
  gflops: number;
}

export interface Skip {
  impl: string;
  reason: string;
}

export interface Ratio {
  qkv: string;
  peer: string;
  /** qkv ms / peer ms: below 1 means qkv is faster. */
  ratio: number;
}

export interface Row {
  id: string;
  group: Group;
  pass: Pass;
  N: number;
  /** Floating-point work of the row (GFLOP), by the counting convention in flopsOf. */
  gflop: number;
  results: Cell[];
  skipped: Skip[];
  ratios: Ratio[];
}

export interface MemoryRow {
  id: string;
  group: Group;
  pass: "fwd+bwd";
  N: number;
  impl: string;
  /** Peak RSS of the whole process (MiB). */
  peakMiB: number;
  /** RSS high-water mark before the measured call, with the inputs allocated (MiB). */
  baselineMiB: number;
  /** peakMiB - baselineMiB. */
  deltaMiB: number;
  /** Time of the one measured forward + backward (ms). */
  ms: number;
}

export const rowId = (group: Group, pass: Pass, N: number): string => `${group} ${pass} N=${N}`;
export const memoryId = (group: Group, N: number): string => `memory ${group} fwd+bwd N=${N}`;

/**
 * FLOPs of a row: the core forward counts Q K^T and P V (4·B·H·N²·D); the MHA forward adds the
 * four E x E projections (4·2·B·N·E²); backward counts as twice the forward.
 */
export function flopsOf(group: Group, pass: Pass, N: number): number {
  const core = 4 * B * H * N * N * D;
  const fwd = group === "core" ? core : core + 4 * 2 * B * N * E * E;
  return pass === "fwd" ? fwd : 3 * fwd;
}

export interface TimingOptions {
  /** Untimed runs first; more follow (up to 50) until warmupMs have passed, so JIT tiers settle. */
  warmup: number;
  warmupMs: number;
  minReps: number;
  maxReps: number;
  /** Stop repeating once this many ms were spent (after minReps). */
  budgetMs: number;
}

export interface Timing {
  ms: number;
  minMs: number;
  reps: number;
}

/** Median wall and CPU seconds (CPU: every thread of the process) of `fn` over `n` runs after one warm-up run. */
export function wallAndCpu(fn: () => void, n: number): { wall: number; cpu: number } {
  fn();
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    fn();
    const c = process.cpuUsage(c0);
    wall.push((performance.now() - t0) / 1000);
    cpu.push((c.user + c.system) / 1e6);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median wall time of fn (awaited when it returns a promise) after the untimed warm-up runs. */
export async function measure(fn: () => unknown, o: TimingOptions): Promise<Timing> {
  const w0 = performance.now();
  for (let i = 0; i < o.warmup || (o.warmup > 0 && i < 50 && performance.now() - w0 < o.warmupMs); i++) {
    const r = fn();
    if (r instanceof Promise) await r;
  }
  const ts: number[] = [];
  const t0 = performance.now();
  while (ts.length < o.minReps || (ts.length < o.maxReps && performance.now() - t0 < o.budgetMs)) {
    const t = performance.now();
    const r = fn();
    if (r instanceof Promise) await r;
    ts.push(performance.now() - t);
  }
  return { ms: median(ts), minMs: Math.min(...ts), reps: ts.length };
}

/**
 * Tracks the last measured size of each (impl, group, pass) series and estimates the time of a
 * larger N by quadratic growth, so rows that would take too long are skipped with a reason.
 */
export class SeriesGuard {
  private last = new Map<string, { N: number; ms: number }>();
  private failed = new Map<string, string>();

  constructor(private readonly rowLimitMs: number, private readonly timing: TimingOptions) {}

  private key(impl: string, group: Group, pass: Pass): string {
    return `${impl}|${group}|${pass}`;
  }

  /** Estimated ms of one run at N, or null when nothing smaller was measured. */
  estimate(impl: string, group: Group, pass: Pass, N: number): number | null {
    const l = this.last.get(this.key(impl, group, pass));
    return l ? l.ms * (N / l.N) ** 2 : null;
  }

  /** Timing options for a run whose single-run estimate is `est` (no warm-up for multi-second runs). */
  optionsFor(est: number | null): TimingOptions {
    return est !== null && est > 3000 ? { ...this.timing, warmup: 0 } : this.timing;
  }

  /** A reason to skip, or null to run. */
  skipReason(impl: string, group: Group, pass: Pass, N: number): string | null {
    const f = this.failed.get(this.key(impl, group, pass));
    if (f) return f;
    const est = this.estimate(impl, group, pass, N);
    if (est === null) return null;
    const o = this.optionsFor(est);
    const rowMs = est * (o.warmup + o.minReps);
    if (rowMs > this.rowLimitMs) {
      return `skipped: estimated ${fmtSeconds(est)} per run, ${fmtSeconds(rowMs)} per row > ${fmtSeconds(this.rowLimitMs)}`;
    }
    return null;
  }

  record(impl: string, group: Group, pass: Pass, N: number, ms: number): void {
    this.last.set(this.key(impl, group, pass), { N, ms });
  }

  fail(impl: string, group: Group, pass: Pass, N: number, err: unknown): string {
    const msg = `failed at N=${N}: ${errorLine(err)}`;
    this.failed.set(this.key(impl, group, pass), `skipped: ${msg}`);
    return msg;
  }
}

export function errorLine(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  return (s.split("\n")[0] ?? s).slice(0, 160);
}

export function fmtSeconds(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function fmtMs(ms: number): string {
  if (ms >= 1000) return ms.toFixed(0);
  if (ms >= 100) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function fmtRatio(r: number): string {
  return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

/** A markdown table. */
export function table(header: string[], rows: string[][], align: ("l" | "r")[] = []): string {
  const sep = header.map((_, i) => ((align[i] ?? (i === 0 ? "l" : "r")) === "r" ? "---:" : "---"));
  return [header, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  avx512: boolean;
  memGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started (other work on the machine skews timings). */
  loadAvgStart: number;
  loadAvgEnd?: number;
}

export function machineInfo(): MachineInfo {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  let avx512 = false;
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1];
    if (model) cpu = model.trim();
    avx512 = /^flags\s*:.*\bavx512f\b/m.test(info);
    const fam = /^cpu family\s*:\s*(\d+)$/m.exec(info)?.[1], mod = /^model\s*:\s*(\d+)$/m.exec(info)?.[1];
    if (fam && mod) cpu += ` (family ${fam}, model ${mod})`;
  } catch {
    // not Linux: os.cpus() is all there is
  }
  return {
    cpu, cores: os.cpus().length, avx512, memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version, platform: `${process.platform}/${process.arch}`, loadAvgStart: os.loadavg()[0]!,
  };
}

/** Peak RSS of this process so far (MiB). */
export const peakRssMiB = (): number => process.resourceUsage().maxRSS / 1024;
