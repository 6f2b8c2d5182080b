/**
 * The webgpu bind group cache (src/backend/webgpu/bind-groups.ts) in Node, over a stand-in device
 * that counts the bind groups it makes: a dispatch over the same pipeline and windows finds its
 * group, any other number makes one, the least recently used go past the capacity, and keys whose
 * hashes collide are told apart by their numbers.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BindGroupCache, type Bindings } from "../../src/backend/webgpu/bind-groups.js";

/** A stand-in device: each bind group a fresh object carrying the entries it was made with. */
function device(): { createBindGroup: (d: GPUBindGroupDescriptor) => GPUBindGroup; made: GPUBindGroupDescriptor[] } {
  const made: GPUBindGroupDescriptor[] = [];
  return { made, createBindGroup: (d) => { made.push(d); return { label: String(made.length) } as unknown as GPUBindGroup; } };
}

const obj = <T>(name: string): T => ({ name }) as unknown as T;
const pipeA = obj<GPUComputePipeline>("a"), pipeB = obj<GPUComputePipeline>("b");
const layout = obj<GPUBindGroupLayout>("layout"), arena = obj<GPUBuffer>("arena");
const buf1 = obj<GPUBuffer>("1"), buf2 = obj<GPUBuffer>("2");

const idOf = new Map<GPUBuffer, number>([[buf1, 1], [buf2, 2]]);
const bind = (...w: [GPUBuffer, number, number][]): Bindings =>
  ({ n: w.length, buffers: w.map((x) => x[0]), ids: w.map((x) => idOf.get(x[0])!), starts: w.map((x) => x[1]), sizes: w.map((x) => x[2]) });

describe("webgpu bind group cache", () => {
  test("the same pipeline, sizes and windows find their group; a change in any one makes another", () => {
    const dev = device(), cache = new BindGroupCache(dev);
    const base = (): Bindings => bind([buf1, 0, 1024], [buf2, 256, 512]);
    const g = cache.get(pipeA, layout, arena, base(), 16, 0);
    assert.equal(cache.get(pipeA, layout, arena, base(), 16, 0), g);
    assert.deepEqual([cache.made, cache.reused], [1, 1]);
    const others: [GPUComputePipeline, Bindings, number, number][] = [
      [pipeB, base(), 16, 0],
      [pipeA, base(), 32, 0],
      [pipeA, base(), 16, 8],
      [pipeA, bind([buf2, 0, 1024], [buf2, 256, 512]), 16, 0],
      [pipeA, bind([buf1, 256, 1024], [buf2, 256, 512]), 16, 0],
      [pipeA, bind([buf1, 0, 1024], [buf2, 256, 768]), 16, 0],
      [pipeA, bind([buf1, 0, 1024]), 16, 0],
      [pipeA, bind([buf1, 2 ** 32, 1024], [buf2, 256, 512]), 16, 0], // past 2^32: the high part counts
    ];
    const groups = others.map(([p, b, pb, tb]) => cache.get(p, layout, arena, b, pb, tb));
    assert.equal(new Set([g, ...groups]).size, others.length + 1, "each a group of its own");
    assert.equal(cache.made, others.length + 1);
    // the entries: parameters at the arena's start, the windows, the table after them
    const d = dev.made[3]!; // the table's
    const entries = [...d.entries] as { binding: number; resource: GPUBufferBinding }[];
    assert.deepEqual(entries.map((e) => [e.binding, e.resource.buffer, e.resource.offset, e.resource.size]),
      [[0, arena, 0, 16], [1, buf1, 0, 1024], [2, buf2, 256, 512], [3, arena, 0, 8]]);
  });

  test("past the capacity the least recently used go (a quarter of the capacity, at least one)", () => {
    const cache = new BindGroupCache(device(), 3);
    const at = (start: number): Bindings => bind([buf1, start, 256]);
    const g0 = cache.get(pipeA, layout, arena, at(0), 16, 0);
    cache.get(pipeA, layout, arena, at(256), 16, 0);
    cache.get(pipeA, layout, arena, at(512), 16, 0);
    assert.equal(cache.get(pipeA, layout, arena, at(0), 16, 0), g0, "used again: now the most recent");
    cache.get(pipeA, layout, arena, at(768), 16, 0); // the fourth: 256's goes
    const made = cache.made;
    assert.equal(cache.get(pipeA, layout, arena, at(0), 16, 0), g0, "kept");
    cache.get(pipeA, layout, arena, at(512), 16, 0);
    assert.equal(cache.made, made, "512's kept");
    cache.get(pipeA, layout, arena, at(256), 16, 0);
    assert.equal(cache.made, made + 1, "256's was dropped");
    // capacity 8: the ninth drops the two least recently used at once
    const big = new BindGroupCache(device(), 8);
    for (let i = 0; i < 9; i++) big.get(pipeA, layout, arena, at(256 * i), 16, 0);
    const before = big.made;
    for (const i of [2, 3, 4, 5, 6, 7, 8]) big.get(pipeA, layout, arena, at(256 * i), 16, 0);
    assert.equal(big.made, before, "2 .. 8 kept");
    big.get(pipeA, layout, arena, at(256), 16, 0);
    assert.equal(big.made, before + 1, "1's dropped with 0's");
  });

  test("keys whose hashes collide are told apart, and count once each against the capacity", () => {
    const cache = new BindGroupCache(device(), 4, () => 7);
    const gs = [0, 256, 512].map((s) => cache.get(pipeA, layout, arena, bind([buf1, s, 256]), 16, 0));
    assert.equal(new Set(gs).size, 3);
    assert.deepEqual([0, 256, 512].map((s) => cache.get(pipeA, layout, arena, bind([buf1, s, 256]), 16, 0)), gs);
    assert.deepEqual([cache.made, cache.reused], [3, 3]);
    // a fifth key over the capacity drops the least recently used (0's), not its whole bucket
    cache.get(pipeA, layout, arena, bind([buf1, 768, 256]), 16, 0);
    cache.get(pipeA, layout, arena, bind([buf1, 1024, 256]), 16, 0);
    assert.equal(cache.made, 5);
    assert.equal(cache.get(pipeA, layout, arena, bind([buf1, 256, 256]), 16, 0), gs[1], "256's kept in the shared bucket");
    const again = cache.get(pipeA, layout, arena, bind([buf1, 0, 256]), 16, 0);
    assert.notEqual(again, gs[0], "0's made anew");
    cache.clear();
    cache.get(pipeA, layout, arena, bind([buf1, 1024, 256]), 16, 0);
    assert.equal(cache.made, 7, "clear drops everything");
  });
});
