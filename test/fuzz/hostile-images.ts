/**
 * Generators of hostile image files for the loader fuzzers: PNG files built chunk by chunk (hostile
 * IHDR dimensions, bit depths, colour types and interlace methods, image data that decompresses to
 * too little or far too much, missing or repeated chunks, wrong CRCs) and IDX files (bad magic,
 * dimensions that do not match the length, huge dimensions), plain or gzipped, whole or cut.
 *
 * ```ts
 * fc.assert(fc.property(structuredPng(28, 28), (bytes) => { try { decodePngImage(bytes, "x.png", [28, 28]) } catch (e) { ... } }));
 * ```
 */
import fc from "fast-check";
import { deflateSync, gzipSync } from "node:zlib";
import { concat } from "./hostile.js";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 as PNG computes it (over a chunk's type and data). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
};

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** One PNG chunk: length, type, data, CRC (correct unless `badCrc`). */
export function pngChunk(type: string, data: Uint8Array, badCrc = false): Uint8Array {
  const td = concat(new TextEncoder().encode(type), data);
  return concat(u32(data.length), td, u32(crc32(td) ^ (badCrc ? 1 : 0)));
}

/** IHDR's data: width, height, bit depth, colour type, compression, filter, interlace. */
export function ihdr(width: number, height: number, depth: number, colorType: number, interlace: number): Uint8Array {
  return concat(u32(width), u32(height), Uint8Array.of(depth, colorType, 0, 0, interlace));
}

let bomb: Uint8Array | undefined;
/** zlib data of 64 MiB of zeros (about 64 KiB): what a 28 x 28 image must never be inflated to. */
export function zlibBomb(): Uint8Array {
  bomb ??= new Uint8Array(deflateSync(new Uint8Array(64 * 2 ** 20), { level: 9 }));
  return bomb;
}

/**
 * PNG files built from their chunks: the right size or a hostile one (0, 2^31 - 1, 2^32 - 1),
 * any bit depth and colour type (valid or not), interlaced or not, with image data of the right
 * length, too short, random, or a zlib bomb; an optional palette, an optional repeated IHDR, a
 * chunk with a wrong CRC, and IEND or not.
 */
export function structuredPng(width: number, height: number): fc.Arbitrary<Uint8Array> {
  const side = (good: number) => fc.oneof({ arbitrary: fc.constant(good), weight: 6 }, fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 32 - 1, 65535, good + 1));
  return fc.record({
    w: side(width),
    h: side(height),
    depth: fc.oneof({ arbitrary: fc.constantFrom(1, 2, 4, 8, 16), weight: 4 }, fc.constantFrom(0, 3, 7, 32, 255)),
    colorType: fc.oneof({ arbitrary: fc.constantFrom(0, 2, 3, 4, 6), weight: 4 }, fc.constantFrom(1, 5, 7, 255)),
    interlace: fc.oneof({ arbitrary: fc.constantFrom(0, 1), weight: 4 }, fc.constantFrom(2, 255)),
    data: fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant("exact" as const), fill: fc.integer({ min: 0, max: 255 }), delta: fc.integer({ min: -8, max: 8 }) }), weight: 4 },
      fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
      fc.constant({ kind: "bomb" as const }),
    ),
    palette: fc.option(fc.integer({ min: 0, max: 300 }), { freq: 2 }),
    twoIhdr: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, fc.constant(true)),
    badCrc: fc.option(fc.constantFrom("IHDR", "IDAT", "IEND"), { freq: 6 }),
    iend: fc.oneof({ arbitrary: fc.constant(true), weight: 5 }, fc.constant(false)),
  }).map((p) => {
    const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[p.colorType] ?? 1;
    const bpp = (channels * Math.min(p.depth, 16)) / 8;
    let idat: Uint8Array;
    if (p.data.kind === "bomb") idat = zlibBomb();
    else if (p.data.kind === "random") idat = p.data.bytes;
    else {
      // the length of an image of the declared size, as long as that is small
      const w = Math.min(p.w, 64), h = Math.min(p.h, 64);
      const n = Math.max(0, (Math.ceil(w * bpp) + 1) * h + p.data.delta);
      idat = new Uint8Array(deflateSync(new Uint8Array(n).fill(p.data.fill)));
    }
    const parts = [PNG_SIGNATURE, pngChunk("IHDR", ihdr(p.w, p.h, p.depth, p.colorType, p.interlace), p.badCrc === "IHDR")];
    if (p.twoIhdr) parts.push(pngChunk("IHDR", ihdr(p.h, p.w, 8, 0, 0)));
    if (p.palette !== null) parts.push(pngChunk("PLTE", new Uint8Array(p.palette * 3).fill(0x80)));
    parts.push(pngChunk("IDAT", idat, p.badCrc === "IDAT"));
    if (p.iend) parts.push(pngChunk("IEND", new Uint8Array(0), p.badCrc === "IEND"));
    return concat(...parts);
  });
}

/** An IDX file of unsigned bytes: the magic for `dims.length` dimensions, the dims, the elements. */
export function idxFile(dims: readonly number[], data: Uint8Array, magic = 0x0800 + dims.length): Uint8Array {
  return concat(u32(magic), ...dims.map(u32), data);
}

/**
 * IDX files generated from their structure: the right rank or not, a magic of another element
 * type or not an IDX file at all, dims that are zero, huge (2^31 - 1, 2^32 - 1) or that do not
 * match the elements, and the elements cut or padded.
 */
export function structuredIdx(rank: number): fc.Arbitrary<Uint8Array> {
  const dim = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 6 }), weight: 6 }, fc.constantFrom(0, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 16, 60000));
  return fc.record({
    dims: fc.array(dim, { minLength: Math.max(0, rank - 1), maxLength: rank + 1 }),
    magic: fc.option(fc.oneof(fc.constantFrom(0x0801, 0x0803, 0x0903, 0x0d03, 0x0c01, 0x08ff, 0xffffffff, 0x1f8b0800), fc.nat()), { freq: 4 }),
    delta: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, fc.integer({ min: -16, max: 16 })),
    fill: fc.integer({ min: 0, max: 255 }),
  }).map(({ dims, magic, delta, fill }) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const len = Math.max(0, Math.min(n, 4096) + delta);
    return idxFile(dims, new Uint8Array(len).fill(fill), magic ?? undefined);
  });
}

/** Gzipped bytes, whole or cut at a fraction of their length, or with a bit flipped. */
export function gzipped(bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(bytes, fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, fc.record({ cut: fc.boolean(), at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) })))
    .map(([b, edit]) => {
      const gz = new Uint8Array(gzipSync(b));
      if (!edit) return gz;
      const i = Math.floor(edit.at * gz.length);
      if (edit.cut) return gz.slice(0, i);
      const out = gz.slice();
      out[i]! ^= 0x10;
      return out;
    });
}
