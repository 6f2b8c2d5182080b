/**
 * The native backend against the js reference kernels: random inputs of awkward sizes, every
 * option, every instruction set the CPU has (avx512 / avx2 / scalar kernels) and 1 or 2 threads.
 * Skipped when the addon is not built.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bigbirdLayout } from "../../src/attention/bigbird.js";
import { blockSparsePattern } from "../../src/attention/block-sparse.js";
import { longformerPattern } from "../../src/attention/global.js";
import { buildPattern } from "../../src/attention/sparse.js";
import { dilatedWindowPattern, windowPattern } from "../../src/attention/window.js";
import {
  contiguousLayouts, type AttentionArgs, type Backend, type LinearAttentionArgs, type SparseAttentionArgs, type SparsePattern, type UnaryOp,
} from "../../src/backend/backend.js";
import { jsBackend } from "../../src/backend/js/index.js";
import {
  getNativeIsa, getNumThreads, loadNativeBackend, measurePeakGflops, setNativeIsa, setNumThreads, type NativeIsa,
} from "../../src/backend/native/index.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import {
  checkAttention, checkBinary, checkGeluErfGrad, checkReluGrad, checkLayerNorm, checkLinear, checkSoftmax, checkSparse, checkUnary, close, closeCheck,
  normals,
  type KernelTarget,
} from "./kernel-cases.js";

const native = loadNativeBackend({ quiet: true });
const skip = native === null ? "native addon not built (npm install builds it when a C++ compiler is present)" : false;
const rand = normals(new Generator(1234));

function isas(): NativeIsa[] {
  const best = getNativeIsa();
  const all: NativeIsa[] = best === "avx512" ? ["avx512", "avx2", "scalar"] : best === "avx2" ? ["avx2", "scalar"] : ["scalar"];
  return all;
}

/** Runs `body` once per instruction set and thread count, restoring the defaults after. */
function everyConfig(body: (tag: string) => void, threads: number[] = [1, 2]): void {
  const best = getNativeIsa(), defaultThreads = getNumThreads();
  try {
    for (const isa of isas()) {
      setNativeIsa(isa);
      for (const t of threads) {
        setNumThreads(t);
        body(`${isa}/${t}t`);
      }
    }
  } finally {
    setNativeIsa(best);
    setNumThreads(defaultThreads);
  }
}

describe("native backend", { skip }, () => {
  const nb = native as Backend;
  const t: KernelTarget = { sut: nb, ref: jsBackend, rand, check: closeCheck, each: everyConfig };

  test("matmul: trans flags, batch strides (0 = shared), accumulate, awkward sizes", () => {
    const shapes: [number, number, number][] = [[1, 1, 1], [7, 33, 65], [33, 7, 1], [65, 130, 33], [130, 65, 300], [14, 32, 7], [15, 33, 1100]];
    everyConfig((tag) => {
      for (const [M, N, K] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const [batch, shareA, shareB] of [[1, false, false], [3, true, false], [2, false, true]] as const) {
              const strideA = shareA ? 0 : M * K, strideB = shareB ? 0 : K * N;
              const a = rand(shareA ? M * K : batch * M * K), b = rand(shareB ? K * N : batch * K * N);
              for (const accumulate of [false, true]) {
                const init = rand(batch * M * N);
                const want = init.slice(), got = init.slice();
                jsBackend.matmul(want, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
                nb.matmul(got, a, b, batch, M, N, K, transA, transB, strideA, strideB, accumulate);
                close(got, want, 2e-5 * Math.sqrt(K), 1e-4,
                  `${tag} matmul ${M}x${N}x${K} tA=${transA} tB=${transB} batch=${batch} acc=${accumulate}`);
              }
            }
          }
        }
      }
    });
  });

  test("matmul: every edge tile (rows 1..29 x columns 1..65)", () => {
    everyConfig((tag) => {
      for (let M = 1; M <= 29; M++) {
        for (const N of [1, 5, 16, 17, 31, 32, 33, 47, 65]) {
          const K = 19;
          const a = rand(M * K), b = rand(K * N);
          for (const accumulate of [false, true]) {
            const init = rand(M * N);
            const want = init.slice(), got = init.slice();
            jsBackend.matmul(want, a, b, 1, M, N, K, false, true, 0, 0, accumulate);
            nb.matmul(got, a, b, 1, M, N, K, false, true, 0, 0, accumulate);
            close(got, want, 2e-5 * Math.sqrt(K), 1e-4, `${tag} matmul ${M}x${N}x${K} acc=${accumulate}`);
          }
        }
      }
    });
  });

  test("matmul: large enough to block and thread; K = 0", () => {
    const M = 257, N = 515, K = 301;
    const a = rand(M * K), b = rand(K * N);
    const want = new Float32Array(M * N);
    jsBackend.matmul(want, a, b, 1, M, N, K, false, true, 0, 0, false);
    everyConfig((tag) => {
      const got = new Float32Array(M * N);
      nb.matmul(got, a, b, 1, M, N, K, false, true, 0, 0, false);
      close(got, want, 1e-3, 1e-4, `${tag} matmul ${M}x${N}x${K}`);
    });
    const out = new Float32Array(6).fill(5);
    nb.matmul(out, new Float32Array(0), new Float32Array(0), 1, 2, 3, 0, false, false, 0, 0, false);
    assert.deepEqual([...out], [0, 0, 0, 0, 0, 0]);
  });

  test("unary: every op", () => {
    for (const n of [1, 7, 1000, 70001]) {
      const x = rand(n, 2);
      x[0] = 0;
      const pos = x.map((v) => Math.abs(v) + 0.01);
      checkUnary(t, x, pos, (op) => [op === "erf" || op === "geluErf" ? 3e-7 : 1e-6, 2e-6], `n=${n}`);
    }
  });

  test("binary: every op with broadcasting strides", () => {
    // out [2, 3, 33]: a full, b broadcast along dims 0 and 2; then a [3, 1] x b [1, 33] outer; then scalars.
    const cases: [number[], number[], number[], number, number][] = [
      [[2, 3, 33], [99, 33, 1], [0, 1, 0], 198, 3],
      [[3, 33], [1, 0], [0, 1], 3, 33],
      [[7], [0], [1], 1, 7],
      [[130, 7], [7, 1], [7, 1], 910, 910],
      [[4, 1, 65], [65, 0, 1], [0, 0, 1], 260, 65],
    ];
    for (const [shape, sa, sb, na, nb2] of cases) {
      const a = rand(na).map((v) => Math.abs(v) + 0.1), b = rand(nb2);
      checkBinary(t, a, b, shape, sa, sb, () => [1e-6, 2e-6], `[${shape}]`);
    }
  });

  test("binary geluErfGrad against the float64 reference, within float32's bound: special values, broadcasting", () => {
    checkGeluErfGrad(t);
  });

  test("binary reluGrad: a where b > 0, else +0, bit for bit: special values, broadcasting", () => {
    checkReluGrad(t);
  });

  test("stridedCopy: permutations and broadcasts, bit for bit (-0 and NaN kept)", () => {
    // [2, 3, 4, 5] permuted to [2, 4, 3, 5] (rows stay), to [5, 4, 3, 2] (all reversed), and [3, 1] broadcast to [2, 3, 4]
    const x = rand(120);
    x[0] = -0;
    x[1] = NaN;
    const cases: [number[], number[]][] = [[[2, 4, 3, 5], [60, 5, 20, 1]], [[5, 4, 3, 2], [1, 5, 20, 60]], [[2, 3, 4], [0, 1, 0]]];
    for (const [shape, st] of cases) {
      const n = shape.reduce((p, d) => p * d, 1);
      const want = new Float32Array(n), got = new Float32Array(n);
      jsBackend.stridedCopy(want, x, shape, st);
      nb.stridedCopy(got, x, shape, st);
      assert.deepEqual(got, want, `stridedCopy [${shape}]`);
    }
  });

  test("softmax / log-softmax forward and backward, fully masked rows", () => {
    for (const [rows, cols] of [[1, 1], [7, 33], [65, 130], [3, 1000]] as const) {
      const x = rand(rows * cols, 3);
      for (let j = 0; j < cols; j++) x[j] = -Infinity; // row 0 fully masked
      if (cols > 2) x[cols + 1] = -Infinity;
      const dy = rand(rows * cols);
      for (const log of [false, true]) {
        checkSoftmax(t, x, dy, rows, cols, log, { forward: [1e-6, 1e-5], backward: [1e-5, 1e-4] },
          (y) => y.map((v) => (log && v === -Infinity ? -1e30 : v)));
      }
    }
  });

  test("layerNorm forward and backward, with and without weight / bias", () => {
    for (const [rows, cols] of [[1, 1], [7, 33], [130, 65], [5, 700]] as const) {
      const x = rand(rows * cols, 2).map((v) => v + 3), dy = rand(rows * cols);
      const w = rand(cols), bias = rand(cols);
      for (const [weight, b] of [[w, bias], [null, null], [w, null], [null, bias]] as const) {
        checkLayerNorm(t, x, dy, weight, b, rows, cols, true,
          { out: [1e-5, 1e-4], mean: [1e-6, 1e-5], rstd: [1e-6, 1e-4], dx: [1e-4, 1e-3], dweight: [1e-4, 1e-4], dbias: [1e-4, 1e-4] });
      }
    }
  });

  interface Case {
    B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number;
    causal?: boolean; mask?: "none" | "full" | "row" | "keys"; dropoutP?: number; maskedRows?: number[];
  }

  function attentionCase(c: Case): { args: AttentionArgs; q: Float32Array; k: Float32Array; v: Float32Array; dout: Float32Array } {
    const { B, H, Hkv, L, S, D, Dv } = c;
    let mask: Float32Array | null = null, maskStrideB = 0, maskStrideH = 0, maskStrideL = 0;
    if (c.mask !== undefined && c.mask !== "none") {
      // "full": [B, H, L, S]; "row": [L, S] broadcast over B and H; "keys": [B, 1, 1, S] (padding mask)
      if (c.mask === "full") { maskStrideB = H * L * S; maskStrideH = L * S; maskStrideL = S; }
      if (c.mask === "row") maskStrideL = S;
      if (c.mask === "keys") maskStrideB = S;
      const n = c.mask === "full" ? B * H * L * S : c.mask === "row" ? L * S : B * S;
      mask = rand(n);
      for (let i = 0; i < n; i += 5) mask[i] = -Infinity;
      for (const r of c.maskedRows ?? []) for (let j = 0; j < S; j++) mask[r * maskStrideL + j] = -Infinity;
    }
    const args: AttentionArgs = {
      B, H, Hkv, L, S, D, Dv, scale: 1 / Math.sqrt(D), causal: c.causal ?? false, ...contiguousLayouts({ H, Hkv, L, S, D, Dv }),
      mask, maskStrideB, maskStrideH,
      maskStrideL, dropoutP: c.dropoutP ?? 0, seedK0: 0x9e3779b9, seedK1: 12345, seedStart: 4294967000,
    };
    return { args, q: rand(B * H * L * D), k: rand(B * Hkv * S * D), v: rand(B * Hkv * S * Dv), dout: rand(B * H * L * Dv) };
  }

  function attention(c: Case, threads: number[] = [1, 2]): void {
    const { args, q, k, v, dout } = attentionCase(c);
    checkAttention(t, args, q, k, v, dout, { out: [2e-5, 1e-4], lse: [2e-5, 1e-5], grad: [1e-4, 1e-3] }, JSON.stringify(c), threads);
  }

  test("attention: plain, odd head dims, L != S", () => {
    attention({ B: 1, H: 1, Hkv: 1, L: 1, S: 1, D: 1, Dv: 1 });
    attention({ B: 2, H: 2, Hkv: 2, L: 7, S: 33, D: 16, Dv: 16 });
    attention({ B: 1, H: 3, Hkv: 3, L: 130, S: 65, D: 33, Dv: 17 });
    attention({ B: 1, H: 2, Hkv: 2, L: 65, S: 130, D: 64, Dv: 80 });
  });

  test("attention: causal (top-left) with L < S and L > S", () => {
    attention({ B: 1, H: 2, Hkv: 2, L: 33, S: 130, D: 16, Dv: 16, causal: true });
    attention({ B: 2, H: 1, Hkv: 1, L: 200, S: 65, D: 32, Dv: 24, causal: true });
    attention({ B: 1, H: 2, Hkv: 1, L: 197, S: 197, D: 64, Dv: 64, causal: true });
  });

  test("attention: additive masks with broadcasting strides, fully masked rows", () => {
    attention({ B: 2, H: 2, Hkv: 2, L: 33, S: 70, D: 8, Dv: 8, mask: "full" });
    attention({ B: 2, H: 3, Hkv: 1, L: 65, S: 33, D: 16, Dv: 7, mask: "row", maskedRows: [0, 5, 64] });
    attention({ B: 3, H: 2, Hkv: 2, L: 7, S: 130, D: 20, Dv: 20, mask: "keys", causal: true });
    const { args, q, k, v, dout } = attentionCase({ B: 1, H: 2, Hkv: 2, L: 9, S: 20, D: 8, Dv: 8, mask: "row", maskedRows: [3] });
    const out = new Float32Array(2 * 9 * 8), lse = new Float32Array(2 * 9);
    nb.attentionForward(out, lse, q, k, v, args);
    for (const h of [0, 1]) {
      assert.equal(lse[h * 9 + 3], -Infinity);
      for (let c = 0; c < 8; c++) assert.equal(out[(h * 9 + 3) * 8 + c], 0);
    }
    const dq = new Float32Array(q.length).fill(NaN);
    nb.attentionBackward(dq, new Float32Array(k.length), new Float32Array(v.length), dout, q, k, v, out, lse, args);
    for (const h of [0, 1]) for (let c = 0; c < 8; c++) assert.equal(dq[(h * 9 + 3) * 8 + c], 0);
  });

  test("attention: grouped-query heads (GQA) and multi-query", () => {
    attention({ B: 2, H: 4, Hkv: 2, L: 33, S: 65, D: 16, Dv: 16, causal: true });
    attention({ B: 1, H: 6, Hkv: 1, L: 100, S: 130, D: 32, Dv: 32, mask: "row" });
  });

  test("attention: the row work's exponential within a few ulp (scores 0 to -43.6, a probability per output column)", () => {
    // one query, S = 32 keys with exact scores x_j = -1.406 j (q = 1, D = 1, scale 1), values the
    // identity: out[j] = P_j, whose float64 value is known; the kernel's error is its exponential's
    // (1.42 ulp by the polynomial, |x| 2^-24 by the rounding of x log2 e), the sum's and the division's
    const S = 32, x = Array.from({ length: S }, (_, j) => Math.fround(-1.406 * j));
    const args: AttentionArgs = {
      B: 1, H: 1, Hkv: 1, L: 1, S, D: 1, Dv: S, scale: 1, causal: false, ...contiguousLayouts({ H: 1, Hkv: 1, L: 1, S, D: 1, Dv: S }),
      mask: null, maskStrideB: 0, maskStrideH: 0, maskStrideL: 0, dropoutP: 0, seedK0: 0, seedK1: 0, seedStart: 0,
    };
    const v = new Float32Array(S * S);
    for (let j = 0; j < S; j++) v[j * S + j] = 1;
    const sum = x.reduce((acc, xj) => acc + Math.exp(xj), 0);
    everyConfig((tag) => {
      const out = new Float32Array(S), lse = new Float32Array(1);
      nb.attentionForward(out, lse, new Float32Array([1]), Float32Array.from(x), v, args);
      for (let j = 0; j < S; j++) {
        const want = Math.exp(x[j]!) / sum, ulps = Math.abs(out[j]! - want) / (want * 2 ** -24);
        assert.ok(ulps <= 5 + Math.abs(x[j]!), `${tag} out[${j}] (x = ${x[j]}): ${out[j]} vs ${want}, ${ulps.toFixed(2)} ulp`);
      }
      assert.ok(Math.abs(lse[0]! - Math.log(sum)) <= 2 ** -23, `${tag} lse ${lse[0]} vs ${Math.log(sum)}`);
    }, [1]);
  });

  test("attention: dropout regenerated from the counter RNG matches js exactly", () => {
    attention({ B: 1, H: 2, Hkv: 2, L: 33, S: 65, D: 16, Dv: 16, dropoutP: 0.3 });
    attention({ B: 2, H: 2, Hkv: 1, L: 65, S: 33, D: 8, Dv: 8, dropoutP: 0.5, causal: true, mask: "keys" });
    attention({ B: 1, H: 1, Hkv: 1, L: 7, S: 7, D: 4, Dv: 4, dropoutP: 1 });
  });

  test("dropout: the counter RNG's mask and scale, bit for bit with js (counters past 2^32 too)", () => {
    for (const [n, p, start] of [[100_003, 0.1, 0], [70_001, 0.5, 4294967000], [33, 0.3, 2 ** 40 + 5]] as const) {
      const x = rand(n), want = new Float32Array(n);
      jsBackend.dropout(want, x, n, p, 0x9e3779b9, 12345, start);
      let dropped = 0;
      for (let i = 0; i < n; i++) if (want[i] === 0) dropped++;
      assert.ok(Math.abs(dropped / n - p) < (n > 1000 ? 0.01 : 0.3), `dropped ${dropped} of ${n}`);
      everyConfig((tag) => {
        const got = new Float32Array(n).fill(NaN);
        nb.dropout(got, x, n, p, 0x9e3779b9, 12345, start);
        assert.deepEqual(got, want, `${tag} dropout n=${n} p=${p}`);
      });
    }
  });

  test("attention: long sequences: query tiles in ranges (backward) and in groups (forward) over the key blocks", () => {
    // ranges of 4 tiles (GQA pairs), causal with L > S: key blocks first read in a later range
    attention({ B: 1, H: 4, Hkv: 2, L: 900, S: 300, D: 64, Dv: 64, causal: true });
    // ranges of 8 tiles, causal with L < S: the last key block is read by no query (zeroed), the one
    // before only by the second range
    attention({ B: 1, H: 2, Hkv: 2, L: 800, S: 1000, D: 64, Dv: 64, causal: true, mask: "keys" });
    // keys and values past 512 KB: the forward takes query tiles in groups over the key blocks
    // (a group of 4 and one of 2 tiles; causal, dropout; masked rows)
    attention({ B: 1, H: 2, Hkv: 1, L: 500, S: 1100, D: 64, Dv: 64, causal: true, dropoutP: 0.1 });
    attention({ B: 2, H: 2, Hkv: 2, L: 300, S: 1200, D: 64, Dv: 48, mask: "row", maskedRows: [0, 150, 299] });
  });

  test("attention: sizes that split key blocks over threads (one kv head)", () => {
    attention({ B: 1, H: 1, Hkv: 1, L: 300, S: 400, D: 64, Dv: 64, causal: true, dropoutP: 0.1 }, [2, 3]);
  });

  const sparse = (B: number, H: number, Hkv: number, D: number, Dv: number, pattern: SparsePattern, what: string,
    threads: number[] = [1, 2]): void => checkSparse(t, B, H, Hkv, D, Dv, pattern, what, threads);

  test("sparse attention: windows (symmetric, causal, L != S), odd head dims", () => {
    sparse(1, 1, 1, 1, 1, windowPattern(1, 1, 0), "window w=0");
    sparse(2, 2, 2, 16, 16, windowPattern(37, 37, 3), "window w=3");
    sparse(1, 3, 3, 33, 17, windowPattern(130, 130, 40, true), "causal window w=40");
    sparse(1, 2, 2, 64, 80, windowPattern(65, 200, 70), "window L<S w=70");
    sparse(2, 1, 1, 20, 24, windowPattern(150, 90, 100, true), "causal window L>S w=100");
  });

  test("sparse attention: dilated (strided ranges), longformer (global rows and keys)", () => {
    sparse(1, 2, 2, 16, 16, dilatedWindowPattern(97, 97, 5, 3), "dilated w=5 d=3");
    sparse(2, 2, 1, 33, 9, dilatedWindowPattern(120, 120, 8, 4, true), "causal dilated w=8 d=4");
    sparse(1, 3, 3, 32, 32, longformerPattern(150, 150, 9, 5), "longformer w=9 g=5");
    sparse(2, 2, 2, 7, 7, longformerPattern(70, 70, 0, 1), "longformer w=0 g=1");
  });

  test("sparse attention: block layouts (bigbird, random blocks, empty rows)", () => {
    const bb = { window: 1, numGlobal: 1, numRandom: 2, blockSize: 16, seed: 3 };
    sparse(1, 2, 2, 32, 32, blockSparsePattern(150, 150, bigbirdLayout(150, 150, bb), 16), "bigbird bs=16");
    sparse(2, 4, 2, 16, 24, blockSparsePattern(100, 70, bigbirdLayout(100, 70, { ...bb, blockSize: 8 }), 8), "bigbird L!=S bs=8");
    // a random layout with an all-empty block row: those rows give 0 and lse -Infinity
    const nQb = 6, nKb = 5;
    const lay = new Uint8Array(nQb * nKb);
    for (let x = 0; x < lay.length; x++) lay[x] = (x * 7919) % 3 === 0 ? 1 : 0;
    for (let c = 0; c < nKb; c++) lay[2 * nKb + c] = 0;
    const pat = blockSparsePattern(6 * 11 - 3, 5 * 11 - 2, new Tensor(lay, [nQb, nKb], "bool"), 11);
    sparse(1, 3, 1, 12, 12, pat, "random blocks with an empty row");
    const out = new Float32Array(3 * pat.L * 12), lse = new Float32Array(3 * pat.L);
    nb.sparseAttentionForward(out, lse, rand(3 * pat.L * 12), rand(pat.S * 12), rand(pat.S * 12),
      { B: 1, H: 3, Hkv: 1, D: 12, Dv: 12, scale: 0.3, pattern: pat });
    assert.equal(lse[2 * 11], -Infinity);
    assert.equal(out[2 * 11 * 12], 0);
  });

  test("sparse attention: GQA / MQA and sizes that split rows over threads (one kv head)", () => {
    sparse(2, 4, 2, 16, 16, windowPattern(70, 70, 9, true), "GQA causal window");
    sparse(1, 6, 1, 32, 32, longformerPattern(90, 90, 6, 3), "MQA longformer");
    // one kv unit and 3 threads: rows split over the pool, dk / dv summed per thread
    sparse(1, 2, 1, 64, 64, longformerPattern(400, 400, 20, 4), "one unit, threads", [2, 3]);
    sparse(1, 1, 1, 24, 24, dilatedWindowPattern(300, 300, 6, 5), "one head, threads", [3]);
  });

  test("sparse attention: wide rows (1024 keys or more) in chunks of keys, both backward modes", () => {
    // global rows over 1100 keys: one group, the chunk tasks and the merge of their partials
    sparse(1, 2, 2, 16, 16, longformerPattern(1100, 1100, 3, 40), "wide longformer g=40", [1, 2, 3]);
    // strided wide rows whose ranges start off the chunk grid; L < S
    sparse(1, 2, 1, 8, 12, dilatedWindowPattern(700, 2400, 700, 2), "wide dilated w=700 d=2", [1, 3]);
    // every row wide, several groups (G = 2: 32 rows per group), grouped-query heads
    const nKb = Math.ceil(1300 / 10);
    sparse(1, 4, 2, 9, 7, blockSparsePattern(150, 1300, new Tensor(new Uint8Array(15 * nKb).fill(1), [15, nKb], "bool"), 10),
      "dense layout", [1, 2, 3]);
    // wide rows with empty chunks (gaps and a tail past their keys), mixed with narrow rows
    const pat = buildPattern(90, 3000, (i, add) => {
      if (i % 3 === 0) { add(0, 600); add(2000, 2600); } else add(i, i + 5);
    });
    sparse(2, 1, 1, 16, 16, pat, "wide rows with gaps", [1, 2, 3]);
  });

  test("sparse attention: a hand-built pattern with several ranges per row and shared rows", () => {
    const pat = buildPattern(50, 61, (i, add) => {
      add(0, 2);
      if (i % 3 !== 0) add(5 + (i % 7), 30 + (i % 11), 1 + (i % 4));
      add(40 + (i % 5), 61, 7);
    }, (i) => (i % 10 === 9 ? i - 1 : i));
    sparse(2, 2, 2, 17, 5, pat, "hand-built");
  });

  const linear = (a: LinearAttentionArgs, threads: number[] = [1, 2]): void => checkLinear(t, a, threads);

  test("linear attention: causal and not, L != S, odd feature dims, GQA", () => {
    linear({ B: 1, H: 1, Hkv: 1, L: 1, S: 1, M: 1, Dv: 1, causal: true });
    linear({ B: 2, H: 2, Hkv: 2, L: 37, S: 37, M: 16, Dv: 16, causal: true });
    linear({ B: 1, H: 3, Hkv: 3, L: 130, S: 130, M: 33, Dv: 17, causal: true });
    linear({ B: 2, H: 2, Hkv: 2, L: 65, S: 90, M: 20, Dv: 64, causal: false });
    linear({ B: 1, H: 4, Hkv: 2, L: 50, S: 50, M: 24, Dv: 8, causal: true });
    linear({ B: 2, H: 6, Hkv: 1, L: 40, S: 33, M: 7, Dv: 12, causal: false }, [1, 3]);
  });

  test("sparse / linear argument checks throw TypeError / RangeError", () => {
    const pat = windowPattern(4, 4, 1);
    const args: SparseAttentionArgs = { B: 1, H: 2, Hkv: 2, D: 4, Dv: 4, scale: 0.5, pattern: pat };
    const f = (n: number): Float32Array => new Float32Array(n);
    assert.throws(() => nb.sparseAttentionForward(f(32), f(8), f(32), f(31), f(32), args), RangeError);
    assert.throws(() => nb.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32), { ...args, H: 3 }), RangeError);
    assert.throws(() => nb.sparseAttentionForward(f(32), new Float64Array(8), f(32), f(32), f(32), args), TypeError);
    const badSpan = { ...pat, spans: pat.spans.slice() };
    badSpan.spans[1] = 9; // a range past S
    assert.throws(() => nb.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32), { ...args, pattern: badSpan }), RangeError);
    const badRow = { ...pat, rowHi: pat.rowHi.slice() };
    badRow.rowHi[3] = 99;
    assert.throws(() => nb.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32), { ...args, pattern: badRow }), RangeError);
    const noStep = { ...pat, spans: pat.spans.slice() };
    noStep.spans[2] = 0;
    assert.throws(() => nb.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32), { ...args, pattern: noStep }), RangeError);
    assert.throws(() => nb.sparseAttentionForward(f(32), f(8), f(32), f(32), f(32),
      { ...args, pattern: { ...pat, rowLo: new Float32Array(4) as unknown as Int32Array } }), TypeError);
    const la: LinearAttentionArgs = { B: 1, H: 1, Hkv: 1, L: 4, S: 4, M: 2, Dv: 2, causal: true };
    assert.throws(() => nb.linearAttentionForward(f(8), f(4), f(8), f(8), f(8), { ...la, S: 5 }), RangeError);
    assert.throws(() => nb.linearAttentionForward(f(8), f(4), f(8), f(7), f(8), la), RangeError);
    assert.throws(() => nb.linearAttentionBackward(f(8), f(8), f(8), f(8), f(8), f(8), f(8), f(8), new Float64Array(4), la), TypeError);
  });

  test("argument checks throw TypeError / RangeError", () => {
    const f = new Float32Array(4);
    assert.throws(() => nb.matmul(f, new Float64Array(4), f, 1, 2, 2, 1, false, false, 0, 0, false), TypeError);
    assert.throws(() => nb.matmul(f, f, f, 1, 2, 2, 3, false, false, 0, 0, false), RangeError);
    assert.throws(() => nb.matmul(f, f, f, 1, -2, 2, 1, false, false, 0, 0, false), RangeError);
    assert.throws(() => nb.matmul(f, f, f, 1, 2.5, 2, 1, false, false, 0, 0, false), RangeError);
    assert.throws(() => nb.unary("nope" as UnaryOp, f, f, 4, 0), RangeError);
    assert.throws(() => nb.unary("exp", f, f, 5, 0), RangeError);
    assert.throws(() => nb.binary("add", f, f, f, [2, 3], [3, 1], [3, 1]), RangeError);
    assert.throws(() => nb.softmax(f, f, 2, 3, false), RangeError);
    assert.throws(() => nb.layerNorm(f, f, f, f, new Float32Array(1), null, 2, 2, 1e-5), RangeError);
    const { args, q, k, v } = attentionCase({ B: 1, H: 2, Hkv: 2, L: 4, S: 4, D: 4, Dv: 4 });
    const out = new Float32Array(32), lse = new Float32Array(8);
    assert.throws(() => nb.attentionForward(out, lse, q, k, v, { ...args, H: 3 }), RangeError);
    assert.throws(() => nb.attentionForward(out, lse, q, k.subarray(1), v, args), RangeError);
    assert.throws(() => nb.attentionForward(out, lse, q, k, v, { ...args, mask: new Float32Array(3), maskStrideL: 4 }), RangeError);
    assert.throws(() => nb.attentionForward(out, new Float64Array(8), q, k, v, args), TypeError);
    assert.throws(() => nb.attentionForward(out, lse, q, k, v, { ...args, dropoutP: 2 }), RangeError);
    assert.throws(() => setNumThreads(0), RangeError);
  });

  test("measurePeakGflops: a positive rate on at most the threads asked for; bad arguments are RangeErrors", () => {
    const before = getNumThreads();
    try {
      setNumThreads(2);
      const one = measurePeakGflops(1, 0.02)!, two = measurePeakGflops(2, 0.02)!;
      assert.equal(one.threads, 1);
      assert.ok(two.threads >= 1 && two.threads <= 2, `threads ${two.threads}`);
      assert.ok(Number.isFinite(one.gflops) && one.gflops > 0, `gflops ${one.gflops}`);
      assert.ok(Number.isFinite(two.gflops) && two.gflops > 0, `gflops ${two.gflops}`);
    } finally {
      setNumThreads(before);
    }
    assert.throws(() => measurePeakGflops(0), /measurePeakGflops: threads must be a positive integer, got 0/);
    assert.throws(() => measurePeakGflops(1.5), RangeError);
    assert.throws(() => measurePeakGflops(1, 0), /seconds must be positive, got 0/);
  });

  test("thread count is configurable", () => {
    const before = getNumThreads();
    setNumThreads(3);
    assert.equal(getNumThreads(), 3);
    setNumThreads(before);
    assert.equal(getNumThreads(), before);
  });
});

describe("QKV_NATIVE_ADDON", () => {
  /** In a fresh process: the native backend's load error (or "loaded") with QKV_NATIVE_ADDON set to `path`. */
  const loadWith = (path: string): string => {
    const code = 'import { loadNativeBackend, nativeLoadError } from "./src/backend/native/index.ts"; console.log(loadNativeBackend({ quiet: true }) ? "loaded" : nativeLoadError());';
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8", env: { ...process.env, QKV_NATIVE_ADDON: path } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  test("a missing file is named in the load error", () => {
    const missing = join(tmpdir(), "qkv-no-such-addon.node");
    assert.equal(loadWith(missing), `${missing} is not built (npm install builds it when a C++ compiler is present)`);
  });
  test("a copy of the addon elsewhere loads", { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), "qkv-addon-"));
    try {
      const copy = join(dir, "addon.node");
      copyFileSync(fileURLToPath(new URL("../../build/Release/qkv_native.node", import.meta.url)), copy);
      assert.equal(loadWith(copy), "loaded");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
