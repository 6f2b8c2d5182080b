/** The wasm backend: every kernel against the js reference, public ops end to end on it, the shipped binary. */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { bigbirdLayout } from "../../src/attention/bigbird.js";
import { blockSparsePattern } from "../../src/attention/block-sparse.js";
import { longformerPattern } from "../../src/attention/global.js";
import { buildPattern } from "../../src/attention/sparse.js";
import { dilatedWindowPattern, windowPattern } from "../../src/attention/window.js";
import type { Backend, LinearAttentionArgs, SparseAttentionArgs, SparsePattern } from "../../src/backend/backend.js";
import { getBackend, jsBackend, registerBackend, setBackend } from "../../src/backend/registry.js";
import { wasmSourceHash } from "../../src/backend/wasm/binary.js";
import { wasmThreadsSourceHash } from "../../src/backend/wasm/binary-threads.js";
import { loadWasmBackend, loadWasmBackendSync } from "../../src/backend/wasm/load.js";
import {
  Generator, backward, layerNorm, logSoftmax, matmul, mul, randn, scaledDotProductAttention, softmax, sum, tensor,
  Tensor,
} from "../../src/index.js";
import { sourceHash } from "../../tools/build-wasm.js";
import {
  attentionSweep, checkBinary, checkGeluErfGrad, checkReluGrad, checkLayerNorm, checkLinear, checkMatmul, checkSoftmax, checkSparse, checkUnary, close,
  closeCheck, normals, type KernelTarget,
} from "./kernel-cases.js";

const loaded = loadWasmBackendSync();
assert.ok(loaded, "the wasm backend loads here");
const wasm: Backend = loaded;
const rand = normals(new Generator(5));
const t: KernelTarget = { sut: wasm, ref: jsBackend, rand, check: closeCheck };

describe("wasm backend: shipped binary", () => {
  test("binary.ts and binary-threads.ts are built from the current wasm/ sources (else: npx tsx tools/build-wasm.ts)", () => {
    const hash = sourceHash();
    assert.equal(wasmSourceHash, hash, "binary.ts");
    assert.equal(wasmThreadsSourceHash, hash, "binary-threads.ts");
  });
  test("the async loader returns the same backend", async () => {
    assert.equal(await loadWasmBackend(), wasm);
    assert.equal(wasm.name, "wasm");
  });
});

describe("wasm backend: matmul", () => {
  const sizes: [number, number, number, number][] = [
    [1, 1, 1, 1], [3, 7, 13, 9], [2, 37, 29, 300], [1, 203, 9, 17], [1, 6, 1030, 5], [2, 0, 4, 3], [1, 3, 4, 0],
  ];
  for (const [batch, M, N, K] of sizes) {
    test(`batch ${batch}, M ${M}, N ${N}, K ${K}: transposes, shared operands, accumulate`, () => {
      checkMatmul(t, batch, M, N, K, [1e-5 * Math.sqrt(K + 1), 1e-5]);
    });
  }
});

describe("wasm backend: elementwise", () => {
  test("every unary op, special values included", () => {
    const x = new Float32Array([...rand(37, 3), 0, -0, NaN, Infinity, -Infinity, 1e-30, -100, 100]);
    checkUnary(t, x, x.map(Math.abs), () => [0, 2e-7], "special values");
  });

  const contiguous = (shape: number[]): number[] => {
    const st = new Array<number>(shape.length).fill(0);
    let acc = 1;
    for (let d = shape.length - 1; d >= 0; d--) { st[d] = acc; acc *= shape[d]!; }
    return st;
  };
  // [outShape, aStrides, bStrides, a length, b length]
  const layouts: [string, number[], number[], number[], number, number][] = [
    ["same shape", [3, 11], [11, 1], [11, 1], 33, 33],
    ["scalar b", [2, 3, 7], contiguous([2, 3, 7]), [0, 0, 0], 42, 1],
    ["scalar a", [17], [0], [1], 1, 17],
    ["[3,1,5] with [1,4,5]", [3, 4, 5], [5, 0, 1], [0, 5, 1], 15, 20],
    ["row broadcast [4,9] with [9]", [4, 9], [9, 1], [0, 1], 36, 9],
    ["column broadcast [6,5] with [6,1]", [6, 5], [5, 1], [1, 0], 30, 6],
    ["transposed a", [5, 6], [1, 5], [6, 1], 30, 30],
    ["rank 4 mixed", [2, 3, 2, 7], [42, 14, 7, 1], [0, 7, 0, 1], 84, 21],
    ["rank 0", [], [], [], 1, 1],
  ];
  for (const [name, shape, sa, sb, na, nb] of layouts) {
    test(`every binary op: ${name}`, () => {
      const a = rand(na, 2), b = rand(nb, 2);
      a[0] = NaN; if (na > 2) { a[1] = 0; a[2] = -0; }
      if (nb > 3) { b[1] = -0; b[2] = 0; b[3] = NaN; }
      // pow and geluErfGrad run in f64 with Math.exp / Math.pow of their own: a rounding apart
      checkBinary(t, a, b, shape, sa, sb, (op) => [0, op === "pow" || op === "geluErfGrad" ? 2e-7 : 0], name);
    });
  }
  test("binary geluErfGrad against the float64 reference, within float32's bound: special values, broadcasting", () => {
    checkGeluErfGrad(t);
  });

  test("binary reluGrad: a where b > 0, else +0, bit for bit: special values, broadcasting", () => {
    checkReluGrad(t);
  });
});

describe("wasm backend: softmax, layerNorm", () => {
  for (const cols of [1, 3, 17, 64, 301]) {
    test(`softmax and log-softmax forward and backward, cols ${cols}`, () => {
      const rows = 6;
      const x = rand(rows * cols, 4);
      x.fill(-Infinity, 0, cols); // a fully masked row
      if (cols > 2) { x[cols + 1] = -Infinity; x[2 * cols] = 80; }
      for (const log of [false, true]) checkSoftmax(t, x, rand(x.length), rows, cols, log, { forward: [1e-6, 2e-6], backward: [1e-5, 1e-5] });
    });
  }
  for (const cols of [1, 7, 64]) {
    test(`layerNorm forward and backward, cols ${cols}, with and without affine`, () => {
      const rows = 5;
      const x = rand(rows * cols, 3);
      for (const affine of [false, true]) {
        const w = affine ? rand(cols) : null, b = affine ? rand(cols) : null;
        checkLayerNorm(t, x, rand(x.length), w, b, rows, cols, affine,
          { out: [1e-6, 1e-6], mean: [0, 0], rstd: [0, 0], dx: [1e-6, 1e-6], dweight: [0, 0], dbias: [0, 0] });
      }
    });
  }
});

describe("wasm backend: fused attention", () => {
  interface Case { B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number }
  const shapes: Case[] = [
    { B: 2, H: 2, Hkv: 2, L: 5, S: 7, D: 4, Dv: 6 },
    { B: 1, H: 4, Hkv: 2, L: 70, S: 300, D: 16, Dv: 8 }, // several query blocks and key tiles, GQA
    { B: 1, H: 3, Hkv: 1, L: 9, S: 3, D: 5, Dv: 5 }, // L > S (causal rows past S see every key), MQA
    { B: 1, H: 1, Hkv: 1, L: 1, S: 1, D: 1, Dv: 1 },
  ];
  for (const sh of shapes) {
    test(`B${sh.B} H${sh.H}/${sh.Hkv} L${sh.L} S${sh.S} D${sh.D} Dv${sh.Dv}: masks x causal x dropout, forward and backward`, () => {
      const full = { name: "[B, H, L, S] with fully masked rows", mark: (mask: Float32Array): void => {
        const { L, S } = sh;
        for (let i = 0; i < mask.length; i += 4) mask[i] = -Infinity;
        mask.fill(-Infinity, 0, S); // row (0, 0, 0) fully masked
        if (L > 1) mask.fill(-Infinity, (L - 1) * S, L * S);
      } };
      attentionSweep(t, sh, full, { seedK1: 12345, seedStart: 2 ** 32 - 1000 }, { out: [2e-5, 1e-4], lse: [2e-5, 1e-5], grad: [5e-5, 1e-4] });
    });
  }
});

describe("wasm backend: sparse attention against the js kernels", () => {
  const check = (B: number, H: number, Hkv: number, D: number, Dv: number, pattern: SparsePattern, what: string): void =>
    checkSparse(t, B, H, Hkv, D, Dv, pattern, what);

  test("windows: symmetric, causal, L < S and L > S, odd head dims", () => {
    check(1, 1, 1, 1, 1, windowPattern(1, 1, 0), "window w=0");
    check(2, 2, 2, 16, 16, windowPattern(37, 37, 3), "window w=3");
    check(1, 3, 3, 33, 17, windowPattern(130, 130, 40, true), "causal window w=40");
    check(1, 2, 2, 64, 80, windowPattern(65, 200, 70), "window L<S w=70");
    check(2, 1, 1, 20, 24, windowPattern(150, 90, 100, true), "causal window L>S w=100");
  });

  test("strided ranges (dilated) and Longformer's global rows of more keys than one chunk (256)", () => {
    check(1, 2, 2, 16, 16, dilatedWindowPattern(97, 97, 5, 3), "dilated w=5 d=3");
    check(2, 2, 1, 33, 9, dilatedWindowPattern(120, 120, 8, 4, true), "causal dilated w=8 d=4");
    check(1, 3, 3, 32, 32, longformerPattern(600, 600, 9, 5), "longformer w=9 g=5");
    check(2, 2, 2, 7, 7, longformerPattern(70, 70, 0, 1), "longformer w=0 g=1");
    check(1, 2, 1, 8, 12, dilatedWindowPattern(300, 1100, 300, 2), "wide dilated w=300 d=2");
  });

  test("block layouts (BigBird, random blocks with an empty row), GQA and MQA", () => {
    const bb = { window: 1, numGlobal: 1, numRandom: 2, blockSize: 16, seed: 3 };
    check(1, 2, 2, 32, 32, blockSparsePattern(150, 150, bigbirdLayout(150, 150, bb), 16), "bigbird bs=16");
    check(2, 4, 2, 16, 24, blockSparsePattern(100, 70, bigbirdLayout(100, 70, { ...bb, blockSize: 8 }), 8), "bigbird L!=S bs=8");
    const nQb = 6, nKb = 5;
    const lay = new Uint8Array(nQb * nKb);
    for (let x = 0; x < lay.length; x++) lay[x] = (x * 7919) % 3 === 0 ? 1 : 0;
    for (let c = 0; c < nKb; c++) lay[2 * nKb + c] = 0;
    const pat = blockSparsePattern(6 * 11 - 3, 5 * 11 - 2, new Tensor(lay, [nQb, nKb], "bool"), 11);
    check(1, 3, 1, 12, 12, pat, "random blocks with an empty block row");
    const out = new Float32Array(3 * pat.L * 12).fill(NaN), lse = new Float32Array(3 * pat.L).fill(NaN);
    wasm.sparseAttentionForward(out, lse, rand(3 * pat.L * 12), rand(pat.S * 12), rand(pat.S * 12),
      { B: 1, H: 3, Hkv: 1, D: 12, Dv: 12, scale: 0.3, pattern: pat });
    assert.equal(lse[2 * 11], -Infinity, "an empty row's lse");
    assert.deepEqual(out.subarray(2 * 11 * 12, 3 * 11 * 12), new Float32Array(11 * 12), "an empty row's output");
    check(2, 4, 2, 16, 16, windowPattern(70, 70, 9, true), "GQA causal window");
    check(1, 6, 1, 32, 32, longformerPattern(90, 90, 6, 3), "MQA longformer");
  });

  test("a hand-built pattern: several ranges per row, shared rows, rows with gaps and no keys", () => {
    const pat = buildPattern(50, 61, (i, add) => {
      add(0, 2);
      if (i % 3 !== 0) add(5 + (i % 7), 30 + (i % 11), 1 + (i % 4));
      add(40 + (i % 5), 61, 7);
    }, (i) => (i % 10 === 9 ? i - 1 : i));
    check(2, 2, 2, 17, 5, pat, "hand-built");
    const gaps = buildPattern(90, 700, (i, add) => {
      if (i % 3 === 0) { add(0, 300); add(500, 650, 2); } else if (i % 7 !== 1) add(i, i + 5);
    });
    check(2, 1, 1, 16, 16, gaps, "wide rows with gaps, empty rows");
  });

  test("a pattern with a range outside [0, S], a step < 1 or rows past its ranges throws RangeError", () => {
    const pat = windowPattern(4, 4, 1);
    const a: SparseAttentionArgs = { B: 1, H: 2, Hkv: 2, D: 4, Dv: 4, scale: 0.5, pattern: pat };
    const f = (n: number): Float32Array => new Float32Array(n);
    const bad = (edit: (p: SparsePattern) => void): SparseAttentionArgs => {
      const p = { ...pat, rowLo: pat.rowLo.slice(), rowHi: pat.rowHi.slice(), spans: pat.spans.slice() };
      edit(p);
      return { ...a, pattern: p };
    };
    assert.throws(() => wasm.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32), bad((p) => { p.spans[1] = 5; })),
      { name: "RangeError", message: "sparseAttentionForward: args.pattern.spans: range 0 is outside [0, S) or has a step < 1" });
    assert.throws(() => wasm.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32), bad((p) => { p.spans[3] = -1; })), RangeError);
    assert.throws(() => wasm.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32), bad((p) => { p.spans[2] = 0; })), RangeError);
    assert.throws(() => wasm.sparseAttentionBackward(f(32), f(32), f(32), f(32), f(32), f(32), f(32), f(32), f(8),
      bad((p) => { p.rowHi[3] = 99; })),
    { name: "RangeError", message: "sparseAttentionBackward: args.pattern: row 3 has ranges outside spans" });
  });
});

describe("wasm backend: linear attention against the js kernels", () => {
  const check = (a: LinearAttentionArgs): void => checkLinear(t, a);

  test("causal: one row, chunk edges (64, 65 and 130 rows), odd feature dims, GQA", () => {
    check({ B: 1, H: 1, Hkv: 1, L: 1, S: 1, M: 1, Dv: 1, causal: true });
    check({ B: 2, H: 2, Hkv: 2, L: 37, S: 37, M: 16, Dv: 16, causal: true });
    check({ B: 1, H: 1, Hkv: 1, L: 64, S: 64, M: 8, Dv: 8, causal: true });
    check({ B: 1, H: 2, Hkv: 2, L: 65, S: 65, M: 9, Dv: 6, causal: true });
    check({ B: 1, H: 3, Hkv: 3, L: 130, S: 130, M: 33, Dv: 17, causal: true });
    check({ B: 1, H: 4, Hkv: 2, L: 150, S: 150, M: 24, Dv: 8, causal: true });
  });

  test("non-causal: L != S, odd feature dims, MQA; causal past the keys (L > S) and short of them (L < S)", () => {
    check({ B: 2, H: 2, Hkv: 2, L: 65, S: 90, M: 20, Dv: 64, causal: false });
    check({ B: 2, H: 6, Hkv: 1, L: 40, S: 33, M: 7, Dv: 12, causal: false });
    check({ B: 1, H: 2, Hkv: 1, L: 300, S: 5, M: 130, Dv: 3, causal: false });
    check({ B: 1, H: 2, Hkv: 1, L: 100, S: 70, M: 7, Dv: 12, causal: true });
    check({ B: 1, H: 2, Hkv: 1, L: 70, S: 100, M: 7, Dv: 12, causal: true });
  });
});

describe("wasm backend: memory and float64", () => {
  test("a large call grows the memory, later small calls still agree", () => {
    const n = 1 << 21;
    const x = rand(n), o1 = new Float32Array(n), o2 = new Float32Array(n);
    wasm.unary("relu", o1, x, n, 0);
    jsBackend.unary("relu", o2, x, n, 0);
    close(o1, o2, 0, 0, "relu");
    const a = rand(6), b = rand(6), m1 = new Float32Array(4), m2 = new Float32Array(4);
    wasm.matmul(m1, a, b, 1, 2, 2, 3, false, false, 6, 6, false);
    jsBackend.matmul(m2, a, b, 1, 2, 2, 3, false, false, 6, 6, false);
    close(m1, m2, 1e-6, 1e-6, "matmul");
  });
  test("Float64Array arguments run on the js kernels", () => {
    const a = Float64Array.from(rand(12)), b = Float64Array.from(rand(12));
    const o1 = new Float64Array(9), o2 = new Float64Array(9);
    wasm.matmul(o1, a, b, 1, 3, 3, 4, false, false, 12, 12, false);
    jsBackend.matmul(o2, a, b, 1, 3, 3, 4, false, false, 12, 12, false);
    assert.deepEqual(o1, o2);
  });
});

describe("wasm backend: public ops end to end", () => {
  const previous = getBackend().name;
  after(() => setBackend(previous));

  /** Runs fn on js and on wasm; returns both results. */
  function both<T>(fn: () => T): [T, T] {
    registerBackend(wasm);
    setBackend("js");
    const r1 = fn();
    setBackend("wasm");
    try {
      return [r1, fn()];
    } finally {
      setBackend("js");
    }
  }

  test("matmul, softmax, logSoftmax, layerNorm with gradients", () => {
    const [r1, r2] = both(() => {
      const g = new Generator(1);
      const x = randn([3, 5, 8], { generator: g, requiresGrad: true });
      const w = randn([8, 6], { generator: g, requiresGrad: true });
      const lw = randn([6], { generator: g, requiresGrad: true }), lb = randn([6], { generator: g, requiresGrad: true });
      const h = layerNorm(matmul(x, w), [6], lw, lb);
      const y = mul(softmax(h, -1), logSoftmax(h, -1));
      backward(sum(mul(y, tensor(Array.from({ length: 6 }, (_, i) => i - 2.5)))));
      return [y, x.grad!, w.grad!, lw.grad!, lb.grad!].map((t: Tensor) => Float32Array.from(t.data as Float32Array));
    });
    r1.forEach((t, i) => close(r2[i]!, t, 1e-5, 1e-4, `tensor ${i}`));
  });

  test("scaledDotProductAttention fused path (causal, GQA, dropout) with backward", () => {
    const [r1, r2] = both(() => {
      const g = new Generator(2);
      const q = randn([2, 4, 9, 8], { generator: g, requiresGrad: true });
      const k = randn([2, 2, 11, 8], { generator: g, requiresGrad: true });
      const v = randn([2, 2, 11, 8], { generator: g, requiresGrad: true });
      const { output } = scaledDotProductAttention(q, k, v, { isCausal: true, dropoutP: 0.2, generator: new Generator(9) });
      backward(sum(mul(output, randn(output.shape, { generator: new Generator(3) }))));
      return [output, q.grad!, k.grad!, v.grad!].map((t: Tensor) => Float32Array.from(t.data as Float32Array));
    });
    r1.forEach((t, i) => close(r2[i]!, t, 2e-5, 1e-4, `tensor ${i}`));
  });
});
