/**
 * The playground's entry: checks what this browser offers (cross-origin isolation and
 * SharedArrayBuffer for threads, WebAssembly SIMD for the wasm backend), loads the backend, says
 * in the page how it runs and what falls back, and sets up the three tabs. Any failure ends as a
 * message in the page, never a blank one.
 */
import "./style.css";
import { getBackend, getWasmThreads, useWasm } from "../../src/index.js";
import { setUpImages } from "./image-panel.js";
import { setUpModels } from "./models-panel.js";
import { byId, errorText, say } from "./page.js";
import { setUpSteps } from "./steps-panel.js";
import { setUpTraining } from "./train-panel.js";

const messages = byId("messages", HTMLDivElement);
window.addEventListener("error", (e) => say(messages, "uncaught", "error", `Something went wrong: ${e.message}. Reload the page to start again.`));
window.addEventListener("unhandledrejection", (e) => say(messages, "uncaught", "error", `Something went wrong: ${errorText(e.reason)}. Reload the page to start again.`));

const TABS = ["steps", "train", "models"] as const;
type Tab = (typeof TABS)[number];

/** Shows one tab; the promise of a tab resolves the first time it is shown (its worker starts then). */
function setUpTabs(): Record<Tab, Promise<void>> {
  const opened = {} as Record<Tab, { promise: Promise<void>; resolve: () => void }>;
  for (const t of TABS) {
    let resolve = (): void => {};
    const promise = new Promise<void>((r) => { resolve = r; });
    opened[t] = { promise, resolve };
  }
  const show = (tab: Tab): void => {
    for (const t of TABS) {
      byId(`tab-${t}`, HTMLElement).hidden = t !== tab;
      byId(`go-${t}`, HTMLButtonElement).classList.toggle("on", t === tab);
    }
    opened[tab].resolve();
  };
  for (const t of TABS) byId(`go-${t}`, HTMLButtonElement).onclick = () => { show(t); history.replaceState(null, "", `#${t}`); };
  const first = TABS.find((t) => location.hash === `#${t}`) ?? "steps";
  show(first);
  return { steps: opened.steps.promise, train: opened.train.promise, models: opened.models.promise };
}

async function boot(): Promise<void> {
  const isolated = self.crossOriginIsolated === true, shared = typeof SharedArrayBuffer === "function";
  window.qkvPlayground = {
    main: { backend: getBackend().name, threads: 1, isolated }, steps: null,
    train: { worker: null, step: 0, running: false, losses: [], stepMs: [], stepsPerSecond: 0, accuracy: null, gpu: false },
    models: { worker: null, loaded: null, output: null, busy: false },
    images: { worker: null, loaded: null, busy: false, input: null, result: null },
  };
  say(messages, "boot", "info", null);
  if (!isolated || !shared) {
    say(messages, "threads", "warn", `${shared ? "This page is not cross-origin isolated" : "This browser has no SharedArrayBuffer here"}, so the wasm backend runs on one thread: ` +
      "everything works, more slowly. Served with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp " +
      "(npm run playground does), it uses every core.");
  }
  let wasm = false;
  try {
    wasm = await useWasm();
  } catch (e) {
    say(messages, "wasm", "warn", `The wasm backend failed to load (${errorText(e)}).`);
  }
  if (!wasm) say(messages, "wasm", "warn", "WebAssembly with SIMD is not available in this browser: everything runs on the plain JavaScript kernels, more slowly.");
  const threads = wasm ? getWasmThreads() : 1;
  window.qkvPlayground.main = { backend: getBackend().name, threads, isolated };
  byId("env", HTMLParagraphElement).textContent = `Backend: ${getBackend().name}, ${threads} thread${threads > 1 ? "s" : ""}` +
    ` · ${isolated ? "cross-origin isolated" : "not cross-origin isolated"} · ${navigator.hardwareConcurrency || "?"} cores reported`;
  const opened = setUpTabs();
  const modelsBase = new URL(new URLSearchParams(location.search).get("models") ?? "models/", location.href).href;
  setUpSteps();
  setUpTraining(opened.train);
  setUpModels(opened.models, modelsBase);
  setUpImages(opened.models, modelsBase);
  document.body.dataset.ready = "1";
}

boot().catch((e: unknown) => say(messages, "boot", "error", `The page could not start: ${errorText(e)}. Reload to try again.`));
