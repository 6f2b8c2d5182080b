/**
 * The threaded wasm backend: every kernel split between threads gives the single-threaded module's
 * results bit for bit (the split never cuts a sum), the pool starts, shuts down and fails over to
 * one thread, and the options are checked. Runs in the wasm pass (and alone) only.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { blockSparsePattern } from "../../src/attention/block-sparse.js";
import { longformerPattern } from "../../src/attention/global.js";
import { buildPattern } from "../../src/attention/sparse.js";
import { dilatedWindowPattern, windowPattern } from "../../src/attention/window.js";
import { contiguousLayouts, type AttentionArgs } from "../../src/backend/backend.js";
import { availableBackends, getBackend, setBackend } from "../../src/backend/registry.js";
import type { WasmBackend } from "../../src/backend/wasm/backend.js";
import {
  createWasmBackend, createWasmBackendSync, defaultWasmThreads, getWasmThreads, loadWasmBackendSync, setWasmThreads,
} from "../../src/backend/wasm/load.js";
import { setWasmPlatform, threadsUnavailable, type WasmPlatform } from "../../src/backend/wasm/platform.js";
import { nodeWasmPlatform } from "../../src/backend/wasm/node-platform.js";
import { Generator, Tensor, ValueError } from "../../src/index.js";
import {
  attentionSweep, checkBinary, checkLayerNorm, checkLinear, checkMatmul, checkSoftmax, checkSparse, checkUnary, normals, same,
  sameCheck, type KernelTarget, type Tol,
} from "./kernel-cases.js";

const backend = process.env.QKV_BACKEND;
const skip = backend !== undefined && backend !== "wasm" ? "runs in the wasm pass only" : false;
const root = new URL("../../", import.meta.url).pathname;

const rand = normals(new Generator(11));
const EXACT: Tol = [0, 0];

describe("wasm threads: split kernels equal the single-threaded module bit for bit", { skip }, () => {
  const st = createWasmBackendSync({ threads: 1 });
  // 3 threads (uneven shares), every call split however small
  const mt = createWasmBackendSync({ threads: 3, splitAll: true });
  after(() => mt?.dispose());
  const t: KernelTarget = { sut: mt!, ref: st!, rand, check: sameCheck };

  test("the backends load with the thread counts asked for", () => {
    assert.ok(st && mt);
    assert.equal(st.threads, 1);
    assert.equal(mt.threads, 3);
    assert.equal(mt.name, "wasm");
  });

  const sizes: [number, number, number, number][] = [
    [1, 1, 1, 1], [3, 7, 13, 9], [2, 37, 29, 300], [1, 203, 9, 17], [1, 6, 1030, 5], [4, 1, 50, 7], [1, 2, 300, 64],
    [5, 33, 17, 1], [1, 3, 4, 0], [2, 11, 2, 520],
  ];
  for (const [batch, M, N, K] of sizes) {
    test(`matmul batch ${batch}, M ${M}, N ${N}, K ${K}: transposes, shared operands, accumulate`, () => {
      checkMatmul(t, batch, M, N, K, EXACT);
    });
  }

  test("every unary op, lengths around the 4-aligned shares", () => {
    for (const n of [1, 5, 13, 64, 1001]) {
      const x = rand(n, 3);
      checkUnary(t, x, x.map(Math.abs), () => EXACT, `n=${n}`);
    }
  });

  // [outShape, aStrides, bStrides, a length, b length]: rows split, and fewer rows than threads (columns split)
  const layouts: [string, number[], number[], number[], number, number][] = [
    ["same shape (one merged row)", [3, 11], [11, 1], [11, 1], 33, 33],
    ["[3,1,5] with [1,4,5]", [3, 4, 5], [5, 0, 1], [0, 5, 1], 15, 20],
    ["row broadcast [2,301] with [301]", [2, 301], [301, 1], [0, 1], 602, 301],
    ["column broadcast [7,5] with [7,1]", [7, 5], [5, 1], [1, 0], 35, 7],
    ["transposed a", [5, 6], [1, 5], [6, 1], 30, 30],
    ["rank 4 mixed", [2, 3, 2, 7], [42, 14, 7, 1], [0, 7, 0, 1], 84, 21],
    ["rank 0", [], [], [], 1, 1],
  ];
  for (const [name, shape, sa, sb, na, nb] of layouts) {
    test(`every binary op: ${name}`, () => {
      checkBinary(t, rand(na, 2), rand(nb, 2), shape, sa, sb, () => EXACT, name);
    });
  }

  for (const [rows, cols] of [[1, 5], [2, 301], [7, 64], [40, 17]] as const) {
    test(`softmax, log-softmax and layerNorm forward and backward, ${rows} x ${cols}`, () => {
      const x = rand(rows * cols, 4), dy = rand(rows * cols);
      x.fill(-Infinity, 0, cols); // a fully masked row
      for (const log of [false, true]) checkSoftmax(t, x, dy, rows, cols, log, { forward: EXACT, backward: EXACT });
      const xf = rand(rows * cols, 3);
      for (const affine of [false, true]) {
        const w = affine ? rand(cols) : null, b = affine ? rand(cols) : null;
        checkLayerNorm(t, xf, dy, w, b, rows, cols, affine, { out: EXACT, mean: EXACT, rstd: EXACT, dx: EXACT, dweight: EXACT, dbias: EXACT });
      }
    });
  }

  interface Case { B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number }
  const shapes: Case[] = [
    { B: 2, H: 2, Hkv: 2, L: 5, S: 7, D: 4, Dv: 6 },
    { B: 1, H: 4, Hkv: 2, L: 140, S: 300, D: 16, Dv: 8 }, // GQA, several query blocks and key tiles
    { B: 2, H: 3, Hkv: 1, L: 9, S: 3, D: 5, Dv: 5 }, // MQA, L > S
    { B: 1, H: 1, Hkv: 1, L: 200, S: 70, D: 8, Dv: 8 }, // one head: the forward splits by query blocks
  ];
  for (const sh of shapes) {
    test(`attention B${sh.B} H${sh.H}/${sh.Hkv} L${sh.L} S${sh.S} D${sh.D} Dv${sh.Dv}: masks x causal x dropout`, () => {
      // a fully masked row
      const full = { name: "[B, H, L, S]", mark: (mask: Float32Array): void => void mask.fill(-Infinity, 0, sh.S) };
      attentionSweep(t, sh, full, { seedK1: 777, seedStart: 2 ** 32 - 500 }, { out: EXACT, lse: EXACT, grad: EXACT });
    });
  }

  test("sparse attention: GQA, strided ranges, global rows over several key chunks, empty rows", () => {
    checkSparse(t, 1, 1, 1, 3, 5, windowPattern(2, 2, 0), "two rows");
    checkSparse(t, 2, 4, 2, 16, 8, windowPattern(70, 70, 9, true), "GQA causal window");
    checkSparse(t, 1, 3, 1, 33, 9, dilatedWindowPattern(120, 150, 8, 4, true), "MQA causal dilated, L < S");
    checkSparse(t, 1, 2, 2, 8, 8, longformerPattern(700, 700, 5, 3), "longformer (rows of 700 keys)");
    const lay = new Uint8Array(6 * 5);
    for (let x = 0; x < lay.length; x++) lay[x] = (x * 7919) % 3 === 0 ? 1 : 0;
    for (let c = 0; c < 5; c++) lay[2 * 5 + c] = 0;
    checkSparse(t, 2, 3, 3, 12, 7, blockSparsePattern(63, 53, new Tensor(lay, [6, 5], "bool"), 11), "random blocks, an empty block row");
    checkSparse(t, 1, 2, 1, 9, 4, buildPattern(40, 600, (i, add) => {
      if (i % 5 === 0) { add(0, 290); add(300, 600, 3); } else if (i % 4 !== 1) add(i, i + 3);
    }), "wide, narrow and empty rows");
  });

  test("linear attention: causal over several chunks, GQA, MQA, L != S, fewer kv heads than threads", () => {
    checkLinear(t, { B: 1, H: 1, Hkv: 1, L: 3, S: 3, M: 2, Dv: 5, causal: true });
    checkLinear(t, { B: 2, H: 4, Hkv: 2, L: 150, S: 150, M: 13, Dv: 7, causal: true });
    checkLinear(t, { B: 1, H: 6, Hkv: 3, L: 65, S: 65, M: 24, Dv: 8, causal: true });
    checkLinear(t, { B: 2, H: 3, Hkv: 1, L: 40, S: 90, M: 9, Dv: 12, causal: false });
    checkLinear(t, { B: 3, H: 2, Hkv: 2, L: 70, S: 33, M: 5, Dv: 3, causal: false });
  });
});

describe("wasm threads: large calls through the default thresholds", { skip }, () => {
  test("matmul 256 and attention L = S = 256 split on 2 threads, same bits", () => {
    const st = createWasmBackendSync({ threads: 1 })!, mt = createWasmBackendSync({ threads: 2 })!;
    try {
      assert.equal(mt.threads, 2);
      const n = 256, a = rand(n * n), b = rand(n * n), o1 = new Float32Array(n * n), o2 = new Float32Array(n * n);
      st.matmul(o1, a, b, 1, n, n, n, false, true, 0, 0, false);
      mt.matmul(o2, a, b, 1, n, n, n, false, true, 0, 0, false);
      same(o2, o1, "matmul");
      const [B, H, L, D] = [1, 4, 256, 32];
      const q = rand(B * H * L * D), k = rand(B * H * L * D), v = rand(B * H * L * D);
      const args: AttentionArgs = { B, H, Hkv: H, L, S: L, D, Dv: D, scale: 0.2, causal: true, mask: null,
        ...contiguousLayouts({ H, Hkv: H, L, S: L, D, Dv: D }), maskStrideB: 0,
        maskStrideH: 0, maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0 };
      const r = [new Float32Array(q.length), new Float32Array(B * H * L), new Float32Array(q.length), new Float32Array(B * H * L)] as const;
      st.attentionForward(r[0], r[1], q, k, v, args);
      mt.attentionForward(r[2], r[3], q, k, v, args);
      same(r[2], r[0], "attention out");
      same(r[3], r[1], "attention lse");
    } finally {
      mt.dispose();
    }
  });

  test("the async factory starts its workers before it resolves", async () => {
    const mt = await createWasmBackend({ threads: 2 });
    assert.ok(mt);
    try {
      assert.equal(mt.threads, 2);
      const x = rand(1 << 17), o1 = new Float32Array(x.length), o2 = new Float32Array(x.length);
      mt.unary("tanh", o1, x, x.length, 0);
      createWasmBackendSync({ threads: 1 })!.unary("tanh", o2, x, x.length, 0);
      same(o1, o2, "tanh");
    } finally {
      mt.dispose();
    }
  });
});

describe("wasm threads: pool lifetime and fallbacks", { skip }, () => {
  test("dispose stops the workers; the backend goes on on one thread with the same results", () => {
    const mt = createWasmBackendSync({ threads: 2, splitAll: true })!;
    const x = rand(4096), o1 = new Float32Array(4096), o2 = new Float32Array(4096);
    mt.softmax(o1, x, 64, 64, false);
    assert.equal(mt.threads, 2);
    mt.dispose();
    mt.dispose();
    assert.equal(mt.threads, 1);
    mt.softmax(o2, x, 64, 64, false);
    same(o2, o1, "softmax after dispose");
  });

  test("worker threads do not keep a Node process alive", () => {
    const code = [
      `import { loadWasmBackendSync, getWasmThreads } from "./src/node.ts";`,
      `const b = loadWasmBackendSync({ threads: 2 });`,
      `const n = 256, a = new Float32Array(n * n).fill(1), o = new Float32Array(n * n);`,
      `b.matmul(o, a, a, 1, n, n, n, false, false, 0, 0, false);`,
      `console.log(getWasmThreads(), o[0]);`,
    ].join("\n");
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code],
      { cwd: root, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.signal, null, "the process ended by itself");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "2 256");
  });

  test("without SharedArrayBuffer, Atomics or cross-origin isolation: one thread, the single-threaded module", () => {
    const { SharedArrayBuffer: SAB, Atomics: A } = globalThis;
    assert.equal(threadsUnavailable({ Atomics: A }), "no SharedArrayBuffer");
    assert.equal(threadsUnavailable({ SharedArrayBuffer: SAB }), "no Atomics");
    assert.equal(threadsUnavailable({ SharedArrayBuffer: SAB, Atomics: A, crossOriginIsolated: false }), "not cross-origin isolated");
    assert.equal(threadsUnavailable({ SharedArrayBuffer: SAB, Atomics: A, crossOriginIsolated: true }), null);
    assert.equal(threadsUnavailable({ SharedArrayBuffer: SAB, Atomics: A }, null), "no workers");
    const b = createWasmBackendSync({ threads: 4, globals: { Atomics: A } })!;
    assert.equal(b.threads, 1);
    const x = rand(300), o1 = new Float32Array(300), o2 = new Float32Array(300);
    b.unary("exp", o1, x, 300, 0);
    createWasmBackendSync({ threads: 1 })!.unary("exp", o2, x, 300, 0);
    same(o1, o2, "exp");
    assert.equal(createWasmBackendSync({ globals: { SharedArrayBuffer: SAB, Atomics: A, crossOriginIsolated: false } })!.threads, 1);
  });

  test("workers that cannot start: the call still runs, on one thread", () => {
    const broken: WasmPlatform = { cores: () => 4, startsWhileBlocked: true, spawn: () => { throw new Error("no threads here"); } };
    setWasmPlatform(broken);
    let b: WasmBackend | null;
    try {
      b = createWasmBackendSync({ threads: 4, splitAll: true });
    } finally {
      setWasmPlatform(nodeWasmPlatform);
    }
    assert.ok(b);
    assert.equal(b.threads, 4);
    const x = rand(64), o = new Float32Array(64), e = new Float32Array(64);
    b.softmax(o, x, 8, 8, true);
    createWasmBackendSync({ threads: 1 })!.softmax(e, x, 8, 8, true);
    same(o, e, "log-softmax");
    assert.equal(b.threads, 1);
  });
});

describe("wasm threads: options and the loaded backend", { skip }, () => {
  const previous = getBackend().name;
  after(() => setBackend(previous));

  test("bad thread counts raise ValueError naming the function, argument, expected and actual", () => {
    assert.throws(() => loadWasmBackendSync({ threads: 0 }),
      (e: unknown) => e instanceof ValueError && e.message === "loadWasmBackendSync: threads expected an integer in [1, 256], got 0");
    assert.throws(() => setWasmThreads(1.5), /^ValueError: setWasmThreads: threads expected an integer in \[1, 256\], got 1\.5$/);
    assert.throws(() => setWasmThreads(Number.NaN), ValueError);
    assert.throws(() => setWasmThreads(257), ValueError);
    assert.throws(() => createWasmBackendSync({ threads: JSON.parse('"2"') as number }),
      (e: unknown) => e instanceof ValueError && e.arg === "threads" && e.actual === "string");
    assert.throws(() => loadWasmBackendSync(JSON.parse("null") as { threads: number }),
      (e: unknown) => e instanceof ValueError && e.op === "loadWasmBackendSync" && e.arg === "options");
  });

  test("setWasmThreads replaces the registered backend; getWasmThreads reports it", () => {
    assert.equal(defaultWasmThreads(), nodeWasmPlatform.cores());
    assert.ok(availableBackends().includes("wasm"));
    setBackend("wasm");
    const before = getBackend();
    setWasmThreads(2);
    assert.equal(getWasmThreads(), 2);
    const two = getBackend();
    assert.equal(two.name, "wasm");
    assert.equal(two, loadWasmBackendSync());
    setWasmThreads(2);
    assert.equal(getBackend(), two, "same count: no reload");
    setWasmThreads(1);
    assert.equal(getWasmThreads(), 1);
    assert.notEqual(getBackend(), two);
    assert.equal((two as WasmBackend).threads, 1, "the replaced backend's workers were stopped");
    assert.notEqual(before, undefined);
  });
});
