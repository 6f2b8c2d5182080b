/**
 * Generators of hostile inputs for the loader fuzzers: byte-level mutations of a valid file
 * (truncations, bit flips, overwritten bytes, insertions, a forged length prefix), hostile JSON
 * values (deep nesting, wrong types, huge, negative and fractional numbers, long arrays) and
 * structurally generated safetensors headers with duplicate names.
 *
 * ```ts
 * fc.assert(fc.property(mutatedBytes(seedFile), (bytes) => { try { decodeSafetensors(bytes) } catch (e) { ... } }));
 * ```
 */
import fc from "fast-check";

/** One edit of a byte string. Positions are fractions of the length, so one edit fits any input. */
export type ByteEdit =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; count: number }
  | { kind: "prefix"; value: bigint };

const frac = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

/** Hostile 64-bit values for a length prefix: tiny, just past the file, huge, "negative" (two's complement). */
export const hostileU64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 4096n }),
  fc.constantFrom(2n ** 31n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n - 8n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 2n ** 64n - 4096n, max: 2n ** 64n - 1n }),
);

export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: frac }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("flip" as const), at: frac, bit: fc.integer({ min: 0, max: 7 }) }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant("set" as const), at: frac, value: fc.constantFrom(0, 0x20, 0x22, 0x2c, 0x2d, 0x30, 0x39, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0xff, 0x80) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant("insert" as const), at: frac, bytes: fc.uint8Array({ maxLength: 16 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("delete" as const), at: frac, count: fc.integer({ min: 1, max: 16 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("prefix" as const), value: hostileU64 }), weight: 1 },
);

/** Applies edits in order to a copy of `seed`. */
export function applyEdits(seed: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let b: Uint8Array = seed.slice();
  for (const e of edits) {
    const at = (n: number): number => Math.floor(("at" in e ? e.at : 0) * n);
    switch (e.kind) {
      case "truncate": b = b.slice(0, at(b.length + 1)); break;
      case "flip": if (b.length) b[at(b.length)]! ^= 1 << e.bit; break;
      case "set": if (b.length) b[at(b.length)] = e.value; break;
      case "insert": { const i = at(b.length + 1); b = concat(b.subarray(0, i), e.bytes, b.subarray(i)); break; }
      case "delete": { const i = at(b.length); b = concat(b.subarray(0, i), b.subarray(i + e.count)); break; }
      case "prefix": if (b.length >= 8) new DataView(b.buffer, b.byteOffset, 8).setBigUint64(0, e.value, true); break;
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** A valid file with 1 to 4 edits. */
export function mutatedBytes(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(byteEdit, { minLength: 1, maxLength: 4 }).map((edits) => applyEdits(seed, edits));
}

/** Text of `depth` nested arrays (or objects), the shape that overflows recursive JSON walkers. */
export function deepJson(depth: number, open: "[" | "{" = "["): string {
  if (open === "[") return "[".repeat(depth) + "]".repeat(depth);
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** A JSON value (as text) of a wrong or hostile kind. */
export const hostileJsonText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom("null", "true", "false", '""', "[]", "{}", "-1", "-0", "0.5", "1e308", "-1e308", "9007199254740993", "1e-320",
    "18446744073709551615", '"NaN"', '"Infinity"', '"-1"', '"1"', "[-1]", "[1.5]", '["1"]', "[[1]]", "[null]", "[0,0,0]"), weight: 6 },
  fc.integer({ min: 100, max: 100_000 }).chain((d) => fc.constantFrom(deepJson(d, "["), deepJson(d, "{"))),
  fc.integer({ min: 1000, max: 50_000 }).map((n) => `[${new Array<string>(n).fill("7").join(",")}]`),
  fc.integer({ min: -(2 ** 60), max: 2 ** 60 }).map(String),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
);

/** A JSON value (parsed) of a wrong or hostile kind, shallow enough to build headers from. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, "", "F32", -1, -0, 0.5, 1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 64, -(2 ** 63), [], {}, [-1], [1.5], ["1"], [[1]], [null], [0, 0, 0]),
  fc.jsonValue({ maxDepth: 3 }),
);

export const SAFETENSORS_DTYPE_NAMES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"] as const;
const WIDTH: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Builds a safetensors file from a header object (serialized as given) and a data region. */
export function rawSafetensors(headerText: string, data: Uint8Array, prefix?: bigint): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, prefix ?? BigInt(json.length), true);
  return concat(head, json, data);
}

/**
 * Safetensors files generated from their structure: a few entries, each field either consistent
 * (so some files are valid) or replaced by a hostile value; optional duplicate names, metadata of
 * the wrong kind and a data region of the wrong size.
 */
export const structuredSafetensors: fc.Arbitrary<Uint8Array> = fc
  .record({
    entries: fc.array(
      fc.record({
        name: fc.oneof(fc.constantFrom("a", "b", "w.0", "", "__metadata__", "é"), fc.string({ maxLength: 6 })),
        dtype: fc.constantFrom(...SAFETENSORS_DTYPE_NAMES),
        shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
        bad: fc.option(fc.record({ field: fc.constantFrom("dtype", "shape", "data_offsets", "entry", "extra"), value: hostileValue }), { freq: 2 }),
      }),
      { maxLength: 4 },
    ),
    metadata: fc.option(fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 }), hostileValue), { freq: 2 }),
    duplicate: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, fc.constant(true)),
    dataDelta: fc.option(fc.integer({ min: -8, max: 8 }), { freq: 3 }),
    fill: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ entries, metadata, duplicate, dataDelta, fill }) => {
    const parts: string[] = [];
    let offset = 0;
    for (const e of entries) {
      const size = e.shape.reduce((a, b) => a * b, 1) * WIDTH[e.dtype]!;
      const o: Record<string, unknown> = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + size] };
      offset += size;
      let value: unknown = o;
      if (e.bad) {
        if (e.bad.field === "entry") value = e.bad.value;
        else o[e.bad.field] = e.bad.value;
      }
      parts.push(`${JSON.stringify(e.name)}:${JSON.stringify(value)}`);
    }
    if (metadata !== null) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
    if (duplicate && parts.length) parts.push(parts[0]!);
    const data = new Uint8Array(Math.max(0, offset + (dataDelta ?? 0))).fill(fill);
    return rawSafetensors(`{${parts.join(",")}}`, data);
  });

/** Replaces one value, found by a random walk from the root, of a JSON document. */
export function replaceAt(doc: unknown, path: readonly number[], value: unknown): unknown {
  if (path.length === 0 || doc === null || typeof doc !== "object") return value;
  const [step, ...rest] = path as [number, ...number[]];
  if (Array.isArray(doc)) {
    if (doc.length === 0) return value;
    const i = step % doc.length;
    const copy = doc.slice();
    copy[i] = replaceAt(doc[i], rest, value);
    return copy;
  }
  const keys = Object.keys(doc);
  if (keys.length === 0) return value;
  const k = keys[step % keys.length]!;
  return { ...(doc as Record<string, unknown>), [k]: replaceAt((doc as Record<string, unknown>)[k], rest, value) };
}

/** Removes one key or element, found by a random walk from the root. */
export function deleteAt(doc: unknown, path: readonly number[]): unknown {
  if (doc === null || typeof doc !== "object") return doc;
  const [step, ...rest] = path as [number, ...number[]];
  if (step === undefined) return doc;
  if (Array.isArray(doc)) {
    if (doc.length === 0) return doc;
    const i = step % doc.length;
    return rest.length ? doc.map((x, j) => (j === i ? deleteAt(x, rest) : x)) : doc.filter((_, j) => j !== i);
  }
  const keys = Object.keys(doc);
  if (keys.length === 0) return doc;
  const k = keys[step % keys.length]!;
  const copy = { ...(doc as Record<string, unknown>) };
  if (rest.length) copy[k] = deleteAt(copy[k], rest);
  else delete copy[k];
  return copy;
}

/**
 * JSON text derived from a valid document: a value replaced (by a hostile value or hostile text
 * such as 100,000 nested arrays), a key removed, or the text cut, with a key duplicated by text.
 */
export function mutatedJson(doc: unknown): fc.Arbitrary<string> {
  const path = fc.array(fc.nat(), { maxLength: 4 });
  const MARK = "\u0000HOSTILE\u0000";
  return fc.oneof(
    { arbitrary: fc.tuple(path, hostileJsonText).map(([p, text]) => JSON.stringify(replaceAt(doc, p, MARK)).replace(JSON.stringify(MARK), text)), weight: 4 },
    fc.tuple(path, hostileValue).map(([p, v]) => JSON.stringify(replaceAt(doc, p, v))),
    fc.array(path, { minLength: 1, maxLength: 3 }).map((ps) => JSON.stringify(ps.reduce<unknown>((d, p) => deleteAt(d, p), doc))),
    fc.tuple(frac, fc.string({ maxLength: 8 })).map(([at, s]) => { const t = JSON.stringify(doc); const i = Math.floor(at * t.length); return t.slice(0, i) + s + t.slice(i); }),
    fc.tuple(frac).map(([at]) => { const t = JSON.stringify(doc); return t.slice(0, Math.floor(at * t.length)); }),
    fc.constant(JSON.stringify(doc).replace(/^\{/, '{"version":"1.0","version":"1.0",')),
  );
}
