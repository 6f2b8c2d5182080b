/**
 * Opening untrusted files for reading (Node): a path that is missing, a directory, a FIFO or
 * device (whose read could block forever), unreadable or malformed is a FormatError of the caller
 * naming the file and the reason, never a raw system error.
 *
 * ```ts
 * const { fh, size } = await openRegularFile("model.safetensors", "loadSafetensors");
 * try { ... } finally { await fh.close(); }
 * ```
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { FormatError } from "../tensor/errors.js";

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  ENOTDIR: "a path through something that is not a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "a directory",
  ELOOP: "a loop of symbolic links",
  ENAMETOOLONG: "a name too long for the file system",
  EMFILE: "too many open files",
  ERR_INVALID_ARG_VALUE: "an invalid path (a NUL byte)",
  ERR_INVALID_ARG_TYPE: "not a path",
  NOT_REGULAR: "not a regular file (a FIFO, socket or device)",
};

/** The FormatError of `op` for a file that could not be opened or read. */
export function fileError(op: string, path: string, e: unknown): FormatError {
  const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
  const reason = REASONS[code] ?? (e instanceof Error ? e.message : String(e));
  return new FormatError(op, "file", "a readable file", reason, `${op}: file expected a readable file, got ${reason} (file ${path})`);
}

/** Opens a regular file for reading and returns it with its size; anything else is a FormatError. */
export async function openRegularFile(path: string, op: string): Promise<{ fh: FileHandle; size: number }> {
  if (typeof path !== "string" || path.length === 0) throw fileError(op, String(path), { code: "ERR_INVALID_ARG_TYPE" });
  let fh: FileHandle;
  try {
    // stat first: opening a FIFO blocks until a writer comes
    const s = await stat(path);
    if (!s.isFile()) throw fileError(op, path, { code: s.isDirectory() ? "EISDIR" : "NOT_REGULAR" });
    fh = await open(path, "r");
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw fileError(op, path, e);
  }
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw fileError(op, path, { code: s.isDirectory() ? "EISDIR" : "NOT_REGULAR" });
    return { fh, size: s.size };
  } catch (e) {
    await fh.close();
    throw e instanceof FormatError ? e : fileError(op, path, e);
  }
}
