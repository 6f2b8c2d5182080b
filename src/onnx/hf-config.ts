/**
 * The Hugging Face configuration files that make an exported Seq2SeqTransformer directory
 * (encoder_model.onnx, decoder_model_merged.onnx, … and tokenizer.json) loadable by transformers.js
 * and other readers of Optimum's layout: `config.json`, `generation_config.json` and
 * `tokenizer_config.json`, as JSON text. Browser-safe: the CLI writes them (src/apps/export/cli.ts).
 *
 * The model type is "marian" (MarianMTModel): a plain encoder–decoder whose ONNX files have exactly
 * our inputs and outputs (encoder: input_ids, attention_mask; merged decoder: encoder_attention_mask,
 * input_ids, encoder_hidden_states, past_key_values.N.{decoder,encoder}.{key,value},
 * use_cache_branch), and whose config fields (d_model, encoder_/decoder_layers,
 * encoder_/decoder_attention_heads) give the runtime the cache shapes [batch, H, 0, d_model / H].
 * The tokenizer class is the generic "PreTrainedTokenizer" (MarianTokenizer trims the text and
 * looks for >>lang<< codes; ours is a plain byte-level BPE whose tokenizer.json adds no specials).
 *
 * Generation follows qkv's search (src/seq2seq/search.ts, src/apps/text/generator.ts): decoding
 * starts from <s>, stops at </s>, never emits <pad>, <s> or <unk> (`bad_words_ids`), greedy, at
 * most maxLen tokens (`max_length` counts the start token, hence maxLen + 1). qkv also caps each
 * output at 2 n + 10 tokens for an n-token source: a caller that wants the same outputs passes
 * that as `max_new_tokens`.
 *
 * ```ts
 * const files = hfSeq2SeqConfigs(model, tokenizer);   // { "config.json": "{…}", … }
 * ```
 */
import type { Seq2SeqTransformer } from "../nn/seq2seq.js";
import { ValueError } from "../tensor/errors.js";

/** What the configs need of a tokenizer (BpeTokenizer has it): the special ids (-1 = none) and token strings. */
export interface HfTokenizerInfo {
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number;
  readonly vocabSize: number;
  idToToken(id: number): string;
}

/** The Hugging Face model type written to config.json. */
export const HF_MODEL_TYPE = "marian";

/** The three files' names, in the order they are returned. */
export const HF_CONFIG_FILES = ["config.json", "generation_config.json", "tokenizer_config.json"] as const;

export type HfConfigFiles = Record<(typeof HF_CONFIG_FILES)[number], string>;

/** config.json, generation_config.json and tokenizer_config.json (JSON text, 2-space indent) for `model` and its tokenizer. */
export function hfSeq2SeqConfigs(model: Seq2SeqTransformer, tok: HfTokenizerInfo): HfConfigFiles {
  const op = "hfSeq2SeqConfigs";
  const c = model.config;
  const maxLen = c.maxLen;
  for (const [name, id] of [["bosId (<s>)", tok.bosId], ["eosId (</s>)", tok.eosId], ["padId (<pad>)", tok.padId]] as const) {
    if (!(Number.isInteger(id) && id >= 0 && id < c.vocabSize)) throw new ValueError(op, `tokenizer.${name}`, `a token id in [0, ${c.vocabSize})`, String(id));
  }
  if (tok.padId !== c.padId) throw new ValueError(op, "tokenizer.padId", `the model's padId (${c.padId})`, String(tok.padId));
  if (tok.vocabSize !== c.vocabSize) throw new ValueError(op, "tokenizer.vocabSize", `the model's vocabSize (${c.vocabSize})`, String(tok.vocabSize));
  const hasUnk = tok.unkId >= 0;
  const ids = { pad_token_id: tok.padId, bos_token_id: tok.bosId, eos_token_id: tok.eosId, decoder_start_token_id: tok.bosId };
  const config = {
    model_type: HF_MODEL_TYPE,
    architectures: ["MarianMTModel"],
    is_encoder_decoder: true,
    vocab_size: c.vocabSize,
    d_model: c.dModel,
    encoder_layers: c.encoderLayers,
    decoder_layers: c.decoderLayers,
    encoder_attention_heads: c.nhead,
    decoder_attention_heads: c.nhead,
    encoder_ffn_dim: c.dimFeedforward,
    decoder_ffn_dim: c.dimFeedforward,
    activation_function: c.activation,
    max_position_embeddings: maxLen,
    scale_embedding: true,
    tie_word_embeddings: true,
    share_encoder_decoder_embeddings: true,
    dropout: c.dropout,
    ...ids,
    forced_eos_token_id: null,
    use_cache: true,
  };
  const generation = {
    ...ids,
    max_length: maxLen + 1,
    do_sample: false,
    num_beams: 1,
    bad_words_ids: [[tok.padId], [tok.bosId], ...(hasUnk ? [[tok.unkId]] : [])],
  };
  const tokenizer = {
    tokenizer_class: "PreTrainedTokenizer",
    bos_token: tok.idToToken(tok.bosId),
    eos_token: tok.idToToken(tok.eosId),
    pad_token: tok.idToToken(tok.padId),
    ...(hasUnk ? { unk_token: tok.idToToken(tok.unkId) } : {}),
    model_max_length: maxLen,
    clean_up_tokenization_spaces: false,
  };
  const text = (o: object): string => `${JSON.stringify(o, null, 2)}\n`;
  return { "config.json": text(config), "generation_config.json": text(generation), "tokenizer_config.json": text(tokenizer) };
}
