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
import { openModelFile } from "../../io/model-file.js";
import { encodeSafetensors } from "../../io/safetensors.js";
import { Seq2SeqTransformer, resolveSeq2SeqConfig, type Seq2SeqConfig } from "../../nn/seq2seq.js";
import { QkvError, StateDictError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import { BpeTokenizer } from "../../text/bpe.js";
import { SpanExtractor, resolveSpanConfig, type SpanConfig } from "../../nn/span-extractor.js";

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
/** Largest maxLen a model file may ask for (its positional table is built, not read). */
export const MAX_TEXT_MODEL_POSITIONS = 65536;
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
  const { tensors, metadata, fail, shown, json } = openModelFile(bytes, { op, source, format: FORMAT, what: "a qkv text model", version: VERSION });
  const kindRaw = metadata["qkv.kind"], taskRaw = metadata["qkv.task"];
  if (kindRaw !== "seq2seq" && kindRaw !== "span") return fail(`metadata["qkv.kind"]`, '"seq2seq" or "span"', shown("qkv.kind"));
  if (taskRaw !== "translate" && taskRaw !== "summarize") return fail(`metadata["qkv.task"]`, '"translate" or "summarize"', shown("qkv.task"));
  const kind: TextModelKind = kindRaw, task: TextTaskName = taskRaw;
  const config = json("qkv.config", "null"), info = json("qkv.info", "{}");
  const tokenizer = BpeTokenizer.fromJSON(tokenizerJson, opts.tokenizerSource ?? `${source}/tokenizer.json`);
  let resolved: Required<Seq2SeqConfig> | Required<SpanConfig>;
  try {
    resolved = kind === "seq2seq" ? resolveSeq2SeqConfig(config, op) : resolveSpanConfig(config, op);
  } catch (e) {
    if (e instanceof QkvError) fail(`metadata["qkv.config"]`, "a valid model config", e.message);
    throw e;
  }
  // Bound what the config makes us allocate by what the file holds, before building the model:
  // its parameters must all come from the file (loadStateDict checks them exactly afterwards).
  const { vocabSize: V, dModel: E, dimFeedforward: F, maxLen } = resolved;
  const fp = tokenizerFingerprint(tokenizer);
  if (metadata["qkv.tokenizer"] !== fp) {
    fail("tokenizer", `the model's tokenizer (fingerprint ${metadata["qkv.tokenizer"] ?? "none"})`, `a different tokenizer (fingerprint ${fp}, ${tokenizer.vocabSize} tokens)`);
  }
  if (tokenizer.vocabSize !== V) fail("tokenizer", `${V} tokens (the model's vocabSize)`, `${tokenizer.vocabSize}`);
  const fileElements = [...tensors.values()].reduce((n, t) => n + t.data.length, 0);
  const layer = 4 * E * E + 2 * E * F; // the least an encoder layer holds: attention projections and feed-forward
  const least = V * E + ("layers" in resolved ? resolved.layers * layer : resolved.encoderLayers * layer + resolved.decoderLayers * (layer + 4 * E * E));
  if (least > fileElements) fail(`metadata["qkv.config"]`, `a model of at most the ${fileElements} weights in the file`, `a config of at least ${least} weights`);
  if (maxLen > MAX_TEXT_MODEL_POSITIONS) fail(`metadata["qkv.config"]`, `maxLen at most ${MAX_TEXT_MODEL_POSITIONS}`, `${maxLen}`);
  const model = "layers" in resolved ? new SpanExtractor(resolved) : new Seq2SeqTransformer(resolved);
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
