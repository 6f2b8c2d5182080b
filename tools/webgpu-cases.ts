/**
 * npm run webgpu-cases -- [--webgpu PATH] [--family a,b] [--verbose] [--unzeroed-workgroup-memory]
 * The WebGPU kernel cases of test/browser/webgpu.test.ts (test/browser/webgpu-page.ts: every
 * kernel on seeded inputs of awkward sizes against the js kernels, guard elements around every
 * device array) in Node through dawn.node (the optional webgpu package, at PATH with --webgpu), on
 * whatever adapter it gives: a GPU, or a CPU implementation (named as one). It runs them where
 * Chromium cannot: on a GPU machine with no browser, and on adapters with features SwiftShader
 * lacks (shader-f16: the f16 GEMM kernel itself; other subgroup sizes). One line per family, the
 * failures on stderr; exit 1 when a case failed or there is no device. The page's typed-error cases
 * (which destroy the device) stay in the browser test.
 *
 * --unzeroed-workgroup-memory turns on Dawn's `disable_workgroup_init` toggle: workgroup memory is
 * not zeroed before a kernel runs (as WebGPU otherwise guarantees). On an adapter that hands a
 * workgroup what the last one left there (lavapipe does; SwiftShader zeroes it itself), a kernel
 * that reads workgroup memory it did not write then reads stale values and fails its cases.
 */
import { Command } from "commander";
import type { CaseResult, PageApi } from "../test/browser/webgpu-page.js";

const program = new Command("webgpu-cases")
  .option("--webgpu <path>", "the webgpu package's folder (default: node_modules)")
  .option("--family <names>", "comma-separated families to run (default: all)")
  .option("--verbose", "list every case with its error as a share of its tolerance")
  .option("--unzeroed-workgroup-memory", "Dawn's disable_workgroup_init toggle: workgroup memory not zeroed before each kernel")
  .parse();
const opts = program.opts<{ webgpu?: string; family?: string; verbose?: boolean; unzeroedWorkgroupMemory?: boolean }>();

const { nodeGpu } = await import("../src/backend/webgpu/node-gpu.js");
const { WebGPUUnavailableError } = await import("../src/backend/webgpu/errors.js");
let gpu: GPU;
try {
  gpu = await nodeGpu({ module: opts.webgpu, flags: opts.unzeroedWorkgroupMemory ? ["enable-dawn-features=disable_workgroup_init"] : [] });
} catch (e) {
  if (!(e instanceof WebGPUUnavailableError)) throw e;
  console.error(`webgpu-cases: no webgpu device (${e.message})`);
  process.exit(1);
}

// the page as the browser opens it: navigator.gpu, and a body that says when the kernels are ready
const body = { dataset: {} as Record<string, string> };
Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true });
Object.defineProperty(globalThis, "document", { value: { body }, configurable: true });
await import("../test/browser/webgpu-page.js");
while (body.dataset.ready !== "1") await new Promise((r) => setTimeout(r, 10));
if (body.dataset.error) {
  console.error(`webgpu-cases: no webgpu device (${body.dataset.error})`);
  process.exit(1);
}
const api = (globalThis as { qkvWebgpu?: PageApi }).qkvWebgpu!;
const { vendor, architecture, subgroups, shaderF16 } = api.info;
console.log(`webgpu: ${vendor || "?"} ${architecture || "?"}; subgroups ${subgroups ? "yes" : "no"}, shader-f16 ${shaderF16 ? "yes" : "no"}`);

const families = opts.family ? opts.family.split(",") : api.families;
const unknown = families.filter((f) => !api.families.includes(f));
if (unknown.length) {
  console.error(`webgpu-cases: --family expected names among ${api.families.join(", ")}, got ${unknown.join(", ")}`);
  process.exit(1);
}
let passed = 0, failed = 0;
for (const family of families) {
  const t0 = performance.now();
  let list: CaseResult[];
  try {
    list = await api.run(family);
  } catch (e) {
    failed++;
    console.log(`${family}: threw`);
    console.error(`  FAIL ${family}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    continue;
  }
  const bad = list.filter((c) => !c.ok);
  const worst = list.reduce((w, c) => (c.worst > w.worst ? c : w), list[0] ?? { name: "none", worst: 0, ok: true, detail: "" });
  passed += list.length - bad.length;
  failed += bad.length;
  console.log(`${family}: ${list.length - bad.length} passed, ${bad.length} failed (${((performance.now() - t0) / 1000).toFixed(1)} s; closest to its tolerance: ${worst.name}, ${worst.worst.toFixed(3)} of it)`);
  if (opts.verbose) for (const c of list) console.log(`  ${c.ok ? "ok  " : "FAIL"} ${c.worst.toFixed(3)} ${c.name}: ${c.detail}`);
  for (const c of bad) console.error(`  FAIL ${family}/${c.name}: ${c.detail}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
