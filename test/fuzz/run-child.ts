/** Starts test/fuzz/child.ts as a child process and returns its report (or how it died). */
import { spawn } from "node:child_process";
import type { FuzzReport } from "./harness.js";

export interface ChildResult {
  report: FuzzReport | null;
  code: number | null;
  signal: string | null;
  stderr: string;
}

/** `heapMiB` caps the child's JavaScript heap: an input that makes a loader build a huge object aborts it. */
export function runFuzzChild(args: readonly string[], opts: { heapMiB?: number; timeoutMs?: number } = {}): Promise<ChildResult> {
  return new Promise((resolve) => {
    const node = [...(opts.heapMiB ? [`--max-old-space-size=${opts.heapMiB}`] : []), "--import", "tsx", "test/fuzz/child.ts", ...args];
    const child = spawn(process.execPath, node, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("exit", (code, signal) => {
      if (timer) clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      let report: FuzzReport | null = null;
      try { report = JSON.parse(line) as FuzzReport; } catch { /* died before its report */ }
      resolve({ report, code, signal, stderr: err.slice(-2000) });
    });
  });
}

export function describeFindings(r: ChildResult): string {
  if (!r.report) return `the fuzz child died (code ${r.code}, signal ${r.signal}): ${r.stderr}`;
  return r.report.findings.map((f) => `${f.target} (seed ${f.seed}): ${f.message}\n  input: ${f.counterexample}`).join("\n");
}
