/**
 * Training speed of the playground's model (playground/src/train-core.ts) in a browser tab against
 * Node's wasm backend on the same machine: builds the site (or takes --site), serves it cross-origin
 * isolated, trains --steps steps in headless Chromium's worker, then the same steps in Node on the
 * wasm backend with as many threads as the tab got (and on the native backend, where it loads).
 * Both sides time the steps themselves and skip the first --warmup. Optionally writes a screenshot
 * of the page: the step-by-step walk-through and the image classifier (--screenshot docs/playground.png).
 *
 * npx tsx tools/playground/measure.ts [--steps 100] [--warmup 5] [--site dir] [--screenshot file.png]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PNG } from "pngjs";
import { availableBackends, getBackend, loadBackends, setBackend, setWasmThreads } from "../../src/node.js";
import { DatesTrainer } from "../../playground/src/train-core.js";
import { buildPlayground, findChromium, launchChromium, serveStatic } from "./site.js";

const { values: o } = parseArgs({ options: { steps: { type: "string", default: "100" }, warmup: { type: "string", default: "5" }, site: { type: "string" }, screenshot: { type: "string" } } });
const steps = Number(o.steps), warmup = Number(o.warmup);
if (!Number.isInteger(steps) || steps < 1 || !Number.isInteger(warmup) || warmup < 0) throw new Error("measure: --steps and --warmup expected whole numbers (steps >= 1)");

/** PNG images of one width, one under the other. */
function stack(images: Uint8Array[]): Buffer {
  const parts = images.map((b) => PNG.sync.read(Buffer.from(b)));
  const out = new PNG({ width: parts[0]!.width, height: parts.reduce((h, p) => h + p.height, 0) });
  let y = 0;
  for (const p of parts) { PNG.bitblt(p, out, 0, 0, p.width, p.height, 0, y); y += p.height; }
  return PNG.sync.write(out);
}

const rate = (ms: readonly number[]): number => (1000 * ms.length) / ms.reduce((a, b) => a + b, 0);

async function inTheTab(): Promise<{ rate: number; threads: number }> {
  const chromium = findChromium();
  if (!chromium) throw new Error("measure: no Chromium binary (apt-get install chromium, or set QKV_CHROMIUM)");
  const tmp = o.site ? null : mkdtempSync(join(tmpdir(), "qkv-playground-"));
  const site = o.site ?? join(tmp!, "site");
  if (tmp) await buildPlayground(site);
  const server = await serveStatic(site, { isolated: true });
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 760, deviceScaleFactor: 1 });
    await page.goto(`${server.url}#train`, { waitUntil: "load" });
    await page.waitForFunction("window.qkvPlayground && window.qkvPlayground.train.worker !== null", { timeout: 60_000 });
    await page.click("#train-start");
    await page.waitForFunction(`window.qkvPlayground.train.step >= ${steps + warmup}`, { timeout: 0, polling: 200 });
    await page.click("#train-pause");
    const ms = JSON.parse(String(await page.evaluate("JSON.stringify(window.qkvPlayground.train.stepMs)"))) as number[];
    const threads = Number(await page.evaluate("window.qkvPlayground.train.worker.threads"));
    if (o.screenshot) {
      // the top of the page, then the masks and softmax steps with a number read on hover, stacked
      await page.click("#go-steps");
      await page.click("#steps-causal");
      await page.click("#steps-padding");
      await new Promise((r) => setTimeout(r, 500));
      const top = await page.screenshot({ type: "png", clip: { x: 0, y: 0, width: 1100, height: 250 } });
      await page.$eval("#step-mask", (e) => (e as unknown as { scrollIntoView(): void }).scrollIntoView());
      await page.evaluate("window.scrollBy(0, -34)"); // below the sticky read-out line
      const cell = (await page.$$("#step-softmax rect"))[3 * 13 + 1]!;
      await cell.hover();
      const y = Number(await page.evaluate("window.scrollY")); // clips are in page coordinates
      const steps = await page.screenshot({ type: "png", clip: { x: 0, y, width: 1100, height: 600 } });
      // then the image classifier: MNIST's first test digit, its top classes and attention rollout
      await page.click("#go-models");
      await page.select("#image-model", "classify-mnist");
      await page.click("#image-load");
      await page.waitForFunction("window.qkvPlayground.images.loaded === 'classify-mnist'", { timeout: 120_000 });
      await page.click("#image-samples button[data-sample='7']");
      await page.waitForFunction("window.qkvPlayground.images.result !== null", { timeout: 120_000 });
      await new Promise((r) => setTimeout(r, 500));
      await page.$eval("#image-model", (e) => (e as unknown as { scrollIntoView(): void }).scrollIntoView());
      await page.evaluate("window.scrollBy(0, -60)"); // the panel's heading
      const yi = Number(await page.evaluate("window.scrollY"));
      const image = await page.screenshot({ type: "png", clip: { x: 0, y: yi, width: 1100, height: 580 } });
      writeFileSync(o.screenshot, stack([top, steps, image]));
      console.log(`screenshot: ${o.screenshot}`);
    }
    return { rate: rate(ms.slice(warmup, warmup + steps)), threads };
  } finally {
    await browser.close();
    await server.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

function inNode(backend: "wasm" | "native", threads: number): number {
  setBackend(backend);
  if (backend === "wasm") setWasmThreads(threads);
  const t = new DatesTrainer();
  const ms: number[] = [];
  for (let i = 0; i < steps + warmup; i++) {
    const t0 = performance.now();
    t.step();
    ms.push(performance.now() - t0);
  }
  return rate(ms.slice(warmup));
}

loadBackends({ quiet: true });
const tab = await inTheTab();
console.log(`the tab (Chromium, wasm, ${tab.threads} threads, in a worker): ${tab.rate.toFixed(1)} steps/s`);
const node = inNode("wasm", tab.threads);
console.log(`Node (wasm, ${tab.threads} threads): ${node.toFixed(1)} steps/s; the tab runs at ${(tab.rate / node).toFixed(2)}x`);
if (availableBackends().includes("native")) console.log(`Node (native): ${inNode("native", tab.threads).toFixed(1)} steps/s`);
console.log(`(${steps} steps after ${warmup} warm-up steps; dates model of playground/src/train-core.ts; the last backend: ${getBackend().name})`);
