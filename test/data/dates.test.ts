import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CharVocab,
  DATE_COUNT,
  DATE_FORMATS,
  dateIndexOf,
  formatDateIndex,
  generateDatePairs,
  ordinal,
  splitDates,
} from "../../src/data/dates.js";
import { FormatError, ValueError } from "../../src/tensor/errors.js";

const MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/**
 * An independent reading of a source string: { y, m, d, weekday? } or null. Numeric conventions:
 * slash with the year last is month/day, dot is day.month, a 4-digit year first is year/month/day.
 */
function parse(source: string): { y: number; m: number; d: number; weekday?: number } | null {
  const s = source.toLowerCase();
  const year = (t: string): number => (t.length === 4 ? Number(t) : Number(t) >= 50 ? 1900 + Number(t) : 2000 + Number(t));
  const month = (t: string): number => MONTHS.findIndex((m) => m === t || m.slice(0, 3) === t) + 1;
  const day = (t: string): number => Number(t.replace(/(st|nd|rd|th)$/, ""));
  let m: RegExpExecArray | null;
  let weekday: number | undefined;
  let rest = s;
  if ((m = /^([a-z]+),? (.*)$/.exec(s)) && DAYS.some((d) => d === m![1] || d.slice(0, 3) === m![1])) {
    weekday = DAYS.findIndex((d) => d === m![1] || d.slice(0, 3) === m![1]);
    rest = m[2]!;
  }
  const out = (y: number, mo: number, d: number) => (mo >= 1 ? { y, m: mo, d, ...(weekday !== undefined ? { weekday } : {}) } : null);
  if ((m = /^the (\d+(?:st|nd|rd|th)) of ([a-z]+) (\d{4})$/.exec(rest))) return out(year(m[3]!), month(m[2]!), day(m[1]!));
  if ((m = /^([a-z]+) (\d{4}), the (\d+(?:st|nd|rd|th))$/.exec(rest))) return out(year(m[2]!), month(m[1]!), day(m[3]!));
  if ((m = /^([a-z]+) (\d+(?:st|nd|rd|th)?),? (\d{2}|\d{4})$/.exec(rest))) return out(year(m[3]!), month(m[1]!), day(m[2]!));
  if ((m = /^(\d+) ([a-z]+) (\d{4})$/.exec(rest))) return out(year(m[3]!), month(m[2]!), day(m[1]!));
  if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{2}|\d{4})$/.exec(rest))) return out(year(m[3]!), Number(m[1]), Number(m[2]));
  if ((m = /^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})$/.exec(rest))) return out(year(m[3]!), Number(m[2]), Number(m[1]));
  if ((m = /^(\d{4})[/-](\d{2})[/-](\d{2})$/.exec(rest))) return out(year(m[1]!), Number(m[2]), Number(m[3]));
  if ((m = /^(\d{4})(\d{2})(\d{2})$/.exec(rest))) return out(year(m[1]!), Number(m[2]), Number(m[3]));
  return null;
}

/** Checks that a target is a real ISO date in range, that the source means it, and that any weekday is right. */
function checkPair(source: string, target: string): void {
  assert.match(target, /^\d{4}-\d{2}-\d{2}$/);
  const [y, mo, d] = target.split("-").map(Number) as [number, number, number];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  assert.equal(dt.toISOString().slice(0, 10), target, `${target} is not a real date`);
  assert.ok(y >= 1950 && y <= 2049, target);
  const p = parse(source);
  assert.ok(p, `cannot read ${JSON.stringify(source)}`);
  assert.deepEqual([p.y, p.m, p.d], [y, mo, d], `${JSON.stringify(source)} -> ${target}`);
  if (p.weekday !== undefined) assert.equal(p.weekday, dt.getUTCDay(), `${JSON.stringify(source)}: wrong weekday for ${target}`);
}

describe("generateDatePairs", () => {
  test("is deterministic: same seed, same pairs; another seed, other pairs; shorter is a prefix", () => {
    const a = generateDatePairs(500, 123);
    assert.deepEqual(generateDatePairs(500, 123), a);
    assert.notDeepEqual(generateDatePairs(500, 124), a);
    assert.deepEqual(generateDatePairs(10, 123), a.slice(0, 10));
    assert.deepEqual(generateDatePairs(0, 123), []);
  });

  test("pins the first pairs of seed 0 (the same on every platform)", () => {
    assert.deepEqual(generateDatePairs(8, 0), [
      { source: "Feb 6, 2043", target: "2043-02-06" },
      { source: "Tue, 31 Jan 2023", target: "2023-01-31" },
      { source: "2010/07/21", target: "2010-07-21" },
      { source: "the 18th of December 1988", target: "1988-12-18" },
      { source: "sep 24, 2002", target: "2002-09-24" },
      { source: "2041/10/07", target: "2041-10-07" },
      { source: "FEB 29 84", target: "1984-02-29" },
      { source: "7 Apr 1954", target: "1954-04-07" },
    ]);
  });

  test("every target is a valid ISO date equal to the source's meaning, weekdays included", () => {
    const pairs = generateDatePairs(5000, 7);
    for (const { source, target } of pairs) checkPair(source, target);
    const formats = new Set(pairs.map((p) => p.source.replace(/\d/g, "9")));
    assert.ok(formats.size > 100);
    assert.ok(pairs.some((p) => p.source === p.source.toUpperCase() && /[A-Z]/.test(p.source)));
    assert.ok(pairs.some((p) => /^the \d/.test(p.source)));
    const years = pairs.map((p) => Number(p.target.slice(0, 4)));
    assert.ok(Math.min(...years) < 1955 && Math.max(...years) > 2044);
  });

  test("bad arguments are ValueErrors", () => {
    assert.throws(() => generateDatePairs(-1, 0), (e: unknown) => e instanceof ValueError && e.op === "generateDatePairs" && e.arg === "n");
    assert.throws(() => generateDatePairs(1.5, 0), (e: unknown) => e instanceof ValueError && e.arg === "n");
    assert.throws(() => generateDatePairs(1, NaN), (e: unknown) => e instanceof ValueError && e.arg === "seed");
  });
});

describe("formats", () => {
  const i = dateIndexOf("1999-03-03");

  test("examples of the documented formats", () => {
    const src = (f: string, c?: "lower" | "upper") => formatDateIndex(i, f, c).source;
    assert.equal(src("the Dth of Month YYYY"), "the 3rd of March 1999");
    assert.equal(src("M/D/YY"), "3/3/99");
    assert.equal(src("Month D, YYYY"), "March 3, 1999");
    assert.equal(src("D Mon YYYY"), "3 Mar 1999");
    assert.equal(src("Weekday, Month D, YYYY"), "Wednesday, March 3, 1999");
    assert.equal(src("DD.MM.YYYY"), "03.03.1999");
    assert.equal(src("YYYY/MM/DD"), "1999/03/03");
    assert.equal(src("mon D YY"), "mar 3 99");
    assert.equal(src("D month YYYY"), "3 march 1999");
    assert.equal(src("Weekday, Month D, YYYY", "upper"), "WEDNESDAY, MARCH 3, 1999");
    assert.equal(formatDateIndex(i, "M/D/YY").target, "1999-03-03");
    // Month/day order on slashes, day.month on dots, two-digit years 00-49 -> 20xx.
    assert.deepEqual(formatDateIndex(dateIndexOf("2004-11-02"), "M/D/YY"), { source: "11/2/04", target: "2004-11-02" });
    assert.deepEqual(formatDateIndex(dateIndexOf("2004-11-02"), "D.M.YY"), { source: "2.11.04", target: "2004-11-02" });
    assert.deepEqual(formatDateIndex(0, "YYYY-MM-DD"), { source: "1950-01-01", target: "1950-01-01" });
    assert.deepEqual(formatDateIndex(DATE_COUNT - 1, "YYYY-MM-DD"), { source: "2049-12-31", target: "2049-12-31" });
    assert.equal(formatDateIndex(dateIndexOf("2000-02-29"), "Wkd, D Mon YYYY").source, "Tue, 29 Feb 2000");
  });

  test("ordinals", () => {
    assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 24, 30, 31].map(ordinal), ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "24th", "30th", "31st"]);
  });

  test("every date in every format reads back correctly and no source string has two meanings", () => {
    assert.equal(DATE_COUNT, 36525);
    const meaning = new Map<string, string>();
    for (let k = 0; k < DATE_COUNT; k++) {
      for (const f of DATE_FORMATS) {
        const { source, target } = formatDateIndex(k, f);
        if (k % 97 === 0) checkPair(source, target);
        const key = source.toLowerCase(); // covers every casing variant
        const prev = meaning.get(key);
        if (prev !== undefined && prev !== target) assert.fail(`${JSON.stringify(source)} means both ${prev} and ${target}`);
        meaning.set(key, target);
      }
    }
  });

  test("weekdays agree with Date.UTC on every day", () => {
    for (let k = 0; k < DATE_COUNT; k++) {
      const { source, target } = formatDateIndex(k, "Weekday, Month D, YYYY");
      const wd = DAYS[new Date(`${target}T00:00:00Z`).getUTCDay()]!;
      if (!source.toLowerCase().startsWith(`${wd},`)) assert.fail(`${source} is a ${wd}`);
    }
  });

  test("bad format arguments are ValueErrors", () => {
    assert.throws(() => formatDateIndex(DATE_COUNT, "YYYY-MM-DD"), (e: unknown) => e instanceof ValueError && e.arg === "index");
    assert.throws(() => formatDateIndex(0, "DD/MM/YYYY"), (e: unknown) => e instanceof ValueError && e.arg === "format");
    assert.equal(dateIndexOf("1999-02-29"), -1);
    assert.equal(dateIndexOf("1949-12-31"), -1);
  });
});

describe("splitDates", () => {
  test("train and test dates are disjoint, and the split is deterministic", () => {
    const { train, test: held } = splitDates(3, { trainSize: 20000, testSize: 2000 });
    assert.equal(train.length, 20000);
    assert.equal(held.length, 2000);
    const trainDates = new Set(train.map((p) => p.target));
    for (const p of held) assert.ok(!trainDates.has(p.target), `${p.target} is in both`);
    for (const p of [...train.slice(0, 500), ...held.slice(0, 500)]) checkPair(p.source, p.target);
    assert.deepEqual(splitDates(3, { trainSize: 50, testSize: 50 }), splitDates(3, { trainSize: 50, testSize: 50 }));
    assert.notDeepEqual(splitDates(4, { trainSize: 50, testSize: 50 }).test, splitDates(3, { trainSize: 50, testSize: 50 }).test);
  });

  test("the held-out days are testFraction of the calendar", () => {
    const { test: held } = splitDates(5, { trainSize: 0, testSize: 20000, testFraction: 0.01 });
    const days = new Set(held.map((p) => p.target));
    assert.ok(days.size <= 365 && days.size > 300, String(days.size));
    assert.throws(() => splitDates(5, { testFraction: 1 }), (e: unknown) => e instanceof ValueError && e.op === "splitDates" && e.arg === "testFraction");
  });
});

describe("CharVocab", () => {
  const pairs = generateDatePairs(2000, 1);
  const vocab = CharVocab.fromStrings(pairs.flatMap((p) => [p.source, p.target]));

  test("specials first, then characters in code point order", () => {
    assert.deepEqual(vocab.specials, ["<pad>", "<bos>", "<eos>", "<unk>"]);
    assert.deepEqual([vocab.padId, vocab.bosId, vocab.eosId, vocab.unkId], [0, 1, 2, 3]);
    const cps = vocab.chars.map((c) => c.codePointAt(0)!);
    assert.deepEqual(cps, [...cps].sort((a, b) => a - b));
    assert.equal(vocab.size, 4 + vocab.chars.length);
    assert.deepEqual(CharVocab.fromStrings(["ba", "c"]).chars, ["a", "b", "c"]);
    // Order of the input does not matter.
    assert.deepEqual(CharVocab.fromStrings(pairs.flatMap((p) => [p.target, p.source]).reverse()).toJSON(), vocab.toJSON());
  });

  test("encode / decode round trip with bos, eos and padding", () => {
    for (const { source, target } of pairs.slice(0, 200)) {
      for (const s of [source, target]) {
        assert.equal(vocab.decode(vocab.encode(s)), s);
        const ids = vocab.encode(s, { bos: true, eos: true, maxLen: 48 });
        assert.equal(ids.length, 48);
        assert.equal(ids[0], vocab.bosId);
        assert.equal(ids[[...s].length + 1], vocab.eosId);
        assert.equal(ids[47], vocab.padId);
        assert.equal(vocab.decode(ids), s);
      }
    }
    assert.equal(vocab.decode([vocab.idOf("1")!, vocab.eosId, vocab.idOf("2")!]), "1");
  });

  test("unknown characters, maxLen and bad ids", () => {
    const v = CharVocab.fromStrings(["abc"]);
    assert.deepEqual(v.encode("aźc"), [4, 3, 6]);
    assert.equal(v.decode(v.encode("aźc")), "a<unk>c");
    assert.throws(() => v.encode("abcabc", { maxLen: 3 }), (e: unknown) => e instanceof ValueError && e.arg === "maxLen");
    assert.deepEqual(v.encode("abcabc", { maxLen: 3, truncate: true }), [4, 5, 6]);
    assert.throws(() => v.decode([99]), (e: unknown) => e instanceof ValueError && e.op === "CharVocab.decode");
    const bare = CharVocab.fromStrings(["ab"], []);
    assert.equal(bare.unkId, -1);
    assert.deepEqual(bare.encode("ba"), [1, 0]);
    assert.throws(() => bare.encode("z"), (e: unknown) => e instanceof ValueError && e.expected.includes("<unk>"));
    assert.throws(() => CharVocab.fromStrings(["a"], ["<pad>", "<pad>"]), (e: unknown) => e instanceof ValueError && e.arg === "specials[1]");
    // characters past ASCII, an astral one among them, after and between ASCII ones: one id per code point
    const wide = CharVocab.fromStrings(["a€😀b"]);
    const [a, euro, face, b] = ["a", "€", "😀", "b"].map((c) => wide.idOf(c)!);
    assert.deepEqual(wide.encode("a😀€ab?"), [a, face, euro, a, b, wide.unkId]);
    assert.deepEqual(wide.encode("😀"), [face]);
    assert.equal(wide.decode(wide.encode("ba€😀")), "ba€😀");
  });

  test("toJSON / fromJSON round trip", () => {
    const back = CharVocab.fromJSON(JSON.parse(JSON.stringify(vocab)));
    assert.deepEqual(back.toJSON(), vocab.toJSON());
    assert.equal(back.size, vocab.size);
    for (const p of pairs.slice(0, 50)) assert.deepEqual(back.encode(p.source, { eos: true }), vocab.encode(p.source, { eos: true }));
    const emoji = CharVocab.fromStrings(["a😀"]);
    assert.deepEqual(emoji.chars, ["a", "😀"]);
    assert.equal(CharVocab.fromJSON(JSON.parse(JSON.stringify(emoji))).decode(emoji.encode("😀a")), "😀a");
    assert.throws(() => CharVocab.fromJSON({ specials: [], chars: ["ab"] }), (e: unknown) => e instanceof FormatError && e.arg === "chars[0]");
    assert.throws(() => CharVocab.fromJSON({ specials: [], chars: ["a", "a"] }), (e: unknown) => e instanceof FormatError && e.arg === "chars[1]");
    assert.throws(() => CharVocab.fromJSON(null), (e: unknown) => e instanceof FormatError);
  });
});
