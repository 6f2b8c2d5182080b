/**
 * `qkv --backend webgpu` when the GPU fails during a command (src/cli/main.ts): one notice naming
 * the typed error, then the command again on the fastest CPU backend, a training command from its
 * latest checkpoint (`--resume`); a GPU failure on that second run is not retried. Run in process
 * on the host-memory device backend (test/backend/host-device.ts) standing in for the GPU, made to
 * fail after a number of kernel calls; the fallback's output is the CPU run's.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { registerBackend, getBackend, hostBackend, setBackend } from "../../src/backend/registry.js";
import { DeviceLostError, GpuOutOfMemoryError, ShaderCompileError, WebGPUUnsupportedError } from "../../src/backend/webgpu/errors.js";
import { cpuRetryArgv, main, type MainOptions } from "../../src/cli/main.js";
import type { QkvError } from "../../src/tensor/errors.js";
import { latestCheckpoint, loadCheckpoint } from "../../src/train/node/checkpoint.js";
import { deviceTestEnv } from "../backend/device-helpers.js";
import { firstPassOnly } from "../helpers.js";
import { genesisPairs } from "./genesis.js";

const { dev, host, on } = deviceTestEnv();

/** The backend a device falls back to: the host backend that serves while a device is active (the fastest). */
const fallbackHost = (): Promise<string> => on(true, async () => hostBackend().name);
const dir = mkdtempSync(join(tmpdir(), "qkv-gpu-fallback-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Makes the device's matmul throw `fail()` from its (n + 1)-th call on; returns the undo. */
function failAfter(n: number, fail: () => QkvError): () => void {
  const matmul = dev.matmul as (...a: unknown[]) => unknown;
  let calls = 0;
  dev.matmul = (...a: unknown[]): unknown => {
    if (++calls > n) throw fail();
    return matmul.apply(dev, a);
  };
  return () => { dev.matmul = matmul; };
}

/** `qkv ...` in this process with the host-memory device as --backend webgpu's (started by `start`): its output and exit code. */
async function cli(args: string[], start: MainOptions["startDevice"] = async () => { registerBackend(dev, true); }): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [], err: string[] = [];
  const { log, warn, error } = console;
  console.log = (...a: unknown[]) => { out.push(a.join(" ")); };
  console.warn = console.error = (...a: unknown[]) => { err.push(a.join(" ")); };
  process.exitCode = undefined;
  try {
    await main(["node", "qkv", ...args], { startDevice: start });
  } finally {
    Object.assign(console, { log, warn, error });
    setBackend(host.name);
  }
  const status = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { status, stdout: out.join("\n"), stderr: err.join("\n") };
}

const notices = (s: string): string[] => s.split("\n").filter((l) => l.includes("the GPU could not go on"));

describe("qkv --backend webgpu: the command again on the CPU when the GPU fails", () => {
  test("cpuRetryArgv: --backend webgpu (either spelling) becomes the host's; --resume added once where asked", () => {
    assert.deepEqual(cpuRetryArgv(["node", "qkv", "--backend", "webgpu", "demo", "--steps", "3"], "native", false),
      ["node", "qkv", "--backend", "native", "demo", "--steps", "3"]);
    assert.deepEqual(cpuRetryArgv(["node", "qkv", "--backend=webgpu", "translate", "train", "--steps", "3"], "wasm", true),
      ["node", "qkv", "--backend=wasm", "translate", "train", "--steps", "3", "--resume"]);
    assert.deepEqual(cpuRetryArgv(["node", "qkv", "--backend", "webgpu", "translate", "train", "--resume"], "js", true),
      ["node", "qkv", "--backend", "js", "translate", "train", "--resume"]);
    // an argument that happens to read "webgpu" elsewhere stays
    assert.deepEqual(cpuRetryArgv(["node", "qkv", "--backend", "webgpu", "translate", "webgpu"], "js", false), ["node", "qkv", "--backend", "js", "translate", "webgpu"]);
    // the GPU's --matmul-precision (either spelling) goes
    assert.deepEqual(cpuRetryArgv(["node", "qkv", "--backend", "webgpu", "--matmul-precision", "fp16", "demo", "--steps", "3"], "js", false),
      ["node", "qkv", "--backend", "js", "demo", "--steps", "3"]);
    assert.deepEqual(cpuRetryArgv(["node", "qkv", "--matmul-precision=fp16", "--backend=webgpu", "demo"], "js", false), ["node", "qkv", "--backend=js", "demo"]);
  });

  test("--matmul-precision: given to the device as it starts; refused without --backend webgpu", async () => {
    const args = ["demo", "--steps", "1", "--batch-size", "2", "--test-size", "2", "--out", join(dir, "fp16.html")];
    const started: unknown[] = [];
    const start: MainOptions["startDevice"] = async (o) => { started.push(o); registerBackend(dev, true); };
    for (const run of [await cli(["--backend", "webgpu", "--matmul-precision", "fp16", ...args], start), await cli(["--backend", "webgpu", ...args], start)]) {
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^exact match: \d+\.\d%$/m);
    }
    assert.deepEqual(started, [{ matmulPrecision: "fp16" }, {}]);
    const cpu = await cli(["--backend", "js", "--matmul-precision", "fp16", ...args]);
    assert.equal(cpu.status, 1);
    assert.equal(cpu.stderr, "qkv: --matmul-precision is the GPU's: it needs --backend webgpu, got --backend js");
    assert.equal(cpu.stdout, "");
  });

  test("demo: a lost device mid-training, one notice, then the CPU backend's run from the start", async () => {
    const cpu = await fallbackHost();
    const args = ["demo", "--steps", "3", "--batch-size", "4", "--test-size", "4", "--eval-every", "1"];
    const want = await cli(["--backend", cpu, ...args, "--out", join(dir, "want.html")]);
    assert.equal(want.status, 0, want.stderr);
    const undo = failAfter(40, () => new DeviceLostError("matmul", "unknown", "lost in a test"));
    const got = await cli(["--backend", "webgpu", ...args, "--out", join(dir, "got.html")]).finally(undo);
    assert.equal(got.status, 0, got.stderr);
    assert.deepEqual(notices(got.stderr), [`qkv: the GPU could not go on (DeviceLostError: matmul: device expected a live GPUDevice, got lost (unknown: lost in a test)); running demo again on the ${cpu} backend`]);
    // the device run got as far as its header before the loss; the rerun prints the CPU run's lines
    assert.match(got.stdout, /^backend webgpu;/m);
    const same = (s: string): string => s.replace(/(got|want)\.html/g, "-.html").replace(/ in \d+\.\d s; total \d+\.\d s/, " in - s; total - s");
    assert.ok(same(got.stdout).endsWith(same(want.stdout)), `the CPU run's output at the end:\n${got.stdout}\n---\n${want.stdout}`);
    assert.equal(getBackend().name, host.name);
  });

  test("out of memory, a kernel that fails to compile and a device limit fall back alike; any other error does not", async () => {
    const args = ["demo", "--steps", "1", "--batch-size", "2", "--test-size", "2"];
    for (const [name, fail] of [
      ["GpuOutOfMemoryError", () => new GpuOutOfMemoryError("BufferPool.acquire", 1 << 30, "an out-of-memory error scope fired")],
      ["ShaderCompileError", () => new ShaderCompileError("matmul.128", ["1:1: a test's compiler message"])],
      ["WebGPUUnsupportedError", () => new WebGPUUnsupportedError("attentionForward", "D + Dv", "at most 254 (workgroup memory)", "512")],
    ] as const) {
      const undo = failAfter(5, fail);
      const got = await cli(["--backend", "webgpu", ...args, "--out", join(dir, `${name}.html`)]).finally(undo);
      assert.equal(got.status, 0, got.stderr);
      assert.equal(notices(got.stderr).length, 1, got.stderr);
      assert.match(notices(got.stderr)[0]!, new RegExp(`^qkv: the GPU could not go on \\(${name}: .*\\); running demo again on the \\w+ backend$`));
      assert.match(got.stdout, /^exact match: \d+\.\d%$/m);
    }
    // a RangeError is no GPU failure: reported, no rerun
    const undo = failAfter(5, () => { throw new RangeError("not a GPU failure"); });
    await assert.rejects(cli(["--backend", "webgpu", ...args, "--out", join(dir, "range.html")]).finally(undo), /not a GPU failure/);
  });

  test("translate train: the rerun continues from the run's latest checkpoint, as a resumed CPU run does", { skip: firstPassOnly() }, async () => {
    const cpu = await fallbackHost();
    const data = join(dir, "mt");
    mkdirSync(data, { recursive: true });
    const [en, es] = genesisPairs(8);
    const tsv = (rows: number): string => ["ref\ten\tes", ...en.slice(0, rows).map((e, i) => `r${i}\t${e}\t${es[i]}`)].join("\n") + "\n";
    writeFileSync(join(data, "train.tsv"), tsv(8));
    writeFileSync(join(data, "valid.tsv"), tsv(2));
    const train = (out: string, steps: number, more: string[] = []): string[] => ["translate", "train", "--data", data, "--out", join(dir, out), "--steps", String(steps), ...more];
    // the CPU: 2 steps, then resumed to 3
    for (const [steps, more] of [[2, []], [3, ["--resume"]]] as const) {
      const r = await cli(["--backend", cpu, ...train("want", steps, [...more])]);
      assert.equal(r.status, 0, r.stderr);
    }
    // the same 2 steps on the CPU, then 3 on the device, lost at once: the rerun resumes from step 2
    assert.equal((await cli(["--backend", cpu, ...train("got", 2)])).status, 0);
    const undo = failAfter(3, () => new DeviceLostError("matmul", "unknown", "lost in a test"));
    const got = await cli(["--backend", "webgpu", ...train("got", 3)]).finally(undo);
    assert.equal(got.status, 0, got.stderr);
    assert.deepEqual(notices(got.stderr).map((l) => l.replace(/\(.*\)/, "(…)")), [`qkv: the GPU could not go on (…); running translate train again on the ${cpu} backend from its latest checkpoint`]);
    assert.match(got.stdout, /resuming from .*step-0*2.* \(step 2\)/);
    // the training losses of all 3 steps (the final checkpoint's history) and the validation log: the CPU run's
    const history = async (out: string): Promise<number[]> => (await loadCheckpoint((await latestCheckpoint(join(dir, out, "checkpoints")))!)).losses;
    const validation = (out: string): unknown[] => readFileSync(join(dir, out, "log.jsonl"), "utf8").trim().split("\n").map((l) => ({ ...(JSON.parse(l) as object), seconds: 0 }));
    const [g, w] = [await history("got"), await history("want")];
    assert.equal(w.length, 3);
    assert.deepEqual(g, w);
    assert.deepEqual(validation("got"), validation("want"));
    assert.equal(validation("want").length, 2);
  });
});
