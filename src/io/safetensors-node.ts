/**
 * safetensors files on disk (Node). Saving is atomic: the bytes go to a temporary file in the same
 * directory, which is fsynced and renamed over the target, so an existing file is either the old
 * one or the new one, never half-written. Loading checks the header length against the file size
 * before reading the header, and the header before reading any data.
 *
 * ```ts
 * await saveSafetensors("model.safetensors", { "fc.weight": w, "fc.bias": b }, { epoch: "3" });
 * const { tensors, metadata } = await loadSafetensors("model.safetensors");
 * const header = await loadSafetensorsHeader("model.safetensors"); // names, dtypes, shapes only
 * ```
 */
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { FormatError } from "../tensor/errors.js";
import { fileError, openRegularFile, writeAtomicWith } from "./files.js";
import { readAll as readTensors } from "../tensor/read-all.js";
import type { Tensor } from "../tensor/tensor.js";
import {
  decodeSafetensorsTensor,
  parseSafetensorsHeader,
  parseSafetensorsHeaderLength,
  planSafetensors,
  safetensorsTensorBytes,
  type DecodeOptions,
  type SafetensorsEncodeOptions,
  type SafetensorsHeader,
} from "./safetensors.js";

/** Largest single read or write (fs calls take at most 2^31 - 1 bytes). */
const CHUNK = 1 << 30;

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    const len = Math.min(CHUNK, bytes.length - off);
    const { bytesWritten } = await fh.write(bytes, off, len, position + off);
    off += bytesWritten;
  }
}

async function readAll(fh: FileHandle, into: Uint8Array, position: number, op: string, path: string): Promise<void> {
  for (let off = 0; off < into.length;) {
    const len = Math.min(CHUNK, into.length - off);
    const { bytesRead } = await fh.read(into, off, len, position + off);
    if (bytesRead === 0) {
      throw new FormatError(op, "file", `${position + into.length} bytes`, `end of file at ${position + off} (${path} shrank while reading)`);
    }
    off += bytesRead;
  }
}

function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/** Adds the path to a FormatError's message, keeping its fields. */
function withPath(e: unknown, path: string): unknown {
  if (e instanceof FormatError) return new FormatError(e.op, e.arg, e.expected, e.actual, `${e.message} (file ${path})`);
  return e;
}

/** fsyncs a directory so a rename in it is durable; platforms that cannot are skipped. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (e) {
    const code = errCode(e);
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "ENOTSUP" && code !== "EBADF") throw e;
  } finally {
    await fh?.close();
  }
}

/**
 * Writes tensors to `path` atomically (temp file in the same directory, fsync, rename, fsync of
 * the directory). Tensors on a device are read back first, together (`readAll`: one transfer). The tensors are streamed one at a time; on any error the temporary file is
 * removed, the error rethrown, and a file already at `path` is left as it was.
 *
 * ```ts
 * await saveSafetensors("ckpt.safetensors", model.stateDict(), { step: String(step) });
 * ```
 */
export async function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>,
  opts: SafetensorsEncodeOptions = {}): Promise<void> {
  const plan = planSafetensors(tensors, metadata, "saveSafetensors", opts);
  await writeAtomicWith(path, async (fh) => {
    await writeAll(fh, plan.head, 0);
    // tensors on a device (a model trained there) are read back first, together
    await readTensors(plan.entries.map((e) => e.tensor));
    for (const e of plan.entries) {
      await writeAll(fh, safetensorsTensorBytes(e.tensor, e.dtype), plan.head.length + e.begin);
    }
  });
  await syncDir(dirname(path));
}

/** Opens `path` and reads its validated header, leaving the handle open at the data. */
async function readHeader(fh: FileHandle, path: string, opts: DecodeOptions, op: string): Promise<{ header: SafetensorsHeader; dataStart: number }> {
  try {
    const { size } = await fh.stat();
    const prefix = new Uint8Array(8);
    if (size >= 8) await readAll(fh, prefix, 0, op, path);
    const n = parseSafetensorsHeaderLength(prefix, size, opts, op);
    const headerBytes = new Uint8Array(n);
    await readAll(fh, headerBytes, 8, op, path);
    return { header: parseSafetensorsHeader(headerBytes, size - 8 - n, op), dataStart: 8 + n };
  } catch (e) {
    throw e instanceof FormatError || errCode(e) === undefined ? withPath(e, path) : fileError(op, path, e);
  }
}

/**
 * Reads and validates only the header of a safetensors file: names, dtypes, shapes, offsets and
 * metadata, without reading any tensor data.
 *
 * ```ts
 * const { tensors } = await loadSafetensorsHeader("model.safetensors");
 * for (const t of tensors) console.log(t.name, t.dtype, t.shape);
 * ```
 */
export async function loadSafetensorsHeader(path: string, opts: DecodeOptions = {}): Promise<SafetensorsHeader> {
  const { fh } = await openRegularFile(path, "loadSafetensorsHeader");
  try {
    return (await readHeader(fh, path, opts, "loadSafetensorsHeader")).header;
  } finally {
    await fh.close();
  }
}

/**
 * Loads a safetensors file. The header length is checked against the file size and the cap
 * before the header is read, and the whole header before any data; each tensor is then read into
 * its own buffer, so memory stays within the decoded tensors plus one tensor's raw bytes.
 * Conversions are those of `decodeSafetensors`.
 *
 * ```ts
 * const { tensors } = await loadSafetensors("model.safetensors", { maxHeaderBytes: 1 << 20 });
 * ```
 */
export async function loadSafetensors(path: string, opts: DecodeOptions = {}): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const op = "loadSafetensors";
  const { fh } = await openRegularFile(path, op);
  try {
    const { header, dataStart } = await readHeader(fh, path, opts, op);
    const tensors = new Map<string, Tensor>();
    try {
      for (const info of header.tensors) {
        const [begin, end] = info.dataOffsets;
        const raw = new Uint8Array(end - begin);
        await readAll(fh, raw, dataStart + begin, op, path);
        tensors.set(info.name, decodeSafetensorsTensor(info, raw, { owned: true, op }));
      }
    } catch (e) {
      throw withPath(e, path);
    }
    return { tensors, metadata: header.metadata };
  } finally {
    await fh.close();
  }
}
