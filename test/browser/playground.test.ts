/**
 * The playground (playground/) as a user gets it: the static site is built (Vite) into a temporary
 * folder, served by a small node:http server with the two cross-origin isolation headers (and by a
 * second one without them), and opened in headless Chromium. Checked: the page loads with no
 * console errors and no request elsewhere, it is cross-origin isolated and its wasm backend and
 * training worker report their threads; the step-by-step numbers of a fixed input equal the
 * library's MultiheadAttention and attention functions in Node; 50 training steps in the worker
 * lower the loss; "Train on the GPU" trains a new model on WebGPU (a second Chromium with WebGPU on
 * SwiftShader) with the CPU model's first losses, falls back to the CPU with the reason when its
 * device is lost, and without an adapter stays on the CPU saying why; the shipped translator and summarizer give the outputs they give in Node; the
 * shipped MNIST classifier classifies a sample digit as in Node (same pixels, probabilities and
 * rollout) and draws its rollout and every layer × head, and a digit drawn with the mouse is
 * prepared and classified; and bad input (empty and over-long text, a model that does not load,
 * a page without isolation) ends in a message while the rest still works.
 *
 * Needs a Chromium binary (QKV_CHROMIUM, else chromium / chromium-browser / google-chrome on the
 * PATH); without one the tests are skipped with a message. The page runs on the wasm backend, so
 * they run once, in the wasm pass of tools/test-backends.ts, where Node computes on the same kernels.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "puppeteer-core";
import { loadClassifierDir } from "../../src/apps/classify/node-files.js";
import { readPngImage } from "../../src/apps/classify/png.js";
import { loadSummarizer, loadTranslator } from "../../src/apps/text/api.js";
import { availableBackends } from "../../src/backend/registry.js";
import { cosineAttention, dotProductAttention, linear, noGrad, reshape, scaledDotProductAttention, slice, Tensor, transpose } from "../../src/index.js";
import { classifyImage, type ClassScore } from "../../playground/src/classify-core.js";
import { PAD, stepInputs, stepModule, stepTokens, type StepsInput } from "../../playground/src/steps.js";
import { buildPlayground, findChromium, launchChromium, serveStatic, type StaticServer } from "../../tools/playground/site.js";

const chromium = findChromium();
// the page runs on the wasm backend: its pass compares with Node on the same kernels
const pass = availableBackends().includes("wasm") ? "wasm" : availableBackends()[0];
const mine = !process.env.QKV_BACKEND || process.env.QKV_BACKEND === pass;
const skip = !chromium ? "no Chromium binary found (install Debian's chromium package or set QKV_CHROMIUM to a Chromium/Chrome binary)"
  : !mine ? `the playground tests run in the ${pass} backend's pass only` : false;

let dir: string, browser: Browser, isolated: StaticServer, plain: StaticServer;

interface Opened { page: Page; errors: string[]; elsewhere: string[] }

async function open(url: string, allow: RegExp | null = null): Promise<Opened> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 900, deviceScaleFactor: 1 });
  const errors: string[] = [], elsewhere: string[] = [];
  const origin = new URL(url).origin;
  page.on("console", (m) => { if (m.type() === "error" && !(allow && allow.test(m.text()))) errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => { const u = r.url(); if (!u.startsWith(origin) && !/^(data|blob|about):/.test(u)) elsewhere.push(u); });
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
  return { page, errors, elsewhere };
}

const get = async <T>(page: Page, expr: string): Promise<T> => JSON.parse(String(await page.evaluate(`JSON.stringify(${expr})`))) as T;
const texts = (page: Page, sel: string): Promise<string[]> => page.$$eval(sel, (els) => els.map((e) => e.textContent ?? ""));

/** Largest |a - b| over two equal-length lists. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>, what: string): number {
  assert.equal(a.length, b.length, `${what}: length`);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]), y = Number(b[i]);
    if (x === y) continue; // equal infinities too
    d = Math.max(d, Math.abs(x - y));
  }
  return d;
}

/** heatmapSvg's number format. */
const fmt = (v: number): string => (Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v));

describe("the playground in Chromium", { skip }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "qkv-playground-"));
    await buildPlayground(join(dir, "site"));
    isolated = await serveStatic(join(dir, "site"), { isolated: true });
    plain = await serveStatic(join(dir, "site"), { isolated: false });
    browser = await launchChromium(chromium!);
  });
  after(async () => {
    await browser?.close();
    await isolated?.close();
    await plain?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("loads with no console errors, cross-origin isolated, the wasm backend on every core", async () => {
    const { page, errors, elsewhere } = await open(isolated.url);
    assert.equal(await page.evaluate("crossOriginIsolated"), true);
    const cores = Number(await page.evaluate("navigator.hardwareConcurrency"));
    const main = await get<{ backend: string; threads: number; isolated: boolean }>(page, "window.qkvPlayground.main");
    assert.deepEqual(main, { backend: "wasm", threads: cores, isolated: true });
    assert.match((await texts(page, "#env"))[0]!, new RegExp(`wasm, ${cores} thread`));
    assert.deepEqual(await texts(page, "#messages .msg"), [], "no warning when isolated");
    assert.ok((await page.$$("#steps-out svg")).length > 10, "the steps are drawn");
    assert.deepEqual(errors, []);
    assert.deepEqual(elsewhere, []);
    await page.close();
  });

  test("the step-by-step numbers equal the library's MultiheadAttention and attention functions in Node", async () => {
    const { page, errors } = await open(isolated.url);
    const cases: StepsInput[] = [
      { text: "The cat sat on the mat, didn't it?", seed: 7, heads: 2, causal: true, padding: true },
      { text: "Attention is all you need.", seed: 0, heads: 4, causal: false, padding: false },
    ];
    for (const c of cases) {
      await page.$eval("#steps-text", (el, v) => { (el as unknown as { value: string }).value = v; }, c.text);
      await page.$eval("#steps-seed", (el, v) => { (el as unknown as { value: string }).value = v; }, String(c.seed));
      await page.select("#steps-heads", String(c.heads));
      for (const [id, on] of [["#steps-causal", c.causal], ["#steps-padding", c.padding]] as const) {
        if ((await page.$eval(id, (el) => (el as unknown as { checked: boolean }).checked)) !== on) await page.click(id);
      }
      await page.type("#steps-text", " "); // an input event: recompute
      const want = JSON.stringify({ ...c, text: `${c.text} ` });
      await page.waitForFunction(`JSON.stringify(window.qkvPlayground.steps && window.qkvPlayground.steps.input) === ${JSON.stringify(want)}`, { timeout: 10_000 });
      const got = await get<{ tokens: string[]; q: number[][]; k: number[][]; v: number[][]; weights: number[][]; output: number[]; dot: number[][]; scaled: number[][]; cosine: number[][] }>(page,
        `(() => { const s = window.qkvPlayground.steps, a = (m) => Array.from(m.values, (x) => Number.isFinite(x) ? x : String(x)), h = (l) => l.map(a);
          return { tokens: s.tokens, q: h(s.q), k: h(s.k), v: h(s.v), weights: h(s.weights), output: a(s.output), dot: h(s.compare.dot), scaled: h(s.compare.scaled), cosine: h(s.compare.cosine) }; })()`);
      // the same in Node, through the library's own modules and functions
      const { tokens } = stepTokens(c);
      assert.deepEqual(got.tokens, tokens);
      const N = tokens.length, E = 8, H = c.heads, D = E / H;
      noGrad(() => {
        const mha = stepModule(c.seed, H);
        const { x } = stepInputs(tokens, c.seed); // [1, N, E]
        const pad = new Tensor(Uint8Array.from(tokens, (t) => (t === PAD ? 1 : 0)), [1, N], "bool");
        const r = mha.forward(x, x, x, { keyPaddingMask: pad, isCausal: c.causal, needWeights: true, averageAttnWeights: false });
        assert.ok(maxDiff(got.output, r.output.data, "output") < 1e-5, "output");
        const w = mha.inProjWeight!;
        const [q, k, v] = [0, 1, 2].map((i) => transpose(reshape(linear(x, slice(w, 0, i * E, (i + 1) * E)), [1, N, H, D]), 1, 2)); // [1, H, N, D]
        const mask = new Tensor(Uint8Array.from({ length: N * N }, (_, p) => ((c.causal && p % N > Math.floor(p / N)) || tokens[p % N] === PAD ? 1 : 0)), [N, N], "bool");
        const ref = {
          q: q!, k: k!, v: v!, weights: r.weights!,
          dot: dotProductAttention(q!, k!, v!, { attnMask: mask, needWeights: true }).weights!,
          scaled: scaledDotProductAttention(q!, k!, v!, { attnMask: mask, needWeights: true }).weights!,
          cosine: cosineAttention(q!, k!, v!, { attnMask: mask, needWeights: true }).weights!,
        };
        for (const [name, t] of Object.entries(ref)) {
          const per = t.size / H;
          for (let h = 0; h < H; h++) {
            const d = maxDiff(got[name as keyof typeof ref][h]!, t.data.subarray(h * per, (h + 1) * per), `${name}[${h}]`);
            assert.ok(d < 1e-5, `${name}, head ${h}: off by ${d}`);
          }
        }
        if (c.causal) assert.equal(got.weights[0]![1], 0, "the causal mask hides later keys");
      });
      // and the page shows them: a cell's number on hover
      const cell = (await page.$$("#step-softmax rect"))[N + 1]!; // head 0, query 1, key 1
      await cell.hover();
      assert.equal((await texts(page, "#readout"))[0], `weights, head 0: ${tokens[1]} → ${tokens[1]}: ${fmt(got.weights[0]![N + 1]!)}`);
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("50 training steps in the worker lower the loss; the attention maps change", async (t) => {
    const { page, errors } = await open(`${isolated.url}#train`);
    await page.waitForFunction("window.qkvPlayground.train.worker !== null && document.querySelectorAll('#train-attn svg').length > 0", { timeout: 30_000 });
    const cores = Number(await page.evaluate("navigator.hardwareConcurrency"));
    assert.deepEqual(await get(page, "window.qkvPlayground.train.worker"), { backend: "wasm", threads: cores, isolated: true });
    const before = await page.$eval("#train-attn", (e) => e.innerHTML);
    await page.click("#train-start");
    await page.waitForFunction("window.qkvPlayground.train.step >= 50", { timeout: 120_000, polling: 100 });
    await page.click("#train-pause");
    await page.waitForFunction("!window.qkvPlayground.train.running", { timeout: 30_000 });
    const st = await get<{ losses: number[]; stepsPerSecond: number; step: number }>(page, "window.qkvPlayground.train");
    const mean = (l: number[]): number => l.reduce((a, b) => a + b, 0) / l.length;
    const head = mean(st.losses.slice(0, 5)), tail = mean(st.losses.slice(45, 50));
    const line = `training in the tab: ${st.stepsPerSecond.toFixed(1)} steps/s (wasm, ${cores} threads); loss ${head.toFixed(3)} (steps 1-5) -> ${tail.toFixed(3)} (steps 46-50)`;
    t.diagnostic(line);
    console.log(`playground: ${line}`);
    assert.ok(tail < 0.8 * head, line);
    assert.notEqual(await page.$eval("#train-attn", (e) => e.innerHTML), before, "the attention maps are redrawn as it learns");
    assert.equal(await page.$eval("#train-start", (e) => e.textContent), "Resume");
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("Train on the GPU: a new model trains on WebGPU (SwiftShader here) with the CPU model's first losses; without a WebGPU adapter it stays on the CPU and says why", async (t) => {
    const gpuBrowser = await launchChromium(chromium!, { webgpu: true });
    try {
      const page = await gpuBrowser.newPage();
      const errors: string[] = [];
      page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${isolated.url}#train`, { waitUntil: "load" });
      await page.waitForFunction("window.qkvPlayground.train.worker !== null && document.querySelectorAll('#train-attn svg').length > 0", { timeout: 30_000 });
      assert.equal(await page.$eval("#train-device-box", (e) => (e as unknown as { hidden: boolean }).hidden), false, "the choice is offered where the browser has WebGPU");
      // the devices the training worker will request, kept where this test can reach them (to lose one below)
      const trainWorker = page.workers().find((w) => w.url().includes("train-worker"));
      assert.ok(trainWorker, `the training worker among ${page.workers().map((w) => w.url()).join(", ")}`);
      await trainWorker.evaluate(() => {
        const g = globalThis as unknown as { GPUAdapter: { prototype: { requestDevice(...a: unknown[]): Promise<unknown> } }; qkvTestDevices?: unknown[] };
        const request = g.GPUAdapter.prototype.requestDevice;
        g.GPUAdapter.prototype.requestDevice = async function (this: unknown, ...a: unknown[]) {
          const d = await request.apply(this, a);
          (g.qkvTestDevices ??= []).push(d);
          return d;
        };
      });
      // n steps of the model that is there, then paused: its losses
      const steps = async (n: number): Promise<number[]> => {
        await page.click("#train-start");
        await page.waitForFunction(`window.qkvPlayground.train.step >= ${n}`, { timeout: 180_000, polling: 100 });
        await page.click("#train-pause");
        await page.waitForFunction("!window.qkvPlayground.train.running", { timeout: 60_000 });
        return (await get<number[]>(page, "window.qkvPlayground.train.losses")).slice(0, n);
      };
      const cpu = await steps(3);
      await page.select("#train-device", "gpu");
      await page.waitForFunction("window.qkvPlayground.train.gpu === true && window.qkvPlayground.train.worker.backend === 'webgpu'", { timeout: 60_000 });
      assert.match((await texts(page, "#train-msg .msg")).join("\n"), /trains a new model on the GPU \(.*swiftshader.*\): each step runs there/i);
      const gpu = await steps(3);
      t.diagnostic(`losses: CPU ${cpu.map((l) => l.toFixed(6)).join(", ")}; GPU ${gpu.map((l) => l.toFixed(6)).join(", ")}`);
      // the same seeded model and batches: the first loss is computed before any update (float32 sums
      // in another order), the next two after AdamW steps from float32 gradients
      assert.ok(Math.abs(gpu[0]! - cpu[0]!) <= 1e-5 * cpu[0]!, `step 1: ${gpu[0]} vs ${cpu[0]}`);
      for (const s of [1, 2]) assert.ok(Math.abs(gpu[s]! - cpu[s]!) <= 1e-3 * cpu[s]!, `step ${s + 1}: ${gpu[s]} vs ${cpu[s]}`);
      // and back to the CPU: a new model there
      await page.select("#train-device", "cpu");
      await page.waitForFunction("window.qkvPlayground.train.gpu === false && window.qkvPlayground.train.worker.backend === 'wasm'", { timeout: 60_000 });
      assert.deepEqual(await steps(1), cpu.slice(0, 1));
      // the GPU again, then lost while training (its device destroyed in the worker): a new model on the CPU, saying why
      await page.select("#train-device", "gpu");
      await page.waitForFunction("window.qkvPlayground.train.gpu === true", { timeout: 60_000 });
      await steps(1);
      assert.equal(await trainWorker.evaluate(() => {
        const devices = (globalThis as unknown as { qkvTestDevices?: { destroy(): void }[] }).qkvTestDevices ?? [];
        for (const d of devices) d.destroy();
        return devices.length;
      }), 1, "one device, requested once and kept");
      await page.click("#train-start");
      await page.waitForFunction("window.qkvPlayground.train.gpu === false && window.qkvPlayground.train.worker.backend === 'wasm'", { timeout: 60_000 });
      assert.match((await texts(page, "#train-msg .msg")).join("\n"), /trains a new model on the wasm backend \(not on the GPU: the GPU could not go on: DeviceLostError: .*lost \(destroyed/);
      assert.deepEqual(await steps(1), cpu.slice(0, 1));
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await gpuBrowser.close();
    }
    // the tests' other Chromium has no GPU: choosing it leaves the model on the CPU, with the reason
    const { page, errors } = await open(`${isolated.url}#train`);
    await page.waitForFunction("window.qkvPlayground.train.worker !== null", { timeout: 30_000 });
    const offered = !(await page.$eval("#train-device-box", (e) => (e as unknown as { hidden: boolean }).hidden));
    t.diagnostic(`without WebGPU flags the GPU choice is ${offered ? "offered (navigator.gpu exists)" : "not offered (no navigator.gpu)"}`);
    if (offered) {
      await page.select("#train-device", "gpu");
      await page.waitForFunction("document.querySelector('#train-device').disabled === false", { timeout: 60_000 });
      assert.equal(await get(page, "window.qkvPlayground.train.gpu"), false);
      assert.match((await texts(page, "#train-msg .msg")).join("\n"), /trains a new model on the wasm backend \(not on the GPU: this browser gave no WebGPU adapter or device\)/);
    }
    assert.deepEqual(errors, []);
    await page.close();
  });

  test("the shipped translator gives in the page the output it gives in Node, with its attention view", async () => {
    const text = "In the beginning God created the heaven and the earth.";
    const node = (await loadTranslator()).translate([text], { beam: 4 })[0]!;
    const { page, errors, elsewhere } = await open(`${isolated.url}#models`);
    await page.select("#model-name", "translate-en-es");
    await page.click("#model-load");
    await page.waitForFunction("window.qkvPlayground.models.loaded === 'translate-en-es'", { timeout: 120_000 });
    assert.match((await texts(page, "#model-status"))[0]!, /^Loaded translate-en-es: an encoder-decoder transformer/);
    await page.$eval("#model-text", (el, v) => { (el as unknown as { value: string }).value = v; }, text);
    await page.select("#model-beam", "4");
    await page.click("#model-run");
    await page.waitForFunction("window.qkvPlayground.models.output !== null", { timeout: 120_000 });
    assert.equal(await get<string>(page, "window.qkvPlayground.models.output"), node);
    assert.equal((await texts(page, "#model-output"))[0], node);
    const frame = await (await page.$("#model-view"))!.contentFrame();
    await frame.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
    assert.equal(await frame.$$eval("#group option", (o) => o.length), 3, "encoder self, decoder self and cross-attention");
    // over-long text: a message, no run
    await page.$eval("#model-text", (el) => { (el as unknown as { value: string }).value = "word ".repeat(900); });
    await page.click("#model-run");
    assert.match((await texts(page, "#model-msg .msg.warn")).join(" "), /4500 characters; the page takes at most 4000/);
    assert.deepEqual(errors, []);
    assert.deepEqual(elsewhere, []);
    await page.close();
  });

  test("the shipped summarizer gives in the page the synopsis it gives in Node", async () => {
    const text = "This package contains a small tool that can be used to generate key events as if the corresponding key was pressed. " +
      "It is used by scripts processing ACPI events to translate these events to key presses but can also be used separately.";
    const node = (await loadSummarizer()).summarize([text])[0]!;
    const { page, errors, elsewhere } = await open(`${isolated.url}#models`);
    await page.select("#model-name", "summarize-debian");
    await page.click("#model-load");
    await page.waitForFunction("window.qkvPlayground.models.loaded === 'summarize-debian'", { timeout: 120_000 });
    assert.match((await texts(page, "#model-status"))[0]!, /^Loaded summarize-debian: a span extractor/);
    await page.$eval("#model-text", (el, v) => { (el as unknown as { value: string }).value = v; }, text);
    await page.click("#model-run");
    await page.waitForFunction("window.qkvPlayground.models.output !== null", { timeout: 120_000 });
    const got = await get<string>(page, "window.qkvPlayground.models.output");
    assert.ok(got.trim().length > 0, "a non-empty synopsis");
    assert.equal(got, node);
    assert.equal((await texts(page, "#model-output"))[0], node);
    assert.deepEqual(errors, []);
    assert.deepEqual(elsewhere, []);
    await page.close();
  });

  test("the shipped MNIST classifier: a sample digit classified as in Node, its rollout and every layer × head drawn, a drawn digit classified", async () => {
    const { page, errors, elsewhere } = await open(`${isolated.url}#models`);
    assert.ok((await page.$$eval("#image-model option", (o) => o.map((e) => (e as unknown as { value: string }).value))).includes("classify-mnist"));
    await page.select("#image-model", "classify-mnist");
    await page.click("#image-load");
    await page.waitForFunction("window.qkvPlayground.images.loaded === 'classify-mnist'", { timeout: 60_000 });
    assert.match((await texts(page, "#image-status"))[0]!, /^Loaded classify-mnist: a vision transformer on 28 x 28 mnist images, 7 x 7 patches/);
    // a clear 7 (MNIST's first test image)
    await page.click("#image-samples button[data-sample='7']");
    await page.waitForFunction("window.qkvPlayground.images.result !== null && window.qkvPlayground.images.result.source === 'sample 7'", { timeout: 60_000 });
    const input = await get<{ source: string; pixels: number[] }>(page, "window.qkvPlayground.images.input");
    const got = await get<{ top: ClassScore[]; probs: number[]; grid: [number, number]; rollout: number[]; layers: number; heads: number }>(page, "window.qkvPlayground.images.result");
    assert.equal(got.top[0]!.label, "7");
    assert.equal(got.top.length, 3);
    assert.ok(got.top[0]!.p >= got.top[1]!.p && got.top[1]!.p >= got.top[2]!.p);
    assert.match((await texts(page, "#image-top li"))[0]!, /^7: \d+(\.\d+)?%$/);
    // the same pixels, probabilities and rollout in Node, from the files the page loaded
    const { pixels } = await readPngImage(join(dir, "site", "samples", "mnist", "7.png"), [28, 28]);
    assert.deepEqual(input.pixels, Array.from(pixels));
    const node = classifyImage(await loadClassifierDir(join(dir, "site", "models", "classify-mnist")), pixels);
    assert.deepEqual(got.top.map((t) => t.index), node.top.map((t) => t.index));
    assert.ok(maxDiff(got.probs, node.probs, "probabilities") < 1e-5, "probabilities");
    assert.ok(maxDiff(got.rollout, node.rollout, "rollout") < 1e-5, "rollout");
    assert.deepEqual(got.grid, node.grid);
    // the rollout drawn over the digit, in more than a few colours; every layer × head and the means as thumbnails
    const colours = async (): Promise<number> => Number(await page.$eval("#image-map", (c) => {
      const cv = c as unknown as { width: number; height: number; getContext(k: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data, seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return seen.size;
    }));
    assert.ok(await colours() > 10, "the rollout map is drawn");
    assert.equal((await texts(page, "#image-map-name"))[0], "attention rollout from the class token");
    assert.equal((await page.$$("#image-layers canvas")).length, got.layers * (got.heads + 1));
    await page.click("#image-layers canvas[data-layer='1'][data-head='2']");
    assert.match((await texts(page, "#image-map-name"))[0]!, /, head 2$/);
    await (await page.$("#image-map"))!.hover();
    assert.match((await texts(page, "#image-readout"))[0]!, /head 2, patch \(row \d, column \d\): \d/);
    // a digit drawn with the mouse: a vertical stroke, prepared as MNIST's digits (centred) and classified
    await page.click("#image-clear");
    await page.$eval("#image-pad", (el) => el.scrollIntoView());
    const box = (await (await page.$("#image-pad"))!.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + box.width * (0.55 - 0.01 * k), box.y + box.height * (0.15 + 0.07 * k));
    await page.mouse.up();
    await page.waitForFunction("window.qkvPlayground.images.result !== null && window.qkvPlayground.images.result.source === 'drawing'", { timeout: 60_000 });
    const drawn = (await get<{ pixels: number[] }>(page, "window.qkvPlayground.images.input")).pixels;
    let mass = 0, cx = 0, cy = 0;
    drawn.forEach((v, p) => { mass += v; cx += v * ((p % 28) + 0.5); cy += v * (Math.floor(p / 28) + 0.5); });
    assert.ok(mass > 0, "the drawing reaches the model");
    assert.ok(Math.abs(cx / mass - 14) <= 1 && Math.abs(cy / mass - 14) <= 1, `centred by its centre of mass: (${(cx / mass).toFixed(2)}, ${(cy / mass).toFixed(2)})`);
    assert.equal((await get<{ top: ClassScore[] }>(page, "window.qkvPlayground.images.result")).top.length, 3);
    assert.ok(await colours() > 10, "the drawing's rollout is drawn");
    assert.deepEqual(errors, []);
    assert.deepEqual(elsewhere, []);
    await page.close();
  });

  test("bad input: messages that say what happened and what still works, never a blank page", async () => {
    // empty and over-long sentences
    const a = await open(isolated.url);
    await a.page.$eval("#steps-text", (el) => { (el as unknown as { value: string }).value = ""; });
    await a.page.type("#steps-text", " ");
    await a.page.waitForSelector("#steps-msg .msg.warn");
    assert.match((await texts(a.page, "#steps-msg .msg.warn"))[0]!, /no words.*other tabs still work/);
    assert.equal(await a.page.evaluate("window.qkvPlayground.steps"), null);
    const long = Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ");
    await a.page.$eval("#steps-text", (el, v) => { (el as unknown as { value: string }).value = v; }, long);
    await a.page.type("#steps-text", " ");
    await a.page.waitForFunction("window.qkvPlayground.steps !== null && window.qkvPlayground.steps.dropped > 0", { timeout: 10_000 });
    assert.match((await texts(a.page, "#steps-msg .msg.warn"))[0]!, /has 30 tokens; the walk-through shows the first 24 \(6 left out\)/);
    assert.equal(await a.page.evaluate("window.qkvPlayground.steps.tokens.length"), 24);
    assert.deepEqual(a.errors, []);
    await a.page.close();

    // a model that does not load (not where the page looks for it)
    const b = await open(`${isolated.url}?models=nowhere/#models`, /Failed to load resource.*404/);
    await b.page.click("#model-load");
    await b.page.waitForSelector("#model-msg .msg.error", { timeout: 30_000 });
    const msg = (await texts(b.page, "#model-msg .msg.error"))[0]!;
    assert.match(msg, /^Could not load translate-en-es: tokenizer.json: HTTP 404/);
    assert.match(msg, /step-by-step and training tabs still work/);
    assert.equal(await b.page.$eval("#model-run", (e) => (e as unknown as { disabled: boolean }).disabled), true);
    assert.deepEqual(b.errors, []);
    await b.page.close();

    // no cross-origin isolation: no SharedArrayBuffer, one thread, everything else works
    const c = await open(plain.url);
    assert.equal(await c.page.evaluate("crossOriginIsolated"), false);
    assert.deepEqual(await get(c.page, "window.qkvPlayground.main"), { backend: "wasm", threads: 1, isolated: false });
    const warn = await texts(c.page, "#messages .msg.warn");
    assert.equal(warn.length, 1);
    assert.match(warn[0]!, /runs on one thread: everything works, more slowly.*Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
    assert.ok((await c.page.$$("#steps-out svg")).length > 10, "the steps are drawn");
    assert.deepEqual(c.errors, []);
    await c.page.close();
  });
});
