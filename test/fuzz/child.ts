/**
 * Runs one fuzz suite in this process and prints its report as one JSON line (the last line of
 * stdout). The tests and `npm run fuzz` start it as a child process, so a crash or an
 * out-of-memory abort is seen as a failed child rather than taking the runner down, and the
 * reported peak memory is this suite's alone.
 *
 * node --import tsx test/fuzz/child.ts loaders|ops --seed 1 (--runs 40 | --minutes 5) [--backend js] [--dir /tmp/x]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadBackends, setBackend, type BackendName } from "../../src/node.js";
import { runTargets, type FuzzTarget } from "./harness.js";

const args = process.argv.slice(2);
const suite = args[0];
const opt = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (name: string): number | undefined => (opt(name) === undefined ? undefined : Number(opt(name)));

loadBackends({ quiet: true });
const backend = opt("backend");
if (backend) setBackend(backend as BackendName);
const dir = mkdtempSync(join(opt("dir") ?? tmpdir(), "qkv-fuzz-"));
try {
  let targets: FuzzTarget[];
  if (suite === "loaders") targets = await (await import("./loaders.js")).loaderTargets(dir);
  else if (suite === "ops") targets = (await import("./ops.js")).opTargets();
  else throw new Error(`unknown suite ${suite}`);
  const only = opt("only");
  if (only) targets = targets.filter((t) => t.name.includes(only));
  const runs = num("runs"), minutes = num("minutes"), maxCaseMs = num("max-case-ms");
  const report = await runTargets(targets, { seed: num("seed") ?? 1, ...(runs !== undefined ? { runs } : {}), ...(minutes !== undefined ? { minutes } : {}),
    ...(maxCaseMs !== undefined ? { maxCaseMs } : {}) });
  process.stdout.write(`\n${JSON.stringify(report)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
