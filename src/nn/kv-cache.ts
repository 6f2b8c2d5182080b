/**
 * Key/value caches for incremental (token by token) decoding. A KVCache holds one attention
 * layer's past keys and values [B, Hkv, T, D]; each step appends the new tokens' keys and values
 * and attends over all of them, so a step computes only the new tokens' rows. A DecoderCache
 * holds one KVCache per layer of a stack.
 *
 * ```ts
 * const cache = new KVCache();
 * for (let t = 0; t < n; t++) {
 *   const { output } = attn.forward(xt, { cache }); // xt [B, 1, E]; cache.length grows by 1
 * }
 * cache.reset();
 * ```
 */
import { concat, indexSelect } from "../ops/shape.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";

export class KVCache {
  private k: Tensor | null = null;
  private v: Tensor | null = null;
  /**
   * A decoder layer's projected memory keys and values [B, H, S, D] for its cross-attention,
   * computed at the first step from `memory` and reused while the layer is given that same
   * memory tensor (another memory recomputes them).
   */
  memoryKV: { memory: Tensor; k: Tensor; v: Tensor } | null = null;
  /**
   * The cross-attention's key padding mask as an additive float32 mask [B, 1, 1, S] on the
   * memory's device, made at the first step from the host mask `from` and reused while the layer
   * is given that same mask tensor (another recomputes it).
   */
  memoryMask: { from: Tensor; mask: Tensor } | null = null;

  /** Number of cached tokens T. */
  get length(): number {
    return this.k ? this.k.shape[2]! : 0;
  }

  /** The cached keys [B, Hkv, T, D] (null while empty). */
  get keys(): Tensor | null {
    return this.k;
  }

  /** The cached values [B, Hkv, T, Dv] (null while empty). */
  get values(): Tensor | null {
    return this.v;
  }

  /**
   * Appends k [B, Hkv, L, D] and v [B, Hkv, L, Dv] and returns all keys and values so far,
   * [B, Hkv, T + L, D] and [B, Hkv, T + L, Dv].
   */
  append(k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const op = "KVCache.append";
    expectTensor(k, "k", op);
    expectTensor(v, "v", op);
    if (k.rank !== 4) throw new ShapeError(op, "k", "[B, Hkv, L, D]", fmtShape(k.shape));
    if (v.rank !== 4 || v.shape[0] !== k.shape[0] || v.shape[1] !== k.shape[1] || v.shape[2] !== k.shape[2]) {
      throw new ShapeError(op, "v", `[${k.shape[0]}, ${k.shape[1]}, ${k.shape[2]}, Dv]`, fmtShape(v.shape));
    }
    if (v.dtype !== k.dtype) throw new DTypeError(op, "v", k.dtype, v.dtype);
    if (this.k && this.v) {
      const pk = this.k.shape, pv = this.v.shape;
      if (k.shape[0] !== pk[0] || k.shape[1] !== pk[1] || k.shape[3] !== pk[3]) {
        throw new ShapeError(op, "k", `[${pk[0]}, ${pk[1]}, L, ${pk[3]}] (the cached batch, heads and dim)`, fmtShape(k.shape));
      }
      if (v.shape[3] !== pv[3]) throw new ShapeError(op, "v", `[${pv[0]}, ${pv[1]}, L, ${pv[3]}] (the cached batch, heads and dim)`, fmtShape(v.shape));
      if (k.dtype !== this.k.dtype) throw new DTypeError(op, "k", this.k.dtype, k.dtype);
      this.k = concat([this.k, k], 2);
      this.v = concat([this.v, v], 2);
    } else {
      this.k = k;
      this.v = v;
    }
    return { k: this.k, v: this.v };
  }

  /**
   * Keeps the batch rows `rows` (in that order; repeats allowed), e.g. the surviving hypotheses
   * of a beam search: keys [B, …] -> [rows.length, …]. The memory keys and values follow the rows
   * when `memory` (the memory tensor with those rows, passed to the next steps) is given, else
   * they are dropped and recomputed.
   */
  reorder(rows: readonly number[], memory?: Tensor): void {
    if (!this.k || !this.v) return;
    const B = this.k.shape[0]!;
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= B) throw new ValueError("KVCache.reorder", "rows", `indices in [0, ${B})`, String(r));
    this.k = indexSelect(this.k, 0, rows);
    this.v = indexSelect(this.v, 0, rows);
    if (this.memoryKV) {
      const { k, v } = this.memoryKV;
      this.memoryKV = memory ? { memory, k: indexSelect(k, 0, rows), v: indexSelect(v, 0, rows) } : null;
    }
    this.memoryMask = null; // the next step's mask has the kept rows: made again from it
  }

  /** Forgets every cached token (and the memory keys, values and mask). */
  reset(): void {
    this.k = this.v = null;
    this.memoryKV = null;
    this.memoryMask = null;
  }
}

/** One KVCache per layer of a stack (e.g. TransformerDecoder's self-attention layers). */
export class DecoderCache {
  readonly layers: KVCache[];
  constructor(readonly numLayers: number) {
    if (!Number.isInteger(numLayers) || numLayers < 1) throw new ValueError("DecoderCache", "numLayers", "a positive integer", String(numLayers));
    this.layers = Array.from({ length: numLayers }, () => new KVCache());
  }
  /** Number of cached tokens (the same in every layer). */
  get length(): number {
    return this.layers[0]!.length;
  }
  /** The cache of layer i. */
  layer(i: number): KVCache {
    const c = this.layers[i];
    if (!c) throw new ValueError("DecoderCache.layer", "i", `an index in [0, ${this.numLayers})`, String(i));
    return c;
  }
  /** Keeps the batch rows `rows` in every layer (see KVCache.reorder). */
  reorder(rows: readonly number[], memory?: Tensor): void {
    for (const c of this.layers) c.reorder(rows, memory);
  }
  reset(): void {
    for (const c of this.layers) c.reset();
  }
}

/**
 * The causal mask of L new queries after `past` cached tokens, over S = past + L keys, bool [L, S]:
 * true (may not attend) where key j comes after query i's position past + i.
 */
export function cachedCausalMask(L: number, past: number): Tensor {
  for (const [arg, v, min] of [["L", L, 1], ["past", past, 0]] as const) {
    if (!Number.isInteger(v) || v < min) throw new ValueError("cachedCausalMask", arg, min ? "a positive integer" : "a non-negative integer", String(v));
  }
  const S = past + L;
  const m = new Tensor(new Uint8Array(L * S), [L, S], "bool");
  for (let i = 0; i < L; i++) for (let j = past + i + 1; j < S; j++) m.data[i * S + j] = 1;
  return m;
}
