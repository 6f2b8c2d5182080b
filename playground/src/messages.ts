/**
 * The messages between the page and its workers (train-worker.ts, model-worker.ts,
 * image-worker.ts). Every
 * worker first answers `ready` with the backend it got, so the page can say how it runs.
 */
import type { ImageClassification } from "./classify-core.js";
import type { CrossAttention, TrainConfig } from "./train-core.js";

/** What a worker's wasm backend came up with. */
export interface BackendReport {
  backend: string;
  threads: number;
  isolated: boolean;
}

export type TrainRequest =
  | { type: "start" }
  | { type: "pause" }
  | { type: "reset" }
  /** Show the cross-attention for this input (also every PROBE_EVERY steps while training). */
  | { type: "probe"; source: string }
  /** A new model on the GPU (WebGPU, where the worker gets a device) or on the CPU (wasm). */
  | { type: "device"; gpu: boolean };

export type TrainReply =
  | ({ type: "ready" } & BackendReport)
  | { type: "model"; config: TrainConfig; parameters: number }
  /** One step: its loss and how long the step itself took. */
  | { type: "step"; step: number; loss: number; ms: number }
  | { type: "paused"; step: number }
  | { type: "accuracy"; step: number; accuracy: number; pairs: number }
  | { type: "attention"; step: number; attention: CrossAttention }
  /** Where the new model trains after a `device` request: the backend, and why not the GPU when it was asked for and is not there. */
  | { type: "device"; gpu: boolean; backend: string; adapter: string | null; note: string | null }
  | { type: "error"; message: string };

export type ModelRequest =
  /** Load models/<name>/ from `base` (an absolute URL ending in "/"). */
  | { type: "load"; name: string; base: string }
  | { type: "run"; text: string; beam: number };

export type ModelReply =
  | ({ type: "ready" } & BackendReport)
  | { type: "progress"; file: string; loaded: number; total: number | null }
  | { type: "loaded"; name: string; task: string; kind: string; maxLen: number; parameters: number; ms: number }
  /** The output, and the attention page of the input (null when it could not be drawn, with the reason). */
  | { type: "result"; output: string; ms: number; html: string | null; viewNote: string | null; truncated: { tokens: number; kept: number } | null }
  | { type: "error"; stage: "load" | "run"; message: string };

export type ImageRequest =
  /** Load the classifier models/<name>/model.safetensors from `base` (an absolute URL ending in "/"). */
  | { type: "load"; name: string; base: string }
  /** Classify one image: gray pixels [H * W] in 0..255, white on black; `id` comes back with the result. */
  | { type: "classify"; id: number; pixels: Uint8Array };

export type ImageReply =
  | ({ type: "ready" } & BackendReport)
  | { type: "progress"; file: string; loaded: number; total: number | null }
  | {
    type: "loaded"; name: string; dataset: string; kind: string; classes: string[]; imageSize: [number, number];
    grid: [number, number]; layers: number; heads: number; parameters: number; ms: number;
  }
  | ({ type: "result"; id: number; ms: number } & ImageClassification)
  | { type: "error"; stage: "load" | "classify"; id: number | null; message: string };
