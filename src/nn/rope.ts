/**
 * Rotary position embedding (RoPE, Su et al.): each pair of the first `rotaryDim` features of a
 * query or key is rotated by the angle p·θ_i of its token position p, θ_i = base^(-2i/R). Dot
 * products of rotated queries and keys then depend only on the relative position.
 *
 * Layouts: "half" (GPT-NeoX, Hugging Face Llama `rotate_half`) pairs (x[i], x[i + R/2]);
 * "interleaved" (GPT-J, RoFormer) pairs (x[2i], x[2i + 1]). Features R..D-1 pass through.
 * applyRotary is one differentiable op; its backward is the transposed rotation (angle -p·θ_i).
 * On a device backend it is composed of device ops (a pair-swapping matmul, products with the
 * cos / sin tables), whose autograd gives the same backward.
 *
 * ```ts
 * const q = randn([2, 4, 5, 16]);                                   // [B, H, L, D]
 * const qr = applyRotary(q, [0, 1, 2, 3, 4]);                       // same shape
 * const rope = new RotaryEmbedding(16, { layout: "interleaved" });
 * const [qRot, kRot] = rope.forward(q, k, { offset: cache.length }); // positions offset..offset+L-1
 * ```
 */
import { attach } from "../autograd/graph.js";
import { add, mul } from "../ops/elementwise.js";
import { matmul } from "../ops/matmul.js";
import { empty, fdata, floatOf } from "../ops/util.js";
import { DTypeError, ShapeError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor, expectTensor } from "../tensor/tensor.js";
import { Module } from "./module.js";

export type RotaryLayout = "half" | "interleaved";

export interface RotaryOptions {
  /** Rotated width R (even, <= D); default D. */
  rotaryDim?: number;
  /** θ_i = base^(-2i/R); default 10000. */
  base?: number;
  /** Pairing of the rotated features; default "half". */
  layout?: RotaryLayout;
}

const OP = "applyRotary";

/** cos and sin of p·θ_i, [L, R/2] each, in float64. */
function angles(positions: readonly number[], R: number, base: number): { cos: Float64Array; sin: Float64Array } {
  const half = R / 2, L = positions.length;
  const cos = new Float64Array(L * half), sin = new Float64Array(L * half);
  for (let l = 0; l < L; l++) {
    const p = positions[l]!;
    for (let i = 0; i < half; i++) {
      const a = p * Math.pow(base, (-2 * i) / R);
      cos[l * half + i] = Math.cos(a);
      sin[l * half + i] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** Rotates x [..., L, D] by the tables (sign -1: the inverse, i.e. transposed, rotation). */
function rotate(x: Tensor, cos: Float64Array, sin: Float64Array, sign: 1 | -1, R: number, layout: RotaryLayout): Tensor {
  const D = x.shape[x.rank - 1]!, L = x.shape[x.rank - 2]!;
  const half = R / 2;
  const out = empty(x.shape, x.dtype);
  const xd = fdata(x), od = fdata(out);
  const rows = x.size / D;
  for (let r = 0; r < rows; r++) {
    const l = r % L, base = r * D, t = l * half;
    for (let i = 0; i < half; i++) {
      const c = cos[t + i]!, s = sign * sin[t + i]!;
      const i0 = layout === "half" ? base + i : base + 2 * i;
      const i1 = layout === "half" ? i0 + half : i0 + 1;
      const a = xd[i0]!, b = xd[i1]!;
      od[i0] = a * c - b * s;
      od[i1] = b * c + a * s;
    }
    for (let j = R; j < D; j++) od[base + j] = xd[base + j]!;
  }
  return out;
}

/**
 * The rotation from device ops (x on a device): x * C + (x @ P) * S, where P [D, D] swaps each
 * pair's features, and C, S [L, D] hold cos and ∓sin per pair (1 and 0 past R).
 */
function rotateOnDevice(x: Tensor, cos: Float64Array, sin: Float64Array, R: number, layout: RotaryLayout): Tensor {
  const D = x.shape[x.rank - 1]!, L = x.shape[x.rank - 2]!, half = R / 2;
  const P = new Float32Array(D * D), C = new Float32Array(L * D).fill(1), S = new Float32Array(L * D);
  for (let j = R; j < D; j++) P[j * D + j] = 1;
  for (let i = 0; i < half; i++) {
    const i0 = layout === "half" ? i : 2 * i, i1 = layout === "half" ? i + half : 2 * i + 1;
    P[i1 * D + i0] = 1; // (x @ P)[i0] = x[i1]
    P[i0 * D + i1] = 1;
    for (let l = 0; l < L; l++) {
      const c = cos[l * half + i]!, s = sin[l * half + i]!;
      C[l * D + i0] = c;
      C[l * D + i1] = c;
      S[l * D + i0] = -s; // out[i0] = x[i0] c - x[i1] s
      S[l * D + i1] = s; //  out[i1] = x[i1] c + x[i0] s
    }
  }
  const t = (a: Float32Array, shape: number[]): Tensor => new Tensor(a, shape, "float32");
  return add(mul(x, t(C, [L, D])), mul(matmul(x, t(P, [D, D])), t(S, [L, D])));
}

function rotaryOp(x: Tensor, cos: Float64Array, sin: Float64Array, sign: 1 | -1, R: number, layout: RotaryLayout): Tensor {
  if (x.onDevice) return rotateOnDevice(x, cos, sign === 1 ? sin : sin.map((v) => -v), R, layout);
  return attach(rotate(x, cos, sin, sign, R, layout), "applyRotary", [x], (g) => [rotaryOp(g, cos, sin, sign === 1 ? -1 : 1, R, layout)]);
}

/** Positions as numbers: an int32 tensor [L] or an array of integers. */
function positionList(positions: Tensor | readonly number[], L: number, op: string): number[] {
  let list: number[];
  if (positions instanceof Tensor) {
    if (positions.dtype !== "int32") throw new DTypeError(op, "positions", "int32", positions.dtype);
    if (positions.rank !== 1 || positions.shape[0] !== L) throw new ShapeError(op, "positions", `[L] = [${L}]`, fmtShape(positions.shape));
    list = Array.from(positions.data, Number);
  } else {
    if (!Array.isArray(positions)) throw new ValueError(op, "positions", "an int32 tensor [L] or an array of integers", typeof positions);
    if (positions.length !== L) throw new ShapeError(op, "positions", `[L] = [${L}]`, `[${positions.length}]`);
    list = positions.slice();
  }
  for (const p of list) if (!Number.isInteger(p) || p < 0) throw new ValueError(op, "positions", "non-negative integers", String(p));
  return list;
}

function checkRotaryOptions(D: number, opts: RotaryOptions, op: string): { R: number; base: number; layout: RotaryLayout } {
  const R = opts.rotaryDim ?? D;
  if (!Number.isInteger(R) || R < 2 || R % 2 !== 0 || R > D) throw new ValueError(op, "rotaryDim", `an even integer in [2, ${D}]`, String(R));
  const base = opts.base ?? 10000;
  if (typeof base !== "number" || !(base > 0) || !Number.isFinite(base)) throw new ValueError(op, "base", "a positive number", String(base));
  const layout = opts.layout ?? "half";
  if (layout !== "half" && layout !== "interleaved") throw new ValueError(op, "layout", '"half" or "interleaved"', String(layout));
  return { R, base, layout };
}

/**
 * Rotates x [..., L, D] (float) so that token l is at position positions[l] (int32 [L] or
 * numbers). Differentiable in x.
 */
export function applyRotary(x: Tensor, positions: Tensor | readonly number[], opts: RotaryOptions = {}): Tensor {
  expectTensor(x, "x", OP);
  floatOf(x, "x", OP);
  if (x.rank < 2) throw new ShapeError(OP, "x", "[..., L, D]", fmtShape(x.shape));
  const D = x.shape[x.rank - 1]!, L = x.shape[x.rank - 2]!;
  const { R, base, layout } = checkRotaryOptions(D, opts, OP);
  const { cos, sin } = angles(positionList(positions, L, OP), R, base);
  return rotaryOp(x, cos, sin, 1, R, layout);
}

/** The positions offset, offset+1, ..., offset+L-1. */
export function positionRange(L: number, offset = 0): number[] {
  return Array.from({ length: L }, (_, i) => offset + i);
}

/** Rotary embedding as a module (no parameters): rotates queries and keys of head dim `headDim`. */
export class RotaryEmbedding extends Module {
  readonly rotaryDim: number;
  readonly base: number;
  readonly layout: RotaryLayout;
  constructor(readonly headDim: number, opts: RotaryOptions = {}) {
    super();
    if (!Number.isInteger(headDim) || headDim < 2) throw new ValueError("RotaryEmbedding", "headDim", "an integer >= 2", String(headDim));
    const { R, base, layout } = checkRotaryOptions(headDim, opts, "RotaryEmbedding");
    this.rotaryDim = R;
    this.base = base;
    this.layout = layout;
  }

  /** x [..., L, headDim] at positions (default offset..offset+L-1, offset default 0). */
  rotate(x: Tensor, opts: { positions?: Tensor | readonly number[]; offset?: number } = {}): Tensor {
    expectTensor(x, "x", "RotaryEmbedding.rotate");
    if (x.rank < 2 || x.shape[x.rank - 1] !== this.headDim) throw new ShapeError("RotaryEmbedding.rotate", "x", `[..., L, ${this.headDim}]`, fmtShape(x.shape));
    const offset = opts.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0) throw new ValueError("RotaryEmbedding.rotate", "offset", "a non-negative integer", String(offset));
    const pos = opts.positions ?? positionRange(x.shape[x.rank - 2]!, offset);
    return applyRotary(x, pos, { rotaryDim: this.rotaryDim, base: this.base, layout: this.layout });
  }

  /** q [..., L, D], k [..., L, D] -> [qRot, kRot], both at the same positions. */
  forward(q: Tensor, k: Tensor, opts: { positions?: Tensor | readonly number[]; offset?: number } = {}): [Tensor, Tensor] {
    return [this.rotate(q, opts), this.rotate(k, opts)];
  }
}
