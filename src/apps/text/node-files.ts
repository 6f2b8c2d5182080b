/**
 * Text-model and dataset files on disk (Node), through the bounded reads and atomic writes of
 * io/files.ts (re-exported here), with errors that name the file.
 *
 * ```ts
 * const bundle = await loadTextModelDir("models/translate-en-es");
 * await saveTextModelDir("runs/mt", bundle);
 * const rows = await readTsvFile("data/translation-en-es/test.tsv", ["en", "es"]);
 * ```
 */
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parseTsv, type TsvTable } from "../../data/tsv.js";
import { readBounded, writeAtomicAll } from "../../io/files.js";
import { FormatError } from "../../tensor/errors.js";
import { MAX_TOKENIZER_JSON_CHARS } from "../../text/tokenizer-json.js";
import { decodeTextModel, encodeTextModel, type TextModelBundle } from "./model-file.js";

/** Largest model file read (bytes). */
export const MAX_MODEL_BYTES = 512 * 2 ** 20;
/** Largest dataset file read (bytes). */
export const MAX_TSV_BYTES = 512 * 2 ** 20;

export { readBounded, writeAtomic } from "../../io/files.js";

/** A TSV file with the named columns (FormatError naming the file when it is missing one). */
export async function readTsvFile(path: string, columns: readonly string[], opts: { skipEmpty?: boolean } = {}): Promise<TsvTable> {
  const buf = await readBounded(path, MAX_TSV_BYTES, "readTsvFile");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new FormatError("readTsvFile", path, "UTF-8 text", "invalid UTF-8");
  }
  return parseTsv(text, { columns, source: path, ...(opts.skipEmpty ? { skipEmpty: true } : {}) });
}

/**
 * The model in `dir` (model.safetensors + tokenizer.json), or a model file whose tokenizer.json
 * sits beside it. A directory whose writer was killed between its two renames (a new model beside
 * the old tokenizer) loads the new model with the new tokenizer's pending temporary file.
 */
export async function loadTextModelDir(path: string): Promise<TextModelBundle> {
  let dir = path, file = join(path, "model.safetensors");
  if (path.endsWith(".safetensors")) {
    dir = dirname(path);
    file = path;
  }
  const bytes = await readBounded(file, MAX_MODEL_BYTES, "loadTextModel");
  const tokPath = join(dir, "tokenizer.json");
  const tokBytes = await readBounded(tokPath, 4 * MAX_TOKENIZER_JSON_CHARS, "loadTextModel");
  const modelBytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return decodeTextModel(modelBytes, tokBytes.toString("utf8"), file, { tokenizerSource: tokPath });
  } catch (e) {
    // saveTextModelDir renames the model first, then the tokenizer, whose complete, fsynced
    // temporary file is still beside it if the writer died in between: use it (roll forward)
    if (!(e instanceof FormatError && e.arg === `${file}: tokenizer` && e.expected.startsWith("the model's tokenizer"))) throw e;
    const pending = (await readdir(dir)).filter((n) => /^\.tokenizer\.json\..+\.tmp$/.test(n));
    for (const name of pending) {
      const text = (await readBounded(join(dir, name), 4 * MAX_TOKENIZER_JSON_CHARS, "loadTextModel")).toString("utf8");
      try {
        return decodeTextModel(modelBytes, text, file, { tokenizerSource: join(dir, name) });
      } catch {
        // a temporary file of another write (or a partial one): not this model's tokenizer
      }
    }
    throw e;
  }
}

/** Writes model.safetensors (F16 unless float32) and tokenizer.json into `dir`, each atomically, renamed together. */
export async function saveTextModelDir(dir: string, bundle: TextModelBundle, opts: { float32?: boolean } = {}): Promise<void> {
  const { bytes, tokenizerJson } = encodeTextModel(bundle, opts);
  // the model is renamed first: see loadTextModelDir for a crash between the two renames
  await writeAtomicAll([[join(dir, "model.safetensors"), bytes], [join(dir, "tokenizer.json"), tokenizerJson]]);
}
