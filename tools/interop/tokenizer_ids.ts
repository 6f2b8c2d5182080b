/**
 * The TypeScript half of the tokenizer interop check with Hugging Face `tokenizers` (not part of
 * the test suite); tools/interop/tokenizer_check.py calls it.
 *
 * ```sh
 * npx tsx tools/interop/tokenizer_ids.ts train --vocab-size 8000 --columns en,es --out tok.json train.tsv
 * npx tsx tools/interop/tokenizer_ids.ts encode --tokenizer tok.json --columns en,es --out ids.jsonl a.tsv b.tsv
 * npx tsx tools/interop/tokenizer_ids.ts encode-lines --tokenizer tok.json --out ids.jsonl lines.json
 * ```
 *
 * `train` trains on every row of the given columns and writes the tokenizer.json. `encode`
 * writes one JSON line per (file, row, column): `{"file","row","column","ids","roundTrip"}`,
 * where roundTrip says whether decode(encode(text)) gave the text back. `encode-lines` does the
 * same for a JSON array of strings. Times are printed to stderr.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { BpeTokenizer } from "../../src/text/bpe.js";

interface Row {
  file: string;
  row: number;
  column: string;
  text: string;
}

/** The cells of the named columns, row by row (header line first; tab-separated, no quoting). */
function readTsv(file: string, columns: string[]): Row[] {
  const lines = readFileSync(file, "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const header = (lines[0] ?? "").split("\t");
  const at = columns.map((c) => {
    const i = header.indexOf(c);
    if (i < 0) throw new Error(`${file}: no column ${JSON.stringify(c)} in header ${JSON.stringify(header)}`);
    return i;
  });
  const rows: Row[] = [];
  for (let r = 1; r < lines.length; r++) {
    const cells = lines[r]!.split("\t");
    if (cells.length !== header.length) throw new Error(`${file}:${r + 1}: ${cells.length} cells, header has ${header.length}`);
    columns.forEach((column, k) => rows.push({ file, row: r, column, text: cells[at[k]!]! }));
  }
  return rows;
}

function seconds(t0: number): string {
  return ((performance.now() - t0) / 1000).toFixed(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "vocab-size": { type: "string", default: "8000" },
    "min-frequency": { type: "string", default: "2" },
    columns: { type: "string", default: "" },
    tokenizer: { type: "string" },
    out: { type: "string" },
  },
});
const [mode, ...files] = positionals;
const columns = values.columns ? values.columns.split(",") : [];
if (!values.out) throw new Error("--out is required");

if (mode === "train") {
  const texts = files.flatMap((f) => readTsv(f, columns).map((r) => r.text));
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t), 0);
  const t0 = performance.now();
  const tok = BpeTokenizer.train(texts, { vocabSize: Number(values["vocab-size"]), minFrequency: Number(values["min-frequency"]) });
  console.error(`trained on ${texts.length} texts (${bytes} bytes): ${tok.vocabSize} tokens, ${tok.merges.length} merges in ${seconds(t0)} s`);
  writeFileSync(values.out, tok.toJSON());
} else if (mode === "encode" || mode === "encode-lines") {
  if (!values.tokenizer) throw new Error("--tokenizer is required");
  const tok = BpeTokenizer.fromJSON(readFileSync(values.tokenizer, "utf8"), values.tokenizer);
  const rows: Row[] =
    mode === "encode"
      ? files.flatMap((f) => readTsv(f, columns))
      : files.flatMap((f) => (JSON.parse(readFileSync(f, "utf8")) as string[]).map((text, row) => ({ file: f, row, column: "", text })));
  const t0 = performance.now();
  const ids = rows.map((r) => tok.encode(r.text));
  const took = seconds(t0);
  const tokens = ids.reduce((n, x) => n + x.length, 0);
  console.error(`encoded ${rows.length} texts (${tokens} tokens) in ${took} s`);
  const out = rows.map((r, i) => JSON.stringify({ file: r.file, row: r.row, column: r.column, ids: ids[i], roundTrip: tok.decode(ids[i]!) === r.text }));
  writeFileSync(values.out, out.join("\n") + "\n");
} else {
  throw new Error(`mode: expected train, encode or encode-lines, got ${JSON.stringify(mode)}`);
}
