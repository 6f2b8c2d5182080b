/**
 * A PNG image as the classifier's input (Node, through pngjs): any PNG colour type and bit depth
 * (grayscale, RGB, palette, with or without alpha) becomes one 8-bit gray channel. The datasets
 * show light strokes on a dark background, so:
 *
 * - transparent pixels are laid over the background that sets the drawn pixels off (black under
 *   light strokes, white under dark ones);
 * - an image whose border is light (a dark digit on white paper) is inverted.
 *
 * The size is read from the PNG header and checked before the image is decoded; a file that is
 * not a PNG, or one of another size, is a typed error naming the file. Memory is bounded by the
 * expected size, not by what the file claims: the file is at most 16 MiB (`MAX_PNG_BYTES`), and
 * its image data is inflated with a ceiling of `maxPngDataBytes(H, W)` (8 × H × W + 16 × H + 64
 * bytes: 16-bit RGBA with the filter bytes of an interlaced image) before pngjs decodes it, so a
 * zlib bomb (a few KiB that inflate to gigabytes) is a FormatError.
 *
 * ```ts
 * const { pixels, inverted } = await readPngImage("digit.png", [28, 28]); // Uint8Array(784), row by row
 * ```
 */
import { inflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { readBounded } from "../../io/files.js";
import { FormatError, ShapeError } from "../../tensor/errors.js";

/** Largest PNG file read (bytes). */
export const MAX_PNG_BYTES = 16 * 2 ** 20;
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Largest inflated image data of an H x W PNG: 16-bit RGBA, a filter byte a row, the rows of 7 interlace passes. */
export function maxPngDataBytes(height: number, width: number): number {
  return 8 * height * width + 16 * height + 64;
}

/**
 * Inflates the IDAT chunks (walked as pngjs walks them, up to IEND) with a ceiling of `max` bytes:
 * data that inflates to more is a FormatError. pngjs inflates interlaced images without a limit.
 * Other faults (cut chunks, bad zlib data) are left to pngjs, which reports them.
 */
function checkImageData(bytes: Uint8Array, source: string, op: string, size: readonly [number, number]): void {
  const max = maxPngDataBytes(size[0], size[1]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  for (let off = 8; off + 12 <= bytes.length;) {
    const len = view.getUint32(off), type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    if (off + 12 + len > bytes.length) break;
    if (type === "IDAT") parts.push(bytes.subarray(off + 8, off + 8 + len));
    if (type === "IEND") break;
    off += 12 + len;
  }
  if (parts.length === 0) return;
  try {
    inflateSync(Buffer.concat(parts), { maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new FormatError(op, source, `image data of at most ${max} bytes once decompressed (a ${size[1]} x ${size[0]} image)`, "more");
    }
  }
}

export interface GrayImage {
  /** height x width gray values, row by row. */
  pixels: Uint8Array;
  /** Whether the image was inverted (a light background). */
  inverted: boolean;
}

/** Decodes PNG bytes into a gray image of `size` = [height, width]; `source` names the file in errors. */
export function decodePngImage(bytes: Uint8Array, source: string, size: readonly [number, number], op = "readPngImage"): GrayImage {
  const [H, W] = size;
  if (bytes.length < 24 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new FormatError(op, source, "a PNG image", bytes.length < 8 ? `${bytes.length} bytes` : "a file without the PNG signature");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // the first chunk is IHDR: length, "IHDR", width, height
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") throw new FormatError(op, source, "a PNG image (IHDR first)", "no IHDR chunk");
  const w = view.getUint32(16), h = view.getUint32(20);
  if (w !== W || h !== H) throw new ShapeError(op, source, `a ${W} x ${H} image (width x height)`, `${w} x ${h}`);
  checkImageData(bytes, source, op, size);
  let png: ReturnType<typeof PNG.sync.read>;
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new FormatError(op, source, "a PNG image", `an undecodable file (${(e as Error).message})`);
  }
  const rgba = png.data, n = H * W;
  const lum = new Float64Array(n), alpha = new Float64Array(n);
  let inkSum = 0, inkWeight = 0, translucent = false;
  for (let i = 0; i < n; i++) {
    const r = rgba[4 * i]!, g = rgba[4 * i + 1]!, b = rgba[4 * i + 2]!, a = rgba[4 * i + 3]! / 255;
    lum[i] = 0.299 * r + 0.587 * g + 0.114 * b;
    alpha[i] = a;
    if (a < 1) translucent = true;
    inkSum += a * lum[i]!;
    inkWeight += a;
  }
  const pixels = new Uint8Array(n);
  // transparent pixels take the background that contrasts with what is drawn
  const bg = translucent && inkWeight > 0 && inkSum / inkWeight <= 127.5 ? 255 : 0;
  for (let i = 0; i < n; i++) pixels[i] = Math.round(alpha[i]! * lum[i]! + (1 - alpha[i]!) * bg);
  let border = 0, count = 0;
  for (let r = 0; r < H; r++) for (let c = 0; c < W; c++) {
    if (r === 0 || c === 0 || r === H - 1 || c === W - 1) {
      border += pixels[r * W + c]!;
      count++;
    }
  }
  const inverted = border / count > 127.5;
  if (inverted) for (let i = 0; i < n; i++) pixels[i] = 255 - pixels[i]!;
  return { pixels, inverted };
}

/** Reads and decodes a PNG file (see decodePngImage). */
export async function readPngImage(path: string, size: readonly [number, number], op = "readPngImage"): Promise<GrayImage> {
  const bytes = await readBounded(path, MAX_PNG_BYTES, op);
  return decodePngImage(bytes, path, size, op);
}
