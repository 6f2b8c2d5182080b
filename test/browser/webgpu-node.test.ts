/**
 * node-gpu.ts through the `webgpu` package (dawn.node), where it is installed (`npm install
 * --no-save webgpu`, or QKV_WEBGPU_MODULE naming its folder); skipped otherwise, and where
 * Chromium's Vulkan loader and SwiftShader driver (beside the Chromium binary, standing in for a
 * GPU's) are not found. Each case runs in a child process (this file with --webgpu-child), since
 * the Vulkan setup is read from the environment when the process loads it:
 * - the typed errors: no package at the path given, no Vulkan loader, a loader but no driver;
 * - a device whose GPU object only the GpuDevice holds lives through garbage collections while
 *   kernels run (dawn.node tears its instance down when that object is collected, which crashed
 *   a matmul at n = 4096: docs/performance.md, "WebGPU"), with right answers, and GpuTimer reads
 *   timestamps that are not quantized;
 * - tools/webgpu-cases.ts (the kernel page's families in Node) on a few families; with
 *   QKV_LAVAPIPE_DIR (tools/gpu/lavapipe.sh), on lavapipe the f16 GEMM kernel itself, and the
 *   kernels with workgroup reductions with their workgroup memory not zeroed first (lavapipe hands
 *   a workgroup what the last one left: a kernel reading a slot it did not write fails there).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";

const CHILD = "--webgpu-child";

/** The webgpu package's folder: QKV_WEBGPU_MODULE, else node_modules; null when neither has it. */
function webgpuModule(): string | null {
  const env = process.env.QKV_WEBGPU_MODULE;
  if (env) return existsSync(join(env, "index.js")) ? resolve(env) : null;
  try {
    return dirname(createRequire(import.meta.url).resolve("webgpu/package.json"));
  } catch {
    return null;
  }
}

/** The folder holding Chromium's libvulkan.so.1 and its SwiftShader driver, or null. */
async function swiftshaderVulkan(): Promise<string | null> {
  const { findChromium } = await import("../../tools/playground/site.js");
  const chromium = findChromium();
  const dirs = [chromium ? dirname(realpathSync(chromium)) : "", "/usr/lib/chromium", "/usr/lib/chromium-browser"];
  return dirs.find((d) => d && existsSync(join(d, "libvulkan.so.1")) && existsSync(join(d, "vk_swiftshader_icd.json"))) ?? null;
}

interface ChildResult { error?: { name: string; message: string }; values?: number[]; timerNs?: number[]; cpu?: boolean }

async function child(kind: string, module: string): Promise<ChildResult> {
  const { requestNodeGpuDevice } = await import("../../src/backend/webgpu/node-gpu.js");
  const { GpuTimer, WebGPUKernels } = await import("../../src/backend/webgpu/index.js");
  let gpu;
  try {
    gpu = await requestNodeGpuDevice({ module });
  } catch (e) {
    const err = e as Error;
    return { error: { name: err.name, message: err.message } };
  }
  if (kind !== "kernels") return {};
  // nothing but the GpuDevice (inside the kernels) holds the GPU object from here
  const k = new WebGPUKernels(gpu);
  gpu = null;
  const timer = new GpuTimer(k);
  const n = 128, values: number[] = [], timerNs: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const a = k.upload(new Float32Array(n * n).fill(rep + 1)), b = k.upload(new Float32Array(n * n).fill(0.5)), out = k.alloc(n * n);
    timer.start();
    k.matmul(out, a, b, 1, n, n, n, false, false, 0, 0, false);
    timer.stop();
    // garbage, then full collections, while the work runs
    const junk = Array.from({ length: 8 }, () => new Float32Array(1 << 22));
    (globalThis as { gc?: () => void }).gc?.();
    timerNs.push(Math.round((await timer.read()) * 1e6));
    values.push((await k.read(out))[n * n - 1]! + junk.length * 0);
    (globalThis as { gc?: () => void }).gc?.();
  }
  const cpu = k.gpu.cpu;
  k.gpu.device.destroy();
  return { values, timerNs, cpu };
}

if (process.argv.includes(CHILD)) {
  const [kind, module] = process.argv.slice(process.argv.indexOf(CHILD) + 1);
  process.stdout.write(`${JSON.stringify(await child(kind!, module!))}\n`);
} else {
  const module = webgpuModule();
  const vulkan = process.platform === "linux" ? await swiftshaderVulkan() : null;
  const skip = !module ? "the webgpu package is not installed (npm install --no-save webgpu, or QKV_WEBGPU_MODULE=/path/to/it)"
    : !vulkan ? "no Chromium with its Vulkan loader and SwiftShader driver found (Linux)" : false;
  const self = fileURLToPath(import.meta.url);

  const run = (kind: string, env: Record<string, string>, mod = module!): ChildResult & { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", self, CHILD, kind, mod], {
      encoding: "utf8", timeout: 120_000, env: { ...process.env, LD_LIBRARY_PATH: "", VK_ICD_FILENAMES: "", VK_DRIVER_FILES: "", ...env },
    });
    const line = r.stdout.trim().split("\n").pop() ?? "";
    let parsed: ChildResult = {};
    try {
      parsed = JSON.parse(line) as ChildResult;
    } catch {
      parsed = {};
    }
    return { ...parsed, status: r.status, stderr: r.stderr };
  };

  describe("node-gpu.ts through dawn.node", { skip }, () => {
    test("typed errors: no package at the path, no Vulkan loader, no driver", (t) => {
      const none = run("device", {}, "/nonexistent/webgpu");
      assert.equal(none.error?.name, "WebGPUUnavailableError");
      assert.match(none.error!.message, /^nodeGpu: webgpu expected the optional webgpu package \(npm install webgpu\), got not installed/);
      const noLoader = run("device", {});
      if (noLoader.error?.message.includes("libvulkan.so.1")) {
        assert.match(noLoader.error.message, /^requestNodeGpuDevice: libvulkan\.so\.1 expected the Vulkan loader .*, got not found/);
      } else {
        t.diagnostic(`this system has its own Vulkan loader: ${JSON.stringify(noLoader.error ?? "a device")}`);
      }
      const noDriver = run("device", { LD_LIBRARY_PATH: vulkan!, VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" });
      assert.equal(noDriver.error?.name, "WebGPUUnavailableError", noDriver.stderr);
      assert.match(noDriver.error!.message, /^requestNodeGpuDevice: requestAdapter\(\) expected a GPUAdapter, got null: the Vulkan loader loads but no driver/);
    });

    test("the GPU object lives as long as the device: kernels through garbage collections, unquantized timestamps", () => {
      const icd = join(vulkan!, "vk_swiftshader_icd.json");
      const r = run("kernels", { LD_LIBRARY_PATH: vulkan!, VK_ICD_FILENAMES: icd, VK_DRIVER_FILES: icd });
      assert.equal(r.status, 0, `the child exited ${r.status}: ${r.stderr.slice(-2000)}`);
      assert.equal(r.error, undefined);
      assert.equal(r.cpu, true, "SwiftShader is reported as a CPU adapter");
      // out[n - 1, n - 1] = 128 * (rep + 1) * 0.5
      assert.deepEqual(r.values, [64, 128, 192]);
      assert.ok(r.timerNs!.every((ns) => ns > 0), JSON.stringify(r.timerNs));
      assert.ok(r.timerNs!.some((ns) => ns % 65536 !== 0), `timestamps quantized to 65536 ns: ${JSON.stringify(r.timerNs)}`);
    });

    test("npm run webgpu-cases runs the kernel page's families in Node: a line per family, the totals; an unknown family is refused", () => {
      const icd = join(vulkan!, "vk_swiftshader_icd.json");
      const env = { ...process.env, LD_LIBRARY_PATH: vulkan!, VK_ICD_FILENAMES: icd, VK_DRIVER_FILES: icd };
      const cases = (family: string) => spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "tools/webgpu-cases.ts", "--webgpu", module!, "--family", family],
        { encoding: "utf8", timeout: 300_000, env });
      const r = cases("stridedCopy,gemmChoice,dropout");
      assert.equal(r.status, 0, r.stderr.slice(-2000));
      assert.match(r.stdout, /^webgpu: google swiftshader; subgroups (yes|no), shader-f16 no$/m);
      assert.match(r.stdout, /^stridedCopy: 8 passed, 0 failed \(/m);
      assert.match(r.stdout, /^gemmChoice: 11 passed, 0 failed \(/m);
      assert.match(r.stdout, /^dropout: 16 passed, 0 failed \(/m);
      assert.match(r.stdout, /^35 passed, 0 failed$/m);
      const bad = cases("stridedCopy,nope");
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /^webgpu-cases: --family expected names among matmul, .*, got nope$/m);
    });

    test("on Mesa's lavapipe (QKV_LAVAPIPE_DIR, as tools/gpu/lavapipe.sh unpacks it): shader-f16, and the f16 GEMM kernel itself passes; the reductions and GEMMs read no workgroup memory they did not write", {
      skip: process.env.QKV_LAVAPIPE_DIR ? false : "QKV_LAVAPIPE_DIR is not set (bash tools/gpu/lavapipe.sh unpacks lavapipe there)",
    }, () => {
      const dir = process.env.QKV_LAVAPIPE_DIR!, icd = join(dir, "lvp_icd.json");
      const env = { ...process.env, LD_LIBRARY_PATH: join(dir, "root/usr/lib/x86_64-linux-gnu"), VK_ICD_FILENAMES: icd, VK_DRIVER_FILES: icd };
      const r = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "tools/webgpu-cases.ts", "--webgpu", module!, "--unzeroed-workgroup-memory",
        "--family", "gemm.f16,gemm.subgroup8,batchNorm,layerNorm,softmax,clip"],
        { encoding: "utf8", timeout: 600_000, env });
      assert.equal(r.status, 0, r.stderr.slice(-2000));
      assert.match(r.stdout, /^webgpu: mesa \S+; subgroups yes, shader-f16 yes$/m);
      assert.match(r.stdout, /^gemm\.f16: 32 passed, 0 failed \(.*closest to its tolerance: 128 f16: /m);
      assert.match(r.stdout, /^gemm\.subgroup8: 19 passed, 0 failed \(.*closest to its tolerance: subgroup, groups of 8: /m);
      for (const [family, n] of [["batchNorm", 58], ["layerNorm", 79], ["softmax", 20], ["clip", 337]] as const) {
        assert.match(r.stdout, new RegExp(`^${family}: ${n} passed, 0 failed \\(`, "m"));
      }
    });
  });
}
