import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cachedCausalMask, DecoderCache, KVCache } from "../../src/nn/kv-cache.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { randn } from "../../src/tensor/tensor.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

describe("KVCache", () => {
  test("append grows along the time dim and returns everything so far; reset empties", () => {
    const c = new KVCache();
    assert.equal(c.length, 0);
    assert.equal(c.keys, null);
    const k1 = randn([2, 3, 4, 5]), v1 = randn([2, 3, 4, 6]);
    const k2 = randn([2, 3, 1, 5]), v2 = randn([2, 3, 1, 6]);
    c.append(k1, v1);
    const { k, v } = c.append(k2, v2);
    assert.equal(c.length, 5);
    assert.deepEqual(k.shape, [2, 3, 5, 5]);
    assert.deepEqual(v.shape, [2, 3, 5, 6]);
    // batch 1, head 2, time 4 is the appended token
    assertClose(k.data.slice(((1 * 3 + 2) * 5 + 4) * 5, ((1 * 3 + 2) * 5 + 5) * 5), k2.data.slice((1 * 3 + 2) * 5, (1 * 3 + 3) * 5), 0);
    assertClose(v.data.slice(0, 24), v1.data.slice(0, 24), 0);
    c.reset();
    assert.equal(c.length, 0);
    assert.equal(c.values, null);
  });

  test("errors", () => {
    const c = new KVCache();
    assertThrowsMsg(() => c.append(randn([3, 4, 5]), randn([3, 4, 5])), ShapeError, "KVCache.append: k expected [B, Hkv, L, D], got [3, 4, 5]");
    assertThrowsMsg(() => c.append(randn([1, 2, 3, 4]), randn([1, 2, 2, 4])), ShapeError, "KVCache.append: v expected [1, 2, 3, Dv], got [1, 2, 2, 4]");
    assertThrowsMsg(() => c.append(randn([1, 2, 3, 4]), randn([1, 2, 3, 4], { dtype: "float64" })), DTypeError, "KVCache.append: v expected float32, got float64");
    c.append(randn([1, 2, 3, 4]), randn([1, 2, 3, 4]));
    assertThrowsMsg(() => c.append(randn([1, 1, 1, 4]), randn([1, 1, 1, 4])), ShapeError, "KVCache.append: k expected [1, 2, L, 4] (the cached batch, heads and dim), got [1, 1, 1, 4]");
    assertThrowsMsg(() => c.append(randn([1, 2, 1, 4]), randn([1, 2, 1, 3])), ShapeError, "KVCache.append: v expected [1, 2, L, 4] (the cached batch, heads and dim), got [1, 2, 1, 3]");
    assert.equal(c.length, 3);
  });
});

describe("DecoderCache and cachedCausalMask", () => {
  test("one KVCache per layer", () => {
    const d = new DecoderCache(3);
    assert.equal(d.layers.length, 3);
    d.layer(1).append(randn([1, 1, 2, 2]), randn([1, 1, 2, 2]));
    assert.equal(d.layer(1).length, 2);
    d.reset();
    assert.equal(d.layer(1).length, 0);
    assertThrowsMsg(() => d.layer(3), ValueError, "DecoderCache.layer: i expected an index in [0, 3), got 3");
    assertThrowsMsg(() => new DecoderCache(0), ValueError, "DecoderCache: numLayers expected a positive integer, got 0");
  });

  test("mask of L new queries after past cached tokens", () => {
    const m = cachedCausalMask(2, 3); // [2, 5]
    assert.deepEqual(m.toArray(), [[false, false, false, false, true], [false, false, false, false, false]]);
    assert.deepEqual(cachedCausalMask(2, 0).toArray(), [[false, true], [false, false]]);
    assertThrowsMsg(() => cachedCausalMask(0, 1), ValueError, "cachedCausalMask: L expected a positive integer, got 0");
    assertThrowsMsg(() => cachedCausalMask(1, -1), ValueError, "cachedCausalMask: past expected a non-negative integer, got -1");
  });
});
