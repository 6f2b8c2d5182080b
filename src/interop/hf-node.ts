/**
 * A Hugging Face BERT directory (what `save_pretrained` writes: config.json beside
 * model.safetensors) loaded into qkv's BertModel (Node).
 *
 * ```ts
 * const bert = await loadHfBertDir("/tmp/bert-tiny");   // eval mode
 * ```
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { loadSafetensors } from "../io/safetensors-node.js";
import { FormatError } from "../tensor/errors.js";
import { loadHfBert, type BertModel } from "./hf.js";

/** Largest config.json read (bytes). */
const MAX_CONFIG_BYTES = 1 << 20;

/** config.json and model.safetensors of `dir` as a BertModel (see loadHfBert for the checks). */
export async function loadHfBertDir(dir: string, opts: { strict?: boolean; pooler?: boolean } = {}): Promise<BertModel> {
  const op = "loadHfBertDir", path = join(dir, "config.json");
  const size = await stat(path).then((s) => (s.isFile() ? s.size : -1), () => -1);
  if (size < 0) throw new FormatError(op, path, "a config.json file", "no such file");
  if (size > MAX_CONFIG_BYTES) throw new FormatError(op, path, `at most ${MAX_CONFIG_BYTES} bytes`, `${size} bytes`);
  const config = await readFile(path, "utf8");
  const { tensors } = await loadSafetensors(join(dir, "model.safetensors"));
  return loadHfBert(config, tensors, opts);
}
