/**
 * Fuzz targets for the apps' loaders: PNG images as the classify app reads them, IDX image sets
 * (plain and gzipped), image classifier model files, and qkv-graph datasets. Each hostile input
 * must give a typed error naming the file and the field, or a correct result.
 *
 * ```ts
 * const report = await runTargets(await appLoaderTargets(tmpDir), { seed: 1, runs: 40 });
 * ```
 */
import fc from "fast-check";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PNG } from "pngjs";
import { parseIdx } from "../../src/apps/classify/idx.js";
import { loadImageSet } from "../../src/apps/classify/idx-files.js";
import { decodeClassifier, encodeClassifier } from "../../src/apps/classify/model-file.js";
import { loadClassifierDir } from "../../src/apps/classify/node-files.js";
import { decodePngImage, readPngImage } from "../../src/apps/classify/png.js";
import { graphTensors, parseGraphDataset, type GraphDataset } from "../../src/apps/graph/data.js";
import { loadGraphDataset } from "../../src/apps/graph/files.js";
import { packageRoot } from "../../src/apps/text/paths.js";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.js";
import { VisionTransformer } from "../../src/nn/vit.js";
import { FormatError, ShapeError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";
import { expectTyped, Finding, target, type FuzzTarget } from "./harness.js";
import { gzipped, idxFile, structuredIdx, structuredPng } from "./hostile-images.js";
import { mutatedBytes, mutatedJson } from "./hostile.js";

const FORMAT = [FormatError] as const;

/** A metadata value of a safetensors file replaced by a mutation of its JSON text (or any short text). */
function mutatedMetadata(file: { tensors: Map<string, unknown>; metadata: Record<string, string> }, keys: readonly string[]): fc.Arbitrary<Uint8Array> {
  return fc.constantFrom(...keys).chain((key) => {
    const raw = file.metadata[key]!;
    let doc: unknown;
    try { doc = JSON.parse(raw); } catch { doc = raw; }
    return fc.oneof(mutatedJson(doc), fc.string({ maxLength: 8 }))
      .map((text) => encodeSafetensors(file.tensors as Map<string, never>, { ...file.metadata, [key]: text }));
  });
}

/** A 28 x 28 PNG of each colour type pngjs writes. */
function seedPngs(): Uint8Array[] {
  return ([0, 2, 4, 6] as const).map((colorType) => {
    const png = new PNG({ width: 28, height: 28 });
    for (let i = 0; i < 28 * 28; i++) png.data.set([(i * 7) & 255, (i * 3) & 255, i & 255, i % 5 ? 255 : 0], 4 * i);
    return new Uint8Array(PNG.sync.write(png, { colorType, inputColorType: 6 }));
  });
}

/** A small featured graph made from the karate club (every node a bag of three words). */
function featuredGraph(karate: Record<string, unknown>): Record<string, unknown> {
  const n = (karate.nodes as string[]).length;
  return { ...karate, name: "karate-words", features: { kind: "bag-of-words", vocabulary: ["a", "b", "c"], indices: Array.from({ length: n }, (_, i) => (i % 4 ? [i % 3] : [])) } };
}

let fileNo = 0;

/** A dataset that loads must turn into tensors of its sizes. */
function checkGraph(ds: GraphDataset): void {
  const { x, edgeIndex, labels } = graphTensors(ds);
  const N = ds.nodes.length, F = ds.features ? ds.features.vocabulary.length : N;
  if (x.shape[0] !== N || x.shape[1] !== F || edgeIndex.shape[1] !== 2 * ds.edges.src.length || labels.shape[0] !== N) {
    throw new Finding(`graph tensors of the wrong sizes: x [${x.shape}], edgeIndex [${edgeIndex.shape}] for ${N} nodes`);
  }
}

/** The apps' loader targets; temporary files go to `dir`. */
export function appLoaderTargets(dir: string): FuzzTarget[] {
  manualSeed(12);
  const targets: FuzzTarget[] = [];
  const add = <T>(t: FuzzTarget<T>): void => { targets.push(target(t)); };

  // PNG images (classify run): the size is the model's, checked against IHDR before decoding
  const pngs = seedPngs();
  const pngBytes = fc.oneof({ arbitrary: fc.constantFrom(...pngs).chain(mutatedBytes), weight: 3 }, { arbitrary: structuredPng(28, 28), weight: 3 },
    fc.constantFrom(...pngs), fc.uint8Array({ maxLength: 40 }));
  const checkPixels = (g: { pixels: Uint8Array }): void => {
    if (g.pixels.length !== 28 * 28) throw new Finding(`${g.pixels.length} pixels for a 28 x 28 image`);
  };
  add({
    name: "decodePngImage",
    arbitrary: pngBytes,
    weight: 2,
    check: async (bytes) => {
      await expectTyped(() => checkPixels(decodePngImage(bytes, "fuzz/digit.png", [28, 28])), { allowed: [FormatError, ShapeError], mustName: ["fuzz/digit.png"] });
    },
  });
  add({
    name: "readPngImage",
    arbitrary: pngBytes,
    check: async (bytes) => {
      const p = join(dir, `img${fileNo++ % 16}.png`);
      writeFileSync(p, bytes);
      await expectTyped(async () => checkPixels(await readPngImage(p, [28, 28])), { allowed: [FormatError, ShapeError], mustName: [p] });
    },
  });

  // IDX image sets (MNIST's format), parsed from bytes and loaded from a directory, plain or gzipped
  const images = idxFile([3, 4, 5], Uint8Array.from({ length: 60 }, (_, i) => (i * 37) & 255));
  const labels = idxFile([3], Uint8Array.of(7, 0, 9));
  add({
    name: "parseIdx",
    arbitrary: fc.tuple(fc.oneof(mutatedBytes(images), structuredIdx(3), fc.uint8Array({ maxLength: 24 })), fc.integer({ min: 1, max: 4 })),
    check: async ([bytes, rank]) => {
      await expectTyped(() => {
        const a = parseIdx(bytes, "fuzz-idx3-ubyte", { rank });
        if (a.dims.length !== rank || a.data.length !== a.dims.reduce((x, y) => x * y, 1)) throw new Finding(`dims [${a.dims}] with ${a.data.length} elements`);
      }, { allowed: FORMAT, mustName: ["fuzz-idx3-ubyte"] });
    },
  });
  const idxImages = fc.oneof({ arbitrary: fc.constant(images), weight: 2 }, mutatedBytes(images), structuredIdx(3));
  const idxLabels = fc.oneof({ arbitrary: fc.constant(labels), weight: 2 }, mutatedBytes(labels), structuredIdx(1));
  add({
    name: "loadImageSet",
    arbitrary: fc.record({
      images: fc.oneof(idxImages.map((b) => ({ gz: false, b })), gzipped(idxImages).map((b) => ({ gz: true, b }))),
      labels: fc.oneof(idxLabels.map((b) => ({ gz: false, b })), gzipped(idxLabels).map((b) => ({ gz: true, b }))),
      missing: fc.oneof({ arbitrary: fc.constant(false), weight: 6 }, fc.constant(true)),
    }),
    weight: 2,
    check: async ({ images: im, labels: lb, missing }) => {
      const d = join(dir, `idx${fileNo++ % 8}`);
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, `t10k-images-idx3-ubyte${im.gz ? ".gz" : ""}`), im.b);
      if (!missing) writeFileSync(join(d, `t10k-labels-idx1-ubyte${lb.gz ? ".gz" : ""}`), lb.b);
      await expectTyped(async () => {
        const s = await loadImageSet("mnist", "test", { dataDir: d });
        if (s.images.length !== s.count * s.height * s.width || s.labels.length !== s.count || s.labels.some((v) => v >= 10)) {
          throw new Finding(`an image set of ${s.count} items with ${s.images.length} pixels and ${s.labels.length} labels`);
        }
      }, { allowed: FORMAT, mustName: [d] });
    },
  });

  // image classifier model files (qkv classify)
  const vit = new VisionTransformer({ imageSize: 8, patchSize: 4, inChannels: 1, numClasses: 3, dim: 8, depth: 1, heads: 2, stem: null });
  const hybrid = new VisionTransformer({ imageSize: 8, patchSize: 4, inChannels: 1, numClasses: 3, dim: 8, depth: 1, heads: 2, stem: [2, 4] });
  const bundles = [
    encodeClassifier({ kind: "vit", dataset: "mnist", classes: ["a", "b", "c"], normalize: { mean: 0.1, std: 0.3 }, model: vit, info: { steps: 1 } }),
    encodeClassifier({ kind: "hybrid", dataset: "fashion-mnist", classes: ["a", "b", "c"], normalize: { mean: 0.2, std: 0.3 }, model: hybrid }, { float32: true }),
  ];
  const metaKeys = ["qkv.config", "qkv.classes", "qkv.normalize", "qkv.info", "qkv.kind", "qkv.dataset", "qkv.format", "qkv.version"];
  const classifierBytes = fc.oneof(
    fc.constantFrom(...bundles).chain(mutatedBytes),
    { arbitrary: fc.constantFrom(...bundles.map((b) => decodeSafetensors(b))).chain((f) => mutatedMetadata(f, metaKeys)), weight: 3 },
    fc.constantFrom(...bundles),
  );
  add({
    name: "decodeClassifier",
    arbitrary: classifierBytes,
    weight: 2,
    check: async (bytes) => {
      await expectTyped(() => {
        const b = decodeClassifier(bytes, "fuzz/model.safetensors");
        if (b.classes.length !== b.model.config.numClasses) throw new Finding(`${b.classes.length} class names for ${b.model.config.numClasses} classes`);
      }, { allowed: FORMAT, mustName: ["fuzz/model.safetensors"] });
    },
  });
  add({
    name: "loadClassifierDir",
    arbitrary: fc.tuple(classifierBytes, fc.boolean()),
    check: async ([bytes, asDir]) => {
      const d = join(dir, `classifier${fileNo++ % 8}`);
      mkdirSync(d, { recursive: true });
      const file = join(d, "model.safetensors");
      writeFileSync(file, bytes);
      await expectTyped(() => loadClassifierDir(asDir ? d : file), { allowed: FORMAT, mustName: [file] });
    },
  });

  // qkv-graph datasets (qkv graph): data/karate-club, data/debian-packages, or a file by path
  const karate = JSON.parse(readFileSync(packageRoot("data/karate-club/karate-club.json"), "utf8")) as Record<string, unknown>;
  const graphs = [karate, featuredGraph(karate)];
  const graphText = fc.oneof({ arbitrary: fc.constantFrom(...graphs).chain(mutatedJson), weight: 4 }, fc.constantFrom(...graphs).map((g) => JSON.stringify(g)), fc.string({ maxLength: 20 }));
  add({
    name: "parseGraphDataset",
    arbitrary: graphText,
    weight: 2,
    check: async (text) => {
      await expectTyped(() => checkGraph(parseGraphDataset(text, "fuzz/graph.json")), { allowed: FORMAT, mustName: ["fuzz/graph.json"] });
    },
  });
  const utf8 = new TextEncoder();
  add({
    name: "loadGraphDataset",
    arbitrary: fc.oneof(graphText.map((t) => utf8.encode(t)), fc.constantFrom(...graphs).chain((g) => mutatedBytes(utf8.encode(JSON.stringify(g))))),
    check: async (bytes) => {
      const p = join(dir, `g${fileNo++ % 16}.json`);
      writeFileSync(p, bytes);
      await expectTyped(async () => checkGraph(await loadGraphDataset(p)), { allowed: FORMAT, mustName: [p] });
    },
  });
  return targets;
}

/** Paths that are not readable files, for the apps' file loaders. */
export const appFileLoaders: Record<string, (p: string) => Promise<unknown>> = {
  readPngImage: (p) => readPngImage(p, [28, 28]),
  loadImageSet: (p) => loadImageSet("mnist", "test", { dataDir: p }),
  loadClassifierDir: (p) => loadClassifierDir(p),
  loadGraphDataset: (p) => loadGraphDataset(p),
};
