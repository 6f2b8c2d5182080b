/**
 * npm run parity -- <dir> [--family a,b] [--backend js|native|wasm|webgpu] [--webgpu PATH] [--verbose]
 * Runs every PyTorch fixture family in <dir>: one line per family, then the totals; exits 1 when
 * anything failed. Failure details go to stderr. `--backend webgpu` runs them on a GPU in Node
 * (the optional webgpu package, at PATH with --webgpu; a CPU adapter such as SwiftShader is used
 * too, and named): inputs, parameters and modules on the device, outputs and gradients read back;
 * without a device it says why and exits 1.
 */
import { Command } from "commander";
import { loadBackends } from "../src/node.js";
import { setBackend, type AnyBackend, type BackendName } from "../src/index.js";
import { runFixtureDir } from "./parity/run.js";

const program = new Command("parity")
  .argument("<dir>", "directory of fixture .json files")
  .option("--family <names>", "comma-separated families to run")
  .option("--backend <name>", "backend to run on (default: the fastest that loads)")
  .option("--webgpu <path>", "with --backend webgpu: the webgpu package's folder (default: node_modules)")
  .option("--verbose", "list every case")
  .parse();

const [dir] = program.args;
const opts = program.opts<{ family?: string; backend?: string; webgpu?: string; verbose?: boolean }>();
loadBackends({ quiet: true });

/** The webgpu backend on dawn.node's device (registered and active), or null after saying why there is none. */
async function webgpuDevice(): Promise<AnyBackend | null> {
  const [{ requestNodeGpuDevice }, { WebGPUBackend, WebGPUKernels, WebGPUUnavailableError }, { registerBackend }] = await Promise.all([
    import("../src/backend/webgpu/node-gpu.js"), import("../src/backend/webgpu/index.js"), import("../src/backend/registry.js")]);
  try {
    const d = await requestNodeGpuDevice(opts.webgpu ? { module: opts.webgpu } : {});
    console.log(`webgpu: ${d.vendor || "?"} ${d.architecture || "?"} ${d.description || ""}${d.cpu ? " (a CPU implementation of WebGPU, not a GPU)" : ""}`.trimEnd());
    const be = new WebGPUBackend(new WebGPUKernels(d));
    registerBackend(be, true);
    return be;
  } catch (e) {
    if (!(e instanceof WebGPUUnavailableError)) throw e;
    console.error(`parity: no webgpu device (${e.message})`);
    return null;
  }
}

let device: AnyBackend | null = null;
if (opts.backend === "webgpu") {
  device = await webgpuDevice();
  if (!device) process.exit(1);
} else if (opts.backend) setBackend(opts.backend as BackendName);
const reports = await runFixtureDir(dir!, opts.family?.split(","), device);
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
