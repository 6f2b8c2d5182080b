import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DTypeError, Generator, ShapeError, Tensor, ValueError, cosineAttention, dotProductAttention, randn, scaledDotProductAttention,
  softmax, sum, tensor, backward, mul,
} from "../../src/index.js";
import { assertClose, assertGrad, assertThrowsMsg, r64 } from "../helpers.js";

const g = new Generator(11);
const rn = (shape: number[]): Tensor => randn(shape, { generator: g, requiresGrad: true });
const boolMask = (shape: number[], p: number): Tensor => {
  const u = new Float64Array(shape.reduce((a, b) => a * b, 1));
  g.fillUniform(u);
  return new Tensor(Uint8Array.from(u, (x) => (x < p ? 1 : 0)), shape, "bool");
};

/** Output and grads of q, k, v (and mask) for the fused (no weights) and the composed path. */
function bothPaths(q: Tensor, k: Tensor, v: Tensor, opts: Parameters<typeof scaledDotProductAttention>[3]) {
  const run = (needWeights: boolean) => {
    for (const t of [q, k, v]) t.grad = null;
    const { output } = scaledDotProductAttention(q, k, v, { ...opts, needWeights });
    const cot = randn(output.shape, { generator: new Generator(3) });
    backward(sum(mul(output, cot)));
    return { out: Float64Array.from(output.data), dq: Float64Array.from(q.grad!.data), dk: Float64Array.from(k.grad!.data), dv: Float64Array.from(v.grad!.data) };
  };
  return [run(false), run(true)] as const;
}

describe("scaledDotProductAttention: fused kernel equals the plain composition", () => {
  const cases: [string, number[], number[], number[], Parameters<typeof scaledDotProductAttention>[3]][] = [
    ["no mask", [2, 3, 5, 4], [2, 3, 7, 4], [2, 3, 7, 6], {}],
    ["causal L < S", [1, 2, 3, 4], [1, 2, 6, 4], [1, 2, 6, 4], { isCausal: true }],
    ["causal L > S", [1, 2, 6, 4], [1, 2, 3, 4], [1, 2, 3, 4], { isCausal: true }],
    ["bool mask [L, S]", [2, 2, 4, 4], [2, 2, 5, 4], [2, 2, 5, 4], { attnMask: boolMask([4, 5], 0.3) }],
    ["bool mask [B, 1, 1, S] (padding)", [2, 2, 4, 4], [2, 2, 5, 4], [2, 2, 5, 4], { attnMask: boolMask([2, 1, 1, 5], 0.3) }],
    ["float mask [B, H, L, S]", [2, 2, 3, 4], [2, 2, 5, 4], [2, 2, 5, 4], { attnMask: randn([2, 2, 3, 5], { generator: g }) }],
    ["GQA 4 query heads on 2 kv heads", [2, 4, 3, 4], [2, 2, 5, 4], [2, 2, 5, 4], { isCausal: true }],
    ["3-D inputs", [3, 4, 8], [3, 6, 8], [3, 6, 8], { scale: 0.2 }],
    ["dropout, same seed", [1, 2, 4, 4], [1, 2, 6, 4], [1, 2, 6, 4], { dropoutP: 0.4 }],
  ];
  for (const [name, qs, ks, vs, opts] of cases) {
    test(name, () => {
      const q = rn(qs), k = rn(ks), v = rn(vs);
      const withGen = opts?.dropoutP ? () => ({ ...opts, generator: new Generator(99) }) : () => opts;
      const run = (needWeights: boolean) => {
        for (const t of [q, k, v]) t.grad = null;
        const { output } = scaledDotProductAttention(q, k, v, { ...withGen(), needWeights });
        backward(sum(mul(output, randn(output.shape, { generator: new Generator(3) }))));
        return [output.data, q.grad!.data, k.grad!.data, v.grad!.data];
      };
      const a = run(false), b = run(true);
      for (let i = 0; i < 4; i++) assertClose(a[i]!, b[i]!, 1e-5, 1e-4);
    });
  }
});

describe("fully masked rows: zeros, never NaN", () => {
  test("output 0, weights 0, finite zero-row gradients on both paths", () => {
    const q = rn([1, 2, 3, 4]), k = rn([1, 2, 4, 4]), v = rn([1, 2, 4, 4]);
    const mask = tensor([[false, true, false, false], [true, true, true, true], [false, false, false, true]]);
    const [fused, composed] = bothPaths(q, k, v, { attnMask: mask });
    for (const r of [fused, composed]) {
      for (const arr of [r.out, r.dq, r.dk, r.dv]) assert.ok(arr.every(Number.isFinite));
      for (let h = 0; h < 2; h++) for (let d = 0; d < 4; d++) {
        assert.equal(r.out[(h * 3 + 1) * 4 + d], 0);
        assert.equal(r.dq[(h * 3 + 1) * 4 + d], 0);
      }
    }
    const { weights } = scaledDotProductAttention(q, k, v, { attnMask: mask, needWeights: true });
    assert.deepEqual(Array.from(weights!.data.slice(4, 8)), [0, 0, 0, 0]);
  });
  test("a float mask of -Infinity behaves the same", () => {
    const q = rn([1, 1, 2, 4]), k = rn([1, 1, 3, 4]), v = rn([1, 1, 3, 4]);
    const m = tensor([[0, 0, 0], [-Infinity, -Infinity, -Infinity]]);
    for (const needWeights of [false, true]) {
      const { output } = scaledDotProductAttention(q, k, v, { attnMask: m, needWeights });
      assert.deepEqual(Array.from(output.data.slice(4)), [0, 0, 0, 0]);
    }
  });
});

describe("mask polarity and causal alignment", () => {
  test("bool true means may not attend", () => {
    const q = rn([1, 1, 1, 2]), k = rn([1, 1, 2, 2]);
    const v = tensor([[[[1, 0], [0, 1]]]]);
    const { output, weights } = scaledDotProductAttention(q, k, v, { attnMask: tensor([[true, false]]), needWeights: true });
    assertClose(output.data, [0, 1]);
    assertClose(weights!.data, [0, 1]);
  });
  test("causal is top-left aligned when L < S", () => {
    const { weights } = scaledDotProductAttention(rn([1, 1, 2, 2]), rn([1, 1, 4, 2]), rn([1, 1, 4, 2]), { isCausal: true, needWeights: true });
    const w = weights!.data;
    assert.deepEqual([w[1], w[2], w[3], w[6], w[7]], [0, 0, 0, 0, 0]);
    assert.equal(w[0], 1);
  });
});

describe("softmax is stable for large logits", () => {
  test("±1e4", () => {
    const s = softmax(tensor([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4, -1e4]]));
    assert.ok(Array.from(s.data).every(Number.isFinite));
    assertClose(s.data.slice(0, 2), [1 / (1 + Math.exp(-1)), Math.exp(-1) / (1 + Math.exp(-1))]);
    assertClose(s.data.slice(3), [1 / 3, 1 / 3, 1 / 3]);
  });
});

describe("gradcheck: attention functions", () => {
  test("fused path (masks, causal, GQA, dropout)", () => {
    assertGrad((q, k, v) => scaledDotProductAttention(q, k, v, { isCausal: true }).output, [r64([1, 2, 3, 4]), r64([1, 1, 5, 4]), r64([1, 1, 5, 3])]);
    const m = tensor([[false, true, false], [true, true, true]]);
    assertGrad((q, k, v) => scaledDotProductAttention(q, k, v, { attnMask: m }).output, [r64([2, 2, 4]), r64([2, 3, 4]), r64([2, 3, 4])]);
    assertGrad((q, k, v) => scaledDotProductAttention(q, k, v, { dropoutP: 0.3, generator: new Generator(4) }).output,
      [r64([1, 2, 3, 4]), r64([1, 2, 5, 4]), r64([1, 2, 5, 4])]);
  });
  test("composed path with weights and a float mask that requires grad", () => {
    assertGrad((q, k, v, m) => {
      const r = scaledDotProductAttention(q, k, v, { attnMask: m, needWeights: true });
      return [r.output, r.weights!];
    }, [r64([1, 2, 3, 4]), r64([1, 2, 5, 4]), r64([1, 2, 5, 4]), r64([3, 5])]);
  });
  test("dot-product and cosine attention", () => {
    assertGrad((q, k, v) => dotProductAttention(q, k, v).output, [r64([2, 3, 4]), r64([2, 5, 4]), r64([2, 5, 4])]);
    assertGrad((q, k, v) => cosineAttention(q, k, v, { scale: 5, needWeights: true }).output, [r64([2, 3, 4]), r64([2, 5, 4]), r64([2, 5, 4])]);
  });
});

describe("attention input errors", () => {
  const q = rn([2, 2, 3, 4]), k = rn([2, 2, 5, 4]), v = rn([2, 2, 5, 4]);
  test("shapes", () => {
    assertThrowsMsg(() => scaledDotProductAttention(q, rn([2, 2, 5, 3]), v), ShapeError, "scaledDotProductAttention: k expected [2, 2, S, 4], got [2, 2, 5, 3]");
    assertThrowsMsg(() => scaledDotProductAttention(q, k, rn([2, 2, 4, 4])), ShapeError, "scaledDotProductAttention: v expected [2, 2, 5, Dv], got [2, 2, 4, 4]");
    assertThrowsMsg(() => scaledDotProductAttention(q, rn([2, 3, 5, 4]), v), ShapeError, "k expected [2, 2, S, 4], got [2, 3, 5, 4]");
    assertThrowsMsg(() => scaledDotProductAttention(rn([4]), k, v), ShapeError, "q expected [..., L, D], got [4]");
  });
  test("masks", () => {
    assertThrowsMsg(() => scaledDotProductAttention(q, k, v, { attnMask: tensor([[true, false]]) }), ShapeError,
      "scaledDotProductAttention: attnMask expected a shape broadcastable to [2, 2, 3, 5], got [1, 2]");
    assertThrowsMsg(() => scaledDotProductAttention(q, k, v, { attnMask: tensor(new Int32Array(15), { shape: [3, 5] }) }), DTypeError,
      "scaledDotProductAttention: attnMask expected bool or float, got int32");
  });
  test("options", () => {
    assertThrowsMsg(() => scaledDotProductAttention(q, k, v, { dropoutP: 1 }), ValueError, "scaledDotProductAttention: dropoutP expected a probability in [0, 1), got 1");
    assertThrowsMsg(() => scaledDotProductAttention(q, k, v, { dropoutP: -0.1 }), ValueError, "dropoutP expected a probability in [0, 1), got -0.1");
    assertThrowsMsg(() => scaledDotProductAttention(q, k, v, { scale: NaN }), ValueError, "scale expected a finite number, got NaN");
    assertThrowsMsg(() => cosineAttention(q, k, v, { eps: -1 }), ValueError, "cosineAttention: eps expected a non-negative number, got -1");
    assertThrowsMsg(() => dotProductAttention(tensor(new Int32Array(4), { shape: [2, 2] }), k, v), DTypeError, "dotProductAttention: q expected float32 or float64, got int32");
  });
});
