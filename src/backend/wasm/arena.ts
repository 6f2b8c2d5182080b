/**
 * The per-call bump allocator over the kernels' memory: reset, take every buffer of one kernel call,
 * then `commit` grows the memory once if needed and returns fresh views (growing detaches old ones).
 */
import type { KernelExports } from "./exports.js";

const PAGE = 65536;

export interface ArenaViews { f32: Float32Array; i32: Int32Array }

export class Arena {
  private top = 0;

  /** `reserved`: bytes kept at the start of the heap (the worker pool's control block). */
  constructor(private readonly k: KernelExports, private readonly reserved = 0) {}

  /** Frees everything (the start of a kernel call). */
  reset(): void {
    this.top = this.k.heapBase() + this.reserved;
  }

  /** A 64-byte aligned block of `bytes`; returns its byte pointer. */
  take(bytes: number): number {
    const p = this.top;
    this.top = Math.ceil((p + bytes) / 64) * 64;
    return p;
  }

  /** Grows the memory to hold everything taken; views over the whole memory. */
  commit(): ArenaViews {
    const have = this.k.memory.buffer.byteLength;
    if (this.top > have) this.k.memory.grow(Math.ceil((this.top - have) / PAGE));
    const buf = this.k.memory.buffer;
    return { f32: new Float32Array(buf), i32: new Int32Array(buf) };
  }

  /** Bytes of memory the module holds now. */
  get capacity(): number {
    return this.k.memory.buffer.byteLength;
  }
}
