/**
 * The file pair of a shipped text model: `model.safetensors` (the weights, F16 or F32, with the
 * model's kind, config and the fingerprint of its tokenizer in the metadata) and `tokenizer.json`
 * (Hugging Face format). Browser-safe: bytes and text in, a model out; the Node side reads and
 * writes the files (node-files.ts).
 *
 * Metadata keys: "qkv.format" = "text-model", "qkv.version" = "1", "qkv.kind" ("seq2seq" |
 * "span"), "qkv.task", "qkv.config" (JSON), "qkv.tokenizer" (FNV-1a 32 of tokenizer.json's
 * vocabulary and merges, hex), "qkv.info" (JSON: training steps, data, scores; informational).
 *
 * ```ts
 * const { bytes, tokenizerJson } = encodeTextModel({ kind: "seq2seq", task: "translate", model, tokenizer });
 * const back = decodeTextModel(bytes, tokenizerJson, "models/translate-en-es");
 * ```
 */
import { decodeSafetensors, encodeSafetensors } from "../../io/safetensors.js";
import { Seq2SeqTransformer, resolveSeq2SeqConfig } from "../../nn/seq2seq.js";
import { FormatError, QkvError, StateDictError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { BpeTokenizer } from "../../text/bpe.js";
import { SpanExtractor, resolveSpanConfig } from "../../nn/span-extractor.js";

export type TextModelKind = "seq2seq" | "span";
export type TextTaskName = "translate" | "summarize";

export interface TextModelBundle {
  kind: TextModelKind;
  task: TextTaskName;
  model: Seq2SeqTransformer | SpanExtractor;
  tokenizer: BpeTokenizer;
  /** Free-form facts about the model (training steps, data, scores). */
  info?: Record<string, unknown>;
}

const FORMAT = "text-model";
const VERSION = "1";

/** FNV-1a 32-bit over the tokenizer's tokens and merges: ties a model to its tokenizer. */
export function tokenizerFingerprint(tok: BpeTokenizer): string {
  let h = 0x811c9dc5;
  const feed = (s: string): void => {
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  for (let i = 0; i < tok.vocabSize; i++) feed(tok.idToToken(i));
  for (const [a, b] of tok.merges) feed(`${a} ${b}`);
  return h.toString(16).padStart(8, "0");
}

/** Weights (F16 unless float32 is asked for) and the tokenizer's JSON. */
export function encodeTextModel(b: TextModelBundle, opts: { float32?: boolean } = {}): { bytes: Uint8Array; tokenizerJson: string } {
  const metadata: Record<string, string> = {
    "qkv.format": FORMAT,
    "qkv.version": VERSION,
    "qkv.kind": b.kind,
    "qkv.task": b.task,
    "qkv.config": JSON.stringify(b.model.config),
    "qkv.tokenizer": tokenizerFingerprint(b.tokenizer),
    "qkv.info": JSON.stringify(b.info ?? {}),
  };
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(b.model.stateDict())) if (name !== "pe") tensors[name] = t;
  return { bytes: encodeSafetensors(tensors, metadata, { float32As: opts.float32 ? "F32" : "F16" }), tokenizerJson: b.tokenizer.toJSON() };
}

/**
 * A model from its two files. Anything wrong — not a text model, an unknown kind, a config that
 * does not validate, weights that do not fit the config, a tokenizer that is not the model's — is
 * a FormatError naming `source` and what is wrong.
 */
export function decodeTextModel(bytes: Uint8Array, tokenizerJson: string, source: string, opts: { tokenizerSource?: string } = {}): TextModelBundle {
  const op = "loadTextModel";
  const { tensors, metadata } = decodeSafetensors(bytes);
  const fail = (field: string, expected: string, actual: string): never => {
    throw new FormatError(op, `${source}: ${field}`, expected, actual);
  };
  if (metadata["qkv.format"] !== FORMAT) fail(`metadata["qkv.format"]`, `"${FORMAT}" (a qkv text model)`, JSON.stringify(metadata["qkv.format"]) ?? "none");
  if (metadata["qkv.version"] !== VERSION) fail(`metadata["qkv.version"]`, `"${VERSION}"`, JSON.stringify(metadata["qkv.version"]) ?? "none");
  const kindRaw = metadata["qkv.kind"], taskRaw = metadata["qkv.task"];
  if (kindRaw !== "seq2seq" && kindRaw !== "span") return fail(`metadata["qkv.kind"]`, '"seq2seq" or "span"', JSON.stringify(kindRaw) ?? "none");
  if (taskRaw !== "translate" && taskRaw !== "summarize") return fail(`metadata["qkv.task"]`, '"translate" or "summarize"', JSON.stringify(taskRaw) ?? "none");
  const kind: TextModelKind = kindRaw, task: TextTaskName = taskRaw;
  let config: unknown, info: unknown;
  try {
    config = JSON.parse(metadata["qkv.config"] ?? "null");
    info = JSON.parse(metadata["qkv.info"] ?? "{}");
  } catch {
    fail(`metadata["qkv.config"]`, "JSON", "unparsable text");
  }
  const tokenizer = BpeTokenizer.fromJSON(tokenizerJson, opts.tokenizerSource ?? `${source}/tokenizer.json`);
  let model: Seq2SeqTransformer | SpanExtractor;
  try {
    model = kind === "seq2seq" ? new Seq2SeqTransformer(resolveSeq2SeqConfig(config, op)) : new SpanExtractor(resolveSpanConfig(config, op));
  } catch (e) {
    if (e instanceof QkvError) fail(`metadata["qkv.config"]`, "a valid model config", e.message);
    throw e;
  }
  const fp = tokenizerFingerprint(tokenizer);
  if (metadata["qkv.tokenizer"] !== fp) {
    fail("tokenizer", `the model's tokenizer (fingerprint ${metadata["qkv.tokenizer"] ?? "none"})`, `a different tokenizer (fingerprint ${fp}, ${tokenizer.vocabSize} tokens)`);
  }
  if (tokenizer.vocabSize !== model.config.vocabSize) fail("tokenizer", `${model.config.vocabSize} tokens (the model's vocabSize)`, `${tokenizer.vocabSize}`);
  const state: Record<string, Tensor> = {};
  for (const [name, t] of tensors) state[name] = t;
  state["pe"] = model.stateDict()["pe"]!;
  try {
    model.loadStateDict(state);
  } catch (e) {
    if (e instanceof StateDictError) fail("weights", "the tensors of the model's config", e.actual);
    throw e;
  }
  model.eval();
  return { kind, task, model, tokenizer, info: (typeof info === "object" && info !== null ? info : {}) as Record<string, unknown> };
}
