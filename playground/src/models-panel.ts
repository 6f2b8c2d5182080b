/**
 * The shipped-models tab: loads a model in the model worker with a progress bar, runs it on the
 * user's text and shows the output with the attention page of `qkv viz` (head view, model view,
 * rollout and flow, head statistics) in a frame. A model that fails to load, empty or over-long
 * text: a message that says so and what still works.
 */
import type { ModelReply, ModelRequest } from "./messages.js";
import { byId, say } from "./page.js";

export interface ShippedModel {
  name: string;
  label: string;
  example: string;
}

/** The models of models/ the build copies in (vite.config.ts). */
export const SHIPPED_MODELS: readonly ShippedModel[] = [
  { name: "translate-en-es", label: "translation, English → Spanish (15 MB)", example: "In the beginning was the Word." },
  {
    name: "summarize-debian", label: "summarization, Debian package description → synopsis (10 MB)",
    example: "This package contains a small tool that can be used to generate key events as if the corresponding key was pressed. " +
      "It is used by scripts processing ACPI events to translate these events to key presses but can also be used separately.",
  },
];

/** Longest text the page sends to a model, in characters (the models read at most their maxLen tokens of it). */
const MAX_CHARS = 4000;
/** maxLen of both shipped models. */
const SHIPPED_MAX_TOKENS = 160;

const mb = (n: number): string => (n / 2 ** 20).toFixed(1);

export function setUpModels(openedOnce: Promise<void>, modelsBase: string): void {
  const select = byId("model-name", HTMLSelectElement), load = byId("model-load", HTMLButtonElement), progress = byId("model-progress", HTMLProgressElement);
  const status = byId("model-status", HTMLParagraphElement), text = byId("model-text", HTMLTextAreaElement), beam = byId("model-beam", HTMLSelectElement);
  const run = byId("model-run", HTMLButtonElement), output = byId("model-output", HTMLParagraphElement), view = byId("model-view", HTMLIFrameElement);
  const msg = byId("model-msg", HTMLDivElement);
  const st = window.qkvPlayground.models;
  let worker: Worker | null = null;
  for (const m of SHIPPED_MODELS) {
    const o = document.createElement("option");
    o.value = m.name; o.textContent = m.label;
    select.appendChild(o);
  }
  const buttons = (): void => { load.disabled = st.busy; run.disabled = st.busy || st.loaded === null; select.disabled = st.busy; };
  const send = (m: ModelRequest): void => worker?.postMessage(m);
  const failed = (stage: "load" | "run", message: string): void => {
    st.busy = false;
    if (stage === "load") {
      st.loaded = null; progress.hidden = true; status.textContent = "No model loaded.";
      say(msg, "model", "error", `Could not load ${select.value}: ${message}. The step-by-step and training tabs still work; another model may load.`);
    } else {
      say(msg, "model", "error", `The model could not run on this text: ${message}. The model is still loaded; try other text.`);
    }
    buttons();
  };
  const onReply = (m: ModelReply): void => {
    if (m.type === "ready") {
      st.worker = { backend: m.backend, threads: m.threads, isolated: m.isolated };
    } else if (m.type === "progress") {
      progress.hidden = false;
      if (m.total) { progress.max = m.total; progress.value = Math.min(m.loaded, m.total); } else progress.removeAttribute("value");
      status.textContent = `Loading ${m.file}: ${mb(m.loaded)}${m.total ? ` of ${mb(m.total)}` : ""} MB`;
    } else if (m.type === "loaded") {
      st.busy = false; st.loaded = m.name; progress.hidden = true;
      status.textContent = `Loaded ${m.name}: ${m.kind === "seq2seq" ? "an encoder-decoder transformer" : "a span extractor"} ` +
        `(${m.parameters.toLocaleString("en-US")} parameters, at most ${m.maxLen} tokens) in ${(m.ms / 1000).toFixed(1)} s` +
        (st.worker ? `, on the ${st.worker.backend} backend with ${st.worker.threads} thread${st.worker.threads > 1 ? "s" : ""}.` : ".");
      beam.disabled = m.kind !== "seq2seq";
      buttons();
    } else if (m.type === "result") {
      st.busy = false; st.output = m.output;
      output.textContent = m.output || "(empty output)";
      say(msg, "run", "info", `${(m.ms / 1000).toFixed(2)} s.`);
      say(msg, "cut", "warn", m.truncated ? `The text has ${m.truncated.tokens} tokens; the model reads the first ${m.truncated.kept}, so the output covers those only.` : null);
      say(msg, "view", "warn", m.viewNote ? `The attention view could not be drawn: ${m.viewNote}` : null);
      if (m.html) view.srcdoc = m.html;
      view.hidden = !m.html;
      buttons();
    } else if (m.type === "error") {
      failed(m.stage, m.message);
    }
  };
  const ensureWorker = (): boolean => {
    if (worker) return true;
    try {
      worker = new Worker(new URL("./model-worker.ts", import.meta.url), { type: "module" });
    } catch (e) {
      say(msg, "model", "error", `This browser could not start the model worker (${e instanceof Error ? e.message : String(e)}). The step-by-step tab still works.`);
      return false;
    }
    worker.onmessage = (e: MessageEvent<ModelReply>) => onReply(e.data);
    worker.onerror = (e) => { e.preventDefault(); failed("load", e.message || "the worker failed to start"); };
    return true;
  };
  const example = (): void => { text.value = SHIPPED_MODELS.find((m) => m.name === select.value)?.example ?? ""; };
  select.onchange = example;
  load.onclick = () => {
    if (!ensureWorker()) return;
    say(msg, "model", "info", null); say(msg, "run", "info", null);
    st.busy = true; st.loaded = null; output.textContent = ""; view.hidden = true;
    status.textContent = `Loading ${select.value}…`;
    buttons();
    send({ type: "load", name: select.value, base: modelsBase });
  };
  run.onclick = () => {
    if (text.value.trim() === "") {
      say(msg, "run", "warn", "The text is empty: type something for the model to read.");
      return;
    }
    if (text.value.length > MAX_CHARS) {
      say(msg, "run", "warn", `The text has ${text.value.length} characters; the page takes at most ${MAX_CHARS} (the model reads only its first ${SHIPPED_MAX_TOKENS} tokens anyway). Shorten it and run again.`);
      return;
    }
    say(msg, "run", "info", "Running…");
    st.busy = true; buttons();
    send({ type: "run", text: text.value, beam: Number(beam.value) });
  };
  view.addEventListener("load", () => {
    const h = view.contentDocument?.documentElement.scrollHeight;
    if (h) view.style.height = `${h + 20}px`;
  });
  example(); buttons();
  void openedOnce.then(ensureWorker);
}
