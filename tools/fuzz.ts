/**
 * Deep fuzzing: the loader suite and the ops suite (once per backend that loads) for a wall-clock
 * budget, each in a child process with a capped heap, with a fresh seed per run unless one is
 * given. Prints the inputs tried and every finding with its seed and input; exits 1 on a finding.
 *
 * npm run fuzz -- --minutes 30 [--seed 7] [--suite loaders|ops]
 */
import { availableBackends, loadBackends } from "../src/node.js";
import { describeFindings, runFuzzChild } from "../test/fuzz/run-child.js";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const minutes = Number(opt("minutes") ?? 5);
const seed = Number(opt("seed") ?? Date.now() % 2 ** 31);
const only = opt("suite");
if (!(minutes > 0)) throw new Error(`--minutes expects a positive number, got ${opt("minutes")}`);
loadBackends({ quiet: true });
const backends = availableBackends();
const jobs: { name: string; args: string[] }[] = [];
if (!only || only === "loaders") jobs.push({ name: "loaders", args: ["loaders"] });
if (!only || only === "ops") for (const b of backends) jobs.push({ name: `ops (${b})`, args: ["ops", "--backend", b] });
// half the time to the loaders, half to the ops shared among the backends
const share = (j: { name: string }): number => (only ? minutes / jobs.length : j.name === "loaders" ? minutes / 2 : minutes / 2 / backends.length);

let tried = 0, findings = 0;
console.log(`fuzzing for ${minutes} min, seed ${seed}`);
for (const j of jobs) {
  const m = share(j);
  const r = await runFuzzChild([...j.args, "--seed", String(seed), "--minutes", String(m)], { heapMiB: 256, timeoutMs: (m + 5) * 60_000 });
  const n = r.report?.tried ?? 0;
  tried += n;
  const f = r.report ? r.report.findings.length : 1;
  findings += f;
  console.log(`${j.name}: ${n} inputs in ${m.toFixed(1)} min, ${f} findings, peak ${r.report?.peakRssMiB ?? "?"} MiB`);
  if (r.report) for (const [t, k] of Object.entries(r.report.perTarget)) console.log(`  ${t}: ${k}`);
  if (f) console.log(describeFindings(r));
}
console.log(`${tried} inputs tried, ${findings} findings`);
process.exitCode = findings ? 1 : 0;
