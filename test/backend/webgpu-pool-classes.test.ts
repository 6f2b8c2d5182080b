/**
 * The webgpu buffer pool's size classes (src/backend/webgpu/pool.ts `sizeClass`) in Node: the next
 * power of two of the bytes asked for, at least 256, capped at the device's largest buffer (rounded
 * down to whole floats), checked against that definition by exact float64 powers of two on every
 * size up to 5000 and on each side of every power of two up to 2^40.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sizeClass } from "../../src/backend/webgpu/pool.js";

/** The definition: the least power of two at least max(bytes, 256), by repeated doubling. */
function wanted(bytes: number, maxBufferSize: number): number {
  let c = 256;
  while (c < bytes) c *= 2;
  return Math.min(c, maxBufferSize - (maxBufferSize % 4));
}

describe("webgpu buffer pool size classes", () => {
  test("the next power of two, at least 256, capped at the largest buffer", () => {
    const sizes: number[] = [];
    for (let b = 0; b <= 5000; b++) sizes.push(b);
    for (let k = 8; k <= 40; k++) sizes.push(2 ** k - 1, 2 ** k, 2 ** k + 1, 3 * 2 ** (k - 1));
    for (const max of [2 ** 40, 2 ** 32, 2 ** 31 + 6, 268435456, 1000]) {
      for (const b of sizes) assert.equal(sizeClass(b, max), wanted(b, max), `sizeClass(${b}, ${max})`);
    }
    assert.equal(sizeClass(2 ** 31, 2 ** 40), 2 ** 31);
    assert.equal(sizeClass(2 ** 31 + 1, 2 ** 40), 2 ** 32);
  });
});
