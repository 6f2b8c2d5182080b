/**
 * docs/experiments.md from the experiments' JSON files: for each experiment the source document's
 * claim, the setup, the plots, the tables and the verdict, with links to the raw JSON. The page is
 * generated from the files alone, so running one experiment again updates its section and keeps
 * the others.
 *
 * ```ts
 * const md = reportMarkdown(reports, { dir: "experiments" }); // image links experiments/<plot>.svg
 * ```
 */
import type { ExperimentReport, Table } from "./results.js";

export interface ReportOptions {
  /** The directory of the JSON and SVG files, relative to the markdown file. */
  dir: string;
  /** Names of experiments with no results yet (listed as not run). */
  missing?: { name: string; title: string }[];
}

const cell = (v: string | number): string => String(v).replace(/\|/g, "\\|").replace(/\n/g, " ");

export function tableMarkdown(t: Table): string {
  const lines: string[] = [];
  if (t.caption) lines.push(`*${t.caption}*`, "");
  lines.push(`| ${t.columns.map(cell).join(" | ")} |`);
  lines.push(`|${t.columns.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const r of t.rows) lines.push(`| ${r.map(cell).join(" | ")} |`);
  return lines.join("\n");
}

const minutes = (s: number): string => (s < 90 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);

export function reportMarkdown(reports: readonly ExperimentReport[], o: ReportOptions): string {
  const quick = reports.some((r) => r.quick);
  const total = reports.reduce((s, r) => s + r.seconds, 0);
  const cpuTotal = reports.reduce((s, r) => s + (r.cpuSeconds ?? NaN), 0);
  const out: string[] = [];
  out.push("# Experiments: self-attention against recurrent networks, and how many heads", "");
  out.push(
    "The article on self-attention that this project started from claims that self-attention beats",
    "recurrent networks on three counts — long-range dependencies, parallel computation and gradient flow — and that more heads are",
    "more expressive at more cost. Each claim is an experiment here, rerun by one command:",
    "",
    "```sh",
    "npx qkv experiments                 # all four, then this page (docs/experiments.md, files in docs/experiments/)",
    "npx qkv experiments long-range heads # some of them; the page keeps the others' last results",
    "npx qkv experiments --quick          # small sizes, one seed: a smoke test (under 2 minutes)",
    "```",
    "",
  );
  if (quick) {
    out.push(
      "> **This page comes from a quick run** (`--quick`: small sizes, few training steps, one seed). Its numbers show that the",
      "> pipeline works, not what the experiments find; the verdicts below are computed from these small runs and are not",
      "> conclusions. The full run (`npx qkv experiments`) regenerates the page.",
      "",
    );
  }
  out.push(
    `Every run is seeded; each experiment's raw results are in \`${o.dir}/<name>.json\` beside its plots. Times are wall-clock on the`,
    `machine that ran them (${reports.length ? `backend ${[...new Set(reports.map((r) => r.backend))].join(", ")}` : "none yet"}), in all ${minutes(total)}; the CPU time of the process (all`,
    `threads${Number.isFinite(cpuTotal) ? `, in all ${minutes(cpuTotal)}` : ""}) is beside it: a wall time far above it means the machine was busy with other work.`,
    "",
  );
  out.push("| experiment | mode | seeds | wall time | CPU time | finished |", "|---|---|---|---:|---:|---|");
  for (const r of reports) {
    const cpu = r.cpuSeconds === undefined ? "–" : minutes(r.cpuSeconds);
    out.push(`| [${r.title}](#${anchor(r.title)}) | ${r.quick ? "quick" : "full"} | ${r.seeds.join(", ")} | ${minutes(r.seconds)} | ${cpu} | ${r.finished.slice(0, 16).replace("T", " ")} |`);
  }
  for (const m of o.missing ?? []) out.push(`| ${m.title} | not run yet | | | | |`);
  out.push("");
  for (const r of reports) {
    out.push(`## ${r.title}`, "");
    out.push(`**The claim.** ${r.question}`, "");
    out.push(`**Setup.** ${r.setup}`, "");
    for (const p of r.plots) out.push(`![${p.caption}](${o.dir}/${p.file})`, "", `*${p.caption}*`, "");
    for (const t of r.tables) out.push(tableMarkdown(t), "");
    out.push(`**Verdict${r.quick ? " (quick run: not a conclusion)" : ""}.** ${r.verdict}`, "");
    out.push(`Raw results: [${o.dir}/${r.name}.json](${o.dir}/${r.name}.json) · ${r.quick ? "quick run" : "full run"}, ${minutes(r.seconds)}, seeds ${r.seeds.join(", ")}.`, "");
  }
  out.push(
    "## What the claims leave out",
    "",
    "- **Cost.** Full attention costs O(N²) time and memory per layer in the sequence length, and generating each new token reads",
    "  every cached key and value (O(N) per token) where a recurrent net pays a constant; experiment 2 measures both. The efficient",
    "  variants (docs/efficient-attention.md) cut the cost, and a sparse pattern also cuts the long-range path it was meant to give",
    "  (the window variant in experiments 1 and 3).",
    "- **Positions.** Self-attention is blind to order; the transformers here add sinusoidal positions.",
    "- **Depth.** \"No vanishing gradients\" holds for the path through time; a deep stack still needs residual connections and",
    "  normalization (every transformer here is pre-norm with residuals).",
    "- **Budgets.** Each comparison is at one matched parameter count and number of updates with one learning rate for all; other",
    "  budgets, tuned learning rates or curricula can move the recurrent nets' limits.",
    "",
  );
  return out.join("\n");
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function anchor(title: string): string {
  return title.toLowerCase().replace(/[^\p{L}\p{N} -]/gu, "").replace(/ /g, "-");
}
