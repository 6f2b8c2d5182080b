/**
 * The playground's preparation of a drawn digit (playground/src/digit-prep.ts), as MNIST's were
 * prepared: the strokes' bounding box scaled into 20 x 20 with the aspect kept, gray edges from
 * the area mean, the centre of mass at the centre of 28 x 28; nothing drawn gives null.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DIGIT_BOX, DIGIT_SIDE, prepareDigit } from "../../playground/src/digit-prep.js";
import { ValueError } from "../../src/tensor/errors.js";

/** A W x H black canvas with a white rectangle [x0, x1) x [y0, y1). */
function canvas(W: number, H: number, x0: number, x1: number, y0: number, y1: number): Uint8Array {
  const g = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) g[y * W + x] = 255;
  return g;
}

function bbox(p: Uint8Array): { w: number; h: number; cx: number; cy: number } {
  let x0 = 99, x1 = -1, y0 = 99, y1 = -1, m = 0, cx = 0, cy = 0;
  p.forEach((v, i) => {
    if (!v) return;
    const x = i % DIGIT_SIDE, y = Math.floor(i / DIGIT_SIDE);
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    m += v; cx += v * (x + 0.5); cy += v * (y + 0.5);
  });
  return { w: x1 - x0 + 1, h: y1 - y0 + 1, cx: cx / m, cy: cy / m };
}

test("a tall stroke in a corner is scaled to 20 pixels high, aspect kept, and centred by its mass", () => {
  // 40 x 200 pixels in the top-left corner of a 280 x 280 pad
  const out = prepareDigit(canvas(280, 280, 10, 50, 5, 205), 280, 280)!;
  assert.equal(out.length, DIGIT_SIDE * DIGIT_SIDE);
  const b = bbox(out);
  assert.equal(b.h, DIGIT_BOX);
  assert.equal(b.w, 4);
  assert.ok(Math.abs(b.cx - 14) <= 0.5 && Math.abs(b.cy - 14) <= 0.5, `centre of mass (${b.cx}, ${b.cy})`);
  assert.equal(Math.max(...out), 255);
});

test("edges that cover part of an output pixel come out gray", () => {
  // 30 x 30 input pixels -> 20 x 20: each output pixel covers 1.5 input pixels a side
  const g = new Uint8Array(100 * 100);
  for (let y = 0; y < 30; y++) for (let x = 0; x < 30; x++) g[y * 100 + x] = x < 15 ? 255 : 0;
  g[29 * 100 + 29] = 255; // the box stays 30 x 30
  const out = prepareDigit(g, 100, 100)!;
  const grays = Array.from(out).filter((v) => v > 0 && v < 255);
  assert.ok(grays.length > 0, "partly covered pixels are gray");
});

test("nothing drawn gives null; a size that does not match the pixels is a ValueError", () => {
  assert.equal(prepareDigit(new Uint8Array(280 * 280), 280, 280), null);
  assert.equal(prepareDigit(Uint8Array.from({ length: 100 }, () => 10), 10, 10), null, "faint noise is background");
  assert.throws(() => prepareDigit(new Uint8Array(10), 4, 4), ValueError);
});

test("the box and side can be set (Fashion-MNIST items fill the image)", () => {
  const out = prepareDigit(canvas(280, 280, 40, 240, 40, 140), 280, 280, { box: 28 })!;
  const b = bbox(out);
  assert.equal(b.w, 28);
  assert.equal(b.h, 14);
});
