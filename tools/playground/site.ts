/**
 * The built playground, served and opened the way a user gets it: `buildPlayground` writes the
 * static site (Vite, playground/vite.config.ts) into a folder, `serveStatic` serves a folder over
 * HTTP on 127.0.0.1 with or without the two cross-origin isolation headers, and `launchChromium`
 * starts the system's headless Chromium. Used by test/browser/playground.test.ts and
 * tools/playground/measure.ts.
 *
 * ```ts
 * await buildPlayground("/tmp/site");
 * const server = await serveStatic("/tmp/site", { isolated: true });
 * const browser = await launchChromium(findChromium()!);
 * const page = await browser.newPage(); await page.goto(server.url);
 * ```
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer, { type Browser } from "puppeteer-core";

const repo = fileURLToPath(new URL("../../", import.meta.url));

/** The headers a static host must send for threads (README, "Playground"). */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
});

/** Builds the site into `outDir` (emptied first). */
export async function buildPlayground(outDir: string): Promise<void> {
  const { build } = await import("vite");
  await build({ configFile: join(repo, "playground", "vite.config.ts"), build: { outDir, emptyOutDir: true }, logLevel: "warn" });
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".wasm": "application/wasm",
};

export interface StaticServer {
  /** "http://127.0.0.1:<port>/" */
  url: string;
  close(): Promise<void>;
}

/** Serves the files of `dir` (GET and HEAD), with the isolation headers when `isolated`. */
export async function serveStatic(dir: string, opts: { isolated: boolean }): Promise<StaticServer> {
  const base = normalize(dir + sep);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    let file = normalize(join(base, path.endsWith("/") ? `${path}index.html` : path));
    if (!file.startsWith(base) || !existsSync(file) || !statSync(file).isFile()) file = "";
    if (opts.isolated) for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    if (!file || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(file ? 405 : 404, { "Content-Type": "text/plain" });
      res.end(file ? "method not allowed" : "not found");
      return;
    }
    res.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Content-Length": String(statSync(file).size) });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** QKV_CHROMIUM, else chromium / chromium-browser / google-chrome on the PATH; null when none. */
export function findChromium(): string | null {
  const env = process.env.QKV_CHROMIUM;
  if (env) return existsSync(env) ? env : null;
  for (const d of (process.env.PATH ?? "").split(delimiter)) {
    for (const name of ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]) {
      if (d && existsSync(join(d, name))) return join(d, name);
    }
  }
  return null;
}

/**
 * Chromium's flags for WebGPU on SwiftShader, its CPU implementation of Vulkan. Dawn's
 * `disable_workgroup_init` toggle drops the code that zeroes a shader's workgroup memory before
 * it runs: SwiftShader takes about 3 s to compile that code for a kernel whose workgroup arrays
 * hold 16 KiB (the GEMM tiles), against 0.4 s for the kernel itself. SwiftShader hands each
 * workgroup zeroed memory anyway (a dispatch that reads workgroup memory it never wrote reads
 * zeros, also after one that wrote there), so the kernels see the same values either way. (That
 * no kernel reads workgroup memory it did not write is checked where stale memory shows:
 * `npm run webgpu-cases -- --unzeroed-workgroup-memory` on lavapipe.)
 */
export const SWIFTSHADER_WEBGPU = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader", "--enable-features=Vulkan",
  "--enable-dawn-features=disable_workgroup_init"];

/**
 * Headless Chromium as the browser tests run it; with `webgpu`, WebGPU on SwiftShader (Chromium's
 * CPU adapter) instead of no GPU at all.
 */
export function launchChromium(executablePath: string, opts: { webgpu?: boolean } = {}): Promise<Browser> {
  const gpu = opts.webgpu ? SWIFTSHADER_WEBGPU : ["--disable-gpu"];
  return puppeteer.launch({
    executablePath, headless: true,
    args: ["--no-sandbox", ...gpu, "--disable-background-networking", "--disable-dev-shm-usage",
      "--font-render-hinting=none", "--force-color-profile=srgb", "--hide-scrollbars"],
  });
}
