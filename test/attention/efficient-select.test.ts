import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backward } from "../../src/autograd/backward.js";
import { windowAttention } from "../../src/attention/window.js";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { attentionKinds, efficientAttention, isExact, type AttentionSpec } from "../../src/attention/select.js";
import { EfficientSelfAttention } from "../../src/nn/efficient-self-attention.js";
import { sum } from "../../src/ops/reduce.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor, randn } from "../../src/tensor/tensor.js";

const layout = new Tensor(Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 1, 1]), [3, 3], "bool");
const specs: AttentionSpec[] = [
  { kind: "full" }, { kind: "full", causal: true },
  { kind: "window", window: 2 }, { kind: "window", window: 2, causal: true },
  { kind: "dilated", window: 1, dilation: 2 },
  { kind: "longformer", window: 1, numGlobal: 1 },
  { kind: "bigbird", window: 0, numGlobal: 1, numRandom: 1, blockSize: 4, seed: 3 },
  { kind: "block", layout, blockSize: 4 },
  { kind: "linformer", k: 4 },
  { kind: "nystrom", landmarks: 4 },
  { kind: "linear" }, { kind: "linear", causal: true },
  { kind: "performer", features: 16, seed: 1 }, { kind: "performer", features: 16, seed: 1, causal: true },
];

describe("efficientAttention", () => {
  test("every kind is covered", () => {
    assert.deepEqual([...new Set(specs.map((s) => s.kind))].sort(), [...attentionKinds].sort());
  });
  test("dispatches: full = sdpa, window = windowAttention", () => {
    const q = randn([1, 2, 12, 4]), k = randn([1, 2, 12, 4]), v = randn([1, 2, 12, 4]);
    assert.deepEqual([...efficientAttention(q, k, v, { kind: "full", causal: true }).output.data],
      [...scaledDotProductAttention(q, k, v, { isCausal: true }).output.data]);
    assert.deepEqual([...efficientAttention(q, k, v, { kind: "window", window: 3 }).output.data],
      [...windowAttention(q, k, v, { window: 3 }).output.data]);
    assert.equal(isExact({ kind: "window", window: 1 }), true);
    assert.equal(isExact({ kind: "performer", features: 4, seed: 0 }), false);
  });
  test("linformer needs E and F; unknown kinds are rejected", () => {
    const q = randn([1, 1, 4, 2]);
    assert.throws(() => efficientAttention(q, q, q, { kind: "linformer", k: 2 }), ValueError);
    const bad = { kind: "nope" } as unknown;
    assert.throws(() => efficientAttention(q, q, q, bad as AttentionSpec), ValueError);
  });
});

describe("EfficientSelfAttention", () => {
  for (const spec of specs) {
    test(`${JSON.stringify({ ...spec, layout: undefined })}: shapes, backward reaches every parameter`, () => {
      const m = new EfficientSelfAttention(16, 2, spec, { maxLen: 16, generator: new Generator(1) });
      const x = randn([2, 12, 16], { requiresGrad: true });
      const { output, weights } = m.forward(x, { needWeights: true });
      assert.deepEqual(output.shape, [2, 12, 16]);
      assert.equal(weights!.shape[0], 2);
      assert.equal(weights!.shape[1], 2);
      for (const t of output.data) assert.ok(Number.isFinite(t));
      backward(sum(output));
      for (const [n, p] of m.namedParameters()) assert.ok(p.grad, `${n} has no grad`);
      const names = m.namedParameters().map(([n]) => n);
      assert.equal(names.includes("E") && names.includes("F"), spec.kind === "linformer");
      assert.ok(names.includes("q_proj.weight") && names.includes("out_proj.bias"));
    });
  }
  test("unbatched input; performer redraw changes the output", () => {
    const m = new EfficientSelfAttention(8, 2, { kind: "performer", features: 8, seed: 0 });
    const x = randn([10, 8]);
    const a = m.forward(x).output;
    assert.deepEqual(a.shape, [10, 8]);
    m.redraw();
    assert.notDeepEqual([...m.forward(x).output.data], [...a.data]);
  });
  test("linformer requires maxLen", () => {
    assert.throws(() => new EfficientSelfAttention(8, 2, { kind: "linformer", k: 4 }), ValueError);
  });
});
