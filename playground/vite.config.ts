/**
 * The playground's build: `npm run playground` (dev server) and `npm run build:playground` (a static
 * site in playground/dist). Both serve with the two cross-origin isolation headers, which the
 * threaded wasm backend needs (SharedArrayBuffer); a static host must send them too (README).
 * The shipped models of models/ are served from the repository in development and copied into the
 * site by the build, so the page never loads anything from elsewhere.
 */
import { copyFileSync, createReadStream, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin, type ViteDevServer } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
const repo = fileURLToPath(new URL("..", import.meta.url));

/**
 * The models the page offers and the files each needs: the text models of
 * playground/src/models-panel.ts and the image classifiers of playground/src/image-models.ts.
 */
const MODEL_FILES: Readonly<Record<string, readonly string[]>> = {
  "translate-en-es": ["model.safetensors", "tokenizer.json"],
  "summarize-debian": ["model.safetensors", "tokenizer.json"],
  "classify-mnist": ["model.safetensors"],
  "classify-fashion-mnist": ["model.safetensors"],
};
const IMAGE_MODELS = ["classify-mnist", "classify-fashion-mnist"];
/** The image classifiers of models/ (the page offers only these; a text model that is missing fails to load with a message). */
const builtImageModels = IMAGE_MODELS.filter((name) => existsSync(join(repo, "models", name, "model.safetensors")));

/** Cross-origin isolation: without these two, browsers give no SharedArrayBuffer and the backend runs on one thread. */
export const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

/** models/<name>/<file> of the repository, for a known model and file only. */
function modelFile(url: string): string | null {
  const m = /^\/([a-z0-9-]+)\/([a-z.]+)(?:\?.*)?$/.exec(url);
  if (!m || !(MODEL_FILES[m[1]!]?.includes(m[2]!) ?? false)) return null;
  const path = join(repo, "models", m[1]!, m[2]!);
  return existsSync(path) ? path : null;
}

function shippedModels(): Plugin {
  return {
    name: "qkv-shipped-models",
    configureServer(server: ViteDevServer) {
      server.middlewares.use("/models", (req, res, next) => {
        const path = modelFile(req.url ?? "");
        if (!path) { next(); return; }
        res.setHeader("Content-Type", path.endsWith(".json") ? "application/json" : "application/octet-stream");
        res.setHeader("Content-Length", String(statSync(path).size));
        createReadStream(path).pipe(res);
      });
    },
    writeBundle(options) {
      const out = options.dir ?? join(root, "dist");
      for (const [name, files] of Object.entries(MODEL_FILES)) {
        for (const file of files) {
          const src = join(repo, "models", name, file);
          if (!existsSync(src)) {
            if (!IMAGE_MODELS.includes(name)) this.warn(`models/${name}/${file} is missing: the page will say that ${name} cannot be loaded`);
            continue;
          }
          mkdirSync(join(out, "models", name), { recursive: true });
          copyFileSync(src, join(out, "models", name, file));
        }
      }
    },
  };
}

export default defineConfig({
  root,
  base: "./",
  plugins: [shippedModels()],
  define: { __QKV_IMAGE_MODELS__: JSON.stringify(builtImageModels) },
  server: { headers: ISOLATION_HEADERS, fs: { allow: [repo] } },
  preview: { headers: ISOLATION_HEADERS },
  worker: { format: "es" },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 4096 },
});
