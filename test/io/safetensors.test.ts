import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  decodeSafetensors,
  encodeSafetensors,
  float16ToNumber,
  numberToFloat16,
  parseSafetensorsHeader,
} from "../../src/io/safetensors.js";
import { loadSafetensors, loadSafetensorsHeader, saveSafetensors } from "../../src/io/safetensors-node.js";
import { FormatError, ValueError } from "../../src/tensor/errors.js";
import { Tensor, tensor } from "../../src/tensor/tensor.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A file from raw header bytes and data bytes; `claimed` overrides the u64 header length. */
function fileFrom(headerBytes: Uint8Array, data: Uint8Array = new Uint8Array(0), claimed?: bigint): Uint8Array {
  const out = new Uint8Array(8 + headerBytes.length + data.length);
  new DataView(out.buffer).setBigUint64(0, claimed ?? BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  out.set(data, 8 + headerBytes.length);
  return out;
}

/** A file from a header object (or JSON text) and data bytes. */
function file(header: unknown, data: Uint8Array | number[] = []): Uint8Array {
  const text = typeof header === "string" ? header : JSON.stringify(header);
  return fileFrom(utf8(text), data instanceof Uint8Array ? data : Uint8Array.from(data));
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint16(2 * i, v, true));
  return out;
}

/** Asserts a FormatError with these fields; string fields must be contained in the field. */
function throwsFormat(fn: () => unknown, arg: string, expected: string | RegExp, actual: string | RegExp, op = "decodeSafetensors"): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
    assert.equal(e.op, op);
    assert.equal(e.arg, arg);
    if (typeof expected === "string") assert.ok(e.expected.includes(expected), `expected field "${e.expected}" lacks "${expected}"`);
    else assert.match(e.expected, expected);
    if (typeof actual === "string") assert.ok(e.actual.includes(actual), `actual field "${e.actual}" lacks "${actual}"`);
    else assert.match(e.actual, actual);
    assert.ok(e.message.startsWith(`${op}: ${arg} expected`), e.message);
    return true;
  });
}

const f32 = (shape: number[], offsets: [number, number]): unknown => ({ dtype: "F32", shape, data_offsets: offsets });

describe("encodeSafetensors / decodeSafetensors round trip", () => {
  test("every writable dtype, incl. scalars and empty tensors", () => {
    const tensors = {
      a32: tensor([[1.5, -2, 3.25], [Infinity, -0, 1e-40]]),
      b64: tensor([Math.PI, -1e300, 5e-324], { dtype: "float64" }),
      c32i: tensor([[0, -1], [2147483647, -2147483648]], { dtype: "int32" }),
      dbool: tensor([[true, false, true]]),
      escalar: tensor(7),
      fempty: new Tensor(new Float32Array(0), [0, 3], "float32"),
    };
    const { tensors: out, metadata } = decodeSafetensors(encodeSafetensors(tensors));
    assert.deepEqual(metadata, {});
    assert.deepEqual([...out.keys()].sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = out.get(name)!;
      assert.equal(got.dtype, t.dtype, name);
      assert.deepEqual(got.shape, t.shape, name);
      assert.deepEqual([...got.data], [...t.data], name);
      assert.notEqual(got.data.buffer, t.data.buffer);
    }
    assert.ok(Object.is(out.get("a32")!.data[4], -0));
  });

  test("metadata round trip", () => {
    const meta = { format: "pt", note: 'quotes " and <tags> and ünïcödé', empty: "" };
    const bytes = encodeSafetensors(new Map([["x", tensor([1])]]), meta);
    assert.deepEqual(decodeSafetensors(bytes).metadata, meta);
  });

  test("layout: names sorted, header space-padded to a multiple of 8, little-endian data", () => {
    const bytes = encodeSafetensors({ zeta: tensor([1], { dtype: "int32" }), alpha: tensor([258], { dtype: "int32" }) });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.equal(text.trimEnd(), '{"alpha":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"zeta":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}');
    assert.match(text, /^[^ ]+ *$/);
    assert.deepEqual([...bytes.subarray(8 + n)], [2, 1, 0, 0, 1, 0, 0, 0]);
  });

  test("the map is in data order and the tensors are copies", () => {
    const bytes = file({ b: f32([1], [0, 4]), a: f32([1], [4, 8]) }, [0, 0, 128, 63, 0, 0, 0, 64]);
    const { tensors } = decodeSafetensors(bytes);
    assert.deepEqual([...tensors.keys()], ["b", "a"]);
    assert.deepEqual([...tensors.get("a")!.data], [2]);
    assert.notEqual(tensors.get("a")!.data.buffer, bytes.buffer);
  });

  test("unaligned data is read correctly", () => {
    // Header of 9 bytes of JSON+space padding puts the data at byte 17 (not 4- or 8-aligned).
    const header = { x: f32([2], [0, 8]), y: { dtype: "F64", shape: [1], data_offsets: [8, 16] }, z: { dtype: "I32", shape: [1], data_offsets: [16, 20] } };
    let json = JSON.stringify(header);
    while ((json.length + 8) % 4 !== 1) json += " ";
    const data = new Uint8Array(20);
    const dv = new DataView(data.buffer);
    dv.setFloat32(0, 1.25, true);
    dv.setFloat32(4, -3.5, true);
    dv.setFloat64(8, Math.E, true);
    dv.setInt32(16, -123456, true);
    const inner = fileFrom(utf8(json), data);
    // Also place the whole file at an odd offset of a larger buffer.
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    for (const bytes of [inner, outer.subarray(3)]) {
      const { tensors } = decodeSafetensors(bytes);
      assert.deepEqual([...tensors.get("x")!.data], [1.25, -3.5]);
      assert.deepEqual([...tensors.get("y")!.data], [Math.E]);
      assert.deepEqual([...tensors.get("z")!.data], [-123456]);
    }
  });
});

describe("writing float32 as F16", () => {
  test("every half value survives numberToFloat16 -> float16ToNumber; ties round to even", () => {
    for (let h = 0; h < 65536; h++) {
      const v = float16ToNumber(h);
      if (!Number.isNaN(v)) assert.equal(numberToFloat16(v), h, `bits ${h.toString(16)}`);
    }
    assert.equal(numberToFloat16(1 + 2 ** -11), 0x3c00); // halfway between 1 and the next half: even
    assert.equal(numberToFloat16(1 + 3 * 2 ** -11), 0x3c02);
    assert.equal(numberToFloat16(65520), 0x7c00);
    assert.equal(numberToFloat16(-1e-9), 0x8000);
    assert.equal(numberToFloat16(NaN), 0x7e00);
  });

  test("a file written with float32As F16 stores F16 and reads back rounded", () => {
    const t = tensor([0.1, -2.5, 1e5, 3e-6]);
    const bytes = encodeSafetensors({ w: t, i: tensor([3], { dtype: "int32" }) }, undefined, { float32As: "F16" });
    const { tensors } = decodeSafetensors(bytes);
    const w = tensors.get("w")!;
    assert.equal(w.dtype, "float32");
    assert.deepEqual(Array.from(w.data), [float16ToNumber(0x2e66), -2.5, Infinity, float16ToNumber(numberToFloat16(3e-6))]);
    assert.deepEqual(Array.from(tensors.get("i")!.data), [3]);
    assert.ok(new TextDecoder().decode(bytes.subarray(8, 200)).includes('"dtype":"F16"'));
  });
});

describe("decoding other dtypes", () => {
  test("F16 from hand-made bits: 1, -2.5, 65504, subnormals, -0, inf, NaN", () => {
    const bits = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const want = [1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, -0, Infinity, -Infinity, NaN, Math.fround(0.333251953125)];
    const { tensors } = decodeSafetensors(file({ h: { dtype: "F16", shape: [bits.length], data_offsets: [0, 2 * bits.length] } }, u16le(bits)));
    const t = tensors.get("h")!;
    assert.equal(t.dtype, "float32");
    want.forEach((w, i) => assert.ok(Object.is(t.data[i], w), `bits 0x${bits[i]!.toString(16)}: ${t.data[i]} != ${w}`));
    assert.equal(float16ToNumber(0x3555), 0.333251953125);
  });

  test("BF16 from hand-made bits: 1, -2.5, large, subnormal, inf, NaN", () => {
    const bits = [0x3f80, 0xc020, 0x477f, 0x0001, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x7f7f];
    const want = [1, -2.5, 65280, 2 ** -133, -0, Infinity, -Infinity, NaN, Math.fround(3.3895313892515355e38)];
    const { tensors } = decodeSafetensors(file({ b: { dtype: "BF16", shape: [3, 3], data_offsets: [0, 18] } }, u16le(bits)));
    const t = tensors.get("b")!;
    assert.equal(t.dtype, "float32");
    assert.deepEqual(t.shape, [3, 3]);
    want.forEach((w, i) => assert.ok(Object.is(t.data[i], w), `bits 0x${bits[i]!.toString(16)}: ${t.data[i]} != ${w}`));
  });

  test("I64 within the int32 range becomes int32", () => {
    const data = new Uint8Array(32);
    const dv = new DataView(data.buffer);
    [0n, -1n, 2147483647n, -2147483648n].forEach((v, i) => dv.setBigInt64(8 * i, v, true));
    const t = decodeSafetensors(file({ i: { dtype: "I64", shape: [2, 2], data_offsets: [0, 32] } }, data)).tensors.get("i")!;
    assert.equal(t.dtype, "int32");
    assert.deepEqual([...t.data], [0, -1, 2147483647, -2147483648]);
  });

  test("I64 outside the int32 range is a FormatError", () => {
    const data = new Uint8Array(16);
    new DataView(data.buffer).setBigInt64(8, 2147483648n, true);
    throwsFormat(() => decodeSafetensors(file({ big: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, data)), 'tensor "big"', "I64 values within the int32 range", "2147483648 at index 1");
    new DataView(data.buffer).setBigInt64(8, -(2n ** 40n), true);
    throwsFormat(() => decodeSafetensors(file({ big: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, data)), 'tensor "big"', "int32 range", "-1099511627776 at index 1");
  });

  test("I8, U8, I16 become int32; BOOL becomes bool", () => {
    const header = {
      i8: { dtype: "I8", shape: [3], data_offsets: [0, 3] },
      u8: { dtype: "U8", shape: [3], data_offsets: [3, 6] },
      i16: { dtype: "I16", shape: [2], data_offsets: [6, 10] },
      m: { dtype: "BOOL", shape: [3], data_offsets: [10, 13] },
    };
    const data = [0x80, 0xff, 0x7f, 0x80, 0xff, 0x7f, 0x00, 0x80, 0xff, 0x7f, 1, 0, 1];
    const { tensors } = decodeSafetensors(file(header, data));
    assert.deepEqual([...tensors.get("i8")!.data], [-128, -1, 127]);
    assert.deepEqual([...tensors.get("u8")!.data], [128, 255, 127]);
    assert.deepEqual([...tensors.get("i16")!.data], [-32768, 32767]);
    assert.equal(tensors.get("m")!.dtype, "bool");
    assert.deepEqual(tensors.get("m")!.toArray(), [true, false, true]);
    for (const k of ["i8", "u8", "i16"]) assert.equal(tensors.get(k)!.dtype, "int32");
  });

  test("an empty file (header {}) and null metadata decode", () => {
    assert.equal(decodeSafetensors(file({})).tensors.size, 0);
    assert.deepEqual(decodeSafetensors(file({ __metadata__: null })).metadata, {});
  });
});

describe("broken and hostile files", () => {
  test("fewer than 8 bytes", () => {
    throwsFormat(() => decodeSafetensors(new Uint8Array(5)), "header length", "8-byte little-endian u64", "5 bytes");
  });

  test("header length beyond the buffer", () => {
    throwsFormat(() => decodeSafetensors(fileFrom(utf8("{}"), new Uint8Array(0), 3n)), "header length", "at most 2 bytes (the rest of the file)", "3 bytes");
  });

  test("header length of 2^60 fails fast", () => {
    const t0 = performance.now();
    throwsFormat(() => decodeSafetensors(fileFrom(utf8("{}"), new Uint8Array(0), 2n ** 60n)), "header length", "at most 100000000 bytes (maxHeaderBytes)", "1152921504606846976 bytes");
    assert.ok(performance.now() - t0 < 100);
  });

  test("header length over maxHeaderBytes", () => {
    const bytes = file({ x: f32([1], [0, 4]) }, [0, 0, 0, 0]);
    throwsFormat(() => decodeSafetensors(bytes, { maxHeaderBytes: 16 }), "header length", "at most 16 bytes (maxHeaderBytes)", "bytes");
    assert.throws(() => decodeSafetensors(bytes, { maxHeaderBytes: -1 }), (e: unknown) => e instanceof ValueError && e.arg === "maxHeaderBytes");
  });

  test("invalid UTF-8", () => {
    throwsFormat(() => decodeSafetensors(fileFrom(Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))), "header", "valid UTF-8", "invalid UTF-8");
  });

  test("invalid JSON", () => {
    throwsFormat(() => decodeSafetensors(file('{"x": {"dtype": "F32",')), "header", "valid JSON", "a parse error");
  });

  test("header not an object", () => {
    throwsFormat(() => decodeSafetensors(file("[1, 2]")), "header", "a JSON object", "array [1,2]");
    throwsFormat(() => decodeSafetensors(file("42")), "header", "a JSON object", "number 42");
    throwsFormat(() => decodeSafetensors(file("null")), "header", "a JSON object", "null");
  });

  test("tensor entry not an object", () => {
    throwsFormat(() => decodeSafetensors(file({ w: [1, 2] })), 'tensor "w"', "an object with dtype, shape and data_offsets", "array");
  });

  test("unknown dtype", () => {
    throwsFormat(() => decodeSafetensors(file({ w: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, [0])), 'tensor "w" dtype', "one of F64, F32, F16, BF16", 'string "F8_E4M3"');
    throwsFormat(() => decodeSafetensors(file({ w: { shape: [1], data_offsets: [0, 1] } }, [0])), 'tensor "w" dtype', "one of", "undefined");
  });

  test("shape not a list of non-negative integers", () => {
    throwsFormat(() => decodeSafetensors(file({ w: f32([2, -1], [0, 0]) })), 'tensor "w" shape', "a list of non-negative integers", "array [2,-1]");
    throwsFormat(() => decodeSafetensors(file({ w: f32([1.5], [0, 0]) })), 'tensor "w" shape', "non-negative integers", "[1.5]");
    throwsFormat(() => decodeSafetensors(file({ w: { dtype: "F32", shape: "2", data_offsets: [0, 8] } })), 'tensor "w" shape', "a list", 'string "2"');
    throwsFormat(() => decodeSafetensors(file({ w: f32([2 ** 40, 2 ** 40], [0, 0]) })), 'tensor "w" shape', "below 2^53 bytes", "[1099511627776, 1099511627776]");
  });

  test("offsets not integers", () => {
    throwsFormat(() => decodeSafetensors(file({ w: f32([1], [0.5, 4.5]) }, [0, 0, 0, 0])), 'tensor "w" data_offsets', "[begin, end] with non-negative integers", "[0.5,4.5]");
    throwsFormat(() => decodeSafetensors(file({ w: f32([1], [0, 2, 4] as unknown as [number, number]) }, [0, 0, 0, 0])), 'tensor "w" data_offsets', "[begin, end]", "[0,2,4]");
    throwsFormat(() => decodeSafetensors(file({ w: f32([1], ["0", "4"] as unknown as [number, number]) }, [0, 0, 0, 0])), 'tensor "w" data_offsets', "[begin, end]", '["0","4"]');
  });

  test("offsets out of range", () => {
    throwsFormat(() => decodeSafetensors(file({ w: f32([2], [0, 8]) }, [0, 0, 0, 0])), 'tensor "w" data_offsets', "0 <= begin <= end <= 4 (the data region)", "[0, 8]");
    throwsFormat(() => decodeSafetensors(file({ w: f32([1], [4, 0]) }, [0, 0, 0, 0])), 'tensor "w" data_offsets', "begin <= end", "[4, 0]");
  });

  test("a tensor of 10^12 elements fails fast without allocating", () => {
    const t0 = performance.now();
    // Out of range of the (tiny) data region...
    throwsFormat(() => decodeSafetensors(file({ huge: f32([1e6, 1e6], [0, 4e12]) }, [0, 0, 0, 0])), 'tensor "huge" data_offsets', "<= 4 (the data region)", "[0, 4000000000000]");
    // ... or disagreeing with the byte count.
    throwsFormat(() => decodeSafetensors(file({ huge: f32([1e12], [0, 4]) }, [0, 0, 0, 0])), 'tensor "huge" data_offsets', "4000000000000 bytes for F32 [1000000000000]", "4 bytes [0, 4]");
    assert.ok(performance.now() - t0 < 100);
  });

  test("byte count disagreeing with shape x dtype size", () => {
    throwsFormat(() => decodeSafetensors(file({ w: { dtype: "F16", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8))), 'tensor "w" data_offsets', "6 bytes for F16 [3]", "8 bytes [0, 8]");
  });

  test("overlapping tensors", () => {
    throwsFormat(() => decodeSafetensors(file({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, new Uint8Array(12))), 'tensor "b" data_offsets', 'to begin at 8, right after tensor "a"', 'overlaps tensor "a"');
    throwsFormat(() => decodeSafetensors(file({ a: f32([1], [0, 4]), b: f32([1], [0, 4]) }, new Uint8Array(4))), 'tensor "b" data_offsets', "to begin at 4", "overlaps");
  });

  test("holes between, before and after the tensors", () => {
    throwsFormat(() => decodeSafetensors(file({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, new Uint8Array(12))), 'tensor "b" data_offsets', 'to begin at 4, right after tensor "a"', 'a hole of 4 bytes after tensor "a"');
    throwsFormat(() => decodeSafetensors(file({ a: f32([1], [4, 8]) }, new Uint8Array(8))), 'tensor "a" data_offsets', "to begin at 0, at the start of the data", "a hole of 4 bytes at the start");
    throwsFormat(() => decodeSafetensors(file({ a: f32([1], [0, 4]) }, new Uint8Array(6))), "data", "tensors covering all 6 data bytes", "a hole of 2 bytes at the end");
    throwsFormat(() => decodeSafetensors(file({}, new Uint8Array(1))), "data", "covering all 1 data bytes", "ending at byte 0");
  });

  test("zero-size tensors may share an offset", () => {
    const { tensors } = decodeSafetensors(file({ e1: f32([0], [4, 4]), a: f32([1], [0, 4]), e2: f32([2, 0], [4, 4]) }, [0, 0, 128, 63]));
    assert.deepEqual([...tensors.keys()], ["a", "e1", "e2"]);
  });

  test("duplicate names", () => {
    throwsFormat(() => decodeSafetensors(file('{"w": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "w": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8))), 'tensor name "w"', "unique names", 'a duplicate "w"');
    // The same name spelled with an escape is still the same name.
    throwsFormat(() => decodeSafetensors(file('{"w": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}, "\\u0077": {"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8))), 'tensor name "w"', "unique names", 'a duplicate "w"');
    throwsFormat(() => decodeSafetensors(file('{"w": {"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4))), 'field name "dtype"', "unique names", 'a duplicate "dtype"');
    // Keys inside strings and arrays are not confused with keys.
    const ok = file('{"__metadata__": {"k": "\\"w\\": [", "w": "{\\"w\\":1}"}, "w": {"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4));
    assert.deepEqual(decodeSafetensors(ok).metadata, { k: '"w": [', w: '{"w":1}' });
  });

  test("empty names", () => {
    throwsFormat(() => decodeSafetensors(file({ "": f32([1], [0, 4]) }, new Uint8Array(4))), "tensor name", "a non-empty name", '""');
  });

  test("metadata values not strings", () => {
    throwsFormat(() => decodeSafetensors(file({ __metadata__: { epoch: 3 } })), '__metadata__ "epoch"', "a string value", "number 3");
    throwsFormat(() => decodeSafetensors(file({ __metadata__: ["a"] })), "__metadata__", "an object of strings", "array");
  });

  test("parseSafetensorsHeader reports in the caller's name", () => {
    throwsFormat(() => parseSafetensorsHeader(utf8("[]"), 0, "myLoader"), "header", "a JSON object", "array", "myLoader");
  });
});

describe("encodeSafetensors arguments", () => {
  const isValueError = (arg: string) => (e: unknown): boolean => e instanceof ValueError && e.op === "encodeSafetensors" && e.arg === arg;
  test("bad names, tensors and metadata are ValueErrors", () => {
    assert.throws(() => encodeSafetensors({ "": tensor([1]) }), isValueError("tensor name"));
    assert.throws(() => encodeSafetensors({ __metadata__: tensor([1]) }), isValueError("tensor name"));
    assert.throws(() => encodeSafetensors({ w: [1, 2] as unknown as Tensor }), isValueError('tensor "w"'));
    assert.throws(() => encodeSafetensors({ w: tensor([1]) }, { n: 1 as unknown as string }), isValueError('metadata "n"'));
  });
  test("bool values are written as 0/1", () => {
    const t = new Tensor(Uint8Array.from([0, 2, 255]), [3], "bool");
    const bytes = encodeSafetensors({ m: t });
    assert.deepEqual([...bytes.subarray(bytes.length - 3)], [0, 1, 1]);
  });
});

describe("files (Node)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "qkv-st-"));
  after(() => rm(dir, { recursive: true, force: true }));

  test("save, load and load the header only", async () => {
    const p = join(dir, "rt.safetensors");
    const w = tensor([[1, 2], [3, 4]]);
    const idx = tensor([5, -6], { dtype: "int32" });
    await saveSafetensors(p, { w, idx }, { format: "pt" });
    assert.deepEqual(await readFile(p), Buffer.from(encodeSafetensors({ w, idx }, { format: "pt" })));
    const { tensors, metadata } = await loadSafetensors(p);
    assert.deepEqual(metadata, { format: "pt" });
    assert.deepEqual(tensors.get("w")!.toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(tensors.get("idx")!.toArray(), [5, -6]);
    const h = await loadSafetensorsHeader(p);
    assert.deepEqual(h.tensors.map((t) => [t.name, t.dtype, t.shape, t.dataOffsets]), [["idx", "I32", [2], [0, 8]], ["w", "F32", [2, 2], [8, 24]]]);
    assert.equal(h.dataBytes, 24);
    assert.deepEqual(await readdir(dir), ["rt.safetensors"]);
  });

  test("load decodes F16 and unaligned data like decodeSafetensors", async () => {
    const p = join(dir, "f16.safetensors");
    const bytes = file({ h: { dtype: "F16", shape: [3], data_offsets: [0, 6] }, x: f32([1], [6, 10]) }, [0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b, 0, 0, 0xa0, 0x40]);
    await writeFile(p, bytes);
    const { tensors } = await loadSafetensors(p);
    assert.deepEqual([...tensors.get("h")!.data], [1, -2.5, 65504]);
    assert.deepEqual([...tensors.get("x")!.data], [5]);
    await rm(p);
  });

  test("a write that fails midway leaves the old file intact and no temp file", async () => {
    const p = join(dir, "atomic.safetensors");
    await saveSafetensors(p, { w: tensor([1, 2, 3]) });
    const before = await readFile(p);
    const bad = tensor([4, 5, 6]);
    Object.defineProperty(bad, "data", { get() { throw new Error("disk on fire"); } });
    await assert.rejects(saveSafetensors(p, { a: tensor(new Float32Array(1 << 16)), b: bad }), /disk on fire/);
    assert.deepEqual(await readFile(p), before);
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes("atomic")), ["atomic.safetensors"]);
    await rm(p);
  });

  test("a failing rename (target is a directory) removes the temp file", async () => {
    const p = join(dir, "isdir");
    await mkdir(join(p, "sub"), { recursive: true });
    await assert.rejects(saveSafetensors(p, { w: tensor([1]) }));
    assert.deepEqual((await readdir(dir)).filter((f) => f.includes("isdir")), ["isdir"]);
    await rm(p, { recursive: true });
  });

  test("a header length of 2^60 fails before reading the header", async () => {
    const p = join(dir, "hostile.safetensors");
    await writeFile(p, fileFrom(utf8("{}"), new Uint8Array(0), 2n ** 60n));
    await assert.rejects(loadSafetensors(p), (e: unknown) => {
      assert.ok(e instanceof FormatError);
      assert.equal(e.op, "loadSafetensors");
      assert.equal(e.arg, "header length");
      assert.match(e.message, /at most 100000000 bytes \(maxHeaderBytes\), got 1152921504606846976 bytes \(file .*hostile\.safetensors\)/);
      return true;
    });
    await assert.rejects(loadSafetensorsHeader(p), (e: unknown) => e instanceof FormatError && e.op === "loadSafetensorsHeader");
    await writeFile(p, fileFrom(utf8("{}"), new Uint8Array(0), 100n));
    await assert.rejects(loadSafetensors(p), /at most 2 bytes \(the rest of the file\), got 100 bytes/);
    await writeFile(p, new Uint8Array(3));
    await assert.rejects(loadSafetensors(p), /header length expected an 8-byte little-endian u64 prefix, got a file of 3 bytes/);
    await writeFile(p, file({ huge: f32([1e12], [0, 4e12]) }, [0, 0, 0, 0]));
    await assert.rejects(loadSafetensors(p), (e: unknown) => e instanceof FormatError && e.arg === 'tensor "huge" data_offsets');
    await rm(p);
  });
});
