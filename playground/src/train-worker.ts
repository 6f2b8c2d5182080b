/**
 * The training worker: loads the wasm backend (threads where the page is cross-origin isolated),
 * then trains the dates model (train-core.ts) one step per turn of its event loop while running,
 * so pause, reset and probe messages are heard between steps. Reports every step's loss, the
 * held-out accuracy every ACCURACY_EVERY steps and the cross-attention every PROBE_EVERY steps.
 * A `device` request starts a new model on the GPU (the webgpu backend, where the worker gets a
 * WebGPU device; the steps run there and only each loss is read back) or on the CPU again.
 */
import { isGpuFailure } from "../../src/backend/webgpu/errors.js";
import { getBackend, getWasmThreads, setBackend, useWasm, useWebGPU, WebGPUBackend, type AnyBackend } from "../../src/index.js";
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
/** The device backend new models train on (null: the CPU), and the CPU backend the worker loaded. */
let gpu: AnyBackend | null = null;
let cpuName = "js";

/** Lets queued messages in (a MessageChannel task: no timer clamping). */
const channel = new MessageChannel();
let wake: (() => void) | null = null;
channel.port1.onmessage = () => { wake?.(); };
const turn = (): Promise<void> => new Promise((r) => { wake = r; channel.port2.postMessage(null); });

/** The backend choice in effect: the wasm backend's load, then the last `device` request's. */
let placed: Promise<unknown> = backendReady;
/** The model being made (one at a time, whoever asks first). */
let making: Promise<DatesTrainer> | null = null;

function ensureTrainer(): Promise<DatesTrainer> {
  if (trainer) return Promise.resolve(trainer);
  making ??= (async () => {
    // the choice in effect when the model is made (a device request meanwhile comes first)
    for (let p = placed; ; p = placed) {
      await p;
      if (p === placed) break;
    }
    const t = new DatesTrainer();
    if (gpu) t.toDevice(gpu);
    trainer = t;
    making = null;
    post({ type: "model", config: t.config, parameters: t.parameters });
    await sendAttention(t);
    return t;
  })();
  return making;
}

async function sendAttention(t: DatesTrainer): Promise<void> {
  post({ type: "attention", step: t.steps, attention: await t.crossAttentionAsync(probe) });
}

/** A new model on the GPU (when one starts) or the CPU: says where, and why not the GPU when it was asked for and is not there. */
async function chooseDevice(wantGpu: boolean): Promise<void> {
  await backendReady;
  let note: string | null = null;
  gpu = null;
  setBackend(cpuName as Parameters<typeof setBackend>[0]);
  if (wantGpu) {
    const be = await useWebGPU({ quiet: true });
    if (be instanceof WebGPUBackend) gpu = be;
    else note = typeof navigator !== "undefined" && "gpu" in navigator ? "this browser gave no WebGPU adapter or device" : "this browser has no WebGPU in workers";
  }
  const g = gpu instanceof WebGPUBackend ? gpu.kernels.gpu : null;
  post({ type: "device", gpu: gpu !== null, backend: getBackend().name, adapter: g ? [g.vendor, g.architecture, g.description].filter(Boolean).join(" ") : null, note });
}

async function run(): Promise<void> {
  const mine = generation;
  const t = await ensureTrainer();
  while (running && generation === mine) {
    const t0 = performance.now();
    const loss = await t.stepAsync();
    if (generation !== mine) break; // reset or moved while the loss came back
    post({ type: "step", step: t.steps, loss, ms: performance.now() - t0 });
    if (t.steps % PROBE_EVERY === 0) await sendAttention(t);
    if (t.steps % ACCURACY_EVERY === 0) post({ type: "accuracy", step: t.steps, accuracy: await t.accuracyAsync(), pairs: t.test.length });
    await turn();
  }
  if (generation === mine) post({ type: "paused", step: t.steps });
}

function fail(e: unknown): void {
  running = false;
  if (gpu && isGpuFailure(e)) {
    // the GPU could not go on (lost, out of memory, a kernel refused, a limit): a new model on the CPU, saying why
    generation++;
    trainer = null;
    gpu = null;
    setBackend(cpuName as Parameters<typeof setBackend>[0]);
    post({ type: "device", gpu: false, backend: getBackend().name, adapter: null, note: `the GPU could not go on: ${e.name}: ${e.message.replaceAll("\n", " ")}` });
    ensureTrainer().catch(fail);
    return;
  }
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
    } else if (m.type === "device") {
      running = false;
      generation++;
      trainer = null;
      const choice = placed.then(() => chooseDevice(m.gpu));
      placed = choice;
      choice.then(ensureTrainer).catch(fail);
    }
  } catch (err) {
    fail(err);
  }
};

backendReady.then(async (ok) => {
  cpuName = getBackend().name;
  post({ type: "ready", backend: ok ? getBackend().name : "js", threads: ok ? getWasmThreads() : 1, isolated: self.crossOriginIsolated });
  await ensureTrainer();
}).catch(fail);
