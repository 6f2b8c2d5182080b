import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LearnedPositionalEmbedding } from "../../src/nn/learned-positional.js";
import { backward } from "../../src/autograd/backward.js";
import { sum } from "../../src/ops/reduce.js";
import { ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { randn } from "../../src/tensor/tensor.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

describe("LearnedPositionalEmbedding", () => {
  test("adds row offset + l to token l; weight named as nn.Embedding's", () => {
    const pe = new LearnedPositionalEmbedding(10, 4, { generator: new Generator(1) });
    assert.deepEqual(Object.keys(pe.stateDict()), ["weight"]);
    assert.deepEqual(pe.weight.shape, [10, 4]);
    const x = randn([2, 3, 4]);
    const y = pe.forward(x, { offset: 5 });
    for (let b = 0; b < 2; b++) for (let l = 0; l < 3; l++) for (let e = 0; e < 4; e++) {
      const i = (b * 3 + l) * 4 + e;
      assert.ok(Math.abs(y.data[i]! - (x.data[i]! + pe.weight.data[(5 + l) * 4 + e]!)) < 1e-6);
    }
    const seqFirst = new LearnedPositionalEmbedding(10, 4, { batchFirst: false });
    const z = seqFirst.forward(randn([3, 2, 4]));
    assert.deepEqual(z.shape, [3, 2, 4]);
  });

  test("gradient: each used row collects the sum over the batch", () => {
    const pe = new LearnedPositionalEmbedding(4, 2);
    backward(sum(pe.forward(randn([3, 2, 2]), { offset: 1 })));
    assertClose(pe.weight.grad!.data, [0, 0, 3, 3, 3, 3, 0, 0], 0);
  });

  test("errors", () => {
    assertThrowsMsg(() => new LearnedPositionalEmbedding(0, 4), ValueError, "LearnedPositionalEmbedding: maxLen expected a positive integer, got 0");
    assertThrowsMsg(() => new LearnedPositionalEmbedding(4, 4, { std: -1 }), ValueError, "LearnedPositionalEmbedding: std expected a non-negative number, got -1");
    const pe = new LearnedPositionalEmbedding(4, 2);
    assertThrowsMsg(() => pe.forward(randn([1, 3, 2]), { offset: 2 }), ValueError, "LearnedPositionalEmbedding.positions: offset expected an integer in [0, 1] (maxLen 4, L 3), got 2");
    assertThrowsMsg(() => pe.forward(randn([1, 3, 5])), ShapeError, "LearnedPositionalEmbedding.forward: x expected [B, L, 2] or [L, 2], got [1, 3, 5]");
  });
});
