/**
 * The training worker: loads the wasm backend (threads where the page is cross-origin isolated),
 * then trains the dates model (train-core.ts) one step per turn of its event loop while running,
 * so pause, reset and probe messages are heard between steps. Reports every step's loss, the
 * held-out accuracy every ACCURACY_EVERY steps and the cross-attention every PROBE_EVERY steps.
 */
import { getBackend, getWasmThreads, useWasm } from "../../src/index.js";
import type { TrainReply, TrainRequest } from "./messages.js";
import { DatesTrainer, MAX_DATE_CHARS } from "./train-core.js";

const PROBE_EVERY = 25;
const ACCURACY_EVERY = 100;

const post = (m: TrainReply): void => self.postMessage(m);
const backendReady = useWasm();
let trainer: DatesTrainer | null = null;
let running = false;
/** Bumped by reset: a loop of an older model stops. */
let generation = 0;
let probe = "the 3rd of March 1999";

/** Lets queued messages in (a MessageChannel task: no timer clamping). */
const channel = new MessageChannel();
let wake: (() => void) | null = null;
channel.port1.onmessage = () => { wake?.(); };
const turn = (): Promise<void> => new Promise((r) => { wake = r; channel.port2.postMessage(null); });

async function ensureTrainer(): Promise<DatesTrainer> {
  if (trainer) return trainer;
  await backendReady;
  trainer = new DatesTrainer();
  post({ type: "model", config: trainer.config, parameters: trainer.parameters });
  sendAttention(trainer);
  return trainer;
}

function sendAttention(t: DatesTrainer): void {
  post({ type: "attention", step: t.steps, attention: t.crossAttention(probe) });
}

async function run(): Promise<void> {
  const mine = generation;
  const t = await ensureTrainer();
  while (running && generation === mine) {
    const t0 = performance.now();
    const loss = t.step();
    post({ type: "step", step: t.steps, loss, ms: performance.now() - t0 });
    if (t.steps % PROBE_EVERY === 0) sendAttention(t);
    if (t.steps % ACCURACY_EVERY === 0) post({ type: "accuracy", step: t.steps, accuracy: t.accuracy(), pairs: t.test.length });
    await turn();
  }
  if (generation === mine) post({ type: "paused", step: t.steps });
}

function fail(e: unknown): void {
  running = false;
  post({ type: "error", message: e instanceof Error ? e.message : String(e) });
}

self.onmessage = (e: MessageEvent<TrainRequest>) => {
  const m = e.data;
  try {
    if (m.type === "start") {
      if (!running) { running = true; run().catch(fail); }
    } else if (m.type === "pause") {
      running = false;
    } else if (m.type === "reset") {
      running = false;
      generation++;
      trainer = null;
      ensureTrainer().catch(fail);
    } else if (m.type === "probe") {
      const n = Array.from(m.source).length;
      if (n === 0 || n > MAX_DATE_CHARS) throw new Error(`the input must have 1 to ${MAX_DATE_CHARS} characters (it has ${n})`);
      probe = m.source;
      ensureTrainer().then(sendAttention).catch(fail);
    }
  } catch (err) {
    fail(err);
  }
};

backendReady.then(async (ok) => {
  post({ type: "ready", backend: ok ? getBackend().name : "js", threads: ok ? getWasmThreads() : 1, isolated: self.crossOriginIsolated });
  await ensureTrainer();
}).catch(fail);
