/**
 * Small DOM helpers of the page: typed element look-ups, the message lines ("what happened and
 * what still works"), and the handle tests and curious users read (`window.qkvPlayground`).
 */
import type { ClassScore } from "./classify-core.js";
import type { BackendReport } from "./messages.js";
import type { Steps } from "./steps.js";

export type MessageKind = "info" | "warn" | "error";

/** The element with this id, of this type; a missing one is a bug of the page. */
export function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no <${type.name}> #${id}`);
  return el;
}

/** Shows `text` in `box` as a message of `kind` (replacing the one of the same key), or removes it when text is null. */
export function say(box: HTMLElement, key: string, kind: MessageKind, text: string | null): void {
  let line = Array.from(box.children).find((c) => c instanceof HTMLElement && c.dataset.key === key);
  if (text === null) { line?.remove(); return; }
  if (!line) {
    line = document.createElement("p");
    box.appendChild(line);
  }
  if (line instanceof HTMLElement) {
    line.dataset.key = key;
    line.className = `msg ${kind}`;
    line.textContent = text;
  }
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** What the page exposes for tests and the console. */
export interface PlaygroundHandle {
  /** The page thread's backend. */
  main: BackendReport;
  steps: Steps | null;
  train: {
    worker: BackendReport | null;
    step: number;
    running: boolean;
    losses: number[];
    /** Milliseconds inside each step. */
    stepMs: number[];
    /** Steps per second over the steps so far (time inside the steps only). */
    stepsPerSecond: number;
    accuracy: number | null;
    /** Whether the model trains on the GPU (WebGPU). */
    gpu: boolean;
  };
  models: {
    worker: BackendReport | null;
    loaded: string | null;
    output: string | null;
    busy: boolean;
  };
  images: {
    worker: BackendReport | null;
    loaded: string | null;
    busy: boolean;
    /** What the classifier is shown: where it came from ("sample 7", "drawing") and its gray pixels. */
    input: { source: string; pixels: number[] } | null;
    /** The last classification of the input shown, with what it was of. */
    result: { source: string; top: ClassScore[]; probs: number[]; grid: [number, number]; rollout: number[]; layers: number; heads: number; ms: number } | null;
  };
}

declare global {
  interface Window { qkvPlayground: PlaygroundHandle }
}
