/** Seq2SeqTransformer, greedy and beam search (through the KV cache) against full recomputation and exhaustive search. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { Seq2SeqTransformer, resolveSeq2SeqConfig } from "../../src/nn/seq2seq.js";
import { logSoftmax } from "../../src/ops/softmax.js";
import { reshape, slice } from "../../src/ops/shape.js";
import { beamSearch, greedySearch } from "../../src/seq2seq/search.js";
import { DTypeError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { assertThrowsMsg } from "../helpers.js";

const PAD = 0, BOS = 1, EOS = 2;

function tiny(V = 7, maxLen = 12): Seq2SeqTransformer {
  manualSeed(3);
  const m = new Seq2SeqTransformer({ vocabSize: V, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 2, dimFeedforward: 24, dropout: 0, maxLen, padId: PAD });
  m.eval();
  return m;
}

const ids = (rows: number[][]): Tensor => {
  const S = Math.max(...rows.map((r) => r.length));
  const d = new Int32Array(rows.length * S).fill(PAD);
  rows.forEach((r, b) => d.set(r, b * S));
  return new Tensor(d, [rows.length, S], "int32");
};

/** log p(tokens + </s> | src) by teacher forcing, without a cache. */
function seqLogProb(m: Seq2SeqTransformer, src: number[], tokens: number[], withEos = true): number {
  return noGrad(() => {
    const tgt = [BOS, ...tokens];
    const out = withEos ? [...tokens, EOS] : tokens;
    const lp = logSoftmax(reshape(m.forward(ids([src]), ids([tgt])), [tgt.length, -1]), -1).data; // [T, V]
    const V = lp.length / tgt.length;
    return out.reduce((s, y, t) => s + lp[t * V + y]!, 0);
  });
}

describe("Seq2SeqTransformer", () => {
  test("cached decoding gives the logits of the full causal pass", () => {
    const m = tiny();
    noGrad(() => {
      const src = ids([[3, 4, 5, 6], [5, 3]]), tgt = ids([[BOS, 3, 4, 6], [BOS, 5, 5, 4]]);
      const full = m.forward(src, tgt).data; // [2, 4, V]
      const pad = m.paddingMask(src), mem = m.encode(src, pad);
      const cache = m.decoder.createCache();
      for (let t = 0; t < 4; t++) {
        const step = m.decode(slice(tgt, 1, t, t + 1), mem, pad, { cache, offset: t }).data; // [2, 1, V]
        for (let b = 0; b < 2; b++) for (let v = 0; v < 7; v++) {
          assert.ok(Math.abs(step[b * 7 + v]! - full[(b * 4 + t) * 7 + v]!) < 1e-5, `t=${t} b=${b} v=${v}`);
        }
      }
    });
  });
  test("padding does not change a row's outputs", () => {
    const m = tiny();
    noGrad(() => {
      const a = m.forward(ids([[3, 4]]), ids([[BOS, 5]])).data;
      const b = m.forward(ids([[3, 4], [3, 4, 5, 6, 3]]), ids([[BOS, 5], [BOS, 5]])).data.slice(0, a.length);
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5);
    });
  });
  test("the shared table ties input and output embeddings; the pad row starts at zero", () => {
    const m = tiny();
    const names = Object.keys(m.stateDict());
    assert.ok(names.includes("embed.weight") && !names.some((n) => n.includes("generator")));
    assert.deepEqual(Array.from(m.embed.weight.data.slice(0, 16)), new Array(16).fill(0));
  });
  test("configs are validated; ids are checked", () => {
    assertThrowsMsg(() => resolveSeq2SeqConfig({ vocabSize: 10, dModel: 10, nhead: 3, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 4, padId: 0 }),
      ValueError, "Seq2SeqTransformer: config.dModel expected a multiple of nhead (3), got 10");
    assertThrowsMsg(() => resolveSeq2SeqConfig({ vocabSize: 10, dModel: 8, nhead: 2, encoderLayers: 1, decoderLayers: 1, dimFeedforward: 4, padId: 0, colour: 1 }),
      ValueError, "unknown colour");
    const m = tiny();
    assertThrowsMsg(() => m.encode(new Tensor(new Float32Array(2), [1, 2], "float32")), DTypeError, "src expected int32");
    assertThrowsMsg(() => m.encode(ids([new Array(13).fill(3)])), ShapeError, "at most 12 positions (maxLen)");
  });
});

describe("search", () => {
  test("greedy search picks the argmax at every step (checked against full recomputation)", () => {
    const m = tiny();
    const srcs = [[3, 4, 5], [6, 6], [4]];
    const got = greedySearch(m, ids(srcs), { bosId: BOS, eosId: EOS, maxLen: 6 });
    srcs.forEach((src, b) => {
      const prefix: number[] = [];
      for (let t = 0; t < 6; t++) {
        const next = noGrad(() => {
          const lg = m.forward(ids([src]), ids([[BOS, ...prefix]])).data;
          const V = 7, row = lg.slice(prefix.length * V, (prefix.length + 1) * V);
          return row.indexOf(Math.max(...row));
        });
        if (next === EOS) break;
        prefix.push(next);
      }
      assert.deepEqual(got[b], prefix, `source ${b}`);
    });
  });
  test("beam 1 is greedy; a wide beam finds the exact best sequence (exhaustive check, no length penalty)", () => {
    const m = tiny(5, 8);
    const src = [3, 4, 3];
    const g = greedySearch(m, ids([src]), { bosId: BOS, eosId: EOS, maxLen: 4 });
    assert.deepEqual(beamSearch(m, ids([src]), { bosId: BOS, eosId: EOS, maxLen: 4, beam: 1 }), g);
    // every sequence over {3, 4} (ending in </s>) of up to 3 tokens
    const banned = [PAD, BOS];
    let best: number[] = [], bestLp = -Infinity;
    const seqs: number[][] = [[]];
    for (let len = 1; len <= 3; len++) for (const s of seqs.filter((x) => x.length === len - 1)) for (const v of [3, 4]) seqs.push([...s, v]);
    for (const s of seqs) {
      const lp = seqLogProb(m, src, s);
      if (lp > bestLp) { bestLp = lp; best = s; }
    }
    // and the hypotheses the length limit ends: 4 tokens, no </s>
    for (const s of seqs.filter((x) => x.length === 3)) for (const v of [3, 4]) {
      const lp = seqLogProb(m, src, [...s, v], false);
      if (lp > bestLp) { bestLp = lp; best = [...s, v]; }
    }
    const wide = beamSearch(m, ids([src]), { bosId: BOS, eosId: EOS, maxLen: 4, beam: 30, lengthPenalty: 0, banned })[0]!;
    assert.deepEqual(wide, best);
    assert.ok(seqLogProb(m, src, wide) >= seqLogProb(m, src, g[0]!) - 1e-6 || g[0]!.length === 4);
  });
  test("batched beam search equals one source at a time", () => {
    const m = tiny();
    const srcs = [[3, 4, 5, 6], [5], [6, 3, 3]];
    const o = { bosId: BOS, eosId: EOS, maxLen: 7, beam: 3 };
    const batched = beamSearch(m, ids(srcs), o);
    srcs.forEach((s, b) => assert.deepEqual(batched[b], beamSearch(m, ids([s]), o)[0], `source ${b}`));
  });
  test("bad options are refused", () => {
    const m = tiny();
    assertThrowsMsg(() => beamSearch(m, ids([[3]]), { bosId: BOS, eosId: EOS, beam: 0 }), ValueError, "beamSearch: beam expected a positive integer, got 0");
    assertThrowsMsg(() => greedySearch(m, ids([[3]]), { bosId: BOS, eosId: EOS, maxLen: 13 }), ValueError, "maxLen expected an integer in [1, 12]");
  });
});
