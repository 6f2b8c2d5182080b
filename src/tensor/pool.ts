/**
 * Recycled float32 buffers. The autograd engine hands back the buffers it has proved dead
 * (autograd/recycle.ts, autograd/free-graph.ts); `allocate` takes them again before asking the
 * garbage collector for new memory, so a training step runs mostly on the previous step's buffers:
 * less zero-filling by the allocator, far fewer collections.
 *
 * Arrays of at least MIN_ELEMENTS are views of an ArrayBuffer of their size class (the length
 * rounded up to a quarter of its power of two, so at most 25% larger), which is what the pool holds:
 * batches of varying shape (token-bucketed text) reuse buffers of neighbouring sizes. The pool holds
 * at most `maxBytes` (DEFAULT_MAX_BYTES unless setBufferPool says otherwise) and PER_SIZE buffers of
 * one class (the rest are left to the collector). The cap should hold a whole training step's
 * buffers: a step of the translation model (2,048-token batches, an 8,000-word output layer) gives
 * back about 1.2 GB, and every buffer the cap turns away is a new allocation the next step.
 *
 * While `trackBorn` is active, every float32 buffer allocated is recorded: the engine only ever
 * recycles a buffer born inside its own backward pass, never one that existed before (a parameter,
 * a cached constant, a tensor the caller holds).
 */

import type { DeviceArray } from "./device.js";
import { ValueError } from "./errors.js";

/** Smaller buffers are cheap for the collector; pooling them would only cost lookups. */
export const MIN_ELEMENTS = 1024;
/** The default cap on the bytes the pool holds (only buffers a step already used are ever held). */
export const DEFAULT_MAX_BYTES = 4 * 2 ** 30;
const PER_SIZE = 256;

/** Free buffers by size class (in elements). */
const free = new Map<number, ArrayBuffer[]>();
/** The buffers made here (only these are ever pooled). */
const ours = new WeakSet<ArrayBuffer>();
/** The buffers in `free` now (a buffer given back twice is pooled once). */
const pooled = new WeakSet<ArrayBuffer>();
let pooledBytes = 0;
let maxBytes = DEFAULT_MAX_BYTES;
let born: Set<object> | null = null;
let enabled = true;
/** Tensors made as views of each buffer (reshape, contiguous slices, detach), besides its owner. */
const views = new WeakMap<ArrayBuffer, number>();

let poison = false;

/**
 * Testing aid: while on, `allocateUninit` fills pooled buffers with NaN instead of leaving their old
 * contents, so a kernel that does not write its whole output shows up as NaN.
 */
export function poisonUninitialized(on: boolean): void {
  poison = on;
}

/** True while `poisonUninitialized` is on. */
export function poisoning(): boolean {
  return poison;
}

/**
 * Turns recycling on or off (on by default); off also empties the pool. `maxBytes` caps what the pool
 * holds (default DEFAULT_MAX_BYTES, 4 GiB); lowering it drops pooled buffers past the new cap.
 */
export function setBufferPool(on: boolean, opts: { maxBytes?: number } = {}): void {
  if (typeof on !== "boolean") throw new ValueError("setBufferPool", "on", "a boolean", typeof on);
  const m = opts.maxBytes;
  if (m !== undefined && !(Number.isSafeInteger(m) && m >= 0)) {
    throw new ValueError("setBufferPool", "maxBytes", "a whole number of bytes >= 0", String(m));
  }
  enabled = on;
  if (m !== undefined) {
    maxBytes = m;
    for (const list of free.values()) {
      while (pooledBytes > maxBytes && list.length > 0) {
        const b = list.pop()!;
        pooled.delete(b);
        pooledBytes -= b.byteLength;
      }
    }
  }
  if (!on) clearPool();
}

/** The size class of n elements: n rounded up to a multiple of a quarter of its power of two. */
export function sizeClass(n: number): number {
  const step = 2 ** Math.max(0, Math.floor(Math.log2(n)) - 2);
  return Math.ceil(n / step) * step;
}

/** A new zero-filled float32 array of n elements (a view of its size class's buffer when large). */
export function newFloat32(n: number): Float32Array {
  if (n < MIN_ELEMENTS) return new Float32Array(n);
  const b = new ArrayBuffer(4 * sizeClass(n));
  ours.add(b);
  if (born !== null) born.add(b);
  return new Float32Array(b, 0, n);
}

/** A pooled array of n elements (contents arbitrary), or null. */
export function takeFloat32(n: number): Float32Array | null {
  if (n < MIN_ELEMENTS) return null;
  const b = free.get(sizeClass(n))?.pop();
  if (b === undefined) return null;
  pooled.delete(b);
  pooledBytes -= b.byteLength;
  if (born !== null) born.add(b);
  return new Float32Array(b, 0, n);
}

/**
 * Gives a buffer back. The caller guarantees that nothing will read or write it again; buffers
 * not made here are ignored.
 */
export function recycleBuffer(b: ArrayBuffer): void {
  if (!enabled || !ours.has(b)) return;
  if (pooledBytes + b.byteLength > maxBytes) return;
  const k = b.byteLength / 4;
  let list = free.get(k);
  if (list === undefined) free.set(k, (list = []));
  if (list.length >= PER_SIZE || pooled.has(b)) return;
  views.delete(b); // its tensors are gone: a new life starts without views
  list.push(b);
  pooled.add(b);
  pooledBytes += b.byteLength;
}

/** Records a device array made for a new tensor (its births count as the host buffers' do). */
export function noteDeviceBorn(arr: object): void {
  if (born !== null) born.add(arr);
}

/** Runs fn with buffer births recorded into `set` (nested calls restore the outer set). */
export function trackBorn<T>(set: Set<object>, fn: () => T): T {
  const prev = born;
  born = set;
  try {
    return fn();
  } finally {
    born = prev;
  }
}


/** Records that a new tensor shares `a`'s buffer. */
export function noteView(a: ArrayBufferView): void {
  const b = a.buffer as ArrayBuffer;
  views.set(b, (views.get(b) ?? 0) + 1);
}

/** How many view tensors of the buffer were ever made (0 for a buffer with only its owner). */
export function viewCount(b: ArrayBuffer): number {
  return views.get(b) ?? 0;
}

// ---- device arrays: how many tensors share each (freeGraph gives one back only when all of them are on the freed graph)

/** Records a tensor made over `arr` (the Tensor constructor, toDevice): a count on the array it was taken from (`DeviceArray.tensors`). */
export function noteDeviceTensor(arr: DeviceArray): void {
  const root = arr.base ?? arr;
  root.tensors = (root.tensors ?? 0) + 1;
}

/** How many tensors were ever made over the device array `root` or views of it. */
export function deviceTensorCount(root: DeviceArray): number {
  return root.tensors ?? 0;
}
// ---- end device arrays

/** Empties the pool (tests; freeing memory for other work). */
export function clearPool(): void {
  for (const list of free.values()) for (const b of list) pooled.delete(b);
  free.clear();
  pooledBytes = 0;
}

/** Bytes held by the pool now. */
export function poolBytes(): number {
  return pooledBytes;
}
