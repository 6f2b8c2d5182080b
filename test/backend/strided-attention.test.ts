/**
 * Fused attention over strided operands (AttentionArgs' qStrides, kStrides, vStrides, oStrides) on
 * the active backend: every case runs twice, once on operands at awkward strides inside larger
 * buffers and once on the same values gathered into dense arrays, and the two must agree bit for
 * bit (the same kernel does the same arithmetic), forward and backward. The output buffers start
 * filled with a guard value that must survive everywhere the call does not own an element: dq, dk
 * and dv are also checked as three interleaved views of one buffer (a packed projection's
 * gradient), where a write past an operand's own elements would land in another's. On native,
 * every instruction set and 1 to 3 threads (the bits must not depend on either).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { contiguousLayouts, type AttentionArgs, type Backend, type RowStrides } from "../../src/backend/backend.js";
import { hostBackend } from "../../src/backend/registry.js";
import { Generator } from "../../src/tensor/rng.js";
import { normals, same } from "./kernel-cases.js";
import { everyConfig } from "./native-configs.js";

const rand = normals(new Generator(2024));
const GUARD = 7777.25;

/** One operand [B, heads, rows, n]: buffer `buf` from element `off` at `st`. */
interface Placed { buf: number; off: number; st: RowStrides; B: number; heads: number; rows: number; n: number }

function offsets(p: Placed, visit: (at: number) => void): void {
  for (let b = 0; b < p.B; b++) for (let h = 0; h < p.heads; h++) for (let i = 0; i < p.rows; i++) {
    const o = p.off + b * p.st[0] + h * p.st[1] + i * p.st[2];
    for (let c = 0; c < p.n; c++) visit(o + c);
  }
}

/** The operand's elements as a dense [B, heads, rows, n]. */
function gather(bufs: Float32Array[], p: Placed): Float32Array {
  const out: number[] = [];
  offsets(p, (at) => out.push(bufs[p.buf]![at]!));
  return Float32Array.from(out);
}

/** The view the kernel gets: the buffer from the operand's first element. */
const view = (bufs: Float32Array[], p: Placed): Float32Array => bufs[p.buf]!.subarray(p.off);

interface Sizes { B: number; H: number; Hkv: number; L: number; S: number; D: number; Dv: number }

/**
 * The layout of a case: "padded" puts each operand in its own buffer as [rows, B, heads, n + 3]
 * from element 2; "packed" puts q, k and v in one buffer as [B, T, H D + Hkv D + Hkv Dv + 1] (a
 * fused projection, L = S), out as [B, T, H, Dv], and dq, dk, dv likewise in one buffer.
 */
type Layout = "padded" | "packed";

interface Placement { q: Placed; k: Placed; v: Placed; o: Placed; sizes: number[] }

function place(z: Sizes, layout: Layout): Placement {
  const { B, H, Hkv, L, S, D, Dv } = z;
  if (layout === "padded") {
    const pad = (buf: number, heads: number, rows: number, n: number): Placed => {
      const w = n + 3;
      return { buf, off: 2, st: [heads * w, w, B * heads * w], B, heads, rows, n };
    };
    const ps = [pad(0, H, L, D), pad(1, Hkv, S, D), pad(2, Hkv, S, Dv), pad(3, H, L, Dv)];
    return { q: ps[0]!, k: ps[1]!, v: ps[2]!, o: ps[3]!, sizes: ps.map((p) => 2 + p.rows * p.B * p.heads * (p.n + 3) + 1) };
  }
  assert.equal(L, S, "a packed layout needs L = S");
  const T = L, W = H * D + Hkv * D + Hkv * Dv + 1;
  const row = (off: number, heads: number, n: number): Placed => ({ buf: 0, off, st: [T * W, n, W], B, heads, rows: T, n });
  return {
    q: row(0, H, D), k: row(H * D, Hkv, D), v: row(H * D + Hkv * D, Hkv, Dv),
    o: { buf: 1, off: 0, st: [T * H * Dv, Dv, H * Dv], B, heads: H, rows: T, n: Dv }, sizes: [B * T * W, B * T * H * Dv],
  };
}

interface Case extends Sizes {
  name: string;
  causal?: boolean;
  dropoutP?: number;
  /** mask [mB, mH, L, S] (1 broadcasts), -Infinity where `masked`, else small random values. */
  mask?: { mB: number; mH: number; masked: (b: number, h: number, i: number, j: number) => boolean };
  layouts: Layout[];
}

const CASES: Case[] = [
  { name: "L 7, S 33, GQA 4/2, D 5, Dv 3", B: 2, H: 4, Hkv: 2, L: 7, S: 33, D: 5, Dv: 3, layouts: ["padded"] },
  { name: "causal L 37 > S 29, MQA, odd D, a fully masked row and a fully masked batch", B: 2, H: 2, Hkv: 1, L: 37, S: 29,
    D: 7, Dv: 9, causal: true, layouts: ["padded"],
    mask: { mB: 2, mH: 1, masked: (b, _h, i, j) => b === 1 || i === 5 || (i * 3 + j) % 7 === 0 } },
  { name: "self-attention T 50, D 16, dropout 0.3, per-head mask", B: 3, H: 4, Hkv: 4, L: 50, S: 50, D: 16, Dv: 16,
    dropoutP: 0.3, layouts: ["padded", "packed"], mask: { mB: 1, mH: 4, masked: (_b, h, i, j) => (i + j + h) % 5 === 0 } },
  { name: "packed GQA 6/2, T 45, D 5, causal, dropout 0.2", B: 2, H: 6, Hkv: 2, L: 45, S: 45, D: 5, Dv: 5, causal: true,
    dropoutP: 0.2, layouts: ["packed"] },
  { name: "several query tiles and key blocks: L 130, S 200, causal, dropout", B: 1, H: 3, Hkv: 1, L: 130, S: 200, D: 16, Dv: 8,
    causal: true, dropoutP: 0.1, layouts: ["padded"] },
  { name: "one kv head over the threads: T 300, H 2, D 16", B: 1, H: 2, Hkv: 1, L: 300, S: 300, D: 16, Dv: 16,
    layouts: ["packed", "padded"] },
  { name: "D 12, Dv 10 over strided rows: the packing's 8 x 8 transposes and their edges", B: 2, H: 2, Hkv: 2, L: 27, S: 35,
    D: 12, Dv: 10, dropoutP: 0.1, layouts: ["padded"] },
  { name: "no keys (S 0)", B: 2, H: 2, Hkv: 1, L: 5, S: 0, D: 4, Dv: 3, layouts: ["padded"] },
];

function maskOf(c: Case): Pick<AttentionArgs, "mask" | "maskStrideB" | "maskStrideH" | "maskStrideL"> {
  if (!c.mask) return { mask: null, maskStrideB: 0, maskStrideH: 0, maskStrideL: 0 };
  const { mB, mH, masked } = c.mask, { L, S } = c;
  const mask = rand(mB * mH * L * S, 0.5);
  for (let b = 0; b < mB; b++) for (let h = 0; h < mH; h++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
    if (masked(b, h, i, j)) mask[((b * mH + h) * L + i) * S + j] = -Infinity;
  }
  return { mask, maskStrideB: mB === 1 ? 0 : mH * L * S, maskStrideH: mH === 1 ? 0 : L * S, maskStrideL: S };
}

/** Every element of the output buffers that no output operand owns still holds GUARD. */
function guarded(bufs: Float32Array[], owned: Placed[], what: string): void {
  const mine = bufs.map((b) => new Uint8Array(b.length));
  for (const p of owned) offsets(p, (at) => { mine[p.buf]![at] = 1; });
  bufs.forEach((b, k) => {
    for (let i = 0; i < b.length; i++) if (!mine[k]![i] && b[i] !== GUARD) assert.fail(`${what}: buffer ${k} [${i}] = ${b[i]}, not owned, was written`);
  });
}

function checkCase(be: Backend, c: Case, layout: Layout, tag: string): void {
  const { B, H, Hkv, L, S, D, Dv } = c;
  const what = `${tag} ${c.name} (${layout})`;
  const base: AttentionArgs = {
    B, H, Hkv, L, S, D, Dv, scale: 1 / Math.sqrt(D), causal: c.causal ?? false, ...contiguousLayouts(c), ...maskOf(c),
    dropoutP: c.dropoutP ?? 0, seedK0: 0x12345678, seedK1: 77, seedStart: 1000,
  };
  const pl = place(c, layout);
  const args: AttentionArgs = { ...base, qStrides: pl.q.st, kStrides: pl.k.st, vStrides: pl.v.st, oStrides: pl.o.st };
  // inputs: whole buffers random (gaps too), then the dense copies of the operands
  const ins = pl.sizes.map((n) => rand(n));
  const [q, k, v] = [pl.q, pl.k, pl.v].map((p) => gather(ins, p)) as [Float32Array, Float32Array, Float32Array];

  // forward: dense, then strided into guarded buffers
  const out = new Float32Array(B * H * L * Dv).fill(NaN), lse = new Float32Array(B * H * L).fill(NaN);
  be.attentionForward(out, lse, q, k, v, base);
  const outs = pl.sizes.map((n) => new Float32Array(n).fill(GUARD));
  const lse2 = new Float32Array(B * H * L).fill(NaN);
  be.attentionForward(view(outs, pl.o), lse2, view(ins, pl.q), view(ins, pl.k), view(ins, pl.v), args);
  same(gather(outs, pl.o), out, `${what}: out`);
  same(lse2, lse, `${what}: lse`);
  guarded([outs[pl.o.buf]!], [{ ...pl.o, buf: 0 }], `${what}: forward`);

  // backward: dout and out at out's layout (in `ins`, whose out slot holds the strided output)
  const dout = rand(B * H * L * Dv);
  const ob = ins[pl.o.buf]!;
  let n = 0;
  offsets(pl.o, (at) => { ob[at] = dout[n++]!; });
  const outStrided = outs[pl.o.buf]!;
  const dq = new Float32Array(q.length).fill(NaN), dk = new Float32Array(k.length).fill(NaN), dv = new Float32Array(v.length).fill(NaN);
  be.attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, base);
  const grads = pl.sizes.map((m) => new Float32Array(m).fill(GUARD));
  be.attentionBackward(view(grads, pl.q), view(grads, pl.k), view(grads, pl.v), view(ins, pl.o), view(ins, pl.q), view(ins, pl.k),
    view(ins, pl.v), outStrided.subarray(pl.o.off), lse, args);
  same(gather(grads, pl.q), dq, `${what}: dq`);
  same(gather(grads, pl.k), dk, `${what}: dk`);
  same(gather(grads, pl.v), dv, `${what}: dv`);
  const gradBufs = [...new Set([pl.q.buf, pl.k.buf, pl.v.buf])];
  guarded(gradBufs.map((i) => grads[i]!), [pl.q, pl.k, pl.v].map((p) => ({ ...p, buf: gradBufs.indexOf(p.buf) })), `${what}: backward`);
}

describe(`strided attention operands equal dense ones bit for bit (${hostBackend().name})`, () => {
  for (const c of CASES) {
    test(c.name, () => {
      const be = hostBackend();
      everyConfig(be, (tag) => { for (const layout of c.layouts) checkCase(be, c, layout, tag); });
    });
  }
});
