/**
 * npm run parity -- <dir> [--family a,b] [--backend js|native|wasm] [--verbose]
 * Runs every PyTorch fixture family in <dir>: one line per family, then the totals; exits 1 when
 * anything failed. Failure details go to stderr.
 */
import { Command } from "commander";
import { loadBackends } from "../src/node.js";
import { setBackend, type BackendName } from "../src/index.js";
import { runFixtureDir } from "./parity/run.js";

const program = new Command("parity")
  .argument("<dir>", "directory of fixture .json files")
  .option("--family <names>", "comma-separated families to run")
  .option("--backend <name>", "backend to run on (default: the fastest that loads)")
  .option("--verbose", "list every case")
  .parse();

const [dir] = program.args;
const opts = program.opts<{ family?: string; backend?: string; verbose?: boolean }>();
loadBackends({ quiet: true });
if (opts.backend) setBackend(opts.backend as BackendName);
const reports = await runFixtureDir(dir!, opts.family?.split(","));
let passed = 0, failed = 0;
for (const r of reports) {
  if (r.skipped) {
    console.log(`${r.family}: skipped (${r.skipped})`);
    continue;
  }
  const p = r.cases.filter((c) => c.ok).length, f = r.cases.length - p;
  passed += p;
  failed += f;
  console.log(`${r.family}: ${p} passed, ${f} failed`);
  for (const c of r.cases) {
    if (!c.ok) console.error(`  FAIL ${r.family}/${c.name}\n    ${c.problems.join("\n    ")}`);
    else if (opts.verbose) console.error(`  ok   ${r.family}/${c.name}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
