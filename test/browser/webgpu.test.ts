/**
 * The WebGPU kernels (src/backend/webgpu/) in headless Chromium on SwiftShader, WebGPU's CPU
 * adapter: test/browser/webgpu-page.ts is bundled with esbuild into a temporary folder and opened
 * as a file:// page (webgpu-harness.ts; navigator.gpu needs a secure context), where every kernel
 * runs on seeded random inputs of awkward sizes and is compared with the js reference kernel; one
 * test per kernel family asserts its cases, so a failing case names itself. Also checked: upload /
 * read, pool reuse and batched submission, dispatches of more than 65535 workgroups (elementwise
 * over 65535 * 256 + 1000 elements, softmax over 66000 rows, matmul split by tiles), and the typed
 * errors (a shader that does not compile, no adapter, no GPU object, an allocation over the
 * device's limit, a lost device, workgroups or storage bindings over the limits).
 *
 * Needs a Chromium binary (QKV_CHROMIUM, else chromium / chromium-browser / google-chrome on the
 * PATH); without one the tests are skipped with a message. The page compares with the js kernels
 * whatever the backend, so the tests run once, in the pass of tools/test-backends.ts that the
 * other browser tests use (wasm where it loads). QKV_WEBGPU_ALL=1 logs every case's error as a
 * fraction of its tolerance.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before, describe, test, type TestContext } from "node:test";
import type { Page } from "puppeteer-core";
import { availableBackends } from "../../src/backend/registry.js";
import { gridOf } from "../../src/backend/webgpu/kernels.js";
import { findChromium } from "../../tools/playground/site.js";
import { checkPageShaders } from "../backend/naga.js";
import { openWebgpuPage, type WebgpuPage } from "./webgpu-harness.js";
import type { CaseResult, PageApi, ThrownResult } from "./webgpu-page.js";

const chromium = findChromium();
const pass = availableBackends().includes("wasm") ? "wasm" : availableBackends()[0];
const mine = !process.env.QKV_BACKEND || process.env.QKV_BACKEND === pass;
const skip = !chromium ? "no Chromium binary found (install Debian's chromium package or set QKV_CHROMIUM to a Chromium/Chrome binary)"
  : !mine ? `the WebGPU browser tests run in the ${pass} backend's pass only` : false;

let opened: WebgpuPage, page: Page;

type Api = { qkvWebgpu?: PageApi };

async function run(family: string): Promise<CaseResult[]> {
  return page.evaluate((f) => (globalThis as Api).qkvWebgpu!.run(f), family);
}

/** Every case of a family passes; the worst error (as a fraction of its tolerance) goes to the log. */
async function family(t: TestContext, name: string, atLeast: number): Promise<void> {
  const list = await run(name);
  assert.ok(list.length >= atLeast, `${name}: ${list.length} cases, expected at least ${atLeast}`);
  const worst = list.reduce((w, c) => (c.worst > w.worst ? c : w), list[0]!);
  t.diagnostic(`${list.length} cases; closest to its tolerance: ${worst.name} (${worst.worst.toFixed(3)} of it; ${worst.detail})`);
  if (process.env.QKV_WEBGPU_ALL) for (const c of list) t.diagnostic(`${c.worst.toFixed(3)} ${c.name}: ${c.detail}`);
  assert.deepEqual(list.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`), []);
  assert.deepEqual(opened.errors, []);
}

describe("WebGPU kernels in Chromium on SwiftShader", { skip }, () => {
  before(async () => {
    opened = await openWebgpuPage(chromium!, new URL("./webgpu-page.ts", import.meta.url));
    page = opened.page;
  });
  after(async () => {
    await opened?.close();
  });

  test("the adapter is SwiftShader's", async (t) => {
    const info = await page.evaluate(() => (globalThis as Api).qkvWebgpu!.info);
    t.diagnostic(JSON.stringify(info));
    assert.equal(info.architecture, "swiftshader");
  });

  test("matmul: batched, transposes, shared operands, accumulate, sizes off the tile; a linear layer's weight and bias gradients in one kernel (the bits of the two products)",
    (t) => family(t, "matmul", 28));
  // each GEMM kernel over transposes, sizes off the tiles, batches, accumulate and vec4 layouts (webgpu-gemm-cases.ts)
  test("GEMM, 64 tile, and with a bias (and a relu) added by its store", (t) => family(t, "gemm.64", 16 + 3 + 2));
  test("GEMM, 128 tile, and with a bias (and a relu) added by its store", (t) => family(t, "gemm.128", 16 + 3 + 2));
  test("GEMM, subgroup kernel (groups of 4 lanes on SwiftShader)", (t) => family(t, "gemm.subgroup", 16 + 3));
  test("GEMM, subgroup kernel in groups of 8 lanes: SwiftShader's 4-lane subgroups fail its check, its workgroup-memory path runs",
    (t) => family(t, "gemm.subgroup8", 16 + 3));
  test("GEMM, f16 staging emulated in f32, within its own bound and past fp32's", (t) => family(t, "gemm.f16-rounded", 16 + 13 + 3));
  test("GEMM, the f16 kernel (without shader-f16: its WGSL with f16 read as f32)", (t) => family(t, "gemm.f16", 16 + 3));
  test("GEMM kernels past 65535 workgroups a dimension: each split into dispatches", (t) => family(t, "gemmSplit", 2));
  test("GEMM choice by size, and refusals: fp16 without shader-f16, subgroups without the feature", async (t) => {
    await family(t, "gemmChoice", 8);
    const list = await run("gemmChoice");
    const refusal = list.find((c) => c.name === "refused: fp16 without shader-f16");
    assert.equal(refusal?.detail,
      "WebGPUUnsupportedError: matmul: precision expected fp32 (fp16 needs the shader-f16 feature, which this device lacks), got fp16");
  });
  test("unary: every op, n = 1 and 1037, in place", (t) => family(t, "unary", 38));
  test("binary: every op, broadcasting, scalars, permuted strides, rank 9, in place; reluGrad's special values bit for bit", (t) => family(t, "binary", 66));
  test("stridedCopy: permutes and expands up to rank 8, rank 0", (t) => family(t, "stridedCopy", 8));
  test("softmax and log-softmax, forward and backward, -Infinity entries and rows", (t) => family(t, "softmax", 20));
  test("layerNorm forward and backward, weight and bias optional, no rows; a residual add and the norm in one dispatch (the bits of the two)",
    (t) => family(t, "layerNorm", 79));
  test("attention forward: GQA, causal, masks with -Infinity, fully masked rows, Dv != D, strided q / k / v / out", (t) => family(t, "attentionForward", 24));
  test("attention backward: dq, dk, dv written, also as interleaved views of one buffer (bound once, or dv scattered where a binding cannot hold it); no query rows", (t) => family(t, "attentionBackward", 46));
  test("attention with dropout, forward and backward: the js kernel's mask (p 0.1, 0.5), causal, masks, GQA, L != S, strided, counters across 2^32",
    (t) => family(t, "attentionDropout", 42));
  test("where: broadcasting cond / a / b, transposed cond, in place, past 65535 workgroups; comparisons with NaN, infinities, signed zeros", (t) => family(t, "select", 25));
  test("max / min with indices and their backward, logsumexp: ties, NaN, -Infinity, rows of -Infinity, few long rows (logsumexp's with +Infinity, NaN, values near 100); topK against the js kernel (ties, NaN, infinities, k up to 32)",
    (t) => family(t, "reduceDim", 78));
  test("the clipping's kernels: sums of squares of many arrays (one call per array's bits, 2 a dispatch), the norm and scale in one kernel (the bits of the kernels it replaces), many arrays scaled (one twice, the scalar beside one), fill, Adam over moments and SGD over momentum buffers kept in one flat array (one call per parameter's bits)",
    (t) => family(t, "clip", 337));
  test("the negative log-likelihood's rows and gradient: the js kernels' bits, with and without smoothing, ignored rows, -Infinity entries; from a reduced loss's one gradient, scaled",
    (t) => family(t, "nll", 32));
  test("indexSelect and its backward over the host grouping: repeated indices, rows never picked, -1 entries and a padding row adding nowhere, a 100,000-row table, past 65535 workgroups",
    (t) => family(t, "gather", 41));
  test("device indices: the gather's range check reported at the next read or finish() (zeros, once, slots run out), the grouping built on the device (repeats, padding, out of range, empty)",
    (t) => family(t, "deviceIndices", 34));
  test("dropout: the js kernel's bits, counters across 2^32, overflow, signed zeros, NaN", (t) => family(t, "dropout", 16));
  test("sparse attention forward: every pattern builder, rows with no key, GQA, L != S, Dv != D", (t) => family(t, "sparseAttentionForward", 16));
  test("sparse attention backward: dq, dk, dv written, rows with no key", (t) => family(t, "sparseAttentionBackward", 24));
  test("linear attention forward and backward: causal and not, GQA, L != S, chunks of 15 and 64, 0 / 0, M + Dv too large", (t) => family(t, "linearAttention", 33));
  test("sparse and linear attention past 65535 workgroups: rows, keys and chunks", (t) => family(t, "efficientLarge", 10));
  test("conv2d forward, dx and dweight: groups, depthwise, stride / padding / dilation, patch embedding, two chunks of images; the weight gradient split over K", (t) => family(t, "conv2d", 37));
  test("pooling: max (ties, -Infinity, NaN, argmax), average (torch's divisors, ceilMode), adaptive; forward and backward", (t) => family(t, "pooling", 35));
  test("batch norm: statistics, running update, forward, backward with batch and running statistics", (t) => family(t, "batchNorm", 40));
  test("segment ops: sums, broadcasts, softmax and its backward over CSR-grouped rows, empty segments", (t) => family(t, "segment", 20));
  test("pool and submission: round trips, reuse, 600 dispatches, kept bind groups, ordered writes, writes through the upload area and past it, uploads written at once where no open command uses the buffer; read staging buffers kept by size class; arrays watched by the collector two flushes on, a dropped one back in the pool",
    (t) => family(t, "pool", 21));
  test("past 65535 workgroups: neg over 65535 * 256 + 1000 elements, softmax over 66000 rows, matmul split by tiles", (t) => family(t, "large", 3));

  test("typed errors", async () => {
    const list = await page.evaluate(() => (globalThis as Api).qkvWebgpu!.errors());
    const byName = new Map(list.map((e: ThrownResult) => [e.name, e]));
    const expect = (name: string, error: string, message: RegExp): void => {
      const e = byName.get(name);
      assert.ok(e, name);
      assert.equal(e.error, error, `${name}: ${e.message}`);
      assert.match(e.message, message, name);
    };
    expect("compileShader with a syntax error", "ShaderCompileError", /^compileShader: kernel broken failed to compile:\n\d+:\d+: /);
    expect("a broken kernel's pipeline, then finish()", "ShaderCompileError", /^compileShader: kernel brokenKernel failed to compile:\n\d+:\d+: .*undefinedThing/);
    expect("requestAdapter resolving null", "WebGPUUnavailableError", /^requestGpuDevice: requestAdapter\(\) expected a GPUAdapter, got null \(no adapter\)$/);
    expect("no GPU object", "WebGPUUnavailableError", /^requestGpuDevice: gpu expected a GPU object \(navigator.gpu\), got none/);
    expect("an allocation over maxBufferSize", "GpuOutOfMemoryError", /^BufferPool.acquire: bytes expected an allocation the device can hold, got \d+ bytes \(the device's maxBufferSize is \d+\)$/);
    expect("a call after the device is lost", "DeviceLostError", /^alloc: device expected a live GPUDevice, got lost \(destroyed/);
    expect("a kernel after the device is lost", "DeviceLostError", /^unary: device expected a live GPUDevice, got lost \(destroyed/);
    expect("workgroups over the limit", "WebGPUUnsupportedError", /^probe: workgroups expected at most \d+ per dimension, got \[\d+, 1, 1\]$/);
    expect("storage bindings over the limit", "WebGPUUnsupportedError", /^probe: arrays expected at most maxStorageBuffersPerShaderStage \(\d+\) storage bindings, got \d+$/);
    assert.equal(list.length, 9);
  });

  test("every family the page runs has its test here (a family added to the page and never asserted fails this)", async () => {
    const families = await page.evaluate(() => (globalThis as Api).qkvWebgpu!.families);
    const tested = [...readFileSync(fileURLToPath(import.meta.url), "utf8").matchAll(/family\(t, "([^"]+)"/g)].map((m) => m[1]!);
    assert.deepEqual([...new Set(tested)].sort(), [...families].sort());
  });

  test("every shader the page made is valid WGSL to naga too (wgpu's and Firefox's compiler), and its two broken ones are not",
    (t) => checkPageShaders(t, opened, 300, ["broken", "brokenKernel"]));
});

describe("gridOf: a dispatch of more workgroups than one dimension takes", { skip: mine ? false : `runs in the ${pass} backend's pass` }, () => {
  test("x * y covers the groups with less than a row of excess, each within the limit", () => {
    assert.deepEqual(gridOf(0, 65535), [0, 1, 1]);
    assert.deepEqual(gridOf(65535, 65535), [65535, 1, 1]);
    assert.deepEqual(gridOf(65536, 65535), [32768, 2, 1]);
    assert.deepEqual(gridOf(65539, 65535), [32770, 2, 1]);
    assert.deepEqual(gridOf(65535 * 65535, 65535), [65535, 65535, 1]);
    for (const groups of [1, 7, 65534, 131070, 131071, 1_000_003, 16_777_216, 65535 * 65534 + 1]) {
      const [x, y] = gridOf(groups, 65535);
      assert.ok(x <= 65535 && y <= 65535 && x * y >= groups && x * y - groups < y, `${groups}: ${x} x ${y}`);
    }
    assert.ok(gridOf(65535 * 65535 + 1, 65535)[1] > 65535, "past 65535^2 the grid is over the limit, and dispatch refuses it");
  });
});
