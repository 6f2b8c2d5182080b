/**
 * MultiheadAttention's packed self-attention path (one [B, L, 3E] projection read in place by
 * packedSelfAttention, used for the full attention kind without weights): against the composed
 * path that returns the weights, on the same module, forward and every gradient, with the masks
 * merged (bool and float, attnMask [L, S] and [B * H, L, S], keyPaddingMask), isCausal, dropout,
 * sequence-first and unbatched inputs; and the cases that keep the [B, H, L, D] path.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { MultiheadAttention, type MultiheadAttentionForwardOptions } from "../../src/nn/multihead-attention.js";
import { mul } from "../../src/ops/elementwise.js";
import { sum } from "../../src/ops/reduce.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";
import { assertClose } from "../helpers.js";
import { float64Params } from "./float64-module.js";

/** Whether the graph under t holds a node of op `op`. */
function usesOp(t: Tensor, op: string): boolean {
  const seen = new Set<Tensor>(), stack = [t];
  while (stack.length) {
    const x = stack.pop()!;
    if (seen.has(x) || !x.gradFn) continue;
    seen.add(x);
    if (x.gradFn.op === op) return true;
    stack.push(...x.gradFn.inputs);
  }
  return false;
}

const bool = (shape: number[], f: (i: number) => boolean): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Uint8Array.from({ length: n }, (_, i) => (f(i) ? 1 : 0)), shape, "bool");
};
const f64 = (t: Tensor): Tensor => new Tensor(Float64Array.from(t.data), t.shape, "float64");

/** Output and the gradients of x and every parameter under a fixed cotangent. */
function grads(m: MultiheadAttention, params: Tensor[], x0: Tensor, fo: MultiheadAttentionForwardOptions) {
  const x = new Tensor(x0.data.slice(), x0.shape, x0.dtype).requiresGrad_(true);
  for (const p of params) p.grad = null;
  const { output } = m.forward(x, x, x, fo);
  const cot = randn(output.shape, { dtype: output.dtype, generator: new Generator(3) });
  backward(sum(mul(output, cot)));
  return { output, list: [output.data, x.grad!.data, ...params.map((p) => p.grad!.data)] };
}

interface Case { name: string; batchFirst?: boolean; shape: number[]; fo: (B: number, L: number, H: number) => MultiheadAttentionForwardOptions }

const E = 12, H = 3;
const CASES: Case[] = [
  { name: "no mask, sequence-first", shape: [7, 2, E], fo: () => ({}) },
  { name: "keyPaddingMask (bool) with a fully padded batch entry", batchFirst: true, shape: [3, 6, E],
    fo: (B, L) => ({ keyPaddingMask: bool([B, L], (i) => i >= 2 * L || i % L === 4) }) },
  { name: "attnMask [L, S] bool and isCausal", batchFirst: true, shape: [2, 5, E],
    fo: (_B, L) => ({ attnMask: bool([L, L], (i) => i % 7 === 3), isCausal: true }) },
  { name: "attnMask [B * H, L, S] bool merged with a bool keyPaddingMask", batchFirst: true, shape: [2, 5, E],
    fo: (B, L, h) => ({ attnMask: bool([B * h, L, L], (i) => i % 5 === 1), keyPaddingMask: bool([B, L], (i) => i === 3) }) },
  { name: "float attnMask [L, S] merged with a float keyPaddingMask", shape: [4, 2, E],
    fo: (B, L) => {
      const am = randn([L, L], { generator: new Generator(4) });
      const kpm = new Tensor(new Float32Array(B * L), [B, L], "float32");
      kpm.data[1] = -Infinity;
      return { attnMask: am, keyPaddingMask: kpm };
    } },
  { name: "unbatched [L, E] with a keyPaddingMask", shape: [6, E], fo: (_B, L) => ({ keyPaddingMask: bool([L], (i) => i === 0) }) },
];

describe("MultiheadAttention: packed self-attention path", () => {
  for (const c of CASES) {
    test(`${c.name}: equals the composed path (float64, output and every gradient)`, () => {
      const m = new MultiheadAttention(E, H, { batchFirst: c.batchFirst ?? false, generator: new Generator(1) });
      const params = float64Params(m);
      const x = f64(randn(c.shape, { generator: new Generator(2) }));
      const batched = c.shape.length === 3;
      const B = batched ? c.shape[c.batchFirst ? 0 : 1]! : 1, L = c.shape[batched && c.batchFirst ? 1 : 0]!;
      const fo = c.fo(B, L, H);
      for (const k of ["attnMask", "keyPaddingMask"] as const) {
        const t = fo[k];
        if (t && t.dtype === "float32") fo[k] = f64(t);
      }
      const a = grads(m, params, x, { ...fo, needWeights: false });
      const b = grads(m, params, x, { ...fo, needWeights: true });
      assert.ok(usesOp(a.output, "packedSelfAttention"), "the packed path");
      assert.ok(!usesOp(b.output, "packedSelfAttention"), "the composed path");
      a.list.forEach((g, i) => assertClose(g, b.list[i]!, 1e-12, 1e-10));
    });
  }
  test("float32 on the active backend, training with dropout: the same draws as the composed path", () => {
    const make = (): MultiheadAttention => new MultiheadAttention(E, H, { batchFirst: true, dropout: 0.3, generator: new Generator(5) });
    const m1 = make(), m2 = make();
    const x = randn([2, 9, E], { generator: new Generator(6) });
    const fo = { keyPaddingMask: bool([2, 9], (i) => i % 9 === 8), isCausal: true };
    const a = grads(m1, m1.parameters(), x, { ...fo, needWeights: false });
    const b = grads(m2, m2.parameters(), x, { ...fo, needWeights: true });
    assert.ok(usesOp(a.output, "packedSelfAttention"));
    a.list.forEach((g, i) => assertClose(g, b.list[i]!, 1e-5, 1e-4));
  });
  test("kept off: cross-attention, bias_k, add_zero_attn, a float mask that needs a gradient, other kinds", () => {
    const x = randn([2, 4, E], { generator: new Generator(7) }), y = randn([2, 4, E], { generator: new Generator(8) });
    const off = (m: MultiheadAttention, q: Tensor, k: Tensor, fo: MultiheadAttentionForwardOptions = {}): void => {
      const { output } = m.forward(q.requiresGrad_(true), k, k, { needWeights: false, ...fo });
      assert.ok(!usesOp(output, "packedSelfAttention"));
    };
    off(new MultiheadAttention(E, H, { batchFirst: true }), x, y);
    off(new MultiheadAttention(E, H, { batchFirst: true, addBiasKV: true }), x, x);
    off(new MultiheadAttention(E, H, { batchFirst: true, addZeroAttn: true }), x, x);
    const am = randn([4, 4]).requiresGrad_(true);
    off(new MultiheadAttention(E, H, { batchFirst: true }), x, x, { attnMask: am });
    off(new MultiheadAttention(E, H, { batchFirst: true, attention: { kind: "linear" } }), x, x);
    const m = new MultiheadAttention(E, H, { batchFirst: true });
    const { output } = m.forward(x, x, x, { needWeights: false, attnMask: am });
    backward(sum(output));
    assert.ok(am.grad && am.grad.data.some((v) => v !== 0), "the float mask gets its gradient");
  });
});
