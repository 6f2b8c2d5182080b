/**
 * The image-classifier panel of the shipped-models tab: loads a classifier in the image worker
 * with a progress bar; the user draws on the pad (prepared as MNIST's images were: digit-prep.ts)
 * or picks a sample image; the page shows the model's input, its three most probable classes,
 * the attention rollout from the class token over the patch grid laid on the image (opacity
 * adjustable, each patch's value on hover) and every layer × head (and each layer's mean of
 * heads) as thumbnails, a click showing one large. A model that fails to load or an image that
 * cannot be read: a message that says so and what still works.
 */
import type { ImageClassification } from "./classify-core.js";
import { DigitPad } from "./digit-pad.js";
import { prepareDigit } from "./digit-prep.js";
import { drawImageMap, meanMap, patchAt, type GridMap, type GrayPicture } from "./image-maps.js";
import { builtImageModels, sampleUrl, type ImageModel } from "./image-models.js";
import type { ImageReply, ImageRequest } from "./messages.js";
import { byId, errorText, say } from "./page.js";

const kb = (n: number): string => `${Math.round(n / 1024)} KB`;
const pct = (p: number): string => `${(100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 1 : 2)}%`;

/** Which map the large view shows: the rollout, or one layer's head (or its mean of heads, head -1). */
type Shown = { kind: "rollout" } | { kind: "head"; layer: number; head: number };

/** The gray pixels of a PNG of the site, size [height, width]. */
async function samplePixels(url: string, height: number, width: number): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const bitmap = await createImageBitmap(await r.blob(), { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  if (bitmap.width !== width || bitmap.height !== height) throw new Error(`${url}: a ${bitmap.width} x ${bitmap.height} image, not ${width} x ${height}`);
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  if (!ctx) throw new Error("this browser gives no 2D canvas to read the image with");
  ctx.drawImage(bitmap, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data, out = new Uint8Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = rgba[4 * i]!;
  return out;
}

export function setUpImages(openedOnce: Promise<void>, modelsBase: string): void {
  const select = byId("image-model", HTMLSelectElement), load = byId("image-load", HTMLButtonElement), progress = byId("image-progress", HTMLProgressElement);
  const status = byId("image-status", HTMLParagraphElement), msg = byId("image-msg", HTMLDivElement), samples = byId("image-samples", HTMLDivElement);
  const padCanvas = byId("image-pad", HTMLCanvasElement), clear = byId("image-clear", HTMLButtonElement), padLabel = byId("image-pad-label", HTMLElement);
  const inputCanvas = byId("image-input", HTMLCanvasElement), top = byId("image-top", HTMLOListElement);
  const big = byId("image-map", HTMLCanvasElement), bigName = byId("image-map-name", HTMLElement), alpha = byId("image-alpha", HTMLInputElement);
  const readout = byId("image-readout", HTMLParagraphElement), layersBox = byId("image-layers", HTMLDivElement);
  const rolloutButton = byId("image-show-rollout", HTMLButtonElement);
  const st = window.qkvPlayground.images;
  const models = builtImageModels();
  let worker: Worker | null = null, sent = 0;
  const sources = new Map<number, string>();
  let input: { source: string; pixels: Uint8Array } | null = null;
  let result: (ImageClassification & { picture: GrayPicture }) | null = null;
  let shown: Shown = { kind: "rollout" };
  let size: [number, number] = [28, 28];

  const model = (): ImageModel | undefined => models.find((m) => m.name === select.value);
  const buttons = (): void => { load.disabled = st.busy || !models.length; select.disabled = st.busy || models.length < 2; };
  const send = (m: ImageRequest): void => worker?.postMessage(m);

  const shownMap = (): (GridMap & { name: string }) | null => {
    if (!result) return null;
    if (shown.kind === "rollout") return { grid: result.grid, values: result.rollout, name: "attention rollout from the class token" };
    const l = result.layers[shown.layer];
    if (!l) return null;
    return shown.head < 0 ? { grid: result.grid, values: meanMap(l.heads), name: `${l.name}, mean of heads` }
      : { grid: result.grid, values: l.heads[shown.head]!, name: `${l.name}, head ${shown.head}` };
  };
  const drawBig = (): void => {
    const picture = result?.picture ?? (input ? { pixels: input.pixels, height: size[0], width: size[1] } : null);
    const map = shownMap();
    if (!picture) { drawImageMap(big, { pixels: [], height: 1, width: 1 }, null, 0); bigName.textContent = "(no image yet)"; return; }
    drawImageMap(big, picture, map, Number(alpha.value) / 100);
    bigName.textContent = map ? map.name : "(not classified yet)";
  };
  const drawLayers = (): void => {
    layersBox.replaceChildren();
    if (!result) return;
    const r = result;
    const head = document.createElement("div");
    head.className = "row";
    const corner = document.createElement("span");
    corner.className = "name";
    head.appendChild(corner);
    const H = r.layers[0]?.heads.length ?? 0;
    for (let h = 0; h <= H; h++) {
      const s = document.createElement("span");
      s.className = "col"; s.textContent = h < H ? `head ${h}` : "mean";
      head.appendChild(s);
    }
    layersBox.appendChild(head);
    r.layers.forEach((l, li) => {
      const row = document.createElement("div");
      row.className = "row";
      const name = document.createElement("span");
      name.className = "name"; name.textContent = l.name;
      row.appendChild(name);
      for (let h = 0; h <= l.heads.length; h++) {
        const c = document.createElement("canvas");
        c.width = 64; c.height = 64;
        const hd = h < l.heads.length ? h : -1;
        c.title = `${l.name}, ${hd < 0 ? "mean of heads" : `head ${hd}`}: click to show it large`;
        c.dataset.layer = String(li); c.dataset.head = String(hd);
        drawImageMap(c, r.picture, { grid: r.grid, values: hd < 0 ? meanMap(l.heads) : l.heads[hd]! }, 0.7);
        c.onclick = () => { shown = { kind: "head", layer: li, head: hd }; drawBig(); mark(); };
        row.appendChild(c);
      }
      layersBox.appendChild(row);
    });
    mark();
  };
  const mark = (): void => {
    for (const c of Array.from(layersBox.querySelectorAll("canvas"))) {
      c.classList.toggle("on", shown.kind === "head" && c.dataset.layer === String(shown.layer) && c.dataset.head === String(shown.head));
    }
  };
  const drawTop = (): void => {
    top.replaceChildren();
    for (const t of result?.top ?? []) {
      const li = document.createElement("li"), bar = document.createElement("span"), text = document.createElement("span");
      bar.className = "bar"; bar.style.width = `${Math.max(1, Math.round(160 * t.p))}px`;
      text.textContent = `${t.label}: ${pct(t.p)}`;
      li.append(bar, text);
      top.appendChild(li);
    }
  };

  const classify = (): void => {
    if (!input || st.loaded === null || st.loaded !== select.value) return;
    sent += 1;
    sources.set(sent, input.source);
    send({ type: "classify", id: sent, pixels: input.pixels.slice() });
  };
  const setInput = (source: string, pixels: Uint8Array | null): void => {
    input = pixels ? { source, pixels } : null;
    st.input = pixels ? { source, pixels: Array.from(pixels) } : null;
    result = null; st.result = null; shown = { kind: "rollout" };
    drawImageMap(inputCanvas, input ? { pixels: input.pixels, height: size[0], width: size[1] } : { pixels: [], height: 1, width: 1 }, null, 0);
    drawTop(); drawLayers(); drawBig();
    readout.textContent = "Hover the map for a patch's value.";
    classify();
  };

  const pad = new DigitPad(padCanvas, () => {
    const m = model();
    setInput("drawing", prepareDigit(pad.gray(), pad.width, pad.height, { side: size[0], box: m?.box ?? 20 }));
  });
  clear.onclick = () => { pad.clear(); setInput("", null); };

  const showSamples = (): void => {
    samples.replaceChildren();
    const m = model();
    if (!m) return;
    padLabel.textContent = `${m.draw} (mouse, pen or finger), or pick a sample:`;
    m.classes.forEach((label, k) => {
      const b = document.createElement("button"), img = document.createElement("img");
      b.type = "button"; b.dataset.sample = String(k); b.title = `a test image of ${label}`;
      img.src = sampleUrl(m, k); img.alt = label; img.width = 28; img.height = 28;
      b.appendChild(img);
      b.onclick = () => {
        samplePixels(sampleUrl(m, k), size[0], size[1]).then((px) => {
          say(msg, "sample", "info", null);
          pad.show(px, size[0], size[1]);
          setInput(`sample ${label}`, px);
        }, (e: unknown) => say(msg, "sample", "error", `The sample image could not be read (${errorText(e)}); drawing still works.`));
      };
      samples.appendChild(b);
    });
  };

  const failed = (stage: "load" | "classify", message: string): void => {
    if (stage === "load") {
      st.busy = false; st.loaded = null; progress.hidden = true; status.textContent = "No classifier loaded.";
      say(msg, "image", "error", `Could not load ${select.value}: ${message}. The text models and the other tabs still work.`);
    } else {
      say(msg, "image", "error", `The classifier could not run on this image: ${message}. It is still loaded; draw again or pick a sample.`);
    }
    buttons();
  };
  const onReply = (m: ImageReply): void => {
    if (m.type === "ready") {
      st.worker = { backend: m.backend, threads: m.threads, isolated: m.isolated };
    } else if (m.type === "progress") {
      progress.hidden = false;
      if (m.total) { progress.max = m.total; progress.value = Math.min(m.loaded, m.total); } else progress.removeAttribute("value");
      status.textContent = `Loading ${m.file}: ${kb(m.loaded)}${m.total ? ` of ${kb(m.total)}` : ""}`;
    } else if (m.type === "loaded") {
      st.busy = false; st.loaded = m.name; progress.hidden = true; size = m.imageSize;
      status.textContent = `Loaded ${m.name}: a ${m.kind === "hybrid" ? "CNN-stem hybrid" : "vision transformer"} on ${m.imageSize[0]} x ${m.imageSize[1]} ${m.dataset} images, ` +
        `${m.grid[0]} x ${m.grid[1]} patches, ${m.layers} layers of ${m.heads} heads (${m.parameters.toLocaleString("en-US")} parameters) in ${(m.ms / 1000).toFixed(1)} s` +
        (st.worker ? `, on the ${st.worker.backend} backend with ${st.worker.threads} thread${st.worker.threads > 1 ? "s" : ""}.` : ".");
      buttons();
      if (input) classify();
      else samples.querySelector("button")?.click();
    } else if (m.type === "result") {
      const source = sources.get(m.id) ?? "";
      sources.delete(m.id);
      if (m.id !== sent || !input) return; // an image since replaced
      say(msg, "image", "info", null);
      result = { ...m, picture: { pixels: input.pixels, height: size[0], width: size[1] } };
      st.result = {
        source, top: m.top, probs: Array.from(m.probs), grid: m.grid, rollout: Array.from(m.rollout),
        layers: m.layers.length, heads: m.layers[0]?.heads.length ?? 0, ms: m.ms,
      };
      drawTop(); drawLayers(); drawBig();
    } else if (m.type === "error") {
      if (m.id !== null) sources.delete(m.id);
      failed(m.stage, m.message);
    }
  };
  const ensureWorker = (): boolean => {
    if (worker) return true;
    try {
      worker = new Worker(new URL("./image-worker.ts", import.meta.url), { type: "module" });
    } catch (e) {
      say(msg, "image", "error", `This browser could not start the classifier's worker (${errorText(e)}). The other tabs still work.`);
      return false;
    }
    worker.onmessage = (e: MessageEvent<ImageReply>) => onReply(e.data);
    worker.onerror = (e) => { e.preventDefault(); failed("load", e.message || "the worker failed to start"); };
    return true;
  };

  for (const m of models) {
    const o = document.createElement("option");
    o.value = m.name; o.textContent = m.label;
    select.appendChild(o);
  }
  if (!models.length) {
    status.textContent = "No classifier in this build.";
    say(msg, "image", "warn", "This site was built without an image classifier (models/classify-mnist was missing); the text models and the other tabs work.");
  }
  select.onchange = () => { showSamples(); pad.clear(); setInput("", null); };
  load.onclick = () => {
    if (!ensureWorker()) return;
    say(msg, "image", "info", null);
    st.busy = true; st.loaded = null; st.result = null; result = null;
    drawTop(); drawLayers(); drawBig();
    status.textContent = `Loading ${select.value}…`;
    buttons();
    send({ type: "load", name: select.value, base: modelsBase });
  };
  alpha.oninput = drawBig;
  rolloutButton.onclick = () => { shown = { kind: "rollout" }; drawBig(); mark(); };
  big.addEventListener("mousemove", (e) => {
    const map = shownMap(), p = map ? patchAt(big, map.grid, e.clientX, e.clientY) : null;
    if (!map || !p) return;
    const v = Number(map.values[p[0] * map.grid[1] + p[1]]);
    readout.textContent = `${map.name}, patch (row ${p[0]}, column ${p[1]}): ${Number(v.toPrecision(4))}`;
  });
  showSamples(); buttons(); drawBig();
  void openedOnce.then(ensureWorker);
}
