/**
 * The image-classifier worker: fetches a classifier's model.safetensors from the built site with
 * progress, builds it from the bytes (decodeClassifier: the same reader as `qkv classify` in
 * Node, without Node's file system) and classifies the images the page sends (classify-core.ts:
 * probabilities, rollout, per-layer × head maps). Images are classified in the order they come;
 * while one runs, newer ones replace older ones still waiting, so a digit being drawn never
 * queues up stale work.
 */
import { decodeClassifier, type ClassifierBundle } from "../../src/apps/classify/model-file.js";
import { classifierGrid } from "../../src/apps/classify/viz.js";
import { getBackend, getWasmThreads, useWasm } from "../../src/index.js";
import { classifyImage } from "./classify-core.js";
import { fetchBytes } from "./fetch-bytes.js";
import type { ImageReply, ImageRequest } from "./messages.js";

const post = (m: ImageReply): void => self.postMessage(m);
const backendReady = useWasm();
let loaded: ClassifierBundle | null = null;
let waiting: { id: number; pixels: Uint8Array } | null = null, scheduled = false;

async function load(name: string, base: string): Promise<void> {
  loaded = null;
  await backendReady;
  const t0 = performance.now();
  const file = "model.safetensors";
  const url = new URL(`${encodeURIComponent(name)}/${file}`, base).href;
  const bytes = await fetchBytes(url, file, (n, total) => post({ type: "progress", file, loaded: n, total }));
  const bundle = decodeClassifier(bytes, `${name}/${file}`);
  const c = bundle.model.config;
  if (c.inChannels !== 1) throw new Error(`${name}/${file}: a classifier of ${c.inChannels}-channel images; the page draws gray ones`);
  loaded = bundle;
  post({
    type: "loaded", name, dataset: bundle.dataset, kind: bundle.kind, classes: bundle.classes, imageSize: [c.imageSize[0], c.imageSize[1]],
    grid: classifierGrid(bundle.model).grid, layers: c.depth, heads: c.heads,
    parameters: bundle.model.parameters().reduce((s, p) => s + p.size, 0), ms: performance.now() - t0,
  });
}

function classifyWaiting(): void {
  scheduled = false;
  const job = waiting;
  waiting = null;
  if (!job) return;
  try {
    if (!loaded) throw new Error("no model is loaded");
    const t0 = performance.now();
    const r = classifyImage(loaded, job.pixels);
    post({ type: "result", id: job.id, ms: performance.now() - t0, ...r });
  } catch (err) {
    post({ type: "error", stage: "classify", id: job.id, message: err instanceof Error ? err.message : String(err) });
  }
}

self.onmessage = (e: MessageEvent<ImageRequest>) => {
  const m = e.data;
  if (m.type === "load") {
    waiting = null;
    load(m.name, m.base).catch((err: unknown) => post({ type: "error", stage: "load", id: null, message: err instanceof Error ? err.message : String(err) }));
  } else if (m.type === "classify") {
    waiting = { id: m.id, pixels: m.pixels };
    // classify on a later turn, so that images sent meanwhile replace this one
    if (!scheduled) { scheduled = true; setTimeout(classifyWaiting, 0); }
  }
};

backendReady.then((ok) => {
  post({ type: "ready", backend: ok ? getBackend().name : "js", threads: ok ? getWasmThreads() : 1, isolated: self.crossOriginIsolated });
}).catch((err: unknown) => post({ type: "error", stage: "load", id: null, message: err instanceof Error ? err.message : String(err) }));
