/**
 * Prepacked weights (nn/prepack.ts): under noGrad, linear reuses a weight packed once; the results
 * are the bits of the unpacked product on every instruction set and thread count (the packing and
 * the GEMM's blocking are the same, only done once); copies are dropped by an optimizer step and
 * loadStateDict, and repacked for another instruction set; products that record a gradient are
 * untouched. On backends without packing (js, wasm) the marks change nothing.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { noGrad } from "../../src/autograd/graph.js";
import type { Backend, PrepackedMatmul } from "../../src/backend/backend.js";
import { getBackend } from "../../src/backend/registry.js";
import { Linear } from "../../src/nn/layers.js";
import { Module } from "../../src/nn/module.js";
import { MultiheadAttention } from "../../src/nn/multihead-attention.js";
import { prepackWeights, unpackWeights } from "../../src/nn/prepack.js";
import { linear } from "../../src/ops/matmul.js";
import { sum } from "../../src/ops/reduce.js";
import { SGD } from "../../src/optim/sgd.js";
import { isPrepacked, prepackedOf } from "../../src/tensor/prepacked.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn, type Tensor } from "../../src/tensor/tensor.js";
import { everyConfig } from "../backend/native-configs.js";

const be = getBackend() as Backend;

/** A module holding one weight, to mark it. */
class Holder extends Module {
  constructor(w: Tensor) {
    super();
    this.registerParameter("w", w);
  }
}
const bits = (t: Tensor): number[] => Array.from(t.data, Number);

describe("prepacked weights", () => {
  test("linear under noGrad: the unpacked product's bits, packed once per instruction set (several K and N blocks, M = 1 to 130)", () => {
    // N past AVX2's column block (3072) and K past a K block (256 on AVX2, 1024 on AVX-512)
    const w = randn([3100, 1100], { generator: new Generator(1) }), bias = randn([3100], { generator: new Generator(2) });
    const xs = [1, 7, 130].map((m, i) => randn([m, 1100], { generator: new Generator(3 + i) }));
    const holder = new Holder(w);
    everyConfig(be, (tag) => {
      unpackWeights(holder);
      const want = xs.map((x) => bits(noGrad(() => linear(x, w, bias))));
      prepackWeights(holder);
      for (let rep = 0; rep < 2; rep++) {
        xs.forEach((x, i) => assert.deepEqual(bits(noGrad(() => linear(x, w, bias))), want[i], `${tag}, M = ${x.shape[0]}, call ${rep + 1}`));
      }
      assert.equal(prepackedOf(w) !== null, be.name === "native", `${tag}: packed only where the backend packs`);
    });
  });

  test("a MultiheadAttention forward with its weights prepacked gives the same bits", () => {
    const mha = new MultiheadAttention(64, 4, { batchFirst: true, generator: new Generator(5) }).eval();
    const x = randn([2, 9, 64], { generator: new Generator(6) });
    const run = (): number[] => bits(noGrad(() => mha.forward(x, x, x, { needWeights: false }).output));
    const want = run();
    assert.equal(prepackWeights(mha), 2); // in_proj_weight, out_proj.weight
    assert.deepEqual(run(), want);
    assert.deepEqual(run(), want);
    unpackWeights(mha);
    assert.equal(isPrepacked(mha.outProj.weight), false);
  });

  test("an optimizer step and loadStateDict drop the packed copies; the next product uses the new weights", () => {
    const m = new Linear(40, 30, { generator: new Generator(7) }), ref = new Linear(40, 30, { generator: new Generator(7) });
    const x = randn([5, 40], { generator: new Generator(8) });
    prepackWeights(m);
    const y0 = bits(noGrad(() => m.forward(x)));
    assert.deepEqual(y0, bits(noGrad(() => ref.forward(x))));
    for (const mod of [m, ref]) {
      const opt = new SGD(mod.parameters(), { lr: 0.1 });
      backward(sum(mod.forward(x))); // records a gradient: the weight itself, not the copy
      opt.step();
    }
    assert.equal(prepackedOf(m.weight), null, "the step dropped the copy");
    assert.deepEqual(bits(noGrad(() => m.forward(x))), bits(noGrad(() => ref.forward(x))));
    assert.notDeepEqual(bits(noGrad(() => m.forward(x))), y0);
    m.loadStateDict(new Linear(40, 30, { generator: new Generator(9) }).stateDict());
    ref.loadStateDict(new Linear(40, 30, { generator: new Generator(9) }).stateDict());
    assert.deepEqual(bits(noGrad(() => m.forward(x))), bits(noGrad(() => ref.forward(x))));
  });

  test("matmulPrepacked's bias: the bits of the product and a separate add, with accumulate and K = 0; a short bias is refused", (t) => {
    const pm = be as unknown as Partial<PrepackedMatmul>;
    if (pm.packMatmulB === undefined) { t.skip("this backend does not pack"); return; }
    everyConfig(be, (tag) => {
      for (const [M, N, K] of [[13, 70, 600], [6, 16, 5], [4, 9, 0]] as const) {
        const a = randn([M, K], { generator: new Generator(M) }).data as Float32Array;
        const w = randn([N, K], { generator: new Generator(N) }).data as Float32Array;
        const bias = randn([N], { generator: new Generator(K + 1) }).data as Float32Array;
        const start = randn([M, N], { generator: new Generator(K + 2) }).data as Float32Array;
        const packed = pm.packMatmulB!(w, N, K, true);
        for (const accumulate of [false, true]) {
          const want = Float32Array.from(start), got = Float32Array.from(start);
          be.matmul(want, a, w, 1, M, N, K, false, true, 0, 0, accumulate);
          be.binary("add", want, want, bias, [M, N], [N, 1], [0, 1]);
          pm.matmulPrepacked!(got, a, packed, M, false, accumulate, bias);
          assert.deepEqual(Array.from(got), Array.from(want), `${tag}, ${M} x ${N} x ${K}, accumulate ${accumulate}`);
        }
        assert.throws(() => pm.matmulPrepacked!(new Float32Array(M * N), a, packed, M, false, false, bias.subarray(1)),
          (e: unknown) => e instanceof RangeError && /matmulPrepacked: bias has \d+ elements, needs \d+/.test((e as Error).message));
      }
    });
  });

  test("a module is required", () => {
    for (const bad of [null, undefined, {}, 3]) {
      assert.throws(() => prepackWeights(bad as never), (e: unknown) => e instanceof ValueError && /prepackWeights: module/.test((e as Error).message));
      assert.throws(() => unpackWeights(bad as never), (e: unknown) => e instanceof ValueError && /unpackWeights: module/.test((e as Error).message));
    }
  });

  test("products that record a gradient leave the marks alone and differentiate as before", () => {
    const m = new Linear(6, 4, { generator: new Generator(10) });
    prepackWeights(m);
    const x = randn([3, 6], { generator: new Generator(11) }).requiresGrad_(true);
    backward(sum(m.forward(x)));
    assert.equal(prepackedOf(m.weight), null, "no copy made for a product that records a gradient");
    // d sum(x W^T + b) / dx = column sums of W, for every row
    const W = m.weight.data, g = x.grad!.data;
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < 6; i++) {
        let s = 0;
        for (let o = 0; o < 4; o++) s += W[o * 6 + i]!;
        assert.ok(Math.abs(g[r * 6 + i]! - s) <= 1e-6 * (1 + Math.abs(s)));
      }
    }
  });
});
