/**
 * A counter-based random generator: the n-th number of a stream is a pure function of
 * (seed, n), computed with 32-bit integer mixing only, so the same seed gives the same numbers on
 * every platform and every backend (the native and wasm kernels reproduce `randomBits` exactly,
 * which lets a fused backward regenerate its forward's dropout mask).
 *
 * ```ts
 * manualSeed(42);
 * const x = randn([2, 3]); // same numbers on every machine
 * ```
 */

/** 32-bit mixing (a well-tested integer hash: two xor-shift-multiply rounds). */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Random 32 bits for stream key (k0, k1) at `counter`. */
export function randomBits(k0: number, k1: number, counter: number): number {
  const c = counter >>> 0;
  const hi = Math.floor(counter / 4294967296) >>> 0;
  let x = mix32((c ^ k0) >>> 0);
  x = mix32((x + (k1 ^ Math.imul(hi, 0x9e3779b9))) >>> 0);
  return mix32((x ^ k0 ^ 0x5bd1e995) >>> 0);
}

/** Uniform in (0, 1) with 24 random bits, as float32 would hold it. */
export function uniformAt(k0: number, k1: number, counter: number): number {
  return ((randomBits(k0, k1, counter) >>> 8) + 0.5) * 5.9604644775390625e-8;
}

/** A seeded stream; each draw reserves a range of counters. */
export class Generator {
  private k0: number;
  private k1: number;
  private offset = 0;

  constructor(seed = 0) {
    this.k0 = 0;
    this.k1 = 0;
    this.manualSeed(seed);
  }

  manualSeed(seed: number): this {
    const s = Math.floor(Math.abs(seed));
    this.k0 = mix32((s >>> 0) ^ 0x2545f491);
    this.k1 = mix32((Math.floor(s / 4294967296) >>> 0) ^ 0x9e3779b9);
    this.offset = 0;
    return this;
  }

  /** Reserves `n` counters and returns the stream key and the first counter. */
  take(n: number): { k0: number; k1: number; start: number } {
    const start = this.offset;
    this.offset += n;
    return { k0: this.k0, k1: this.k1, start };
  }

  /** Saved state, to replay a stream exactly (checkpoints, resume). */
  getState(): { k0: number; k1: number; offset: number } {
    return { k0: this.k0, k1: this.k1, offset: this.offset };
  }

  setState(s: { k0: number; k1: number; offset: number }): this {
    this.k0 = s.k0 >>> 0;
    this.k1 = s.k1 >>> 0;
    this.offset = s.offset;
    return this;
  }

  fillUniform(out: Float32Array | Float64Array, low = 0, high = 1): void {
    const { k0, k1, start } = this.take(out.length);
    const w = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + w * uniformAt(k0, k1, start + i);
  }

  fillNormal(out: Float32Array | Float64Array, mean = 0, std = 1): void {
    const n = out.length;
    const { k0, k1, start } = this.take(2 * n);
    for (let i = 0; i < n; i++) {
      const u1 = uniformAt(k0, k1, start + 2 * i);
      const u2 = uniformAt(k0, k1, start + 2 * i + 1);
      out[i] = mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
  }

  /** Integers in [low, high). */
  fillInt(out: Int32Array, low: number, high: number): void {
    const { k0, k1, start } = this.take(out.length);
    const w = high - low;
    for (let i = 0; i < out.length; i++) out[i] = low + Math.floor(uniformAt(k0, k1, start + i) * w);
  }
}

/** The default generator, used when no `generator` option is given. */
export const defaultGenerator = new Generator(0);

/** Seeds the default generator. */
export function manualSeed(seed: number): void {
  defaultGenerator.manualSeed(seed);
}
