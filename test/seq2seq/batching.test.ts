/** Token-bucketed batches: every pair once per epoch, within the token budget, reproducible, shifted targets. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { makeSeq2SeqBatch, TokenBatches, type IdPair } from "../../src/seq2seq/batching.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";
import { assertThrowsMsg } from "../helpers.js";

const ids = { padId: 0, bosId: 1, eosId: 2 };

function pairs(n: number): IdPair[] {
  const g = new Generator(9), u = new Float64Array(2 * n);
  g.fillUniform(u);
  return Array.from({ length: n }, (_, i) => ({
    src: Array.from({ length: 1 + Math.floor(u[2 * i]! * 30) }, (_, k) => 3 + ((i + k) % 50)),
    tgt: Array.from({ length: 1 + Math.floor(u[2 * i + 1]! * 30) }, (_, k) => 3 + ((i * 7 + k) % 50)),
  }));
}

describe("TokenBatches", () => {
  test("each epoch visits every pair once; batches stay within maxTokens", () => {
    const ps = pairs(300);
    const plan = new TokenBatches(ps, { maxTokens: 256, seed: 1, ...ids });
    const n = plan.batchesPerEpoch;
    for (const epoch of [0, 1]) {
      let count = 0;
      for (let s = epoch * n; s < (epoch + 1) * n; s++) {
        const b = plan.batchAt(s);
        const [B, S] = b.src.shape as [number, number], T = b.tgtIn.shape[1]!;
        assert.ok(B * Math.max(S, T) <= 256 || B === 1, `batch ${s}: ${B} x ${Math.max(S, T)}`);
        count += B;
      }
      assert.equal(count, 300);
    }
    assert.equal(plan.epochOf(n), 1);
  });
  test("the same seed gives the same batches; epochs are reshuffled", () => {
    const a = new TokenBatches(pairs(200), { maxTokens: 300, seed: 4, ...ids });
    const b = new TokenBatches(pairs(200), { maxTokens: 300, seed: 4, ...ids });
    const n = a.batchesPerEpoch;
    assert.deepEqual(a.batchAt(5).src.data, b.batchAt(5).src.data);
    const firstOf = (p: TokenBatches, e: number) => Array.from({ length: n }, (_, i) => p.batchAt(e * n + i).src.data[0]);
    assert.notDeepEqual(firstOf(a, 0), firstOf(a, 1));
  });
  test("targets: <s> y1 … in, y1 … </s> out, padding elsewhere", () => {
    const b = makeSeq2SeqBatch([{ src: [5, 6, 7], tgt: [8, 9] }, { src: [5], tgt: [10] }], ids);
    assert.deepEqual(Array.from(b.src.data), [5, 6, 7, 5, 0, 0]);
    assert.deepEqual(Array.from(b.tgtIn.data), [1, 8, 9, 1, 10, 0]);
    assert.deepEqual(Array.from(b.tgtOut.data), [8, 9, 2, 10, 2, 0]);
    assert.equal(b.tokens, 5);
  });
  test("bad input is refused", () => {
    assertThrowsMsg(() => new TokenBatches([], { maxTokens: 10, seed: 0, ...ids }), ValueError, "TokenBatches: pairs expected a non-empty array");
    assertThrowsMsg(() => new TokenBatches(pairs(3), { maxTokens: 0, seed: 0, ...ids }), ValueError, "maxTokens expected a positive integer, got 0");
    assertThrowsMsg(() => new TokenBatches(pairs(3), { maxTokens: 10, seed: 0, ...ids }).batchAt(-1), ValueError, "step expected an integer >= 0, got -1");
  });
});
