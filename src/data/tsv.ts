/**
 * Tab-separated tables with a header line (no quoting, no tab or newline inside a field), the
 * format of the text datasets. Parsing is strict and bounded: a missing column, a row with the
 * wrong number of fields or a file over the size limit is a FormatError naming the file, the line
 * and what is wrong.
 *
 * ```ts
 * const t = parseTsv(text, { columns: ["en", "es"], source: "test.tsv" });
 * t.rows[0]!.en; // "In the beginning, God created the heavens and the earth."
 * ```
 */
import { FormatError, ValueError } from "../tensor/errors.js";

export interface TsvOptions {
  /** Columns that must be present (others are read and ignored by the caller). */
  columns: readonly string[];
  /** The file's name, for error messages. */
  source?: string;
  /** Largest accepted text in characters (default 512 MiB). */
  maxChars?: number;
  /** Skip rows whose required fields are empty instead of failing (default false). */
  skipEmpty?: boolean;
}

export interface TsvTable {
  header: string[];
  /** Each row's required columns by name. */
  rows: Record<string, string>[];
  /** 1-based line numbers of the rows (for messages). */
  lines: number[];
}

export const DEFAULT_MAX_TSV_CHARS = 512 * 1024 * 1024;

/** Parses TSV text; every row must have as many fields as the header. */
export function parseTsv(text: string, opts: TsvOptions): TsvTable {
  const op = "parseTsv", src = opts.source ?? "<text>";
  if (typeof text !== "string") throw new ValueError(op, "text", "a string", typeof text);
  if (!Array.isArray(opts.columns) || opts.columns.length === 0) throw new ValueError(op, "columns", "a non-empty list of column names", String(opts.columns));
  const max = opts.maxChars ?? DEFAULT_MAX_TSV_CHARS;
  if (text.length > max) throw new FormatError(op, src, `at most ${max} characters`, `${text.length}`);
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const headerLine = lines[0];
  if (headerLine === undefined || headerLine.trim() === "") throw new FormatError(op, src, "a header line naming the columns", "an empty file");
  const header = stripCr(headerLine).split("\t");
  const index = new Map<string, number>();
  header.forEach((h, i) => { if (!index.has(h)) index.set(h, i); });
  const missing = opts.columns.filter((c) => !index.has(c));
  if (missing.length) {
    throw new FormatError(op, src, `a header with the column${opts.columns.length > 1 ? "s" : ""} ${opts.columns.join(", ")}`, `no ${missing.join(", ")} (header: ${header.join(", ").slice(0, 200)})`);
  }
  const cols = opts.columns.map((c) => [c, index.get(c)!] as const);
  const rows: Record<string, string>[] = [], lineNos: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = stripCr(lines[i]!);
    if (line === "") continue;
    const f = line.split("\t");
    if (f.length !== header.length) throw new FormatError(op, `${src} line ${i + 1}`, `${header.length} tab-separated fields`, `${f.length}`);
    const row: Record<string, string> = {};
    let empty = false;
    for (const [c, j] of cols) {
      const v = f[j]!.trim();
      if (v === "") empty = true;
      row[c] = v;
    }
    if (empty) {
      if (opts.skipEmpty) continue;
      throw new FormatError(op, `${src} line ${i + 1}`, `non-empty ${opts.columns.join(", ")}`, "an empty field");
    }
    rows.push(row);
    lineNos.push(i + 1);
  }
  return { header, rows, lines: lineNos };
}

function stripCr(s: string): string {
  return s.endsWith("\r") ? s.slice(0, -1) : s;
}
