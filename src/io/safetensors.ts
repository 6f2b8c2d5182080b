/**
 * The safetensors format (Hugging Face): an 8-byte little-endian u64 header length N, N bytes of
 * UTF-8 JSON header, then the raw little-endian tensor data. Browser-safe (no Node APIs); the
 * file functions live in `safetensors-node.ts`.
 *
 * Every field of a file is validated before anything large is allocated, so a truncated or
 * hostile file fails fast with a FormatError naming the field, what was expected and what came
 * (the header's JSON nests at most 128 deep; docs/robustness.md lists every limit).
 *
 * ```ts
 * const bytes = encodeSafetensors({ w: tensor([[1, 2], [3, 4]]) }, { format: "pt" });
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * tensors.get("w")!.toArray(); // [[1, 2], [3, 4]]
 * ```
 */
import { allocate, type DType, type TypedArray } from "../tensor/dtype.js";
import { FormatError, ValueError, fmtShape } from "../tensor/errors.js";
import { Tensor } from "../tensor/tensor.js";
import { parseJsonBounded } from "./json.js";

/** The dtypes this module reads. */
export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Bytes per element of each readable dtype, and the qkv dtype it decodes to. */
export const SAFETENSORS_DTYPES: Readonly<Record<SafetensorsDType, { bytes: number; decodesTo: DType }>> = Object.freeze({
  F64: { bytes: 8, decodesTo: "float64" },
  F32: { bytes: 4, decodesTo: "float32" },
  F16: { bytes: 2, decodesTo: "float32" },
  BF16: { bytes: 2, decodesTo: "float32" },
  I64: { bytes: 8, decodesTo: "int32" },
  I32: { bytes: 4, decodesTo: "int32" },
  I16: { bytes: 2, decodesTo: "int32" },
  I8: { bytes: 1, decodesTo: "int32" },
  U8: { bytes: 1, decodesTo: "int32" },
  BOOL: { bytes: 1, decodesTo: "bool" },
});

/** The safetensors dtype each qkv dtype is written as. */
const ENCODE_DTYPE: Record<DType, SafetensorsDType> = { float32: "F32", float64: "F64", int32: "I32", bool: "BOOL" };

/** Default cap on the JSON header size (the reference implementation uses the same 100 MB). */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/** One tensor entry of a validated header. `dataOffsets` are relative to the data region. */
export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  dataOffsets: [number, number];
}

/** A validated header: entries in data order (by offset), the metadata and the region sizes. */
export interface SafetensorsHeader {
  tensors: SafetensorsTensorInfo[];
  metadata: Record<string, string>;
  /** N, the JSON header length in bytes. */
  headerBytes: number;
  /** Length of the data region (the file minus 8 minus N). */
  dataBytes: number;
}

export interface DecodeOptions {
  /** Largest JSON header accepted, in bytes (default 100 MB). */
  maxHeaderBytes?: number;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const quote = (s: string): string => JSON.stringify(s);

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `array ${truncate(JSON.stringify(v))}`;
  if (typeof v === "object") return "object";
  if (typeof v === "string") return `string ${truncate(quote(v))}`;
  return `${typeof v} ${String(v)}`;
}

function truncate(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

function checkMaxHeader(maxHeaderBytes: number | undefined, op: string): number {
  const cap = maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  if (!Number.isSafeInteger(cap) || cap < 0) throw new ValueError(op, "maxHeaderBytes", "a non-negative integer", String(maxHeaderBytes));
  return cap;
}

/**
 * Reads and checks N, the header length, from the first 8 bytes of a file of `totalBytes` bytes:
 * N must fit both the cap and the rest of the file. `op` names the caller in errors.
 *
 * ```ts
 * const n = parseSafetensorsHeaderLength(bytes.subarray(0, 8), bytes.length); // the JSON is bytes[8, 8 + n)
 * ```
 */
export function parseSafetensorsHeaderLength(prefix: Uint8Array, totalBytes: number, opts: DecodeOptions = {}, op = "decodeSafetensors"): number {
  const cap = checkMaxHeader(opts.maxHeaderBytes, op);
  if (prefix.length < 8 || totalBytes < 8) {
    throw new FormatError(op, "header length", "an 8-byte little-endian u64 prefix", `a file of ${Math.min(prefix.length, totalBytes)} bytes`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(cap)) throw new FormatError(op, "header length", `at most ${cap} bytes (maxHeaderBytes)`, `${n} bytes`);
  if (n > BigInt(totalBytes - 8)) {
    throw new FormatError(op, "header length", `at most ${totalBytes - 8} bytes (the rest of the file)`, `${n} bytes`);
  }
  return Number(n);
}

/**
 * Collects the keys of every JSON object in `text` (already known to be valid JSON) and throws on
 * a key repeated within one object, which JSON.parse would silently collapse.
 */
function checkDuplicateKeys(text: string, op: string): void {
  const stack: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) stack.push(new Set());
    else if (c === 0x5b /* [ */) stack.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const keys = stack[stack.length - 1];
      if (keys) {
        let k = j + 1;
        while (k < text.length && /\s/.test(text[k]!)) k++;
        if (text[k] === ":") {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          if (keys.has(key)) {
            const where = stack.length === 1 ? "tensor name" : "field name";
            throw new FormatError(op, `${where} ${quote(key)}`, "unique names in the header", `a duplicate ${quote(key)}`);
          }
          keys.add(key);
        }
      }
      i = j;
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parses and validates the JSON header (`headerBytes`, N bytes) of a file whose data region is
 * `dataBytes` long: dtypes, shapes, offsets in range, byte counts matching shape x dtype size,
 * tensors tiling the data region contiguously (no overlap, no hole), unique non-empty names and
 * string metadata. Allocates nothing proportional to the tensors.
 *
 * ```ts
 * const h = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n);
 * h.tensors.map((t) => `${t.name} ${t.dtype} ${t.shape}`);
 * ```
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataBytes: number, op = "decodeSafetensors"): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch {
    throw new FormatError(op, "header", "valid UTF-8", "invalid UTF-8 bytes");
  }
  const json = parseJsonBounded(text, op, "header");
  if (!isRecord(json)) throw new FormatError(op, "header", "a JSON object", describe(json));
  checkDuplicateKeys(text, op);

  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (entry === null) continue;
      if (!isRecord(entry)) throw new FormatError(op, "__metadata__", "an object of strings", describe(entry));
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") throw new FormatError(op, `__metadata__ ${quote(k)}`, "a string value", describe(v));
        metadata[k] = v;
      }
      continue;
    }
    tensors.push(parseEntry(name, entry, dataBytes, op));
  }

  // The tensors must tile [0, dataBytes) in offset order (zero-size tensors may share an offset).
  tensors.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || (a.name < b.name ? -1 : 1));
  let end = 0;
  let prev: string | null = null;
  for (const t of tensors) {
    const [b, e] = t.dataOffsets;
    if (b !== end) {
      const after = prev === null ? "at the start of the data" : `right after tensor ${quote(prev)}`;
      const actual = b < end
        ? `[${b}, ${e}] (overlaps tensor ${quote(prev ?? "")} which ends at ${end})`
        : `[${b}, ${e}] (a hole of ${b - end} bytes ${prev === null ? "at the start of the data" : `after tensor ${quote(prev)}`})`;
      throw new FormatError(op, `tensor ${quote(t.name)} data_offsets`, `to begin at ${end}, ${after}`, actual);
    }
    end = e;
    prev = t.name;
  }
  if (end !== dataBytes) {
    throw new FormatError(op, "data", `tensors covering all ${dataBytes} data bytes`, `tensors ending at byte ${end} (a hole of ${dataBytes - end} bytes at the end)`);
  }
  return { tensors, metadata, headerBytes: headerBytes.length, dataBytes };
}

function parseEntry(name: string, entry: unknown, dataBytes: number, op: string): SafetensorsTensorInfo {
  if (name.length === 0) throw new FormatError(op, "tensor name", "a non-empty name", '""');
  const where = `tensor ${quote(name)}`;
  if (!isRecord(entry)) throw new FormatError(op, where, "an object with dtype, shape and data_offsets", describe(entry));

  const dtype = entry["dtype"];
  if (typeof dtype !== "string" || !Object.hasOwn(SAFETENSORS_DTYPES, dtype)) {
    throw new FormatError(op, `${where} dtype`, `one of ${Object.keys(SAFETENSORS_DTYPES).join(", ")}`, describe(dtype));
  }
  const info = SAFETENSORS_DTYPES[dtype as SafetensorsDType];

  const shape = entry["shape"];
  if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new FormatError(op, `${where} shape`, "a list of non-negative integers", describe(shape));
  }
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (!Number.isSafeInteger(count * info.bytes)) {
      throw new FormatError(op, `${where} shape`, "a size below 2^53 bytes", fmtShape(shape));
    }
  }

  const offsets = entry["data_offsets"];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o): o is number => Number.isSafeInteger(o) && (o as number) >= 0)) {
    throw new FormatError(op, `${where} data_offsets`, "[begin, end] with non-negative integers", describe(offsets));
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataBytes) {
    throw new FormatError(op, `${where} data_offsets`, `0 <= begin <= end <= ${dataBytes} (the data region)`, `[${begin}, ${end}]`);
  }
  const want = count * info.bytes;
  if (end - begin !== want) {
    throw new FormatError(op, `${where} data_offsets`, `${want} bytes for ${dtype} ${fmtShape(shape)}`, `${end - begin} bytes [${begin}, ${end}]`);
  }
  return { name, dtype: dtype as SafetensorsDType, shape: shape.slice(), dataOffsets: [begin, end] };
}

/** A number to float16 bits: round to nearest even; overflow gives ±Infinity, NaN a quiet NaN. */
export function numberToFloat16(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00; // rounds past the largest half (65504)
  if (a < 2 ** -14) {
    // subnormal: a multiple of 2^-24, rounded to nearest even
    return sign | roundEven(a * 2 ** 24);
  }
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  let m = roundEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e++; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function roundEven(v: number): number {
  const f = Math.floor(v), r = v - f;
  return r > 0.5 || (r === 0.5 && f % 2 === 1) ? f + 1 : f;
}

let f16Table: Float32Array | null = null;

/** float16 bits -> float32 value for all 65,536 bit patterns (built once). */
function float16Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16ToNumber(h);
  }
  return f16Table;
}

/** float16 bits to a number (exact). */
export function float16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/**
 * Decodes the raw bytes of one tensor (exactly `dataOffsets[1] - dataOffsets[0]` bytes, at any
 * alignment) into a Tensor. With `owned`, `raw` is a fresh buffer the caller gives away (offset 0,
 * the whole buffer) and may be adopted without a copy.
 *
 * ```ts
 * const t = decodeSafetensorsTensor(info, data.subarray(...info.dataOffsets));
 * ```
 */
export function decodeSafetensorsTensor(info: SafetensorsTensorInfo, raw: Uint8Array, opts: { owned?: boolean; op?: string } = {}): Tensor {
  const op = opts.op ?? "decodeSafetensors";
  const { bytes: width, decodesTo } = SAFETENSORS_DTYPES[info.dtype];
  const n = raw.length / width;
  if (!Number.isInteger(n) || n !== info.shape.reduce((a, b) => a * b, 1)) {
    throw new FormatError(op, `tensor ${quote(info.name)} data`, `${info.shape.reduce((a, b) => a * b, 1) * width} bytes`, `${raw.length} bytes`);
  }
  const adoptable = opts.owned === true && raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer;
  // Same layout as the output (native little-endian): view or copy the bytes whole.
  const direct = (make: (buf: ArrayBuffer, n: number) => TypedArray): TypedArray => {
    if (adoptable) return make(raw.buffer as ArrayBuffer, n);
    const copy = raw.slice(); // a fresh, aligned buffer, whatever the alignment of raw
    return make(copy.buffer, n);
  };
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  let data: TypedArray;
  switch (info.dtype) {
    case "F32":
      data = LITTLE_ENDIAN_HOST ? direct((b, k) => new Float32Array(b, 0, k)) : fill(allocate("float32", n), (i) => dv.getFloat32(4 * i, true));
      break;
    case "F64":
      data = LITTLE_ENDIAN_HOST ? direct((b, k) => new Float64Array(b, 0, k)) : fill(allocate("float64", n), (i) => dv.getFloat64(8 * i, true));
      break;
    case "I32":
      data = LITTLE_ENDIAN_HOST ? direct((b, k) => new Int32Array(b, 0, k)) : fill(allocate("int32", n), (i) => dv.getInt32(4 * i, true));
      break;
    case "F16": {
      // every half value through one 65,536-entry table (exact, and ~30x faster than decoding each)
      const table = float16Table(), out = allocate("float32", n) as Float32Array;
      for (let i = 0; i < n; i++) out[i] = table[dv.getUint16(2 * i, true)]!;
      data = out;
      break;
    }
    case "BF16": {
      const bits = new Uint32Array(1);
      const f = new Float32Array(bits.buffer);
      data = fill(allocate("float32", n), (i) => {
        bits[0] = dv.getUint16(2 * i, true) << 16;
        return f[0]!;
      });
      break;
    }
    case "I64": {
      const out = allocate("int32", n);
      for (let i = 0; i < n; i++) {
        const lo = dv.getInt32(8 * i, true);
        const hi = dv.getInt32(8 * i + 4, true);
        if (hi !== lo >> 31) {
          throw new FormatError(op, `tensor ${quote(info.name)}`, "I64 values within the int32 range", `${dv.getBigInt64(8 * i, true)} at index ${i}`);
        }
        out[i] = lo;
      }
      data = out;
      break;
    }
    case "I16":
      data = fill(allocate("int32", n), (i) => dv.getInt16(2 * i, true));
      break;
    case "I8":
      data = fill(allocate("int32", n), (i) => dv.getInt8(i));
      break;
    case "U8":
      data = fill(allocate("int32", n), (i) => raw[i]!);
      break;
    case "BOOL":
      data = fill(allocate("bool", n), (i) => (raw[i]! !== 0 ? 1 : 0));
      break;
  }
  return new Tensor(data, info.shape, decodesTo);
}

function fill<A extends TypedArray>(out: A, f: (i: number) => number): A {
  for (let i = 0; i < out.length; i++) out[i] = f(i);
  return out;
}

/**
 * Decodes a whole safetensors file held in memory. Float16 and bfloat16 become float32, I64 and
 * the small integer types become int32 (a FormatError when an I64 value does not fit). The
 * tensors are copies: they do not alias `bytes`. The map is in data order.
 *
 * ```ts
 * const { tensors, metadata } = decodeSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, opts: DecodeOptions = {}): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const op = "decodeSafetensors";
  const n = parseSafetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, opts, op);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, op);
  const data = bytes.subarray(8 + n);
  const tensors = new Map<string, Tensor>();
  for (const info of header.tensors) {
    tensors.set(info.name, decodeSafetensorsTensor(info, data.subarray(info.dataOffsets[0], info.dataOffsets[1]), { op }));
  }
  return { tensors, metadata: header.metadata };
}

/** The layout of a file to write: the 8-byte length plus padded header, then each tensor's bytes in order. */
export interface SafetensorsPlan {
  /** The 8-byte length prefix and the JSON header, padded with spaces to a multiple of 8. */
  head: Uint8Array;
  /** The tensors in data order (sorted by name) with their stored dtype and offsets in the data region. */
  entries: { name: string; tensor: Tensor; dtype: SafetensorsDType; begin: number; end: number }[];
  /** Total file size in bytes. */
  totalBytes: number;
}

/**
 * Validates the arguments of a write and lays out the file, touching only shapes and dtypes (not
 * the data), so a writer can stream the tensors one at a time.
 *
 * ```ts
 * const plan = planSafetensors({ w }, { format: "pt" });
 * plan.head; // write this first, then safetensorsTensorBytes(e.tensor) for each of plan.entries
 * ```
 */
export interface SafetensorsEncodeOptions {
  /** Store float32 tensors as F32 (default) or as F16 (half the bytes; rounded to nearest even, overflow to ±Infinity). */
  float32As?: "F32" | "F16";
}

export function planSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>, op = "encodeSafetensors",
  opts: SafetensorsEncodeOptions = {}): SafetensorsPlan {
  const f32As = opts.float32As ?? "F32";
  if (f32As !== "F32" && f32As !== "F16") throw new ValueError(op, "float32As", '"F32" or "F16"', describe(f32As));
  if (tensors === null || typeof tensors !== "object") throw new ValueError(op, "tensors", "a Map or record of tensors", describe(tensors));
  const pairs: [string, Tensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    if (!isRecord(metadata)) throw new ValueError(op, "metadata", "a record of strings", describe(metadata));
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new ValueError(op, `metadata ${quote(k)}`, "a string value", describe(v));
    }
    header["__metadata__"] = { ...metadata };
  }
  const entries: SafetensorsPlan["entries"] = [];
  let offset = 0;
  for (const [name, t] of pairs) {
    if (typeof name !== "string" || name.length === 0) throw new ValueError(op, "tensor name", "a non-empty string", describe(name));
    if (name === "__metadata__") throw new ValueError(op, "tensor name", 'a name other than "__metadata__"', quote(name));
    if (!(t instanceof Tensor)) throw new ValueError(op, `tensor ${quote(name)}`, "a Tensor", describe(t));
    const dtype = t.dtype === "float32" ? f32As : ENCODE_DTYPE[t.dtype];
    if (dtype === undefined) throw new ValueError(op, `tensor ${quote(name)} dtype`, "float32, float64, int32 or bool", String(t.dtype));
    const size = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPES[dtype].bytes;
    header[name] = { dtype, shape: t.shape.slice(), data_offsets: [offset, offset + size] };
    entries.push({ name, tensor: t, dtype, begin: offset, end: offset + size });
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return { head, entries, totalBytes: head.length + offset };
}

/**
 * The little-endian bytes of a tensor's data, as safetensors stores them (a view of the tensor's
 * memory when no conversion is needed; bool values are normalized to 0/1).
 *
 * ```ts
 * safetensorsTensorBytes(tensor([1], { dtype: "int32" })); // Uint8Array [1, 0, 0, 0]
 * ```
 */
export function safetensorsTensorBytes(t: Tensor, as?: SafetensorsDType): Uint8Array {
  const data = t.data;
  if (as === "F16" && t.dtype === "float32") {
    const out = new Uint8Array(2 * data.length);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) dv.setUint16(2 * i, numberToFloat16(data[i]!), true);
    return out;
  }
  if (t.dtype === "bool") {
    const u8 = data as Uint8Array;
    return u8.every((x) => x <= 1) ? u8 : u8.map((x) => (x !== 0 ? 1 : 0));
  }
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    if (t.dtype === "float32") dv.setFloat32(4 * i, data[i]!, true);
    else if (t.dtype === "float64") dv.setFloat64(8 * i, data[i]!, true);
    else dv.setInt32(4 * i, data[i]!, true);
  }
  return out;
}

/**
 * Encodes tensors as a safetensors file: float32 as F32, float64 as F64, int32 as I32, bool as
 * BOOL; names sorted; header padded with spaces to a multiple of 8 bytes; little-endian on every
 * platform.
 *
 * ```ts
 * const bytes = encodeSafetensors(new Map([["emb", randn([10, 4])]]), { step: "100" });
 * ```
 */
export function encodeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>, opts: SafetensorsEncodeOptions = {}): Uint8Array {
  const plan = planSafetensors(tensors, metadata, "encodeSafetensors", opts);
  const out = new Uint8Array(plan.totalBytes);
  out.set(plan.head, 0);
  for (const e of plan.entries) out.set(safetensorsTensorBytes(e.tensor, e.dtype), plan.head.length + e.begin);
  return out;
}
