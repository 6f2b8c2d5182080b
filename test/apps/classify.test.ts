/**
 * The image classification app end to end on tiny synthetic IDX files (never the real datasets):
 * IDX parsing and its refusals, batches and augmentation, model files (round trip, refusals),
 * training with checkpoints and resume, and the CLI — eval's last line against an independent
 * count, run on PNG images of every colour type, and the bad-input cases with their exit codes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { PNG } from "pngjs";
import { ImageBatches, imagesToTensor } from "../../src/apps/classify/batches.js";
import { DATASETS, splitValidation, type ImageSet } from "../../src/apps/classify/datasets.js";
import { scoreImages } from "../../src/apps/classify/evaluate.js";
import { parseIdx } from "../../src/apps/classify/idx.js";
import { loadImageSet } from "../../src/apps/classify/idx-files.js";
import { decodeClassifier, encodeClassifier, type ClassifierBundle } from "../../src/apps/classify/model-file.js";
import { loadClassifierDir, saveClassifierDir } from "../../src/apps/classify/node-files.js";
import { decodePngImage } from "../../src/apps/classify/png.js";
import { trainClassifier } from "../../src/apps/classify/train.js";
import { getBackend, hostBackend, setBackend } from "../../src/backend/registry.js";
import { main } from "../../src/cli/main.js";
import { noGrad } from "../../src/autograd/graph.js";
import { encodeSafetensors } from "../../src/io/safetensors.js";
import { VisionTransformer } from "../../src/nn/vit.js";
import { argmax } from "../../src/ops/reduce.js";
import { FormatError, ShapeError, ValueError } from "../../src/tensor/errors.js";
import { Generator, manualSeed } from "../../src/tensor/rng.js";
import { randn } from "../../src/tensor/tensor.js";
import { deviceTestEnv } from "../backend/device-helpers.js";
import { assertClose, assertThrowsMsg } from "../helpers.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-classify-"));
const { on, watchReads } = deviceTestEnv();
after(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX file of unsigned bytes. */
function idx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x0800 + dims.length);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** `n` 28 x 28 images: class k is a bright 5 x 5 block at its own place on faint noise. */
function synthetic(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const g = new Generator(seed), u = new Float32Array(n * 785);
  g.fillUniform(u);
  const images = new Uint8Array(n * 784), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 10, r0 = 3 + 8 * Math.floor(k / 4), c0 = 3 + 6 * (k % 4);
    labels[i] = k;
    for (let p = 0; p < 784; p++) {
      const r = Math.floor(p / 28), c = p % 28;
      images[i * 784 + p] = r >= r0 && r < r0 + 5 && c >= c0 && c < c0 + 5 ? 200 + Math.floor(55 * u[i * 785 + p]!) : Math.floor(30 * u[i * 785 + p]!);
    }
  }
  return { images, labels };
}

const data = join(dir, "idx");
mkdirSync(data, { recursive: true });
const train = synthetic(120, 1), testSet = synthetic(30, 2);
// the training files plain, the test files gzipped (both forms are read)
writeFileSync(join(data, "train-images-idx3-ubyte"), idx([120, 28, 28], train.images));
writeFileSync(join(data, "train-labels-idx1-ubyte"), idx([120], train.labels));
writeFileSync(join(data, "t10k-images-idx3-ubyte.gz"), gzipSync(idx([30, 28, 28], testSet.images)));
writeFileSync(join(data, "t10k-labels-idx1-ubyte.gz"), gzipSync(idx([30], testSet.labels)));

const tinyOptions = { dataset: "mnist" as const, dataDir: data, validSize: 20, batchSize: 16, patchSize: 7, dim: 16, depth: 1, heads: 2, log: () => {}, tty: false };

describe("IDX files", () => {
  test("plain and gzipped files load; sizes, labels and counts are checked", async () => {
    const s = await loadImageSet("mnist", "train", { dataDir: data });
    assert.deepEqual([s.count, s.height, s.width], [120, 28, 28]);
    assert.deepEqual(s.images, train.images);
    const t = await loadImageSet("fashion-mnist", "test", { dataDir: data });
    assert.deepEqual(t.labels, testSet.labels);
    const { fit, valid } = splitValidation(s, 20);
    assert.deepEqual([fit.count, valid.count], [100, 20]);
    assert.deepEqual(valid.labels, train.labels.subarray(100));
    assertThrowsMsg(() => splitValidation(s, 120), ValueError, "validSize expected an integer in [1, 119]");
  });
  test("a bad header, a wrong size or an unknown element type is a FormatError naming the file", () => {
    const good = idx([2, 3, 3], new Uint8Array(18));
    assert.deepEqual(parseIdx(good, "f", { rank: 3 }).dims, [2, 3, 3]);
    assertThrowsMsg(() => parseIdx(good.subarray(0, good.length - 1), "cut.idx", { rank: 3 }), FormatError, "cut.idx: size expected 34 bytes (header 16 + 2 x 3 x 3 elements), got 33 bytes");
    assertThrowsMsg(() => parseIdx(good, "labels.idx", { rank: 1 }), FormatError, "labels.idx: magic expected 0x00000801 (IDX, unsigned bytes, 1 dimension), got 0x00000803 (3 dimensions)");
    const floats = good.slice();
    floats[2] = 0x0d;
    assertThrowsMsg(() => parseIdx(floats, "f.idx", { rank: 3 }), FormatError, "got 0x00000d03 (element type 0x0d)");
    assertThrowsMsg(() => parseIdx(new TextEncoder().encode("hello, world, not idx"), "t.txt", { rank: 3 }), FormatError, "(not an IDX file)");
    assertThrowsMsg(() => parseIdx(idx([0, 3, 3], new Uint8Array(0)), "z.idx", { rank: 3 }), FormatError, "z.idx: dims[0] expected a positive size, got 0");
  });
  test("mismatched files, labels out of range, corrupt gzip, missing files", async () => {
    const bad = join(dir, "bad");
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, "train-images-idx3-ubyte"), idx([3, 28, 28], new Uint8Array(3 * 784)));
    writeFileSync(join(bad, "train-labels-idx1-ubyte"), idx([4], new Uint8Array(4)));
    await assert.rejects(loadImageSet("mnist", "train", { dataDir: bad }), (e: unknown) => e instanceof FormatError && /train-labels-idx1-ubyte: dims\[0\] expected 3 labels/.test(e.message));
    writeFileSync(join(bad, "train-labels-idx1-ubyte"), idx([3], Uint8Array.from([1, 12, 3])));
    await assert.rejects(loadImageSet("mnist", "train", { dataDir: bad }), (e: unknown) => e instanceof FormatError && e.message.includes("labels expected values below 10 (the classes of MNIST), got 12 at item 1"));
    writeFileSync(join(bad, "t10k-images-idx3-ubyte.gz"), Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    await assert.rejects(loadImageSet("mnist", "test", { dataDir: bad }), (e: unknown) => e instanceof FormatError && e.message.includes("t10k-images-idx3-ubyte.gz expected gzip data"));
    await assert.rejects(loadImageSet("mnist", "test", { dataDir: join(dir, "none") }),
      (e: unknown) => e instanceof FormatError && e.message.includes("none/t10k-images-idx3-ubyte expected an IDX file (plain or .gz), got no such file"));
  });
});

describe("batches", () => {
  const set: ImageSet = { images: train.images, labels: train.labels, count: 120, height: 28, width: 28 };
  const norm = { mean: 0.1307, std: 0.3081 };
  test("a pure function of (seed, step): every image once per epoch, a new order each epoch", () => {
    const a = new ImageBatches(set, { batchSize: 16, seed: 3, shift: 2, ...norm });
    const b = new ImageBatches(set, { batchSize: 16, seed: 3, shift: 2, ...norm });
    assert.equal(a.batchesPerEpoch, 7);
    assert.deepEqual(a.batchAt(9).x.data, b.batchAt(9).x.data);
    assert.deepEqual(a.batchAt(2).x.data, b.batchAt(2).x.data);
    const c = new ImageBatches(set, { batchSize: 16, seed: 4, shift: 2, ...norm });
    assert.notDeepEqual(a.batchAt(0).y.data, c.batchAt(0).y.data);
    const plain = new ImageBatches(set, { batchSize: 15, seed: 3, ...norm });
    const seen = (e: number): number[] => Array.from({ length: 8 }, (_, s) => Array.from(plain.batchAt(e * 8 + s).y.data)).flat();
    // 8 batches of 15 = 120 images: each label 12 times, in a different order in the next epoch
    for (const e of [0, 1]) assert.deepEqual([...seen(e)].sort((p, q) => p - q), Array.from(train.labels).sort((p, q) => p - q));
    assert.notDeepEqual(seen(0), seen(1));
  });
  test("shifts move the image by whole pixels with background coming in; no shift gives the normalized pixels", () => {
    const bg = -norm.mean / norm.std;
    const noShift = new ImageBatches(set, { batchSize: 16, seed: 5, ...norm }).batchAt(0);
    const shifted = new ImageBatches(set, { batchSize: 16, seed: 5, shift: 2, ...norm }).batchAt(0);
    assert.deepEqual(noShift.y.data, shifted.y.data);
    let moved = 0;
    for (let k = 0; k < 16; k++) {
      const a = noShift.x.data.subarray(k * 784, (k + 1) * 784), b = shifted.x.data.subarray(k * 784, (k + 1) * 784);
      // find the (dy, dx) in [-2, 2]^2 that maps a onto b exactly
      let found = false;
      for (let dy = -2; dy <= 2 && !found; dy++) for (let dx = -2; dx <= 2 && !found; dx++) {
        let ok = true;
        for (let r = 0; r < 28 && ok; r++) for (let c = 0; c < 28 && ok; c++) {
          const sr = r - dy, sc = c - dx;
          const want = sr >= 0 && sr < 28 && sc >= 0 && sc < 28 ? a[sr * 28 + sc]! : bg;
          ok = Math.abs(b[r * 28 + c]! - want) < 1e-6;
        }
        if (ok) {
          found = true;
          if (dy || dx) moved++;
        }
      }
      assert.ok(found, `image ${k} is not a shift of the original`);
    }
    assert.ok(moved > 8, `${moved} of 16 images moved`);
    const { x } = imagesToTensor(set, 5, 6, norm);
    assertClose(x.data, Array.from(train.images.subarray(5 * 784, 6 * 784), (v) => (v / 255 - norm.mean) / norm.std), 1e-5);
  });
});

function bundle(): ClassifierBundle {
  manualSeed(4);
  const model = new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, numClasses: 10, dim: 16, depth: 1, heads: 2, stem: null });
  return { kind: "vit", dataset: "mnist", classes: DATASETS.mnist.classes.slice(), normalize: { mean: 0.1307, std: 0.3081 }, model };
}

describe("model files", () => {
  test("F32 round trip gives the same outputs; F16 stays close; the hybrid keeps its batch-norm buffers", () => {
    for (const b of [bundle(), { ...bundle(), kind: "hybrid" as const, model: new VisionTransformer({ imageSize: 28, patchSize: 4, inChannels: 1, numClasses: 10, dim: 16, depth: 1, heads: 2, stem: [4, 8] }) }]) {
      b.model.forward(randn([4, 1, 28, 28])); // moves the hybrid's running statistics
      b.model.eval();
      const x = randn([2, 1, 28, 28]);
      const want = noGrad(() => b.model.forward(x)).data;
      for (const float32 of [true, false]) {
        const back = decodeClassifier(encodeClassifier(b, { float32 }), "m.safetensors");
        assert.equal(back.kind, b.kind);
        assert.deepEqual(back.classes, b.classes);
        assertClose(noGrad(() => back.model.forward(x)).data, want, float32 ? 0 : 2e-2, float32 ? 0 : 2e-2);
      }
    }
  });
  test("a foreign file, a wrong kind, wrong classes or weights that do not fit are FormatErrors naming the file", async () => {
    const b = bundle();
    const foreign = encodeSafetensors({ w: randn([2, 2]) }, { "qkv.format": "text-model" });
    assertThrowsMsg(() => decodeClassifier(foreign, "t.safetensors"), FormatError, 't.safetensors: metadata["qkv.format"] expected "image-classifier"');
    const meta = (patch: Record<string, string>, tensors = b.model.stateDict()): Uint8Array => encodeSafetensors(tensors, {
      "qkv.format": "image-classifier", "qkv.version": "1", "qkv.kind": "vit", "qkv.dataset": "mnist", "qkv.classes": JSON.stringify(b.classes),
      "qkv.normalize": '{"mean":0.1,"std":0.3}', "qkv.config": JSON.stringify(b.model.config), ...patch,
    });
    assert.equal(decodeClassifier(meta({}), "ok").kind, "vit");
    assertThrowsMsg(() => decodeClassifier(meta({ "qkv.kind": "hybrid" }), "k.safetensors"), FormatError, 'k.safetensors: metadata["qkv.kind"] expected "vit" (the config has no CNN stem), got "hybrid"');
    assertThrowsMsg(() => decodeClassifier(meta({ "qkv.classes": '["a","b"]' }), "c.safetensors"), FormatError, 'c.safetensors: metadata["qkv.classes"] expected 10 class names');
    assertThrowsMsg(() => decodeClassifier(meta({ "qkv.dataset": "cifar" }), "d.safetensors"), FormatError, 'metadata["qkv.dataset"] expected "mnist" or "fashion-mnist", got "cifar"');
    assertThrowsMsg(() => decodeClassifier(meta({ "qkv.normalize": '{"mean":0}' }), "n.safetensors"), FormatError, 'metadata["qkv.normalize"] expected { mean, std }');
    assertThrowsMsg(() => decodeClassifier(meta({ "qkv.config": JSON.stringify({ ...b.model.config, dim: 32 }) }), "w.safetensors"), FormatError, 'w.safetensors: metadata["qkv.config"] expected a model of the');
    const swapped = { ...b.model.stateDict() };
    swapped["head.weight"] = randn([16, 10]);
    assertThrowsMsg(() => decodeClassifier(meta({}, swapped), "s.safetensors"), FormatError, "s.safetensors: weights expected the tensors of the model's config", "head.weight expected [10, 16], got [16, 10]");
    assertThrowsMsg(() => decodeClassifier(meta({ "qkv.config": '{"imageSize":28}' }), "x.safetensors"), FormatError, 'metadata["qkv.config"] expected a valid VisionTransformer config');
    await saveClassifierDir(join(dir, "m1"), b);
    assert.equal((await loadClassifierDir(join(dir, "m1"))).dataset, "mnist");
    await assert.rejects(loadClassifierDir(join(dir, "nope")), (e: unknown) => e instanceof FormatError && e.message.includes("nope/model.safetensors") && e.message.includes("no such file"));
  });
});

describe("training", () => {
  test("validation per epoch, checkpoints; resume continues the same run; model files written", async () => {
    const full = await trainClassifier({ ...tinyOptions, outDir: join(dir, "run-a"), steps: 12, evalEvery: 6, checkpointEvery: 6 });
    await trainClassifier({ ...tinyOptions, outDir: join(dir, "run-b"), steps: 12, minutes: 1e-9, evalEvery: 6, checkpointEvery: 6 });
    const resumed = await trainClassifier({ ...tinyOptions, outDir: join(dir, "run-b"), steps: 12, evalEvery: 6, checkpointEvery: 6, resume: true });
    assert.equal(full.steps, 12);
    assert.equal(resumed.steps, 12);
    assert.deepEqual(resumed.lastEval, full.lastEval);
    const log = readFileSync(join(dir, "run-a", "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; validAccuracy: number });
    assert.deepEqual(log.map((l) => l.step), [6, 12]);
    const b = await loadClassifierDir(join(dir, "run-a"));
    assert.equal(b.kind, "vit");
    assert.equal(b.info?.steps, 12);
    // the logged validation accuracy is the model's on the last 20 training images
    const { valid } = splitValidation(await loadImageSet("mnist", "train", { dataDir: data }), 20);
    assertClose([scoreImages(b.model, valid, b.normalize).accuracy], [log[1]!.validAccuracy], 5.01); // F16 weights may flip one image of 20
    // epochs are the default budget: 5 batches of 16 per epoch here
    const lines: string[] = [];
    const e = await trainClassifier({ ...tinyOptions, arch: "hybrid", outDir: join(dir, "run-h"), epochs: 2, log: (l) => lines.push(l) });
    assert.equal(e.steps, 12);
    assert.ok(lines.some((l) => /^step 6 \(epoch 1, .*validAccuracy/.test(l)) && lines.some((l) => /^step 12 \(epoch 2,/.test(l)), lines.join("\n"));
    assert.equal((await loadClassifierDir(join(dir, "run-h"))).kind, "hybrid");
    await assert.rejects(trainClassifier({ ...tinyOptions, outDir: join(dir, "x"), stem: [4] }), /stem expected arch "hybrid"/);
  });
});

/** A PNG of the synthetic test image `i` (light block on dark), written with a colour type; `invert` draws it dark on light. */
function pngOf(i: number, colorType: 0 | 2 | 4 | 6, opts: { invert?: boolean; size?: number; alphaInk?: boolean } = {}): Buffer {
  const size = opts.size ?? 28;
  const png = new PNG({ width: size, height: size });
  for (let p = 0; p < size * size; p++) {
    const r = Math.floor(p / size), c = p % size;
    const v0 = r < 28 && c < 28 ? testSet.images[i * 784 + r * 28 + c]! : 0;
    const v = opts.invert ? 255 - v0 : v0;
    const rgba = opts.alphaInk ? [255, 255, 255, v0] : [v, v, v, 255];
    png.data.set(rgba, 4 * p);
  }
  return PNG.sync.write(png, { colorType, inputColorType: 6 });
}

describe("PNG images", () => {
  test("grayscale, RGB and alpha decode to the same gray pixels; a light background is inverted; ink on transparency", () => {
    const want = testSet.images.subarray(0, 784);
    for (const ct of [0, 2, 4, 6] as const) {
      const g = decodePngImage(pngOf(0, ct), `c${ct}.png`, [28, 28]);
      assert.deepEqual(g.pixels, want, `colour type ${ct}`);
      assert.equal(g.inverted, false);
    }
    const inv = decodePngImage(pngOf(0, 2, { invert: true }), "inv.png", [28, 28]);
    assert.equal(inv.inverted, true);
    assert.deepEqual(inv.pixels, want);
    // white ink whose alpha is the image: laid over black
    assert.deepEqual(decodePngImage(pngOf(0, 6, { alphaInk: true }), "a.png", [28, 28]).pixels, want);
    assertThrowsMsg(() => decodePngImage(pngOf(0, 0, { size: 32 }), "big.png", [28, 28]), ShapeError, "readPngImage: big.png expected a 28 x 28 image (width x height), got 32 x 32");
    assertThrowsMsg(() => decodePngImage(new TextEncoder().encode("GIF89a, not a png at all....."), "x.gif", [28, 28]), FormatError, "x.gif expected a PNG image, got a file without the PNG signature");
  });
});

describe("qkv classify (CLI)", () => {
  /** `qkv classify ...` in this process (fast): its output lines and exit code. */
  const cli = async (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> => {
    const out: string[] = [], err: string[] = [];
    const { log, error } = console;
    console.log = (...a: unknown[]) => { out.push(a.join(" ")); };
    console.error = (...a: unknown[]) => { err.push(a.join(" ")); };
    process.exitCode = undefined;
    try {
      await main(["node", "qkv", "classify", ...args]);
    } finally {
      console.log = log;
      console.error = error;
    }
    const status = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { status, stdout: out.join("\n"), stderr: err.join("\n") };
  };
  test("eval: the last line is the accuracy on the test split, equal to an independent count", async () => {
    const model = join(dir, "run-a");
    const e = await cli(["eval", "--data", "mnist", "--model", model, "--data-dir", data]);
    assert.equal(e.status, 0, e.stderr);
    const last = e.stdout.trim().split("\n").at(-1)!;
    assert.match(last, /^accuracy: \d+\.\d\d%$/);
    const b = await loadClassifierDir(model);
    let right = 0;
    for (let i = 0; i < 30; i++) {
      const { x } = imagesToTensor({ images: testSet.images, labels: testSet.labels, count: 30, height: 28, width: 28 }, i, i + 1, b.normalize);
      if (Number(noGrad(() => argmax(b.model.forward(x), 1)).data[0]) === testSet.labels[i]) right++;
    }
    assert.equal(last, `accuracy: ${((100 * right) / 30).toFixed(2)}%`);
    const wrongData = await cli(["eval", "--data", "fashion-mnist", "--model", model, "--data-dir", data]);
    assert.equal(wrongData.status, 1);
    assert.match(wrongData.stderr, /--model expected a fashion-mnist model, got a mnist model/);
  });
  test("run: the top 3 classes with probabilities; bad images and a missing model exit 1 with one line naming them", async () => {
    const model = join(dir, "run-a");
    const files = [[0, 0], [1, 2], [2, 6]].map(([i, ct]) => {
      const f = join(dir, `img${i}-${ct}.png`);
      writeFileSync(f, pngOf(i!, ct as 0 | 2 | 6));
      return f;
    });
    // one run as its own process: exit code 0 and exactly the three lines
    const r = spawnSync(process.execPath, ["--import", "tsx", "test/apps/cli-entry.ts", "classify", "run", "--model", model, files[0]!],
      { encoding: "utf8", env: { ...process.env, QKV_NUM_THREADS: "1" } });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    const probs = lines.map((l) => {
      const m = /^(\d): (\d+\.\d\d)%$/.exec(l);
      assert.ok(m, l);
      return Number(m[2]);
    });
    assert.ok(probs[0]! >= probs[1]! && probs[1]! >= probs[2]! && probs.reduce((a, p) => a + p, 0) <= 100.01, probs.join(" "));
    const many = await cli(["--model", model, ...files]);
    assert.equal(many.status, 0, many.stderr);
    assert.equal(many.stdout.trim().split("\n").filter((l) => l.endsWith(".png")).length, 3);
    writeFileSync(join(dir, "big.png"), pngOf(0, 0, { size: 30 }));
    const big = await cli(["run", "--model", model, join(dir, "big.png")]);
    assert.equal(big.status, 1);
    assert.match(big.stderr, /big\.png expected a 28 x 28 image \(width x height\), got 30 x 30/);
    writeFileSync(join(dir, "notpng.png"), "just text");
    const text = await cli(["run", "--model", model, join(dir, "notpng.png")]);
    assert.equal(text.status, 1);
    assert.match(text.stderr, /notpng\.png expected a PNG image/);
    const missing = await cli(["run", "--model", join(dir, "no-model"), files[0]!]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no-model\/model\.safetensors\), got no such file: train one with `npx qkv classify train --data mnist --out .*no-model`/);
  });
  test("on a device backend: eval and run move the model there and print the host's lines; run reads back only each image's probabilities", async () => {
    const model = join(dir, "run-a"), files = [0, 1, 2].map((i) => join(dir, `img${i}-${[0, 2, 6][i]}.png`));
    const viz = { host: join(dir, "viz-host.html"), dev: join(dir, "viz-dev.html") };
    const hostEval = await cli(["eval", "--data", "mnist", "--model", model, "--data-dir", data]);
    const hostRun = await cli(["run", "--model", model, ...files]);
    // the page of a device model is drawn on the host backend that serves a device (the fastest host backend)
    const pageBackend = await on(true, async () => hostBackend().name), active = getBackend().name;
    setBackend(pageBackend);
    const hostViz = await cli(["run", "--model", model, files[0]!, "--viz", viz.host]).finally(() => setBackend(active));
    const devEval = await watchReads(() => cli(["eval", "--data", "mnist", "--model", model, "--data-dir", data]));
    const devRun = await watchReads(() => cli(["run", "--model", model, ...files]));
    const devViz = await on(true, () => cli(["run", "--model", model, files[0]!, "--viz", viz.dev]));
    for (const r of [hostEval, hostRun, hostViz, devEval.result, devRun.result, devViz]) assert.equal(r.status, 0, r.stderr);
    // eval: one batch of the 30 test images, its summed loss and 30 predictions read together; the same lines but the time
    assert.deepEqual(devEval.lengths, [[1, 30]]);
    assert.equal(devEval.single, 0);
    const noTime = (s: string): string => s.replace(/ in \d+\.\d s,/, " in - s,");
    assert.equal(noTime(devEval.result.stdout), noTime(hostEval.stdout));
    // run: one read of [1, 10] probabilities an image; the same classes in the same order, the percentages within rounding
    assert.equal(devRun.single, 3);
    assert.deepEqual(devRun.lengths, []);
    const parse = (s: string): [string, number][] => s.split("\n").filter((l) => !l.endsWith(".png") && l.trim()).map((l) => {
      const m = /^(\d): (\d+\.\d\d)%$/.exec(l);
      assert.ok(m, l);
      return [m[1]!, Number(m[2])];
    });
    const [a, b] = [parse(devRun.result.stdout), parse(hostRun.stdout)];
    assert.equal(a.length, 9);
    assert.deepEqual(a.map((x) => x[0]), b.map((x) => x[0]));
    a.forEach(([, p], i) => assert.ok(Math.abs(p - b[i]![1]) <= 0.011, `line ${i}: ${p} vs ${b[i]![1]}`));
    assert.equal(devRun.result.stdout.split("\n").filter((l) => l.endsWith(".png")).length, 3);
    // --viz: the page is drawn on the host from the weights read back: the host's page
    assert.equal(readFileSync(viz.dev, "utf8"), readFileSync(viz.host, "utf8"));
  });
  test("a missing dataset says what to install", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    process.env.QKV_FASHION_MNIST_DIR = empty;
    const r = await cli(["train", "--data", "fashion-mnist", "--out", join(dir, "never"), "--steps", "1"]).finally(() => { delete process.env.QKV_FASHION_MNIST_DIR; });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /empty\/train-images-idx3-ubyte expected an IDX file \(plain or \.gz\), got no such file: install it with `sudo apt-get install dataset-fashion-mnist`/);
  });
});
