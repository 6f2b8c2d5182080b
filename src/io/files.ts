/**
 * Files on disk (Node). Reading untrusted files: a path that is missing, a directory, a FIFO or
 * device (whose read could block forever), unreadable or malformed is a FormatError of the caller
 * naming the file and the reason, never a raw system error; whole-file reads are bounded (the size
 * is checked before a byte is read). Writing is atomic: a temporary file in the same directory,
 * fsynced and renamed over the target, so a reader sees the old file or the new one.
 *
 * ```ts
 * const { fh, size } = await openRegularFile("model.safetensors", "loadSafetensors");
 * try { ... } finally { await fh.close(); }
 * const bytes = await readBounded("data/train.tsv", 512 * 2 ** 20, "readTsvFile");
 * await writeAtomic("out/report.html", html);
 * ```
 */
import { randomUUID } from "node:crypto";
import { mkdir, open, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
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

/** Reads a whole file after checking that it exists, is a file, and is at most `max` bytes. */
export async function readBounded(path: string, max: number, op: string): Promise<Buffer> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new FormatError(op, path, "a file", "a directory or special file");
    size = s.size;
  } catch (e) {
    if (e instanceof FormatError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new FormatError(op, path, "a readable file", code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String((e as Error).message));
  }
  if (size > max) throw new FormatError(op, path, `at most ${max} bytes`, `${size} bytes`);
  return readFile(path);
}

/** Writes bytes or text atomically: a temporary file in the same directory, fsynced, renamed. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await writeAtomicAll([[path, data]]);
}

/**
 * Writes `path` atomically through `write`, which fills a temporary file in the same directory
 * (created here, never over an existing one); the file is then fsynced, closed and renamed over
 * `path`. On any error the temporary file is removed and the error thrown again. The directory
 * must exist.
 */
export async function writeAtomicWith(path: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, "wx");
    await write(fh);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/**
 * Writes several files, each atomically, and makes them appear together: every temporary file is
 * written and fsynced before the first rename, so a crash leaves at most the instant between two
 * renames in which some files are new and others old (not a whole write's length).
 */
export async function writeAtomicAll(files: readonly [string, Uint8Array | string][]): Promise<void> {
  const tmps: string[] = [];
  try {
    for (const [path, data] of files) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
      tmps.push(tmp);
      const fh = await open(tmp, "wx");
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    for (const [i, [path]] of files.entries()) await rename(tmps[i]!, path);
  } catch (e) {
    for (const tmp of tmps) await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
