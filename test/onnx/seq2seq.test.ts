import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { noGrad } from "../../src/autograd/graph.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { onnxGraphs, type OnnxGraphFile } from "../../src/onnx/export.js";
import { decodeModelProto, type GraphMsg } from "../../src/onnx/proto.js";
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

interface Graphs { enc: Session; dec: Session; past: Session; merged: Session }

async function sessions(files: OnnxGraphFile[]): Promise<Graphs> {
  const by = (n: string): OnnxGraphFile => files.find((f) => f.name === n)!;
  return {
    enc: await session(by("encoder_model.onnx").bytes), dec: await session(by("decoder_model.onnx").bytes),
    past: await session(by("decoder_with_past_model.onnx").bytes), merged: await session(by("decoder_model_merged.onnx").bytes),
  };
}

const release = (s: Graphs): Promise<void[]> => Promise.all([s.enc.release(), s.dec.release(), s.past.release(), s.merged.release()]);

/** The first step's past_key_values for decoder_model_merged: empty, past length 0 (what transformers.js gives). */
function emptyPasts(B: number): Record<string, OrtTensor> {
  const O = getOrt(), H = cfg.nhead, D = cfg.dModel / cfg.nhead;
  const feeds: Record<string, OrtTensor> = {};
  for (let i = 0; i < cfg.decoderLayers; i++) {
    for (const side of ["decoder", "encoder"]) for (const w of ["key", "value"]) feeds[`past_key_values.${i}.${side}.${w}`] = new O.Tensor("float32", new Float32Array(0), [B, H, 0, D]);
  }
  return feeds;
}

const useCache = (on: boolean): OrtTensor => new (getOrt().Tensor)("bool", Uint8Array.from([on ? 1 : 0]), [1]);

/**
 * Greedy decoding through the graphs, the way a generation loop feeds them: the encoder once,
 * then either decoder_model for the first token and decoder_with_past_model after, or (`merged`)
 * decoder_model_merged throughout, with use_cache_branch false and empty pasts first; the
 * encoder's keys/values from the first step reused. Also returns the largest |logit diff| against
 * qkv's cached decoding of the same tokens.
 */
async function ortGreedy(model: Seq2SeqTransformer, s: Graphs, src: Tensor, maxLen: number, merged = false): Promise<{ tokens: number[][]; logitDiff: number }> {
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
    const r = merged
      ? await s.merged.run({ input_ids: ids, encoder_attention_mask: mask, encoder_hidden_states: memory!, ...(t === 0 ? emptyPasts(B) : pastFeeds), use_cache_branch: useCache(t > 0) })
      : t === 0
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

describe("ONNX export: Seq2SeqTransformer (encoder, decoder, decoder with past, merged decoder)", { skip: ortSkip }, () => {
  for (const mode of ["plain", "fused", "opset23"] as const) {
    test(`encoder outputs and greedy generation equal qkv's (${mode})`, async () => {
      const g = new Generator(5);
      const model = new Seq2SeqTransformer(cfg, { generator: g }).eval();
      // larger layer weights than the init: a tiny random model with tied embeddings otherwise
      // repeats one token whatever the source
      noGrad(() => { for (const [n, p] of model.namedParameters()) if (p.rank > 1 && n !== "embed.weight") for (let i = 0; i < p.data.length; i++) p.data[i] = Number(p.data[i]) * 5; });
      const files = onnxGraphs(model, {}, { attention: mode });
      assert.deepEqual(files.map((f) => f.name), ["encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx"]);
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
        for (const merged of [false, true]) {
          const got = await ortGreedy(model, s, src, 12, merged);
          const through = merged ? "merged decoder" : "two decoders";
          assert.deepEqual(got.tokens, want, `${through}, lengths ${lengths}`);
          assert.ok(got.logitDiff <= TOL, `${through} logits, lengths ${lengths}: max |diff| ${got.logitDiff}`);
        }
        if (lengths.length > 2) assert.ok(new Set(want.flat()).size > 2, `varied tokens: ${JSON.stringify(want)}`);
      }
      await release(s);
    });
  }

  for (const mode of ["plain", "fused", "opset23"] as const) {
    test(`decoder_model_merged: use_cache_branch false equals decoder_model, true equals decoder_with_past_model (${mode})`, async () => {
      const model = new Seq2SeqTransformer(cfg, { generator: new Generator(11) }).eval();
      const files = onnxGraphs(model, {}, { attention: mode });
      const s = await sessions(files);
      const merged = files.find((f) => f.name === "decoder_model_merged.onnx")!;
      assert.deepEqual(s.merged.inputNames, merged.inputs);
      assert.deepEqual(merged.inputs.slice(0, 4), ["input_ids", "encoder_attention_mask", "encoder_hidden_states", "past_key_values.0.decoder.key"]);
      assert.equal(merged.inputs.at(-1), "use_cache_branch");
      assert.deepEqual(s.merged.outputNames, s.dec.outputNames);
      const src = sources([7, 4], new Generator(3));
      const mask = attentionMask(src);
      const { last_hidden_state: memory } = await s.enc.run({ input_ids: toOrt(src, "int64"), attention_mask: mask });
      const compare = (want: Record<string, OrtTensor>, got: Record<string, OrtTensor>, what: string): void => {
        for (const [k, w] of Object.entries(want)) {
          assert.deepEqual(got[k]!.dims, w.dims, `${what} ${k} dims`);
          const d = maxDiff(got[k]!.data as Float32Array, w.data as Float32Array);
          assert.ok(d <= TOL, `${what} ${k}: max |diff| ${d}`);
        }
      };
      // the first step over a 3-token prefix: empty pasts, ignored
      const first = { input_ids: int64([1, 7, 9, 1, 8, 10], [2, 3]), encoder_attention_mask: mask, encoder_hidden_states: memory! };
      const r0 = await s.dec.run(first);
      const m0 = await s.merged.run({ ...first, ...emptyPasts(2), use_cache_branch: useCache(false) });
      compare(r0, m0, "use_cache_branch false");
      assert.deepEqual(r0["present.1.decoder.key"]!.dims, [2, cfg.nhead, 3, cfg.dModel / cfg.nhead]);
      // a later step of 2 tokens over the first step's keys/values
      const pasts: Record<string, OrtTensor> = {};
      for (const k of Object.keys(r0)) if (k.startsWith("present.")) pasts[k.replace("present.", "past_key_values.")] = r0[k]!;
      const later = { input_ids: int64([11, 13, 12, 14], [2, 2]), encoder_attention_mask: mask, ...pasts };
      const r1 = await s.past.run(later);
      const m1 = await s.merged.run({ ...later, encoder_hidden_states: memory!, use_cache_branch: useCache(true) });
      compare(r1, m1, "use_cache_branch true");
      assert.deepEqual(m1["present.0.decoder.key"]!.dims, [2, cfg.nhead, 5, cfg.dModel / cfg.nhead]);
      // the encoder's keys/values are the pasts passed through
      for (let i = 0; i < cfg.decoderLayers; i++) {
        for (const w of ["key", "value"]) assert.deepEqual(m1[`present.${i}.encoder.${w}`]!.data, r0[`present.${i}.encoder.${w}`]!.data);
      }
      await release(s);
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

describe("ONNX export: decoder_model_merged's graph", () => {
  test("one If on use_cache_branch; each weight stored once, in the outer graph; names defined once; about one decoder's size", () => {
    // weights large enough to dominate the file, as in a real model
    const big = { ...cfg, vocabSize: 4000, dModel: 128, nhead: 4, dimFeedforward: 256, maxLen: 128 };
    const model = new Seq2SeqTransformer(big, { generator: new Generator(2) }).eval();
    const files = onnxGraphs(model);
    const by = (n: string): OnnxGraphFile => files.find((f) => f.name === n)!;
    const merged = decodeModelProto(by("decoder_model_merged.onnx").bytes).graph;
    assert.deepEqual(merged.node.map((n) => n.op_type), ["If"]);
    const ifNode = merged.node[0]!;
    assert.deepEqual(ifNode.input, ["use_cache_branch"]);
    assert.deepEqual(ifNode.output, by("decoder_model_merged.onnx").outputs);
    const branch = (name: string): GraphMsg => ifNode.attribute.find((a) => a.name === name)!.g!;
    const [then, other] = [branch("then_branch"), branch("else_branch")];
    assert.deepEqual([then.name, other.name], ["with_past", "no_past"]);
    assert.deepEqual([then.initializer, other.initializer], [[], []]);
    // the with-past branch never reads encoder_hidden_states, the first step never the pasts
    const reads = (g: GraphMsg): Set<string> => new Set(g.node.flatMap((n) => n.input));
    assert.ok(!reads(then).has("encoder_hidden_states"));
    assert.ok(reads(other).has("encoder_hidden_states"));
    assert.ok(![...reads(other)].some((v) => v.startsWith("past_key_values.")));
    // every name is defined once across the outer graph and both branches
    const defined = [...merged.input.map((v) => v.name), ...merged.initializer.map((t) => t.name), ...[merged, then, other].flatMap((g) => g.node.flatMap((n) => n.output))];
    assert.equal(new Set(defined).size, defined.length);
    // the state dict's tensors the decoders use, once each, as in decoder_model.onnx
    const params = new Set(Object.keys(model.stateDict()));
    const weights = (g: GraphMsg): string[] => g.initializer.map((t) => t.name).filter((n) => params.has(n)).sort();
    const decoder = decodeModelProto(by("decoder_model.onnx").bytes).graph;
    assert.deepEqual(weights(merged), weights(decoder));
    assert.ok(weights(merged).includes("embed.weight") && weights(merged).includes("decoder.layers.1.linear2.weight"));
    const [m, d, p] = ["decoder_model_merged.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"].map((n) => by(n).bytes.length) as [number, number, number];
    assert.ok(m < 1.02 * d && m < 1.02 * p, `merged ${m} bytes, decoder_model ${d}, decoder_with_past_model ${p}`);
  });
});
