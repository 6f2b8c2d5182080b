/**
 * The image view of an image classifier (a tiny ViT and CNN-stem hybrid built here, saved as model
 * directories): classifierAttentionPage's maps and prediction, `qkv viz --model <dir> --image`,
 * `qkv classify run --viz`, and their errors (an image of the wrong size, --image with --text, a
 * class index out of range).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { PNG } from "pngjs";
import type { ClassifierBundle } from "../../src/apps/classify/model-file.js";
import { saveClassifierDir } from "../../src/apps/classify/node-files.js";
import { classifierAttentionPage, classifierGrid } from "../../src/apps/classify/viz.js";
import { main } from "../../src/cli/main.js";
import { VisionTransformer } from "../../src/nn/vit.js";
import { ValueError } from "../../src/tensor/errors.js";
import { manualSeed } from "../../src/tensor/rng.js";

const dir = mkdtempSync(join(tmpdir(), "qkv-classify-viz-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const classes = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
manualSeed(5);
const vit: ClassifierBundle = {
  kind: "vit", dataset: "mnist", classes, normalize: { mean: 0.1307, std: 0.3081 },
  model: new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, numClasses: 10, dim: 8, depth: 2, heads: 2 }),
};
const hybrid: ClassifierBundle = {
  ...vit, kind: "hybrid",
  model: new VisionTransformer({ imageSize: 28, patchSize: 4, inChannels: 1, numClasses: 10, dim: 8, depth: 1, heads: 2, stem: [4, 4] }),
};
const vitDir = join(dir, "vit");
await saveClassifierDir(vitDir, vit, { float32: true });

/** A light 8 x 8 block on black at (r0, c0). */
function digit(size = 28, r0 = 6, c0 = 10): { pixels: Uint8Array; png: Buffer } {
  const pixels = new Uint8Array(size * size), png = new PNG({ width: size, height: size });
  for (let p = 0; p < size * size; p++) {
    const r = Math.floor(p / size), c = p % size, v = r >= r0 && r < r0 + 8 && c >= c0 && c < c0 + 8 ? 230 : 0;
    pixels[p] = v;
    png.data.set([v, v, v, 255], 4 * p);
  }
  return { pixels, png: PNG.sync.write(png) };
}

interface Payload { image: { h: number; w: number; px: string }; grid: number[]; overlays: { name: string }[]; layers: { name: string; heads: unknown[] }[]; gradLayers: { heads: unknown[] }[] | null }
const payloadOf = (html: string): Payload => JSON.parse(/id="qkv-data">(.*?)<\/script>/s.exec(html)![1]!) as Payload;

/** `qkv ...` in this process: its output and exit code. */
async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => { out.push(a.join(" ")); };
  console.error = (...a: unknown[]) => { err.push(a.join(" ")); };
  process.exitCode = undefined;
  try {
    await main(["node", "qkv", ...args]);
  } finally {
    console.log = log;
    console.error = error;
  }
  const status = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { status, stdout: out.join("\n"), stderr: err.join("\n") };
}

describe("image view of a classifier", () => {
  test("classifierAttentionPage: the image, rollout, attention × gradient of the predicted class, every layer and head", () => {
    const { pixels } = digit();
    assert.deepEqual(classifierGrid(vit.model), { grid: [4, 4], classToken: true });
    const html = classifierAttentionPage(vit, pixels, { source: "block.png" });
    const p = payloadOf(html);
    assert.deepEqual([p.image.h, p.image.w], [28, 28]);
    assert.deepEqual(Buffer.from(p.image.px, "base64"), Buffer.from(pixels), "the image as the model reads it");
    assert.deepEqual(p.grid, [4, 4]);
    assert.deepEqual(p.overlays.map((o) => o.name), ["attention rollout", "attention × gradient rollout"]);
    assert.deepEqual(p.layers.map((l) => [l.name, l.heads.length]), [["blocks.0.attn", 2], ["blocks.1.attn", 2]]);
    assert.deepEqual(p.gradLayers!.map((l) => l.heads.length), [2, 2]);
    assert.match(html, /ViT on block\.png: attention over the 4 x 4 patches/);
    assert.match(html, /mnist: \d \d+\.\d\d%, \d \d+\.\d\d%, \d \d+\.\d\d%; attention × gradient of the logit of \d/);
    assert.ok(vit.model.parameters().every((w) => w.grad === null || w.grad === undefined), "no gradient left on the model");
    // a chosen class, and no gradient at all
    assert.match(classifierAttentionPage(vit, pixels, { target: 3 }), /attention × gradient of the logit of 3/);
    const plain = payloadOf(classifierAttentionPage(vit, pixels, { gradient: false }));
    assert.deepEqual(plain.overlays.map((o) => o.name), ["attention rollout"]);
    assert.equal(plain.gradLayers, null);
    // the hybrid: tokens are the cells of the stem's 7 x 7 feature map
    const h = payloadOf(classifierAttentionPage(hybrid, pixels));
    assert.deepEqual(h.grid, [7, 7]);
    assert.equal(h.layers.length, 1);
  });

  test("bad input names the argument", () => {
    assert.throws(() => classifierAttentionPage(vit, new Uint8Array(30)), (e: unknown) => e instanceof ValueError && e.arg === "pixels" && /28 x 28 = 784 gray values/.test(e.message));
    assert.throws(() => classifierAttentionPage(vit, digit().pixels, { target: 10 }), (e: unknown) => e instanceof ValueError && e.arg === "target" && /\[0, 10\)/.test(e.message));
  });

  test("qkv viz --model <classifier> --image writes the page; qkv classify run --viz too", async () => {
    const png = join(dir, "block.png");
    writeFileSync(png, digit().png);
    const out = join(dir, "viz.html");
    const r = await cli(["viz", "--model", vitDir, "--image", png, "--out", out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /attention of every layer and head over the image: .*viz\.html/);
    const p = payloadOf(readFileSync(out, "utf8"));
    assert.equal(p.layers.length, 2);
    assert.equal(p.overlays.length, 2);
    const plain = join(dir, "plain.html");
    assert.equal((await cli(["viz", "--model", vitDir, "--image", png, "--no-gradient", "--out", plain])).status, 0);
    assert.equal(payloadOf(readFileSync(plain, "utf8")).gradLayers, null);

    const run = join(dir, "run.html");
    const c = await cli(["classify", "run", "--model", vitDir, "--viz", run, png]);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(c.stdout.trim().split("\n").length, 3, "the three classes, as without --viz");
    assert.match(c.stderr, /attention of every layer and head over .*block\.png: .*run\.html/);
    assert.equal(payloadOf(readFileSync(run, "utf8")).layers.length, 2);

    // errors: one line, exit 1, no page
    writeFileSync(join(dir, "big.png"), digit(30).png);
    const big = await cli(["viz", "--model", vitDir, "--image", join(dir, "big.png"), "--out", join(dir, "x.html")]);
    assert.equal(big.status, 1);
    assert.match(big.stderr, /qkv viz: .*big\.png expected a 28 x 28 image \(width x height\), got 30 x 30/);
    assert.equal(existsSync(join(dir, "x.html")), false);
    const both = await cli(["viz", "--model", vitDir, "--image", png, "--text", "x", "--out", join(dir, "x.html")]);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /give either --text \(text models\) or --image \(image classifiers\)/);
  });
});
