/** The TSV reader: named columns, strict rows, errors naming the file and line. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseTsv } from "../../src/data/tsv.js";
import { FormatError } from "../../src/tensor/errors.js";
import { assertThrowsMsg } from "../helpers.js";

describe("parseTsv", () => {
  test("reads the named columns in any order, ignores others, CRLF and a BOM", () => {
    const t = parseTsv("\ufeffref\tes\ten\r\nGen.1.1\tEn el principio\tIn the beginning\r\n\nx\ty\tz\n", { columns: ["en", "es"], source: "a.tsv" });
    assert.deepEqual(t.rows, [{ en: "In the beginning", es: "En el principio" }, { en: "z", es: "y" }]);
    assert.deepEqual(t.lines, [2, 4]);
  });
  test("a missing column, a short row, an empty field, an empty file: FormatErrors naming the file", () => {
    assertThrowsMsg(() => parseTsv("a\tb\n1\t2\n", { columns: ["en", "es"], source: "x.tsv" }), FormatError, "parseTsv: x.tsv expected a header with the columns en, es, got no en, es (header: a, b)");
    assertThrowsMsg(() => parseTsv("en\tes\n1\n", { columns: ["en", "es"], source: "x.tsv" }), FormatError, "x.tsv line 2 expected 2 tab-separated fields, got 1");
    assertThrowsMsg(() => parseTsv("en\tes\n1\t \n", { columns: ["en", "es"], source: "x.tsv" }), FormatError, "x.tsv line 2 expected non-empty en, es");
    assert.equal(parseTsv("en\tes\n1\t \n", { columns: ["en", "es"], skipEmpty: true }).rows.length, 0);
    assertThrowsMsg(() => parseTsv("", { columns: ["en"], source: "e.tsv" }), FormatError, "e.tsv expected a header line");
    assertThrowsMsg(() => parseTsv("en\n" + "x\n".repeat(10), { columns: ["en"], source: "big.tsv", maxChars: 8 }), FormatError, "big.tsv expected at most 8 characters");
  });
});
