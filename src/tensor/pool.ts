/**
 * Recycled float32 buffers. The autograd engine hands back the gradient temporaries it has proved
 * dead (autograd/backward.ts); `allocate` takes them again, by exact length, before asking the
 * garbage collector for new memory. A training step allocates the same sizes every time, so most
 * of its backward pass, and much of the next forward, runs without new buffers: less zero-filling
 * by the allocator, fewer collections.
 *
 * Only whole buffers of at least MIN_ELEMENTS are pooled; the pool holds at most CAP_BYTES and at
 * most PER_SIZE buffers of one length (the oldest are left to the collector).
 *
 * While `trackBorn` is active, every float32 buffer allocated is recorded: the engine only ever
 * recycles a buffer born inside its own backward pass, never one that existed before (a parameter,
 * a cached constant, a tensor the caller holds).
 */

/** Smaller buffers are cheap for the collector; pooling them would only cost lookups. */
export const MIN_ELEMENTS = 1024;
const CAP_BYTES = 512 * 2 ** 20;
const PER_SIZE = 256;

const free = new Map<number, Float32Array[]>();
let pooledBytes = 0;
let born: Set<ArrayBuffer> | null = null;
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

/** Turns recycling on or off (on by default); off also empties the pool. */
export function setBufferPool(on: boolean): void {
  enabled = on;
  if (!on) clearPool();
}

/** A pooled buffer of exactly n elements (contents arbitrary), or null. */
export function takeFloat32(n: number): Float32Array | null {
  if (n < MIN_ELEMENTS) return null;
  const list = free.get(n);
  const a = list?.pop();
  if (a === undefined) return null;
  pooledBytes -= a.byteLength;
  if (born !== null) born.add(a.buffer as ArrayBuffer);
  return a;
}

/** Records a freshly allocated buffer while a backward pass tracks them. */
export function noteBorn(a: Float32Array): void {
  if (born !== null && a.length >= MIN_ELEMENTS) born.add(a.buffer as ArrayBuffer);
}

/**
 * Gives a buffer back. The caller guarantees that nothing will read or write it again; `a` must
 * span its whole ArrayBuffer.
 */
export function recycleFloat32(a: Float32Array): void {
  const n = a.length;
  if (!enabled || n < MIN_ELEMENTS || a.byteOffset !== 0 || a.byteLength !== a.buffer.byteLength) return;
  if (pooledBytes + a.byteLength > CAP_BYTES) return;
  let list = free.get(n);
  if (list === undefined) free.set(n, (list = []));
  if (list.length >= PER_SIZE) return;
  views.delete(a.buffer as ArrayBuffer); // its tensors are gone: a new life starts without views
  list.push(a);
  pooledBytes += a.byteLength;
}

/** Runs fn with buffer births recorded into `set` (nested calls restore the outer set). */
export function trackBorn<T>(set: Set<ArrayBuffer>, fn: () => T): T {
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

/** Empties the pool (tests; freeing memory for other work). */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}

/** Bytes held by the pool now. */
export function poolBytes(): number {
  return pooledBytes;
}
