/**
 * The native kernels give the same bits for any thread count (docs/robustness.md, "Determinism"):
 * each kernel runs with 1 thread and with 2, 3 and 4, on sizes above the thresholds at which it
 * splits its work over the pool, and the outputs must be equal bit for bit, and equal again when
 * the call is repeated (the pool hands tasks out first come, first served). The one kernel whose
 * bits depend on the thread count, the sparse attention backward with fewer kv heads than threads,
 * must repeat its bits at a fixed count and stay within the documented tolerance across counts.
 * Runs in the native pass only.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { longformerPattern } from "../../src/attention/global.js";
import { dilatedWindowPattern, windowPattern } from "../../src/attention/window.js";
import {
  contiguousLayouts, type AttentionArgs, type Backend, type BinaryOp, type LinearAttentionArgs, type SparseAttentionArgs,
  type SparsePattern, type UnaryOp,
} from "../../src/backend/backend.js";
import { getNumThreads, loadNativeBackend, setNumThreads } from "../../src/backend/native/index.js";
import { Generator } from "../../src/tensor/rng.js";
import { normals, same } from "./kernel-cases.js";

const backend = process.env.QKV_BACKEND;
const native = loadNativeBackend({ quiet: true });
const skip = native === null ? "native addon not built" : backend !== undefined && backend !== "native" ? "runs in the native pass only" : false;

const rand = normals(new Generator(2024));

/** Outputs prefilled with NaN, so that an element a kernel skips shows. */
const outputs = (...sizes: number[]): Float32Array[] => sizes.map((n) => new Float32Array(n).fill(NaN));

const THREADS = [2, 3, 4];
const REPEATS = 2;

/**
 * Runs `kernel` on 1 thread, then `repeats` times on each count of `threads`, and asserts every
 * run gave the single-threaded bits.
 */
function acrossThreads(what: string, kernel: () => Float32Array[], threads = THREADS, repeats = REPEATS): void {
  setNumThreads(1);
  const want = kernel();
  for (const t of threads) {
    setNumThreads(t);
    for (let r = 0; r < repeats; r++) kernel().forEach((got, i) => same(got, want[i]!, `${what}, output ${i}, ${t} threads, run ${r + 1}`));
  }
}

describe("native kernels: the same bits for 1, 2, 3 and 4 threads", { skip }, () => {
  const nb = native as Backend;
  const defaultThreads = getNumThreads();
  after(() => setNumThreads(defaultThreads));

  test("matmul: one large product (split into tiles of C), edge tiles, transposes, accumulate; many small products", () => {
    // 2 M N K / 1.5e6 flops per thread: these products use every thread
    const cases = [[256, 256, 256, false, false, false], [257, 515, 301, false, true, true], [257, 515, 301, true, false, false]] as const;
    for (const [M, N, K, transA, transB, accumulate] of cases) {
      const a = rand(M * K), b = rand(K * N), init = rand(M * N);
      acrossThreads(`matmul ${M}x${N}x${K} tA=${transA} tB=${transB} acc=${accumulate}`, () => {
        const out = init.slice();
        nb.matmul(out, a, b, 1, M, N, K, transA, transB, M * K, K * N, accumulate);
        return [out];
      });
    }
    // wide products split by columns, each thread packing its own B panels for several K blocks
    // (K past 2 KC; the panels of a thread that moved on to the next K block must not land where
    // another still reads; nor may a thread starting the next column block, N past 3072 on AVX2):
    // repeated, as a race shows only now and then
    for (const [M, N, K] of [[130, 1536, 600], [64, 515, 301], [130, 3100, 300]] as const) {
      const a = rand(M * K), b = rand(K * N);
      acrossThreads(`matmul ${M}x${N}x${K} tB, split by columns`, () => {
        const [out] = outputs(M * N);
        nb.matmul(out!, a, b, 1, M, N, K, false, true, 0, 0, false);
        return [out!];
      }, THREADS, 12);
    }
    // a batch of small products: one whole product per task
    const [batch, M, N, K] = [12, 70, 65, 64];
    const a = rand(batch * M * K), b = rand(K * N);
    acrossThreads("matmul batch 12 of 70x65x64, b shared", () => {
      const [out] = outputs(batch * M * N);
      nb.matmul(out!, a, b, batch, M, N, K, false, false, M * K, 0, false);
      return [out!];
    });
  });

  test("elementwise: unary, broadcasting binary and dropout over 2^17 elements", () => {
    const n = (1 << 17) + 3, x = rand(n, 3);
    for (const op of ["exp", "tanh", "geluErf", "sigmoid", "rsqrt"] as UnaryOp[]) {
      const inp = op === "rsqrt" ? x.map(Math.abs) : x;
      acrossThreads(`unary ${op}`, () => {
        const [out] = outputs(n);
        nb.unary(op, out!, inp, n, 0);
        return [out!];
      });
    }
    // [512, 300] (op) [300]: rows split
    const rows = 512, cols = 300, a = rand(rows * cols), b = rand(cols);
    for (const op of ["add", "mul", "div", "maximum", "geluErfGrad"] as BinaryOp[]) {
      acrossThreads(`binary ${op} [512, 300] with [300]`, () => {
        const [out] = outputs(rows * cols);
        nb.binary(op, out!, a, b, [rows, cols], [cols, 1], [0, 1]);
        return [out!];
      });
    }
    acrossThreads("dropout p 0.3", () => {
      const [out] = outputs(n);
      nb.dropout(out!, x, n, 0.3, 0x9e3779b9, 77, 2 ** 32 - 1000);
      return [out!];
    });
  });

  test("softmax, log-softmax and layer norm, forward and backward (rows split; layer norm's weight and bias gradients by column blocks)", () => {
    const rows = 256, cols = 300, x = rand(rows * cols, 4), dy = rand(rows * cols);
    x.fill(-Infinity, 0, cols); // a fully masked row
    for (const log of [false, true]) {
      const y = new Float32Array(rows * cols);
      nb.softmax(y, x, rows, cols, log);
      acrossThreads(`softmax log=${log}`, () => {
        const [out, dx] = outputs(rows * cols, rows * cols);
        nb.softmax(out!, x, rows, cols, log);
        nb.softmaxBackward(dx!, y, dy, rows, cols, log);
        return [out!, dx!];
      });
    }
    const lr = 64, lc = 1024, lx = rand(lr * lc, 2), w = rand(lc), bias = rand(lc), ldy = rand(lr * lc);
    const mean = new Float32Array(lr), rstd = new Float32Array(lr);
    nb.layerNorm(new Float32Array(lr * lc), mean, rstd, lx, w, bias, lr, lc, 1e-5);
    acrossThreads("layerNorm [64, 1024]", () => {
      const [out, m, r, dx, dw, db] = outputs(lr * lc, lr, lr, lr * lc, lc, lc);
      nb.layerNorm(out!, m!, r!, lx, w, bias, lr, lc, 1e-5);
      nb.layerNormBackward(dx!, dw!, db!, ldy, lx, mean, rstd, w, lr, lc);
      return [out!, m!, r!, dx!, dw!, db!];
    });
  });

  interface AttnCase { B: number; H: number; Hkv: number; L: number; S: number; D: number; causal: boolean; dropoutP: number; mask: boolean }
  function checkAttention(c: AttnCase, what: string, threads = THREADS, repeats = REPEATS): void {
    const { B, H, Hkv, L, S, D } = c;
    const mask = c.mask ? rand(L * S) : null;
    if (mask) for (let i = 0; i < mask.length; i += 7) mask[i] = -Infinity;
    const args: AttentionArgs = { B, H, Hkv, L, S, D, Dv: D, scale: 1 / Math.sqrt(D), causal: c.causal,
      ...contiguousLayouts({ H, Hkv, L, S, D, Dv: D }), mask, maskStrideB: 0, maskStrideH: 0,
      maskStrideL: mask ? S : 0, dropoutP: c.dropoutP, seedK0: 0x2545f491, seedK1: 99, seedStart: 12345 };
    const q = rand(B * H * L * D), k = rand(B * Hkv * S * D), v = rand(B * Hkv * S * D), dout = rand(B * H * L * D);
    const out = new Float32Array(B * H * L * D), lse = new Float32Array(B * H * L);
    nb.attentionForward(out, lse, q, k, v, args);
    acrossThreads(`attention ${what}`, () => {
      const [o, l, dq, dk, dv] = outputs(out.length, lse.length, q.length, k.length, v.length);
      nb.attentionForward(o!, l!, q, k, v, args);
      nb.attentionBackward(dq!, dk!, dv!, dout, q, k, v, out, lse, args);
      return [o!, l!, dq!, dk!, dv!];
    }, threads, repeats);
  }

  test("fused attention: forward by (b, h, query tile); backward by kv head", () => {
    // 8 kv heads: whole heads per task for 2 and 4 threads; 3 threads take the path of the next test
    checkAttention({ B: 2, H: 4, Hkv: 4, L: 150, S: 200, D: 32, causal: false, dropoutP: 0.1, mask: true }, "B2 H4 L150 S200, mask, dropout");
  });

  test("fused attention backward with fewer kv heads than threads: key blocks, then query tiles (the dS tiles kept)", () => {
    // regression: dQ was summed in per-thread buffers of first-come key blocks, and its bits changed from run to run
    checkAttention({ B: 1, H: 1, Hkv: 1, L: 300, S: 400, D: 64, causal: false, dropoutP: 0, mask: false }, "one head");
    checkAttention({ B: 1, H: 2, Hkv: 1, L: 300, S: 300, D: 32, causal: true, dropoutP: 0.2, mask: true }, "GQA, causal, mask, dropout");
    checkAttention({ B: 3, H: 2, Hkv: 2, L: 100, S: 260, D: 16, causal: false, dropoutP: 0, mask: false }, "6 kv heads");
  });

  test("fused attention backward with fewer kv heads than threads: dS tiles over the store's size, computed again", () => {
    // 12 query heads x 13 query tiles x 10 key blocks of 96 x 128 scores: 1.15 x 2^24 floats, over the 2^24 kept
    checkAttention({ B: 1, H: 12, Hkv: 1, L: 1200, S: 1200, D: 2, causal: true, dropoutP: 0.1, mask: false }, "MQA L1200, recomputed dS", [3], 1);
  });

  test("linear attention: one task per head (forward) and per kv head (backward)", () => {
    const a: LinearAttentionArgs = { B: 2, H: 4, Hkv: 2, L: 300, S: 300, M: 16, Dv: 16, causal: false };
    for (const causal of [false, true]) {
      const c = { ...a, causal };
      const pos = (n: number): Float32Array => rand(n).map((x) => Math.exp(0.5 * x));
      const { B, H, Hkv, L, S, M, Dv } = c;
      const fq = pos(B * H * L * M), fk = pos(B * Hkv * S * M), v = rand(B * Hkv * S * Dv), dout = rand(B * H * L * Dv);
      const out = new Float32Array(B * H * L * Dv), den = new Float32Array(B * H * L);
      nb.linearAttentionForward(out, den, fq, fk, v, c);
      acrossThreads(`linear attention causal=${causal}`, () => {
        const [o, d, dq, dk, dv] = outputs(out.length, den.length, fq.length, fk.length, v.length);
        nb.linearAttentionForward(o!, d!, fq, fk, v, c);
        nb.linearAttentionBackward(dq!, dk!, dv!, dout, fq, fk, v, out, den, c);
        return [o!, d!, dq!, dk!, dv!];
      });
    }
  });

  interface SparseCase { B: number; H: number; Hkv: number; D: number; pattern: SparsePattern }
  function sparseInputs(c: SparseCase) {
    const { B, H, Hkv, D, pattern } = c;
    const args: SparseAttentionArgs = { B, H, Hkv, D, Dv: D, scale: 1 / Math.sqrt(D), pattern };
    const { L, S } = pattern;
    const q = rand(B * H * L * D), k = rand(B * Hkv * S * D), v = rand(B * Hkv * S * D), dout = rand(B * H * L * D);
    const out = new Float32Array(B * H * L * D), lse = new Float32Array(B * H * L);
    nb.sparseAttentionForward(out, lse, q, k, v, args);
    const forward = (): Float32Array[] => {
      const [o, l] = outputs(out.length, lse.length);
      nb.sparseAttentionForward(o!, l!, q, k, v, args);
      return [o!, l!];
    };
    const backward = (): Float32Array[] => {
      const [dq, dk, dv] = outputs(q.length, k.length, v.length);
      nb.sparseAttentionBackward(dq!, dk!, dv!, dout, q, k, v, out, lse, args);
      return [dq!, dk!, dv!];
    };
    return { forward, backward };
  }

  test("sparse attention forward (row tasks; wide rows by key chunks merged in order)", () => {
    acrossThreads("sparse forward, window", sparseInputs({ B: 1, H: 2, Hkv: 1, D: 32, pattern: windowPattern(400, 400, 20) }).forward);
    acrossThreads("sparse forward, longformer with wide rows", sparseInputs({ B: 1, H: 2, Hkv: 2, D: 16, pattern: longformerPattern(1100, 1100, 3, 8) }).forward);
  });

  test("sparse attention backward with kv heads a multiple of the threads, or at least 4 per thread: whole kv heads per task", () => {
    // 4 kv heads: whole heads for 1, 2 and 4 threads (3 threads take the split path below)
    const { backward } = sparseInputs({ B: 2, H: 4, Hkv: 2, D: 32, pattern: dilatedWindowPattern(300, 300, 8, 2) });
    setNumThreads(1);
    const want = backward();
    for (const t of [2, 4]) {
      setNumThreads(t);
      for (let r = 0; r < REPEATS; r++) backward().forEach((got, i) => same(got, want[i]!, `sparse backward, output ${i}, ${t} threads, run ${r + 1}`));
    }
  });

  test("sparse attention backward with fewer kv heads than threads: the same bits at a fixed count, within 1e-4 + 1e-3 |x| across counts", () => {
    // regression: rows were handed out first come, first served, so dk / dv changed from run to run
    for (const c of [
      { B: 1, H: 2, Hkv: 1, D: 64, pattern: longformerPattern(400, 400, 20, 4) },
      { B: 1, H: 1, Hkv: 1, D: 24, pattern: dilatedWindowPattern(300, 300, 6, 5) },
    ]) {
      const { backward } = sparseInputs(c);
      setNumThreads(1);
      const one = backward();
      for (const t of [2, 3]) {
        setNumThreads(t);
        const first = backward();
        for (let r = 0; r < 3; r++) backward().forEach((got, i) => same(got, first[i]!, `sparse backward, output ${i}, ${t} threads, run ${r + 2}`));
        first.forEach((got, i) => {
          for (let j = 0; j < got.length; j++) {
            const g = got[j]!, e = one[i]!;
            assert.ok(Math.abs(g - e[j]!) <= 1e-4 + 1e-3 * Math.abs(e[j]!), `sparse backward, output ${i}, ${t} threads: [${j}] ${g} vs ${e[j]} on 1 thread`);
          }
        });
      }
    }
  });
});
