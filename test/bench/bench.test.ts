/**
 * The benchmark harness (bench/run.ts) still runs and writes the JSON it documents: a smoke run of
 * the core rows on the js backend, no peers. It spawns its own process and forces js, so it runs
 * once, in the js pass of the per-backend suite.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";

const root = new URL("../../", import.meta.url).pathname;
const backend = process.env.QKV_BACKEND;

interface Cell { impl: string; ms: number; minMs: number; reps: number; gflops: number }
interface Row { id: string; group: string; pass: string; N: number; gflop: number; results: Cell[]; skipped: unknown[]; ratios: unknown[] }
interface Mem { id: string; group: string; N: number; impl: string; peakMiB: number; baselineMiB: number; deltaMiB: number; ms: number }
interface Report {
  schema: number; date: string; command: string; machine: { cpu: string; cores: number; loadAvgStart: number };
  backends: string[]; threads: Record<string, number>; peers: Record<string, unknown>; rows: Row[]; memory: Mem[];
  memorySkipped: unknown[]; checks: unknown[]; notes: string[];
}

/** `npm run bench -- demo` with these arguments, in a child process. */
const demo = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "demo", ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });

describe("bench/run.ts", { skip: backend !== undefined && backend !== "js" ? "runs in the js pass only" : false }, () => {
  test("--quick --filter core on js writes every documented field", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "qkv-bench-test-"));
    try {
      const json = path.join(dir, "bench.json");
      const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--quick", "--filter", "core", "--backends", "js",
        "--no-peers", "--sizes", "32,64", "--json", json], { cwd: root, encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      const rep = JSON.parse(readFileSync(json, "utf8")) as Report;
      assert.equal(rep.schema, 1);
      assert.ok(!Number.isNaN(Date.parse(rep.date)));
      assert.match(rep.command, /--quick/);
      assert.ok(rep.machine.cpu.length > 0 && rep.machine.cores >= 1);
      assert.deepEqual(rep.backends, ["js"]);
      assert.equal(rep.threads["qkv:js"], 1);
      assert.deepEqual(rep.peers, { ort: null, tfjs: null, torch: null });
      assert.deepEqual(rep.rows.map((x) => x.id), ["core fwd N=32", "core fwd N=64", "core fwd+bwd N=32", "core fwd+bwd N=64"]);
      for (const row of rep.rows) {
        assert.equal(row.group, "core");
        assert.ok(row.gflop > 0);
        assert.equal(row.results.length, 1);
        const c = row.results[0]!;
        assert.equal(c.impl, "qkv:js");
        assert.ok(c.ms > 0 && c.minMs > 0 && c.minMs <= c.ms && c.reps >= 2 && c.gflops > 0);
        assert.ok(Math.abs(c.gflops - row.gflop / (c.ms / 1000)) < 1e-6 * c.gflops);
        assert.deepEqual(row.ratios, []);
      }
      // backward counts twice the forward
      assert.ok(Math.abs(rep.rows[2]!.gflop - 3 * rep.rows[0]!.gflop) < 1e-12);
      assert.equal(rep.memory.length, 1);
      const m = rep.memory[0]!;
      assert.equal(m.id, "memory core fwd+bwd N=64");
      assert.equal(m.impl, "qkv:js");
      assert.ok(m.peakMiB > 0 && m.baselineMiB > 0 && m.peakMiB >= m.baselineMiB && m.ms > 0);
      assert.match(r.stdout, /\| N \| GFLOP \| qkv:js \|/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test("`npm run bench -- efficient` runs the efficient attention benchmark with the remaining arguments", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "efficient", "--min", "1024", "--max", "1024",
      "--variants", "window w=64", "--reps", "1"], { cwd: root, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\| window w=64 \| 1024 \| \d+ ms \| \d+ ms \| -?\d+ \| -?\d+ \|$/m);
    assert.doesNotMatch(r.stdout, /\| full \|/);
  });
  test("`npm run bench -- conv` times conv2d and its backend kernels with the remaining arguments", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "conv", "--backends", "js", "--batch", "2", "--channels", "4",
      "--size", "8", "--reps", "1", "--no-peers"], { cwd: root, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^conv2d 3x3, 4 -> 4 channels, x \[2, 4, 8, 8\]/m);
    assert.match(r.stdout, /^ {2}qkv:js +forward \+ backward +[\d.]+ ms wall/m);
    assert.match(r.stdout, /^kernels \(js\)$/m);
    for (const part of ["conv2dForward", "conv2dBackwardInput", "conv2dBackwardWeight"]) {
      assert.match(r.stdout, new RegExp(`^  ${part} +[\\d.]+ ms wall`, "m"));
    }
    assert.doesNotMatch(r.stdout, /PyTorch/);
  });
  test("`npm run bench -- demo`: --matmul-precision refused on a CPU backend or with another value (exit 2), and measures nothing without a device", () => {
    const cpu = demo("--backend", "js", "--steps", "1", "--matmul-precision", "fp16");
    assert.equal(cpu.status, 2);
    assert.match(cpu.stderr, /^--matmul-precision is the WebGPU GEMM's: it needs --backend webgpu, got --backend js$/m);
    const bf16 = demo("--backend", "webgpu", "--steps", "1", "--matmul-precision", "bf16");
    assert.equal(bf16.status, 2);
    assert.match(bf16.stderr, /^--matmul-precision: expected fp32 or fp16, got bf16$/m);
    const none = demo("--backend", "webgpu", "--steps", "1", "--matmul-precision", "fp16", "--webgpu", path.join(os.tmpdir(), "qkv-no-webgpu-here"));
    assert.equal(none.status, 0, none.stderr);
    assert.match(none.stdout, /^No webgpu backend: .*not installed.*\nNothing was measured\.$/m);
  });

  test("`npm run bench -- demo --null-device`: the WebGPU backend on an implementation that does nothing, and what a step asks of it", () => {
    const js = demo("--backend", "js", "--steps", "1", "--null-device");
    assert.equal(js.status, 2);
    assert.match(js.stderr, /^--null-device runs the WebGPU backend on a WebGPU implementation that does nothing: it needs --backend webgpu, got --backend js$/m);
    const both = demo("--backend", "webgpu", "--steps", "1", "--null-device", "--cpu-adapter");
    assert.equal(both.status, 2);
    assert.match(both.stderr, /^--null-device takes no WebGPU implementation: leave out --webgpu and --cpu-adapter$/m);
    const dir = mkdtempSync(path.join(os.tmpdir(), "qkv-null-device-"));
    try {
      const file = path.join(dir, "demo.json");
      const r = demo("--backend", "webgpu", "--steps", "5", "--null-device", "--json", file);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^ {2}--null-device: a WebGPU implementation that does nothing/m);
      assert.match(r.stdout, /^ {2}asked of the WebGPU implementation per step \(steps 3-5\): buffers \d/m);
      const j = JSON.parse(readFileSync(file, "utf8")) as {
        backend: string; steps: number; laterStepMs: number;
        step: { dispatches: number; submissions: number; copies: number; clears: number };
        nullDevice: Record<string, number>;
      };
      assert.equal(j.backend, "webgpu");
      assert.equal(j.steps, 5);
      assert.ok(j.laterStepMs > 0);
      // the implementation saw what the recorder counted: each dispatch with its bind group, each submission
      const nd = j.nullDevice;
      assert.equal(nd.dispatches, j.step.dispatches);
      assert.equal(nd.setBindGroup, j.step.dispatches);
      assert.equal(nd.submits, j.step.submissions);
      assert.equal(nd.copies, j.step.copies);
      assert.equal(nd.clears, j.step.clears);
      // a training step of the demo (114 dispatches on 10 storage bindings, 1 submission): more would be a regression
      assert.ok(j.step.dispatches >= 50 && j.step.dispatches <= 114, `dispatches per step: ${j.step.dispatches}`);
      assert.ok(nd.submits >= 1 && nd.submits <= 2, `submissions per step: ${nd.submits}`);
      assert.equal(nd.pipelines, 0, "no pipeline made after the first steps");
      assert.equal(nd.buffers, 0, "no buffer made after the first steps (the pools hold them)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
