/**
 * Hugging Face directories (what `save_pretrained` writes: config.json beside model.safetensors)
 * loaded into qkv's BertModel or VisionTransformer (Node). A missing, unreadable or unfitting file
 * is a FormatError naming it: config.json (at most 1 MiB) for a config qkv cannot build,
 * model.safetensors for tensors that do not match it.
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
import { FormatError, StateDictError } from "../tensor/errors.js";
import type { Tensor } from "../tensor/tensor.js";
import { HfConfigError, loadHfBert, type BertModel } from "./hf.js";
import { loadHfViT } from "./hf-vit.js";

/** Largest config.json read (bytes). */
const MAX_CONFIG_BYTES = 1 << 20;

/** config.json (text, bounded) and the tensors of model.safetensors in `dir`. */
async function readHfDir(dir: string, op: string): Promise<{ config: string; tensors: Map<string, Tensor>; configPath: string; modelPath: string }> {
  const path = join(dir, "config.json"), modelPath = join(dir, "model.safetensors");
  const size = await stat(path).then((s) => (s.isFile() ? s.size : -1), () => -1);
  if (size < 0) throw new FormatError(op, path, "a config.json file", "no such file");
  if (size > MAX_CONFIG_BYTES) throw new FormatError(op, path, `at most ${MAX_CONFIG_BYTES} bytes`, `${size} bytes`);
  const config = await readFile(path, "utf8");
  const { tensors } = await loadSafetensors(modelPath);
  return { config, tensors, configPath: path, modelPath };
}

/**
 * Builds a model from the files of `dir`; a config or checkpoint that does not fit is a FormatError
 * naming the file (config.json for HfConfigError, model.safetensors for StateDictError).
 */
async function loadHfDir<M>(dir: string, op: string, build: (config: string, tensors: Map<string, Tensor>) => M): Promise<M> {
  const { config, tensors, configPath, modelPath } = await readHfDir(dir, op);
  try {
    return build(config, tensors);
  } catch (e) {
    if (e instanceof HfConfigError) throw new FormatError(op, configPath, e.expected, e.actual, `${op}: ${configPath}: ${e.actual}`);
    if (e instanceof StateDictError) throw new FormatError(op, modelPath, "the tensors of the model config.json describes", e.actual, `${op}: ${modelPath}: ${e.actual}`);
    throw e;
  }
}

/** config.json and model.safetensors of `dir` as a BertModel (see loadHfBert for the checks). */
export async function loadHfBertDir(dir: string, opts: { strict?: boolean; pooler?: boolean } = {}): Promise<BertModel> {
  return loadHfDir(dir, "loadHfBertDir", (config, tensors) => loadHfBert(config, tensors, opts));
}

/** config.json and model.safetensors of `dir` (ViTModel or ViTForImageClassification) as a VisionTransformer (see loadHfViT). */
export async function loadHfViTDir(dir: string, opts: { strict?: boolean } = {}): Promise<VisionTransformer> {
  return loadHfDir(dir, "loadHfViTDir", (config, tensors) => loadHfViT(config, tensors, opts));
}
