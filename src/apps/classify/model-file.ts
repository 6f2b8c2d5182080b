/**
 * The file of an image classifier (browser-safe: bytes in, a model out): `model.safetensors`, the
 * VisionTransformer's weights (F16 or F32) with, in the metadata, "qkv.format" =
 * "image-classifier", "qkv.version" = "1", "qkv.kind" ("vit" | "hybrid", the latter with a CNN
 * stem), "qkv.dataset" ("mnist" | "fashion-mnist"), "qkv.classes" (JSON list of class names, in
 * label order), "qkv.normalize" (JSON { mean, std } of the input pixels in [0, 1]), "qkv.config"
 * (JSON, the model's config) and "qkv.info" (JSON: training steps, scores; informational).
 *
 * ```ts
 * const bytes = encodeClassifier({ kind: "vit", dataset: "mnist", classes, normalize: { mean: 0.1307, std: 0.3081 }, model });
 * const back = decodeClassifier(bytes, "models/classify-mnist/model.safetensors");
 * ```
 */
import { openModelFile } from "../../io/model-file.js";
import { encodeSafetensors } from "../../io/safetensors.js";
import { VisionTransformer, resolveViTConfig, vitStateSize, vitTokens, type ResolvedViTConfig } from "../../nn/vit.js";
import { QkvError, StateDictError } from "../../tensor/errors.js";
import type { Tensor } from "../../tensor/tensor.js";
import type { Normalization } from "./batches.js";
import { DATASET_NAMES, type DatasetName } from "./datasets.js";

export type ClassifierKind = "vit" | "hybrid";

export interface ClassifierBundle {
  kind: ClassifierKind;
  dataset: DatasetName;
  /** Class names in label order (numClasses of them). */
  classes: string[];
  normalize: Normalization;
  model: VisionTransformer;
  /** Free-form facts about the model (training steps, scores). */
  info?: Record<string, unknown>;
}

const FORMAT = "image-classifier";
const VERSION = "1";
/** Largest number of tokens (patches) a model file may ask for. */
export const MAX_CLASSIFIER_TOKENS = 65536;

/** The kind a config builds: "hybrid" with a CNN stem, else "vit". */
export const kindOf = (c: ResolvedViTConfig): ClassifierKind => (c.stem ? "hybrid" : "vit");

/** The weights (F16 unless float32 is asked for) and the metadata. */
export function encodeClassifier(b: ClassifierBundle, opts: { float32?: boolean } = {}): Uint8Array {
  const metadata: Record<string, string> = {
    "qkv.format": FORMAT,
    "qkv.version": VERSION,
    "qkv.kind": b.kind,
    "qkv.dataset": b.dataset,
    "qkv.classes": JSON.stringify(b.classes),
    "qkv.normalize": JSON.stringify({ mean: b.normalize.mean, std: b.normalize.std }),
    "qkv.config": JSON.stringify(b.model.config),
    "qkv.info": JSON.stringify(b.info ?? {}),
  };
  const tensors: Record<string, Tensor> = {};
  // num_batches_tracked (int32) is kept exactly; float tensors are stored as F16 or F32
  for (const [name, t] of Object.entries(b.model.stateDict())) tensors[name] = t;
  return encodeSafetensors(tensors, metadata, { float32As: opts.float32 ? "F32" : "F16" });
}

/**
 * A classifier from its file. Anything wrong — not a classifier, an unknown kind or dataset,
 * class names that do not match the config, a config that does not validate, weights that do not
 * fit it — is a FormatError naming `source` and the field.
 */
export function decodeClassifier(bytes: Uint8Array, source: string): ClassifierBundle {
  const op = "loadClassifier";
  const { tensors, metadata, fail, shown, json } = openModelFile(bytes, { op, source, format: FORMAT, what: "a qkv image classifier", version: VERSION });
  const kind = metadata["qkv.kind"], dataset = metadata["qkv.dataset"];
  if (kind !== "vit" && kind !== "hybrid") return fail(`metadata["qkv.kind"]`, '"vit" or "hybrid"', shown("qkv.kind"));
  if (!DATASET_NAMES.includes(dataset as DatasetName)) return fail(`metadata["qkv.dataset"]`, DATASET_NAMES.map((d) => `"${d}"`).join(" or "), shown("qkv.dataset"));
  let config: ResolvedViTConfig;
  try {
    config = resolveViTConfig(json("qkv.config"), op);
  } catch (e) {
    if (e instanceof QkvError) return fail(`metadata["qkv.config"]`, "a valid VisionTransformer config", e.message);
    throw e;
  }
  if (kindOf(config) !== kind) fail(`metadata["qkv.kind"]`, `"${kindOf(config)}" (the config ${config.stem ? "has" : "has no"} CNN stem)`, shown("qkv.kind"));
  const classes = json("qkv.classes");
  if (!Array.isArray(classes) || classes.length !== config.numClasses || !classes.every((c) => typeof c === "string")) {
    fail(`metadata["qkv.classes"]`, `${config.numClasses} class names (the config's numClasses)`, Array.isArray(classes) ? `${classes.length} entries` : typeof classes);
  }
  const norm = json("qkv.normalize") as { mean?: unknown; std?: unknown } | null;
  if (typeof norm !== "object" || norm === null || typeof norm.mean !== "number" || !Number.isFinite(norm.mean) || typeof norm.std !== "number" || !(norm.std > 0) || !Number.isFinite(norm.std)) {
    fail(`metadata["qkv.normalize"]`, "{ mean, std } with a finite mean and a positive std", JSON.stringify(norm) ?? "none");
  }
  const info = json("qkv.info", "{}");
  // bound what the config makes us allocate by what the file holds, before building the model
  const fileElements = [...tensors.values()].reduce((n, t) => n + t.data.length, 0);
  if (vitTokens(config).tokens > MAX_CLASSIFIER_TOKENS) fail(`metadata["qkv.config"]`, `at most ${MAX_CLASSIFIER_TOKENS} tokens`, `${vitTokens(config).tokens}`);
  const need = vitStateSize(config);
  if (need !== fileElements) fail(`metadata["qkv.config"]`, `a model of the ${fileElements} weights in the file`, `a config of ${need} weights`);
  const model = new VisionTransformer(config);
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    if (e instanceof StateDictError) fail("weights", "the tensors of the model's config", e.actual);
    throw e;
  }
  model.eval();
  const n = norm as { mean: number; std: number };
  return {
    kind, dataset: dataset as DatasetName, classes: classes as string[], normalize: { mean: n.mean, std: n.std }, model,
    info: (typeof info === "object" && info !== null && !Array.isArray(info) ? info : {}) as Record<string, unknown>,
  };
}
