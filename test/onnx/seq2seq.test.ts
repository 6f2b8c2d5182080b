import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { onnxGraphs, type OnnxGraphFile } from "../../src/onnx/export.js";
import { greedySearch } from "../../src/seq2seq/search.js";
import { Generator } from "../../src/tensor/rng.js";
import { Tensor } from "../../src/tensor/tensor.js";
import { getOrt, int64, maxDiff, ortSkip, session, toOrt, type OrtTensor, type Session } from "./ort.js";

const TOL = 1e-5;
const PAD = 0, BOS = 1, EOS = 2;
const cfg = { vocabSize: 48, dModel: 16, nhead: 2, encoderLayers: 2, decoderLayers: 2, dimFeedforward: 32, dropout: 0, maxLen: 40, padId: PAD };

/** Source ids [B, S] of the given lengths (random tokens >= 3), padded with PAD. */
function sources(lengths: number[], g: Generator): Tensor {
  const S = Math.max(...lengths), B = lengths.length;
  const ids = new Int32Array(B * S);
  const draw = new Int32Array(B * S);
  g.fillInt(draw, 3, cfg.vocabSize);
  lengths.forEach((n, b) => { for (let j = 0; j < n; j++) ids[b * S + j] = draw[b * S + j]!; });
  return new Tensor(ids, [B, S], "int32");
}

const attentionMask = (src: Tensor): OrtTensor => int64(Array.from(src.data as Int32Array, (x) => (x === PAD ? 0 : 1)), src.shape);

interface Graphs { enc: Session; dec: Session; past: Session }

async function sessions(files: OnnxGraphFile[]): Promise<Graphs> {
  const by = (n: string): OnnxGraphFile => files.find((f) => f.name === n)!;
  return { enc: await session(by("encoder_model.onnx").bytes), dec: await session(by("decoder_model.onnx").bytes), past: await session(by("decoder_with_past_model.onnx").bytes) };
}

/**
 * Greedy decoding through the three graphs, the way a generation loop feeds them: the encoder
 * once, decoder_model for the first token, decoder_with_past_model after, the encoder's
 * keys/values from the first step reused. Also returns the largest |logit diff| against qkv's
 * cached decoding of the same tokens.
 */
async function ortGreedy(model: Seq2SeqTransformer, s: Graphs, src: Tensor, maxLen: number): Promise<{ tokens: number[][]; logitDiff: number }> {
  const B = src.shape[0]!, V = cfg.vocabSize, L = cfg.decoderLayers;
  const mask = attentionMask(src);
  const { last_hidden_state: memory } = await s.enc.run({ input_ids: toOrt(src, "int64"), attention_mask: mask });
  // qkv's side, step by step on the same tokens
  const srcPad = model.paddingMask(src);
  const qMemory = noGrad(() => model.encode(src, srcPad));
  const cache = model.decoder.createCache();
  let tok = new Array<number>(B).fill(BOS);
  const out: number[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  let pastFeeds: Record<string, OrtTensor> = {};
  let logitDiff = 0;
  for (let t = 0; t < maxLen; t++) {
    const ids = int64(tok, [B, 1]);
    const r = t === 0
      ? await s.dec.run({ input_ids: ids, encoder_attention_mask: mask, encoder_hidden_states: memory! })
      : await s.past.run({ input_ids: ids, encoder_attention_mask: mask, ...pastFeeds });
    const logits = r.logits!.data as Float32Array; // [B, 1, V]
    const ref = noGrad(() => model.decode(new Tensor(Int32Array.from(tok), [B, 1], "int32"), qMemory, srcPad, { cache, offset: t }));
    logitDiff = Math.max(logitDiff, maxDiff(logits, ref.data as Float32Array));
    const next: number[] = [];
    for (let b = 0; b < B; b++) {
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[b * V + v]! > logits[b * V + best]!) best = v;
      next.push(best);
      if (!done[b]) {
        if (best === EOS) done[b] = true;
        else out[b]!.push(best);
      }
    }
    const feeds: Record<string, OrtTensor> = {};
    for (let i = 0; i < L; i++) {
      for (const w of ["key", "value"]) {
        feeds[`past_key_values.${i}.decoder.${w}`] = r[`present.${i}.decoder.${w}`]!;
        feeds[`past_key_values.${i}.encoder.${w}`] = t === 0 ? r[`present.${i}.encoder.${w}`]! : pastFeeds[`past_key_values.${i}.encoder.${w}`]!;
      }
    }
    pastFeeds = feeds;
    tok = next;
    if (done.every(Boolean)) break;
  }
  return { tokens: out, logitDiff };
}

describe("ONNX export: Seq2SeqTransformer (encoder, decoder, decoder with past)", { skip: ortSkip }, () => {
  for (const mode of ["plain", "fused", "opset23"] as const) {
    test(`encoder outputs and greedy generation equal qkv's (${mode})`, async () => {
      const g = new Generator(5);
      const model = new Seq2SeqTransformer(cfg, { generator: g }).eval();
      // larger layer weights than the init: a tiny random model with tied embeddings otherwise
      // repeats one token whatever the source
      noGrad(() => { for (const [n, p] of model.namedParameters()) if (p.rank > 1 && n !== "embed.weight") for (let i = 0; i < p.data.length; i++) p.data[i] = Number(p.data[i]) * 5; });
      const files = onnxGraphs(model, {}, { attention: mode });
      assert.deepEqual(files.map((f) => f.name), ["encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"]);
      assert.deepEqual(files[2]!.inputs.slice(0, 4), ["input_ids", "encoder_attention_mask", "past_key_values.0.decoder.key", "past_key_values.0.decoder.value"]);
      assert.ok(files[1]!.outputs.includes("present.1.encoder.value"));
      const s = await sessions(files);
      for (const lengths of [[1, 1], [5, 3], [12, 7, 9]]) {
        const src = sources(lengths, g);
        const srcPad = model.paddingMask(src);
        const ref = noGrad(() => model.encode(src, srcPad));
        const enc = await s.enc.run({ input_ids: toOrt(src, "int64"), attention_mask: attentionMask(src) });
        const d = maxDiff(enc.last_hidden_state!.data as Float32Array, ref.data as Float32Array);
        assert.ok(d <= TOL, `encoder, lengths ${lengths}: max |diff| ${d}`);
        const want = greedySearch(model, src, { bosId: BOS, eosId: EOS, maxLen: 12 });
        const got = await ortGreedy(model, s, src, 12);
        assert.deepEqual(got.tokens, want, `lengths ${lengths}`);
        assert.ok(got.logitDiff <= TOL, `decoder logits, lengths ${lengths}: max |diff| ${got.logitDiff}`);
        if (lengths.length > 2) assert.ok(new Set(want.flat()).size > 2, `varied tokens: ${JSON.stringify(want)}`);
      }
      await Promise.all([s.enc.release(), s.dec.release(), s.past.release()]);
    });
  }

  test("decoder_model over a whole target equals qkv's teacher-forced logits", async () => {
    const model = new Seq2SeqTransformer(cfg, { generator: new Generator(9) }).eval();
    const s = await sessions(onnxGraphs(model));
    const src = sources([6, 4], new Generator(3));
    const tgt = new Tensor(Int32Array.from([1, 7, 9, 11, 13, 1, 8, 10, 12, 14]), [2, 5], "int32");
    const ref = noGrad(() => model.forward(src, tgt));
    const enc = await s.enc.run({ input_ids: toOrt(src, "int64"), attention_mask: attentionMask(src) });
    const r = await s.dec.run({ input_ids: toOrt(tgt, "int64"), encoder_attention_mask: attentionMask(src), encoder_hidden_states: enc.last_hidden_state! });
    const d = maxDiff(r.logits!.data as Float32Array, ref.data as Float32Array);
    assert.ok(d <= TOL, `max |diff| ${d}`);
    assert.deepEqual(r["present.0.decoder.key"]!.dims, [2, 2, 5, 8]);
    assert.ok(getOrt());
  });
});
