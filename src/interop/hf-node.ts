/**
 * Hugging Face directories (what `save_pretrained` writes: config.json beside model.safetensors)
 * loaded into qkv's BertModel or VisionTransformer (Node).
 *
 * ```ts
 * const bert = await loadHfBertDir("/tmp/bert-tiny");   // eval mode
 * const vit = await loadHfViTDir("/tmp/vit-tiny");      // eval mode
 * ```
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { loadSafetensors } from "../io/safetensors-node.js";
import type { VisionTransformer } from "../nn/vit.js";
import { FormatError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { loadHfBert, type BertModel } from "./hf.js";
import { loadHfViT } from "./hf-vit.js";

/** Largest config.json read (bytes). */
const MAX_CONFIG_BYTES = 1 << 20;

/** config.json (text, bounded) and the tensors of model.safetensors in `dir`. */
async function readHfDir(dir: string, op: string): Promise<{ config: string; tensors: Map<string, Tensor> }> {
  const path = join(dir, "config.json");
  const size = await stat(path).then((s) => (s.isFile() ? s.size : -1), () => -1);
  if (size < 0) throw new FormatError(op, path, "a config.json file", "no such file");
  if (size > MAX_CONFIG_BYTES) throw new FormatError(op, path, `at most ${MAX_CONFIG_BYTES} bytes`, `${size} bytes`);
  const config = await readFile(path, "utf8");
  const { tensors } = await loadSafetensors(join(dir, "model.safetensors"));
  return { config, tensors };
}

/** config.json and model.safetensors of `dir` as a BertModel (see loadHfBert for the checks). */
export async function loadHfBertDir(dir: string, opts: { strict?: boolean; pooler?: boolean } = {}): Promise<BertModel> {
  const { config, tensors } = await readHfDir(dir, "loadHfBertDir");
  return loadHfBert(config, tensors, opts);
}

/** config.json and model.safetensors of `dir` (ViTModel or ViTForImageClassification) as a VisionTransformer (see loadHfViT). */
export async function loadHfViTDir(dir: string, opts: { strict?: boolean } = {}): Promise<VisionTransformer> {
  const { config, tensors } = await readHfDir(dir, "loadHfViTDir");
  return loadHfViT(config, tensors, opts);
}
