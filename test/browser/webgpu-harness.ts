/**
 * Headless Chromium with WebGPU, for test/browser/webgpu.test.ts and `npm run bench -- webgpu
 * --browser`: an entry module is bundled with esbuild into a temporary folder and opened as a
 * file:// page (navigator.gpu needs a secure context). The entry sets `data-ready="1"` on the body
 * once it has its device, and `data-error` when it could not get one. QKV_WEBGPU_GEMM in the
 * environment is passed to the page (it forces matmul's kernel: src/backend/webgpu/matmul.ts).
 *
 * ```ts
 * const p = await openWebgpuPage(findChromium()!, new URL("./webgpu-page.ts", import.meta.url));
 * await p.page.evaluate(() => ...);
 * await p.close();
 * ```
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import puppeteer, { type Page } from "puppeteer-core";
import { SWIFTSHADER_WEBGPU } from "../../tools/playground/site.js";

/** WebGPU on SwiftShader, Chromium's CPU implementation of Vulkan (SWIFTSHADER_WEBGPU says why workgroup memory is not zeroed by Dawn). */
export const SWIFTSHADER_ARGS = ["--no-sandbox", ...SWIFTSHADER_WEBGPU, "--disable-dev-shm-usage", "--disable-background-networking", "--js-flags=--expose-gc"];

/** WebGPU on whatever adapter Chromium picks (a GPU where it has one), timestamps not quantized. */
export const GPU_ARGS = ["--no-sandbox", "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--enable-webgpu-developer-features",
  "--ignore-gpu-blocklist", "--disable-dev-shm-usage", "--disable-background-networking"];

export interface WebgpuPage {
  page: Page;
  /** Uncaught errors of the page so far. */
  errors: string[];
  /** The WGSL of every shader module the page made so far, by label (the pipeline's key). */
  shaders(): Promise<Map<string, string>>;
  close(): Promise<void>;
}

/**
 * `entry` bundled and opened in headless Chromium with `args`; throws when the page got no device.
 * A page call may take up to `protocolTimeoutMs`.
 */
export async function openWebgpuPage(chromium: string, entry: URL, args: readonly string[] = SWIFTSHADER_ARGS,
  protocolTimeoutMs = 180_000): Promise<WebgpuPage> {
  const dir = mkdtempSync(join(tmpdir(), "qkv-webgpu-"));
  const errors: string[] = [];
  let browser: Awaited<ReturnType<typeof puppeteer.launch>> | null = null;
  const close = async (): Promise<void> => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await build({
      entryPoints: [fileURLToPath(entry)], bundle: true, format: "iife", platform: "browser", target: "es2022",
      outfile: join(dir, "page.js"), logLevel: "warning",
    });
    writeFileSync(join(dir, "index.html"), '<!doctype html><meta charset="utf-8"><title>qkv webgpu</title><body><script src="page.js"></script></body>');
    browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: [...args], protocolTimeout: protocolTimeoutMs });
    const page = await browser.newPage();
    // QKV_WEBGPU_GEMM forces matmul's kernel in the page too (WebGPUKernels reads a global of that name)
    const gemm = process.env.QKV_WEBGPU_GEMM;
    if (gemm) await page.evaluateOnNewDocument((v) => { (globalThis as Record<string, unknown>).QKV_WEBGPU_GEMM = v; }, gemm);
    // every shader module's code, by label, for shaders() (the page's own calls go on as they were)
    await page.evaluateOnNewDocument(() => {
      const proto = (globalThis as unknown as { GPUDevice?: { prototype: GPUDevice } }).GPUDevice?.prototype;
      if (!proto) return;
      const made = new Map<string, string>(), create = proto.createShaderModule;
      (globalThis as Record<string, unknown>).qkvShaders = made;
      proto.createShaderModule = function (this: GPUDevice, d: GPUShaderModuleDescriptor) {
        made.set(d.label ?? `unlabelled ${made.size}`, d.code);
        return create.call(this, d);
      };
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(join(dir, "index.html")).href, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready='1']", { timeout: 30_000 });
    const error = await page.$eval("body", (b) => (b as unknown as { dataset: Record<string, string> }).dataset.error ?? "");
    if (error) throw new Error(`the page got no WebGPU device: ${error}`);
    const shaders = async (): Promise<Map<string, string>> =>
      new Map(await page.evaluate(() => [...((globalThis as Record<string, unknown>).qkvShaders as Map<string, string>)]));
    return { page, errors, shaders, close };
  } catch (e) {
    await close();
    throw e;
  }
}
