/**
 * Runs the unit tests and the PyTorch parity fixtures once per backend that loads here (native,
 * wasm, js), then prints the totals as its last line: `<N> passed, <M> failed`.
 *
 * npm run test:unit   (this script)   [--backend js] [files...]
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { availableBackends, loadBackends } from "../src/node.js";

function testFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (e.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const bi = args.indexOf("--backend");
const only = bi >= 0 ? args.splice(bi, 2)[1] : undefined;
const files = args.length ? args : testFiles("test");
loadBackends({ quiet: true });
const backends = only ? [only] : availableBackends();
// test files run in their own processes, as many at once as there are cores: most are single-threaded
const concurrency = Math.max(1, availableParallelism());
let passed = 0, failed = 0;
const summary: string[] = [];
for (const b of backends) {
  console.log(`\n=== unit tests on the ${b} backend ===`);
  const env = { ...process.env, QKV_BACKEND: b };
  const r = spawnSync(process.execPath, ["--import", "tsx", "--import", "./test/setup.ts", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files],
    { env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 28 });
  process.stdout.write(r.stdout);
  const p = Number(/ℹ pass (\d+)/.exec(r.stdout)?.[1] ?? 0), f = Number(/ℹ fail (\d+)/.exec(r.stdout)?.[1] ?? 0);
  const crashed = r.status !== 0 && f === 0 ? 1 : 0;
  passed += p;
  failed += f + crashed;
  summary.push(`${b}: unit ${p} passed, ${f + crashed} failed`);
  console.log(`\n=== PyTorch parity fixtures on the ${b} backend ===`);
  const q = spawnSync(process.execPath, ["--import", "tsx", "tools/parity.ts", "test/fixtures/pytorch", "--backend", b],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  process.stdout.write(q.stdout);
  const m = /^(\d+) passed, (\d+) failed$/m.exec(q.stdout);
  const qp = Number(m?.[1] ?? 0), qf = Number(m?.[2] ?? 1);
  passed += qp;
  failed += qf + (q.status !== 0 && qf === 0 ? 1 : 0);
  summary.push(`${b}: parity ${qp} passed, ${qf} failed`);
}
console.log(`\n${summary.join("\n")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
