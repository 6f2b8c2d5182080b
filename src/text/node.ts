/**
 * Tokenizer files on disk (Node). Loading checks the file size before reading anything; saving is
 * atomic: the text goes to a temporary file in the same directory, which is fsynced and renamed
 * over the target, so a file already there is either the old one or the new one.
 *
 * ```ts
 * await saveTokenizer("out/tokenizer.json", BpeTokenizer.train(texts, { vocabSize: 8000 }));
 * const tok = await loadTokenizer("out/tokenizer.json"); // Tokenizer.from_file reads it too
 * ```
 */
import { openRegularFile, writeAtomicWith } from "../io/files.js";
import { FormatError, ValueError } from "../tensor/errors.js";
import { BpeTokenizer } from "./bpe.js";
import { MAX_TOKENIZER_JSON_CHARS } from "./tokenizer-json.js";

/** Largest tokenizer file read, in bytes (its text is at most as many characters). */
export const MAX_TOKENIZER_FILE_BYTES = MAX_TOKENIZER_JSON_CHARS;

/** Reads a Hugging Face `tokenizer.json` (byte-level BPE); FormatError names the path and the field. */
export async function loadTokenizer(path: string): Promise<BpeTokenizer> {
  const op = "loadTokenizer";
  if (typeof path !== "string" || path.length === 0) throw new ValueError(op, "path", "a file path", String(path));
  const { fh, size } = await openRegularFile(path, op);
  let text: string;
  try {
    if (size > MAX_TOKENIZER_FILE_BYTES) throw new FormatError(op, "file", `at most ${MAX_TOKENIZER_FILE_BYTES} bytes`, `${size} bytes (${path})`);
    const buf = Buffer.alloc(size);
    for (let off = 0; off < size;) {
      const { bytesRead } = await fh.read(buf, off, size - off, off);
      if (bytesRead === 0) throw new FormatError(op, "file", `${size} bytes`, `end of file at ${off} (${path} shrank while reading)`);
      off += bytesRead;
    }
    text = buf.toString("utf8");
  } finally {
    await fh.close();
  }
  return BpeTokenizer.fromJSON(text, path);
}

/** Writes `tok.toJSON()` to `path` atomically (temporary file, fsync, rename). */
export async function saveTokenizer(path: string, tok: BpeTokenizer): Promise<void> {
  const op = "saveTokenizer";
  if (typeof path !== "string" || path.length === 0) throw new ValueError(op, "path", "a file path", String(path));
  if (!(tok instanceof BpeTokenizer)) throw new ValueError(op, "tok", "a BpeTokenizer", String(tok));
  const text = tok.toJSON();
  await writeAtomicWith(path, (fh) => fh.writeFile(text, "utf8"));
}
