import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { saveTextModelDir } from "../../src/apps/text/node-files.js";
import { Seq2SeqTransformer } from "../../src/nn/seq2seq.js";
import { HF_CONFIG_FILES, hfSeq2SeqConfigs } from "../../src/onnx/hf-config.js";
import { BpeTokenizer } from "../../src/text/bpe.js";
import { ValueError } from "../../src/tensor/errors.js";
import { Generator } from "../../src/tensor/rng.js";

const corpus = ["the earth was formless and empty", "let there be light", "la tierra estaba desordenada y vacía"];

// every count differs from the others, so a field read from the wrong one shows
function modelFor(tok: BpeTokenizer, extra: { activation?: "relu" | "gelu" } = {}): Seq2SeqTransformer {
  return new Seq2SeqTransformer({ vocabSize: tok.vocabSize, dModel: 24, nhead: 3, encoderLayers: 2, decoderLayers: 1, dimFeedforward: 40, dropout: 0.05, maxLen: 48, padId: tok.padId, ...extra },
    { generator: new Generator(3) });
}

const dir = mkdtempSync(join(tmpdir(), "qkv-hf-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("hfSeq2SeqConfigs: the Hugging Face configs of a Seq2SeqTransformer", () => {
  // specials in an unusual order, so that the token ids are not the defaults 0, 1, 2, 3
  const specials = ["<unk>", "</s>", "<pad>", "<s>"];
  const tok = BpeTokenizer.train(corpus, { vocabSize: 290, minFrequency: 1, specialTokens: specials });
  const model = modelFor(tok, { activation: "gelu" });

  test("config.json: marian, the model's sizes, layer and head counts, token ids", () => {
    const files = hfSeq2SeqConfigs(model, tok);
    assert.deepEqual(Object.keys(files), [...HF_CONFIG_FILES]);
    assert.deepEqual([tok.unkId, tok.eosId, tok.padId, tok.bosId], [0, 1, 2, 3]);
    const c = JSON.parse(files["config.json"]);
    assert.equal(c.model_type, "marian");
    assert.deepEqual(c.architectures, ["MarianMTModel"]);
    assert.equal(c.is_encoder_decoder, true);
    assert.equal(c.vocab_size, 290);
    assert.equal(c.d_model, 24);
    assert.equal(c.encoder_layers, 2);
    assert.equal(c.decoder_layers, 1);
    assert.equal(c.encoder_attention_heads, 3);
    assert.equal(c.decoder_attention_heads, 3);
    assert.equal(c.encoder_ffn_dim, 40);
    assert.equal(c.decoder_ffn_dim, 40);
    assert.equal(c.activation_function, "gelu");
    assert.equal(c.max_position_embeddings, 48);
    assert.equal(c.dropout, 0.05);
    assert.deepEqual([c.pad_token_id, c.bos_token_id, c.eos_token_id, c.decoder_start_token_id], [2, 3, 1, 3]);
  });

  test("generation_config.json: start at <s>, stop at </s>, <pad> <s> <unk> banned, greedy, maxLen tokens after the start", () => {
    const g = JSON.parse(hfSeq2SeqConfigs(model, tok)["generation_config.json"]);
    assert.deepEqual([g.pad_token_id, g.bos_token_id, g.eos_token_id, g.decoder_start_token_id], [2, 3, 1, 3]);
    assert.equal(g.max_length, 49);
    assert.equal(g.do_sample, false);
    assert.equal(g.num_beams, 1);
    assert.deepEqual(g.bad_words_ids, [[2], [3], [0]]);
    // nothing that would change greedy search's tokens
    for (const k of ["no_repeat_ngram_size", "repetition_penalty", "forced_bos_token_id", "forced_eos_token_id", "suppress_tokens", "begin_suppress_tokens", "min_length"]) {
      assert.ok(!(k in g), k);
    }
  });

  test("tokenizer_config.json: the generic tokenizer class and the special tokens' strings", () => {
    const t = JSON.parse(hfSeq2SeqConfigs(model, tok)["tokenizer_config.json"]);
    assert.deepEqual(t, {
      tokenizer_class: "PreTrainedTokenizer", bos_token: "<s>", eos_token: "</s>", pad_token: "<pad>", unk_token: "<unk>",
      model_max_length: 48, clean_up_tokenization_spaces: false,
    });
  });

  test("a tokenizer without <unk> bans only <pad> and <s>; one without <s> or of another model is refused", () => {
    const noUnk = BpeTokenizer.train(corpus, { vocabSize: 280, specialTokens: ["<pad>", "<s>", "</s>"] });
    const files = hfSeq2SeqConfigs(modelFor(noUnk), noUnk);
    assert.deepEqual(JSON.parse(files["generation_config.json"]).bad_words_ids, [[0], [1]]);
    assert.ok(!("unk_token" in JSON.parse(files["tokenizer_config.json"])));
    const noBos = BpeTokenizer.train(corpus, { vocabSize: 280, specialTokens: ["<pad>", "</s>", "<unk>"] });
    assert.throws(() => hfSeq2SeqConfigs(modelFor(noBos), noBos), (e: unknown) => e instanceof ValueError && /bosId/.test(e.message));
    const other = BpeTokenizer.train(corpus, { vocabSize: 280, minFrequency: 1, specialTokens: specials });
    assert.throws(() => hfSeq2SeqConfigs(model, other), (e: unknown) => e instanceof ValueError && /vocabSize/.test(e.message));
  });

  test("qkv export writes them beside the graphs, equal to hfSeq2SeqConfigs of the saved model", async () => {
    const tok2 = BpeTokenizer.train(corpus, { vocabSize: 280 });
    const m = join(dir, "model"), out = join(dir, "onnx");
    const small = new Seq2SeqTransformer({ vocabSize: tok2.vocabSize, dModel: 16, nhead: 2, encoderLayers: 1, decoderLayers: 2, dimFeedforward: 32, dropout: 0, maxLen: 32, padId: tok2.padId },
      { generator: new Generator(5) });
    await saveTextModelDir(m, { kind: "seq2seq", task: "translate", model: small, tokenizer: tok2 });
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "export", "--format", "onnx", "--model", m, "--out", out], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), ["config.json", "decoder_model.onnx", "decoder_model_merged.onnx", "decoder_with_past_model.onnx",
      "encoder_model.onnx", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]);
    const want = hfSeq2SeqConfigs(small, tok2);
    for (const name of HF_CONFIG_FILES) assert.equal(readFileSync(join(out, name), "utf8"), want[name], name);
    const c = JSON.parse(want["config.json"]);
    assert.deepEqual([c.encoder_layers, c.decoder_layers, c.decoder_attention_heads, c.d_model], [1, 2, 2, 16]);
    assert.equal(readFileSync(join(out, "tokenizer.json"), "utf8"), readFileSync(join(m, "tokenizer.json"), "utf8"));
  });
});
