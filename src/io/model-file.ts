/**
 * What every qkv model file shares (browser-safe): a safetensors file whose metadata names its
 * format ("qkv.format") and version ("qkv.version") and carries JSON fields. `openModelFile`
 * decodes the bytes, checks the format and version, and reads the JSON fields depth-bounded; every
 * failure, the decoder's included, is a FormatError of `op` whose argument names `source` and the
 * field. The apps' files build on it (apps/text/model-file.ts, apps/classify/model-file.ts).
 *
 * ```ts
 * const f = openModelFile(bytes, { op: "loadTextModel", source: "models/translate-en-es", format: "text-model", what: "a qkv text model", version: "1" });
 * const config = f.json("qkv.config", "null"); // FormatError unless JSON nested at most 128 deep
 * if (f.metadata["qkv.kind"] !== "seq2seq") f.fail(`metadata["qkv.kind"]`, '"seq2seq"', f.shown("qkv.kind"));
 * ```
 */
import { FormatError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { jsonDepthExceeded, MAX_JSON_DEPTH } from "./json.js";
import { decodeSafetensors } from "./safetensors.js";

export interface ModelFileFormat {
  /** The function named by every error. */
  op: string;
  /** The file (or directory) named by every error. */
  source: string;
  /** The "qkv.format" value, what a file of that format is (for the message) and the "qkv.version" value. */
  format: string;
  what: string;
  version: string;
}

export interface ModelFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
  /** Throws the FormatError of `field` of the file. */
  fail(field: string, expected: string, actual: string): never;
  /** metadata[key] as a message shows it: JSON-quoted, or "none" when absent. */
  shown(key: string): string;
  /** metadata[key] (else `fallback`; absent with no fallback fails) parsed as JSON nested at most MAX_JSON_DEPTH deep. */
  json(key: string, fallback?: string): unknown;
}

/** Decodes a model file and checks its format and version (see the module comment). */
export function openModelFile(bytes: Uint8Array, f: ModelFileFormat): ModelFile {
  const fail = (field: string, expected: string, actual: string): never => {
    throw new FormatError(f.op, `${f.source}: ${field}`, expected, actual);
  };
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof FormatError) return fail(e.arg, e.expected, e.actual);
    throw e;
  }
  const { tensors, metadata } = decoded;
  const shown = (key: string): string => JSON.stringify(metadata[key]) ?? "none";
  if (metadata["qkv.format"] !== f.format) fail(`metadata["qkv.format"]`, `"${f.format}" (${f.what})`, shown("qkv.format"));
  if (metadata["qkv.version"] !== f.version) fail(`metadata["qkv.version"]`, `"${f.version}"`, shown("qkv.version"));
  const json = (key: string, fallback?: string): unknown => {
    const text = metadata[key] ?? fallback;
    if (text === undefined) return fail(`metadata["${key}"]`, "present", "absent");
    if (jsonDepthExceeded(text) >= 0) fail(`metadata["${key}"]`, `JSON nested at most ${MAX_JSON_DEPTH} deep`, "deeper nesting");
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return fail(`metadata["${key}"]`, "JSON", "unparsable text");
    }
  };
  return { tensors, metadata, fail, shown, json };
}
