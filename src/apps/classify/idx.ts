/**
 * IDX files (the format of MNIST and Fashion-MNIST; browser-safe: bytes in): a big-endian header —
 * two zero bytes, the element type (0x08, unsigned bytes, the only one these datasets use), the
 * number of dimensions, then each dimension as a 32-bit integer — and the elements. Everything is
 * checked against the file's length before anything is read or allocated; a bad file is a
 * FormatError naming it and the field.
 *
 * ```ts
 * const images = parseIdx(bytes, "train-images-idx3-ubyte", { rank: 3 }); // dims [60000, 28, 28], data Uint8Array
 * const labels = parseIdx(labelBytes, "train-labels-idx1-ubyte", { rank: 1 });
 * ```
 */
import { FormatError } from "../../tensor/errors.js";

export interface IdxArray {
  dims: number[];
  /** The elements in row-major order (a view into the file's bytes). */
  data: Uint8Array;
}

const hex = (n: number): string => `0x${n.toString(16).padStart(8, "0")}`;

/** Parses an IDX file of unsigned bytes with `rank` dimensions. */
export function parseIdx(bytes: Uint8Array, source: string, opts: { rank: number; op?: string }): IdxArray {
  const op = opts.op ?? "parseIdx", rank = opts.rank;
  const fail = (field: string, expected: string, actual: string): never => {
    throw new FormatError(op, `${source}: ${field}`, expected, actual);
  };
  const want = 0x0800 + rank;
  if (bytes.length < 4 + 4 * rank) fail("header", `at least ${4 + 4 * rank} bytes (an IDX file of ${rank} dimensions)`, `${bytes.length} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== want) {
    const what = magic >>> 16 !== 0 ? "not an IDX file" : (magic >>> 8 & 0xff) !== 0x08 ? `element type 0x${(magic >>> 8 & 0xff).toString(16).padStart(2, "0")}` : `${magic & 0xff} dimensions`;
    fail("magic", `${hex(want)} (IDX, unsigned bytes, ${rank} dimension${rank > 1 ? "s" : ""})`, `${hex(magic)} (${what})`);
  }
  const dims: number[] = [];
  let n = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i);
    if (d === 0) fail(`dims[${i}]`, "a positive size", "0");
    dims.push(d);
    n *= d;
  }
  const header = 4 + 4 * rank;
  if (bytes.length !== header + n) fail("size", `${header + n} bytes (header ${header} + ${dims.join(" x ")} elements)`, `${bytes.length} bytes`);
  return { dims, data: bytes.subarray(header) };
}
