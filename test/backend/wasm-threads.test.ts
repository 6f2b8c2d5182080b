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
import type {
  AttentionArgs, BinaryOp, LinearAttentionArgs, SparseAttentionArgs, SparsePattern, UnaryOp,
} from "../../src/backend/backend.js";
import { availableBackends, getBackend, setBackend } from "../../src/backend/registry.js";
import type { WasmBackend } from "../../src/backend/wasm/backend.js";
import {
  createWasmBackend, createWasmBackendSync, defaultWasmThreads, getWasmThreads, loadWasmBackendSync, setWasmThreads,
} from "../../src/backend/wasm/load.js";
import { setWasmPlatform, threadsUnavailable, type WasmPlatform } from "../../src/backend/wasm/platform.js";
import { nodeWasmPlatform } from "../../src/backend/wasm/node-platform.js";
import { Generator, Tensor, ValueError } from "../../src/index.js";

const backend = process.env.QKV_BACKEND;
const skip = backend !== undefined && backend !== "wasm" ? "runs in the wasm pass only" : false;
const root = new URL("../../", import.meta.url).pathname;

const gen = new Generator(11);
function rand(n: number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  gen.fillNormal(x, 0, scale);
  return x;
}

/** Bit-identical (NaN payloads aside): the first differing index fails. */
function same(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) assert.fail(`${what}: [${i}] ${a} vs ${e}`);
  }
}

describe("wasm threads: split kernels equal the single-threaded module bit for bit", { skip }, () => {
  const st = createWasmBackendSync({ threads: 1 });
  // 3 threads (uneven shares), every call split however small
  const mt = createWasmBackendSync({ threads: 3, splitAll: true });
  after(() => mt?.dispose());

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
      for (const transA of [false, true]) for (const transB of [false, true]) for (const share of ["none", "a", "b"]) {
        for (const accumulate of [false, true]) {
          const strideA = share === "a" ? 0 : M * K, strideB = share === "b" ? 0 : K * N;
          const a = rand(Math.max(strideA * batch, M * K)), b = rand(Math.max(strideB * batch, K * N));
          const init = rand(batch * M * N);
          const o1 = init.slice(), o2 = init.slice();
          st!.matmul(o1, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
          mt!.matmul(o2, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
          same(o2, o1, `matmul tA=${transA} tB=${transB} share=${share} acc=${accumulate}`);
        }
      }
    });
  }

  test("every unary op, lengths around the 4-aligned shares", () => {
    const ops: UnaryOp[] = ["neg", "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "abs", "relu", "sigmoid", "geluErf",
      "geluTanh", "sin", "cos", "square", "reciprocal", "sign", "elu"];
    for (const n of [1, 5, 13, 64, 1001]) {
      const x = rand(n, 3);
      for (const op of ops) {
        const inp = op === "log" || op === "sqrt" || op === "rsqrt" ? x.map(Math.abs) : x;
        const o1 = new Float32Array(n), o2 = new Float32Array(n);
        st!.unary(op, o1, inp, n, 0.7);
        mt!.unary(op, o2, inp, n, 0.7);
        same(o2, o1, `${op} n=${n}`);
      }
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
      const n = shape.reduce((p, s) => p * s, 1);
      const a = rand(na, 2), b = rand(nb, 2);
      for (const op of ["add", "sub", "mul", "div", "pow", "maximum", "minimum"] as BinaryOp[]) {
        const pa = op === "pow" ? a.map(Math.abs) : a;
        const o1 = new Float32Array(n), o2 = new Float32Array(n);
        st!.binary(op, o1, pa, b, shape, sa, sb);
        mt!.binary(op, o2, pa, b, shape, sa, sb);
        same(o2, o1, `${op} ${name}`);
      }
    });
  }

  for (const [rows, cols] of [[1, 5], [2, 301], [7, 64], [40, 17]] as const) {
    test(`softmax, log-softmax and layerNorm forward and backward, ${rows} x ${cols}`, () => {
      const x = rand(rows * cols, 4), dy = rand(rows * cols);
      x.fill(-Infinity, 0, cols); // a fully masked row
      for (const log of [false, true]) {
        const y1 = new Float32Array(x.length), y2 = new Float32Array(x.length);
        st!.softmax(y1, x, rows, cols, log);
        mt!.softmax(y2, x, rows, cols, log);
        same(y2, y1, `softmax log=${log}`);
        const d1 = new Float32Array(x.length), d2 = new Float32Array(x.length);
        st!.softmaxBackward(d1, y1, dy, rows, cols, log);
        mt!.softmaxBackward(d2, y1, dy, rows, cols, log);
        same(d2, d1, `softmaxBackward log=${log}`);
      }
      const xf = rand(rows * cols, 3);
      for (const affine of [false, true]) {
        const w = affine ? rand(cols) : null, b = affine ? rand(cols) : null;
        const r1 = [new Float32Array(xf.length), new Float32Array(rows), new Float32Array(rows)] as const;
        const r2 = [new Float32Array(xf.length), new Float32Array(rows), new Float32Array(rows)] as const;
        st!.layerNorm(r1[0], r1[1], r1[2], xf, w, b, rows, cols, 1e-5);
        mt!.layerNorm(r2[0], r2[1], r2[2], xf, w, b, rows, cols, 1e-5);
        for (let t = 0; t < 3; t++) same(r2[t]!, r1[t]!, `layerNorm affine=${affine} output ${t}`);
        const g1 = [new Float32Array(xf.length), new Float32Array(cols), new Float32Array(cols)] as const;
        const g2 = [new Float32Array(xf.length), new Float32Array(cols), new Float32Array(cols)] as const;
        st!.layerNormBackward(g1[0], affine ? g1[1] : null, affine ? g1[2] : null, dy, xf, r1[1], r1[2], w, rows, cols);
        mt!.layerNormBackward(g2[0], affine ? g2[1] : null, affine ? g2[2] : null, dy, xf, r1[1], r1[2], w, rows, cols);
        for (let t = 0; t < 3; t++) same(g2[t]!, g1[t]!, `layerNormBackward affine=${affine} output ${t}`);
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
      const { B, H, Hkv, L, S, D, Dv } = sh;
      const q = rand(B * H * L * D), k = rand(B * Hkv * S * D), v = rand(B * Hkv * S * Dv), dout = rand(B * H * L * Dv);
      for (const m of ["none", "[L, S]", "[B, H, L, S]"] as const) for (const causal of [false, true]) {
        for (const dropoutP of [0, 0.3]) {
          let mask: Float32Array | null = null, msB = 0, msH = 0, msL = 0;
          if (m === "[L, S]") {
            mask = rand(L * S);
            for (let i = 0; i < mask.length; i += 3) mask[i] = -Infinity;
            msL = S;
          } else if (m !== "none") {
            mask = rand(B * H * L * S);
            mask.fill(-Infinity, 0, S); // a fully masked row
            [msB, msH, msL] = [H * L * S, L * S, S];
          }
          const a: AttentionArgs = { B, H, Hkv, L, S, D, Dv, scale: 1 / Math.sqrt(D), causal, mask, maskStrideB: msB,
            maskStrideH: msH, maskStrideL: msL, dropoutP, seedK0: 0x9e3779b9, seedK1: 777, seedStart: 2 ** 32 - 500 };
          const what = `mask ${m} causal ${causal} p ${dropoutP}`;
          const f1 = [new Float32Array(B * H * L * Dv), new Float32Array(B * H * L)] as const;
          const f2 = [new Float32Array(B * H * L * Dv), new Float32Array(B * H * L)] as const;
          st!.attentionForward(f1[0], f1[1], q, k, v, a);
          mt!.attentionForward(f2[0], f2[1], q, k, v, a);
          same(f2[0], f1[0], `out ${what}`);
          same(f2[1], f1[1], `lse ${what}`);
          const g1 = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)] as const;
          const g2 = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)] as const;
          g2[0].fill(NaN); g2[1].fill(NaN); g2[2].fill(NaN); // every element must be written
          st!.attentionBackward(g1[0], g1[1], g1[2], dout, q, k, v, f1[0], f1[1], a);
          mt!.attentionBackward(g2[0], g2[1], g2[2], dout, q, k, v, f1[0], f1[1], a);
          for (let t = 0; t < 3; t++) same(g2[t]!, g1[t]!, `d${"qkv"[t]} ${what}`);
        }
      }
    });
  }

  /** Sparse attention forward and backward, threaded against single-threaded, every element written. */
  function sparseSame(B: number, H: number, Hkv: number, D: number, Dv: number, pattern: SparsePattern, what: string): void {
    const { L, S } = pattern;
    const a: SparseAttentionArgs = { B, H, Hkv, D, Dv, scale: 1 / Math.sqrt(D), pattern };
    const q = rand(B * H * L * D), k = rand(B * Hkv * S * D), v = rand(B * Hkv * S * Dv), dout = rand(B * H * L * Dv);
    const f1 = [new Float32Array(B * H * L * Dv), new Float32Array(B * H * L)] as const;
    const f2 = [new Float32Array(B * H * L * Dv).fill(NaN), new Float32Array(B * H * L).fill(NaN)] as const;
    st!.sparseAttentionForward(f1[0], f1[1], q, k, v, a);
    mt!.sparseAttentionForward(f2[0], f2[1], q, k, v, a);
    same(f2[0], f1[0], `${what}: out`);
    same(f2[1], f1[1], `${what}: lse`);
    const g1 = [new Float32Array(q.length), new Float32Array(k.length), new Float32Array(v.length)] as const;
    const g2 = [new Float32Array(q.length).fill(NaN), new Float32Array(k.length).fill(NaN), new Float32Array(v.length).fill(NaN)] as const;
    st!.sparseAttentionBackward(g1[0], g1[1], g1[2], dout, q, k, v, f1[0], f1[1], a);
    mt!.sparseAttentionBackward(g2[0], g2[1], g2[2], dout, q, k, v, f1[0], f1[1], a);
    for (let t = 0; t < 3; t++) same(g2[t]!, g1[t]!, `${what}: d${"qkv"[t]}`);
  }

  test("sparse attention: GQA, strided ranges, global rows over several key chunks, empty rows", () => {
    sparseSame(1, 1, 1, 3, 5, windowPattern(2, 2, 0), "two rows");
    sparseSame(2, 4, 2, 16, 8, windowPattern(70, 70, 9, true), "GQA causal window");
    sparseSame(1, 3, 1, 33, 9, dilatedWindowPattern(120, 150, 8, 4, true), "MQA causal dilated, L < S");
    sparseSame(1, 2, 2, 8, 8, longformerPattern(700, 700, 5, 3), "longformer (rows of 700 keys)");
    const lay = new Uint8Array(6 * 5);
    for (let x = 0; x < lay.length; x++) lay[x] = (x * 7919) % 3 === 0 ? 1 : 0;
    for (let c = 0; c < 5; c++) lay[2 * 5 + c] = 0;
    sparseSame(2, 3, 3, 12, 7, blockSparsePattern(63, 53, new Tensor(lay, [6, 5], "bool"), 11), "random blocks, an empty block row");
    sparseSame(1, 2, 1, 9, 4, buildPattern(40, 600, (i, add) => {
      if (i % 5 === 0) { add(0, 290); add(300, 600, 3); } else if (i % 4 !== 1) add(i, i + 3);
    }), "wide, narrow and empty rows");
  });

  /** Linear attention forward and backward, threaded against single-threaded, every element written. */
  function linearSame(a: LinearAttentionArgs): void {
    const { B, H, Hkv, L, S, M, Dv } = a;
    const pos = (n: number): Float32Array => rand(n).map((x) => Math.exp(0.5 * x));
    const fq = pos(B * H * L * M), fk = pos(B * Hkv * S * M), v = rand(B * Hkv * S * Dv), dout = rand(B * H * L * Dv);
    const what = JSON.stringify(a);
    const f1 = [new Float32Array(B * H * L * Dv), new Float32Array(B * H * L)] as const;
    const f2 = [new Float32Array(B * H * L * Dv).fill(NaN), new Float32Array(B * H * L).fill(NaN)] as const;
    st!.linearAttentionForward(f1[0], f1[1], fq, fk, v, a);
    mt!.linearAttentionForward(f2[0], f2[1], fq, fk, v, a);
    same(f2[0], f1[0], `${what}: out`);
    same(f2[1], f1[1], `${what}: den`);
    const g1 = [new Float32Array(fq.length), new Float32Array(fk.length), new Float32Array(v.length)] as const;
    const g2 = [new Float32Array(fq.length).fill(NaN), new Float32Array(fk.length).fill(NaN), new Float32Array(v.length).fill(NaN)] as const;
    st!.linearAttentionBackward(g1[0], g1[1], g1[2], dout, fq, fk, v, f1[0], f1[1], a);
    mt!.linearAttentionBackward(g2[0], g2[1], g2[2], dout, fq, fk, v, f1[0], f1[1], a);
    for (const [t, n] of ["dfq", "dfk", "dv"].entries()) same(g2[t]!, g1[t]!, `${what}: ${n}`);
  }

  test("linear attention: causal over several chunks, GQA, MQA, L != S, fewer kv heads than threads", () => {
    linearSame({ B: 1, H: 1, Hkv: 1, L: 3, S: 3, M: 2, Dv: 5, causal: true });
    linearSame({ B: 2, H: 4, Hkv: 2, L: 150, S: 150, M: 13, Dv: 7, causal: true });
    linearSame({ B: 1, H: 6, Hkv: 3, L: 65, S: 65, M: 24, Dv: 8, causal: true });
    linearSame({ B: 2, H: 3, Hkv: 1, L: 40, S: 90, M: 9, Dv: 12, causal: false });
    linearSame({ B: 3, H: 2, Hkv: 2, L: 70, S: 33, M: 5, Dv: 3, causal: false });
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
      const args: AttentionArgs = { B, H, Hkv: H, L, S: L, D, Dv: D, scale: 0.2, causal: true, mask: null, maskStrideB: 0,
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
