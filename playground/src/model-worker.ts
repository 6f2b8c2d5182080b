/**
 * The shipped-models worker: fetches a model's two files (model.safetensors, tokenizer.json) from
 * the built site with progress, builds it from the bytes (decodeTextModel: the same reader as
 * `qkv translate` in Node, without Node's file system) and runs it: the text generator of the
 * command line (beam search through the KV cache, or the best span) and the attention page of
 * `qkv viz` (head view, model view, rollout, head statistics) on the input.
 */
import { decodeTextModel, type TextModelBundle } from "../../src/apps/text/model-file.js";
import { TextGenerator } from "../../src/apps/text/generator.js";
import { textModelPage } from "../../src/apps/viz/pages.js";
import { getBackend, getWasmThreads, useWasm } from "../../src/index.js";
import { fetchBytes } from "./fetch-bytes.js";
import type { ModelReply, ModelRequest } from "./messages.js";

const post = (m: ModelReply): void => self.postMessage(m);
const backendReady = useWasm();
let loaded: { bundle: TextModelBundle; generator: TextGenerator } | null = null;

const fetchFile = (url: string, file: string): Promise<Uint8Array> =>
  fetchBytes(url, file, (loaded, total) => post({ type: "progress", file, loaded, total }));

async function load(name: string, base: string): Promise<void> {
  loaded = null;
  await backendReady;
  const t0 = performance.now();
  const dir = new URL(`${encodeURIComponent(name)}/`, base).href;
  const tokenizerJson = new TextDecoder().decode(await fetchFile(`${dir}tokenizer.json`, "tokenizer.json"));
  const bytes = await fetchFile(`${dir}model.safetensors`, "model.safetensors");
  const bundle = decodeTextModel(bytes, tokenizerJson, `${name}/model.safetensors`);
  loaded = { bundle, generator: new TextGenerator(bundle) };
  const parameters = bundle.model.parameters().reduce((s, p) => s + p.size, 0);
  post({ type: "loaded", name, task: bundle.task, kind: bundle.kind, maxLen: bundle.model.config.maxLen, parameters, ms: performance.now() - t0 });
}

function run(text: string, beam: number): void {
  if (!loaded) throw new Error("no model is loaded");
  if (text.trim() === "") throw new Error("the text is empty");
  const { bundle, generator } = loaded;
  const cuts: { tokens: number; kept: number }[] = [];
  const t0 = performance.now();
  const output = generator.generate([text], { beam, onTruncate: (_, tokens, kept) => { cuts.push({ tokens, kept }); } })[0]!;
  const ms = performance.now() - t0;
  const truncated = cuts[0] ?? null;
  let html: string | null = null, viewNote: string | null = null;
  try {
    // an over-long input is drawn as far as the model read it
    const shown = truncated ? bundle.tokenizer.decode(bundle.tokenizer.encode(text).slice(0, bundle.model.config.maxLen)) : text;
    html = textModelPage(bundle, shown, { target: output, clipTarget: true });
  } catch (e) {
    viewNote = e instanceof Error ? e.message : String(e);
  }
  post({ type: "result", output, ms, html, viewNote, truncated });
}

self.onmessage = (e: MessageEvent<ModelRequest>) => {
  const m = e.data;
  if (m.type === "load") {
    load(m.name, m.base).catch((err: unknown) => post({ type: "error", stage: "load", message: err instanceof Error ? err.message : String(err) }));
  } else if (m.type === "run") {
    try {
      run(m.text, m.beam);
    } catch (err) {
      post({ type: "error", stage: "run", message: err instanceof Error ? err.message : String(err) });
    }
  }
};

backendReady.then((ok) => {
  post({ type: "ready", backend: ok ? getBackend().name : "js", threads: ok ? getWasmThreads() : 1, isolated: self.crossOriginIsolated });
}).catch((err: unknown) => post({ type: "error", stage: "load", message: err instanceof Error ? err.message : String(err) }));
