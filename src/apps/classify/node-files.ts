/**
 * Classifier model files on disk (Node): `<dir>/model.safetensors` read bounded and written
 * atomically (io/files.ts), errors naming the file; the shipped models' directories.
 *
 * ```ts
 * const bundle = await loadClassifierDir("models/classify-mnist");
 * await saveClassifierDir("runs/classify-mnist", bundle);
 * ```
 */
import { join } from "node:path";
import { readBounded, writeAtomic } from "../../io/files.js";
import { packageRoot } from "../text/paths.js";
import type { DatasetName } from "./datasets.js";
import { decodeClassifier, encodeClassifier, type ClassifierBundle } from "./model-file.js";

/** Largest classifier file read (bytes). */
export const MAX_CLASSIFIER_BYTES = 256 * 2 ** 20;

/** Where the shipped model of a dataset lives (models/classify-<dataset>). */
export function shippedModelDir(dataset: DatasetName): string {
  return packageRoot(`models/classify-${dataset}`);
}

/** The model file of a model directory, or the path itself when it names a .safetensors file. */
export function modelFileOf(path: string): string {
  return path.endsWith(".safetensors") ? path : join(path, "model.safetensors");
}

/** The classifier in `path` (a directory with model.safetensors, or the file). */
export async function loadClassifierDir(path: string): Promise<ClassifierBundle> {
  const file = modelFileOf(path);
  const bytes = await readBounded(file, MAX_CLASSIFIER_BYTES, "loadClassifier");
  return decodeClassifier(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

/** Writes `<dir>/model.safetensors` (F16 unless float32) atomically. */
export async function saveClassifierDir(dir: string, bundle: ClassifierBundle, opts: { float32?: boolean } = {}): Promise<void> {
  const file = modelFileOf(dir);
  await writeAtomic(file, encodeClassifier(bundle, opts)); // creates the directory
}
