/**
 * Node-only entry: everything in index.ts plus the native backend, the wasm backend's worker
 * threads (worker_threads), file I/O, checkpoints and terminal progress. Importing it registers the backends that load and makes the fastest the
 * default (native when its addon built, else wasm, else js), with one notice when native is unavailable.
 *
 * ```ts
 * import { getBackend } from "qkv";   // in Node, "qkv" resolves to this entry
 * getBackend().name;                  // "native"
 * ```
 */
import { registerBackend } from "./backend/registry.js";
import { loadNativeBackend } from "./backend/native/index.js";
import { loadWasmBackendSync } from "./backend/wasm/load.js";
import { nodeWasmPlatform } from "./backend/wasm/node-platform.js";
import { setWasmPlatform } from "./backend/wasm/platform.js";

export * from "./index.js";
export * from "./io/safetensors-node.js";
export { exportOnnx } from "./onnx/node.js";
export { onnxGraphs, exportProblems, type OnnxExportOptions, type OnnxGraphFile, type MhaExample, type EncoderExample, type DecoderExample, type ViTExample, type ExportableModel } from "./onnx/export.js";
export { hfSeq2SeqConfigs, HF_CONFIG_FILES, HF_MODEL_TYPE, type HfConfigFiles, type HfTokenizerInfo } from "./onnx/hf-config.js";
export { loadTokenizer, saveTokenizer, MAX_TOKENIZER_FILE_BYTES } from "./text/node.js";
export { loadHfBertDir, loadHfViTDir } from "./interop/hf-node.js";
export { setNumThreads, getNumThreads, nativeLoadError } from "./backend/native/index.js";

// the wasm backend's threads are worker_threads here
setWasmPlatform(nodeWasmPlatform);

let loaded = false;

/** Registers the backends that load here and makes the fastest the default. Idempotent. */
export function loadBackends(opts: { quiet?: boolean } = {}): void {
  if (loaded) return;
  loaded = true;
  // fastest first: native (when the addon built), then wasm (SIMD), then the js reference
  const wasm = loadWasmBackendSync();
  if (wasm) registerBackend(wasm, true);
  const native = loadNativeBackend(opts);
  if (native) registerBackend(native, true);
}

export { saveCheckpoint, loadCheckpoint, latestCheckpoint, checkpointWriter, checkpointFileName, type CheckpointParts } from "./train/node/checkpoint.js";
export { progressReporter, progressLine, progressRates, formatDuration, type ProgressOptions, type ProgressReporter } from "./train/node/progress.js";

// the text applications (translation, summarization): loading, running, evaluating, training
export { loadTranslator, loadSummarizer, Translator, Summarizer } from "./apps/text/api.js";
export { loadTextModelDir, saveTextModelDir, readTsvFile } from "./apps/text/node-files.js";
export { evaluateFile, type EvaluateOptions, type EvaluateResult } from "./apps/text/evaluate.js";
export { trainSeq2Seq, type Seq2SeqTrainOptions } from "./apps/text/train-seq2seq.js";
export { trainSpan, type SpanTrainOptions } from "./apps/text/train-span.js";

// image classification: datasets, model files, training, PNG input
export { loadImageSet, defaultDataDir } from "./apps/classify/idx-files.js";
export { loadClassifierDir, saveClassifierDir } from "./apps/classify/node-files.js";
export { trainClassifier, type ClassifyTrainOptions } from "./apps/classify/train.js";
export { readPngImage, decodePngImage, type GrayImage } from "./apps/classify/png.js";

loadBackends();
