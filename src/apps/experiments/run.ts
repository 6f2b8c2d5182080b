/**
 * `qkv experiments`: runs the named experiments (all by default), writes each one's plots and raw
 * results (`<name>.json`) into the output directory, and regenerates the report `<out>.md` from
 * every result file found there (docs/experiments/ -> docs/experiments.md).
 *
 * ```ts
 * const r = await runExperiments({ names: ["gradient-flow"], quick: true, out: "/tmp/exp" });
 * r.docPath; // "/tmp/exp.md"
 * ```
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { getBackend } from "../../backend/registry.js";
import { writeAtomic } from "../../io/files.js";
import { ValueError } from "../../tensor/errors.js";
import { experimentNames, experiments } from "./registry.js";
import { reportMarkdown } from "./report.js";
import type { ExperimentReport } from "./results.js";

export interface RunExperimentsOptions {
  /** Experiment names (default: all, in the report's order). */
  names?: string[];
  quick?: boolean;
  /** Directory of the JSON and SVG files (default docs/experiments); the report is written beside it as `<out>.md`. */
  out?: string;
  /** Seeds for every experiment (default: each one's own; the first of them with --quick). */
  seeds?: number[];
  log?: (line: string) => void;
}

export interface RunExperimentsResult {
  reports: ExperimentReport[];
  docPath: string;
  /** Every file written, the report included. */
  files: string[];
}

export async function runExperiments(o: RunExperimentsOptions = {}): Promise<RunExperimentsResult> {
  const op = "qkv experiments";
  const names = o.names?.length ? o.names : experimentNames();
  for (const n of names) if (!experimentNames().includes(n)) throw new ValueError(op, "name", experimentNames().join(" | "), JSON.stringify(n));
  for (const s of o.seeds ?? []) if (!Number.isInteger(s) || s < 0) throw new ValueError(op, "--seeds", "non-negative integers", String(s));
  const quick = o.quick ?? false;
  const log = o.log ?? ((l: string) => console.log(l));
  const out = resolve(o.out ?? "docs/experiments").replace(/[\\/]+$/, "");
  mkdirSync(out, { recursive: true });
  const files: string[] = [];
  const reports: ExperimentReport[] = [];
  for (const e of experiments.filter((x) => names.includes(x.name))) {
    const seeds = o.seeds ?? (quick ? e.defaultSeeds.slice(0, 1) : e.defaultSeeds);
    log(`${e.title} (${quick ? "quick" : `full, about ${e.fullMinutes} min on 2 cores`}; seeds ${seeds.join(", ")})`);
    const t0 = performance.now(), c0 = process.cpuUsage();
    const { report, svgs } = await e.run({ quick, seeds, log });
    const cpu = process.cpuUsage(c0);
    const full: ExperimentReport = {
      name: e.name, title: e.title, question: e.question, quick, backend: getBackend().name,
      seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, finished: new Date().toISOString(), ...report,
    };
    for (const [file, svg] of Object.entries(svgs)) {
      await writeAtomic(join(out, file), svg);
      files.push(join(out, file));
    }
    await writeAtomic(join(out, `${e.name}.json`), `${JSON.stringify(full, null, 1)}\n`);
    files.push(join(out, `${e.name}.json`));
    reports.push(full);
    log(`  ${full.verdict}`);
    log(`  done in ${full.seconds.toFixed(1)} s (CPU ${full.cpuSeconds.toFixed(1)} s)`);
  }
  const docPath = `${out}.md`;
  const all: ExperimentReport[] = [];
  const missing: { name: string; title: string }[] = [];
  for (const e of experiments) {
    const p = join(out, `${e.name}.json`);
    if (existsSync(p)) all.push(JSON.parse(readFileSync(p, "utf8")) as ExperimentReport);
    else missing.push({ name: e.name, title: e.title });
  }
  await writeAtomic(docPath, reportMarkdown(all, { dir: relative(dirname(docPath), out) || basename(out), missing }));
  files.push(docPath);
  log(`report: ${docPath}`);
  return { reports, docPath, files };
}
