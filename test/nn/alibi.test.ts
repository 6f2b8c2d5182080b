import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { alibiBias, alibiSlopes } from "../../src/nn/alibi.js";
import { scaledDotProductAttention } from "../../src/attention/sdpa.js";
import { ValueError } from "../../src/tensor/errors.js";
import { randn } from "../../src/tensor/tensor.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

describe("alibiSlopes", () => {
  test("powers of two: 2^(-8h/H)", () => {
    assertClose(alibiSlopes(8, { dtype: "float64" }).data, [1, 2, 3, 4, 5, 6, 7, 8].map((h) => 2 ** -h), 0);
    assertClose(alibiSlopes(1, { dtype: "float64" }).data, [2 ** -8], 0);
  });

  test("other head counts: the P slopes, then odd-numbered slopes of 2P, unsorted", () => {
    assertClose(alibiSlopes(6, { dtype: "float64" }).data, [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3], 0);
    assertClose(alibiSlopes(12, { dtype: "float64" }).data, [1, 2, 3, 4, 5, 6, 7, 8].map((h) => 2 ** -h).concat([2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5]), 1e-15);
    assertClose(alibiSlopes(3, { dtype: "float64" }).data, [2 ** -4, 2 ** -8, 2 ** -2], 0);
    assert.equal(alibiSlopes(5).dtype, "float32");
  });

  test("errors", () => {
    assertThrowsMsg(() => alibiSlopes(0), ValueError, "alibiSlopes: numHeads expected a positive integer, got 0");
    assertThrowsMsg(() => alibiSlopes(2.5), ValueError, "alibiSlopes: numHeads expected a positive integer, got 2.5");
  });
});

describe("alibiBias", () => {
  test("causal: -m (i - j) on and below the diagonal, -Infinity above; symmetric: -m |i - j|", () => {
    const c = alibiBias(2, 3, 3, { causal: true, dtype: "float64" });
    const m0 = 2 ** -4, m1 = 2 ** -8;
    assert.deepEqual(c.shape, [2, 3, 3]);
    assert.deepEqual(Array.from(c.data.slice(0, 9)), [0, -Infinity, -Infinity, -m0, 0, -Infinity, -2 * m0, -m0, 0]);
    assert.equal(c.data[9 + 6], -2 * m1);
    const s = alibiBias(2, 3, 3, { dtype: "float64" });
    assert.deepEqual(Array.from(s.data.slice(0, 9)), [0, -m0, -2 * m0, -m0, 0, -m0, -2 * m0, -m0, 0]);
  });

  test("L < S lines the last query up with the last key (decoding after cached tokens)", () => {
    const full = alibiBias(4, 5, 5, { causal: true });
    const step = alibiBias(4, 1, 5, { causal: true }); // the 5th token's row
    for (let h = 0; h < 4; h++) assertClose(step.data.slice(h * 5, h * 5 + 5), full.data.slice(h * 25 + 20, h * 25 + 25), 0);
    const top = alibiBias(4, 2, 5, { offset: 0 });
    assertClose(top.data.slice(0, 10), full.data.slice(0, 10).map((x, i) => (i % 5 <= Math.floor(i / 5) ? x : -(2 ** -2) * (i % 5 - Math.floor(i / 5)))), 1e-7);
  });

  test("broadcasts over the batch as an attention mask", () => {
    const q = randn([2, 6, 4, 8]), k = randn([2, 6, 4, 8]), v = randn([2, 6, 4, 8]);
    const { weights } = scaledDotProductAttention(q, k, v, { attnMask: alibiBias(6, 4, 4, { causal: true }), needWeights: true });
    assert.equal(weights!.data[1], 0); // above the diagonal
  });

  test("errors", () => {
    assertThrowsMsg(() => alibiBias(0, 3), ValueError, "alibiBias: numHeads expected a positive integer, got 0");
    assertThrowsMsg(() => alibiBias(4, 0), ValueError, "alibiBias: L expected a positive integer, got 0");
    assertThrowsMsg(() => alibiBias(4, 3, 1.5), ValueError, "alibiBias: S expected a positive integer, got 1.5");
    assertThrowsMsg(() => alibiBias(4, 3, 3, { offset: 0.5 }), ValueError, "alibiBias: offset expected an integer, got 0.5");
  });
});
