/**
 * The training tab: starts the training worker the first time it is opened, and shows what it
 * reports: the loss curve (every step, and its moving average), steps per second, held-out
 * accuracy, and the decoder's cross-attention per head on an input of the user's, redrawn as the
 * model learns. Start / pause / reset go to the worker; the page itself never blocks. Where the
 * browser has WebGPU, "Train on" starts a new model on the GPU (or the CPU again).
 */
import { escapeXml, heatmapSvg } from "../../src/viz/heatmap.js";
import type { TrainReply, TrainRequest } from "./messages.js";
import { byId, say } from "./page.js";
import { MAX_DATE_CHARS } from "./train-core.js";

/** Draws the losses (light) and their exponential moving average (dark) on the canvas. */
function drawLoss(canvas: HTMLCanvasElement, losses: readonly number[]): void {
  const dpr = window.devicePixelRatio || 1, W = canvas.clientWidth || 640, H = canvas.clientHeight || 220;
  if (canvas.width !== Math.round(W * dpr)) { canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr); }
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
  const L = 44, R = 10, T = 10, B = 24;
  const n = losses.length, max = Math.max(1e-6, ...losses), span = Math.max(50, n);
  const x = (i: number): number => L + ((W - L - R) * i) / Math.max(1, span - 1);
  const y = (v: number): number => T + (H - T - B) * (1 - v / max);
  ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1; ctx.font = "11px sans-serif"; ctx.fillStyle = "#555";
  ctx.beginPath(); ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B); ctx.stroke();
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const f of [0, 0.5, 1]) ctx.fillText((max * f).toFixed(2), L - 4, y(max * f));
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  ctx.fillText("step", (L + W - R) / 2, H - B + 8);
  ctx.fillText(String(span), W - R - 10, H - B + 8);
  if (!n) return;
  const line = (vals: readonly number[], color: string, width: number): void => {
    ctx.strokeStyle = color; ctx.lineWidth = width; ctx.beginPath();
    vals.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke();
  };
  line(losses, "#9ecae1", 1);
  let ema = losses[0]!;
  line(losses.map((v) => (ema = 0.9 * ema + 0.1 * v)), "#08519c", 2);
}

export function setUpTraining(openedOnce: Promise<void>): void {
  const start = byId("train-start", HTMLButtonElement), pause = byId("train-pause", HTMLButtonElement), reset = byId("train-reset", HTMLButtonElement);
  const stats = byId("train-stats", HTMLParagraphElement), chart = byId("loss-chart", HTMLCanvasElement), msg = byId("train-msg", HTMLDivElement);
  const probe = byId("train-probe", HTMLInputElement), probeBtn = byId("train-probe-go", HTMLButtonElement), attn = byId("train-attn", HTMLDivElement);
  const device = byId("train-device", HTMLSelectElement), deviceBox = byId("train-device-box", HTMLLabelElement);
  const st = window.qkvPlayground.train;
  let worker: Worker | null = null, msTotal = 0, drawPending = false, info = "", switching = false;
  probe.maxLength = 200;
  const send = (m: TrainRequest): void => worker?.postMessage(m);
  const buttons = (): void => {
    start.disabled = !worker || st.running || switching; pause.disabled = !st.running; reset.disabled = !worker || switching;
    start.textContent = st.step > 0 && !st.running ? "Resume" : "Start";
  };
  const showStats = (): void => {
    const last = st.losses.at(-1);
    stats.textContent = `${info}step ${st.step}` + (last !== undefined ? ` · loss ${last.toFixed(3)}` : "") +
      (st.stepsPerSecond ? ` · ${st.stepsPerSecond.toFixed(1)} steps/s` : "") +
      (st.accuracy !== null ? ` · held-out exact match ${(100 * st.accuracy).toFixed(0)}%` : "");
  };
  const redraw = (): void => {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; drawLoss(chart, st.losses); showStats(); });
  };
  const onReply = (m: TrainReply): void => {
    if (m.type === "ready") {
      st.worker = { backend: m.backend, threads: m.threads, isolated: m.isolated };
      say(msg, "worker", "info", `The worker trains on the ${m.backend} backend with ${m.threads} thread${m.threads > 1 ? "s" : ""}.`);
    } else if (m.type === "model") {
      const c = m.config;
      info = `${c.layers}+${c.layers}-layer transformer, dModel ${c.dModel}, ${c.heads} heads, ${m.parameters.toLocaleString("en-US")} parameters, batches of ${c.batchSize} · `;
      buttons(); showStats();
    } else if (m.type === "step") {
      st.step = m.step; st.losses.push(m.loss); st.stepMs.push(m.ms); msTotal += m.ms;
      st.stepsPerSecond = (1000 * st.losses.length) / msTotal;
      redraw();
    } else if (m.type === "paused") {
      st.running = false; buttons(); showStats();
    } else if (m.type === "accuracy") {
      st.accuracy = m.accuracy; showStats();
    } else if (m.type === "attention") {
      const a = m.attention;
      attn.innerHTML = `<p class="caption">${m.step === 0 ? "before training" : `after ${m.step} steps`}: ` +
        `<b>${escapeXml(a.source)}</b> → <b>${escapeXml(a.output || "(nothing)")}</b></p><div class="figs">` +
        a.heads.map((w, h) => `<figure>${heatmapSvg(w, a.rows.length, a.cols.length, { title: `head ${h}`, rowLabels: a.rows, colLabels: a.cols, cellSize: 13, vmax: 1 })}</figure>`).join("") + "</div>";
    } else if (m.type === "device") {
      // a new model (chosen here, or the CPU after the GPU failed): its steps start from 0
      st.running = false; st.step = 0; st.losses.length = 0; st.stepMs.length = 0; st.stepsPerSecond = 0; st.accuracy = null; msTotal = 0;
      redraw();
      if (st.worker) st.worker = { ...st.worker, backend: m.backend };
      st.gpu = m.gpu;
      device.value = m.gpu ? "gpu" : "cpu";
      device.disabled = switching = false;
      say(msg, "worker", m.note ? "warn" : "info", m.gpu
        ? `The worker trains a new model on the GPU (${m.adapter ?? "WebGPU"}): each step runs there and only its loss comes back.`
        : `The worker trains a new model on the ${m.backend} backend${m.note ? ` (not on the GPU: ${m.note})` : ""}.`);
      buttons();
    } else if (m.type === "error") {
      st.running = false; buttons();
      say(msg, "error", "error", `Training stopped: ${m.message}. The other tabs still work; Reset starts a new model.`);
    }
  };
  const ensureWorker = (): void => {
    if (worker) return;
    try {
      worker = new Worker(new URL("./train-worker.ts", import.meta.url), { type: "module" });
    } catch (e) {
      say(msg, "error", "error", `This browser could not start the training worker (${e instanceof Error ? e.message : String(e)}). The step-by-step tab still works.`);
      return;
    }
    worker.onmessage = (e: MessageEvent<TrainReply>) => onReply(e.data);
    worker.onerror = (e) => { e.preventDefault(); onReply({ type: "error", message: e.message || "the worker failed to start" }); };
    buttons();
  };
  start.onclick = () => { say(msg, "error", "info", null); st.running = true; buttons(); send({ type: "start" }); };
  pause.onclick = () => send({ type: "pause" });
  const cleared = (): void => {
    st.running = false; st.step = 0; st.losses.length = 0; st.stepMs.length = 0; st.stepsPerSecond = 0; st.accuracy = null; msTotal = 0;
    buttons(); redraw();
  };
  reset.onclick = () => {
    send({ type: "reset" });
    cleared();
  };
  // the GPU choice where the browser has WebGPU at all (the worker says whether it got a device)
  deviceBox.hidden = !("gpu" in navigator);
  device.onchange = () => {
    device.disabled = switching = true;
    send({ type: "device", gpu: device.value === "gpu" });
    cleared();
  };
  const sendProbe = (): void => {
    const n = Array.from(probe.value).length;
    if (n === 0 || n > MAX_DATE_CHARS) {
      say(msg, "probe", "warn", `Type a date of 1 to ${MAX_DATE_CHARS} characters (this one has ${n}); the attention below stays as it was.`);
      return;
    }
    say(msg, "probe", "info", null);
    send({ type: "probe", source: probe.value });
  };
  probeBtn.onclick = sendProbe;
  probe.addEventListener("keydown", (e) => { if (e.key === "Enter") sendProbe(); });
  buttons(); drawLoss(chart, []);
  void openedOnce.then(ensureWorker);
}
